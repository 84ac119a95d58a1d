//! KILLED: when SIGINT, SIGTERM or SIGHUP stops a tracked run, the tracker
//! is told before the process dies of the signal.
//!
//! Only a run whose [`OpsRun`](super::OpsRun) has a kill switch (MLflow's,
//! or a project's own backend's)
//! installs the handler, so a run on the log backend dies exactly as it
//! always did. The handler is a thread reading signal-hook's iterator (no
//! `unsafe`); after the switch it re-raises the signal with its default
//! action, so the exit status still says which signal stopped the run and
//! `run.json` stays "running", which `--compare` shows as killed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::KillSwitch;

/// Set by the project binary's `dag` command only: a program that runs
/// DAGs in-process (a worker) keeps its own handling of stop signals.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Lets tracked runs of this process report KILLED on a stop signal.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Calls `switch` if one of the stop signals arrives while `active` is set
/// (the run has not ended yet), then dies of that signal. Returns whether a
/// watcher was installed.
pub(crate) fn watch(switch: KillSwitch, active: Arc<AtomicBool>) -> bool {
    if !ENABLED.load(Ordering::SeqCst) {
        return false;
    }
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("no stop-signal handler, a killed run stays RUNNING: {e}");
            return false;
        }
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            if active.swap(false, Ordering::SeqCst) {
                switch();
            }
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            // The default action of these signals ends the process; should
            // it not, end it as the shell would report the signal.
            std::process::exit(128 + signal);
        }
    });
    true
}
