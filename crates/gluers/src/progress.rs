//! Per-task progress: on a terminal one live spinner line for the running
//! task, with a permanent line per finished task printed above it; in a
//! pipe, log lines.
//!
//! Log lines written while the spinner is drawn go through
//! [`suspend`] (the logger's writer calls it), so a spinner frame never
//! sticks to a log line; each task's time is printed once, on its
//! finished line.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The live spinner, if one is drawn: the logger's writer hides it while it
/// writes a line.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `write` with the live spinner (if any) cleared from the terminal,
/// then redraws it.
pub(crate) fn suspend<R>(write: impl FnOnce() -> R) -> R {
    let bar = ACTIVE.lock().ok().and_then(|active| active.clone());
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Reports tasks starting and finishing.
pub struct Progress {
    live: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Live output when stderr is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Self {
        Progress {
            live: !quiet && std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// A task starts; `index` counts from 1.
    pub fn start(&mut self, label: &str, index: usize, total: usize) {
        if !self.live {
            tracing::debug!("[{index}/{total}] {label} started");
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{prefix}] {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            if let Ok(mut active) = ACTIVE.lock() {
                *active = Some(bar.clone());
            }
            bar
        });
        bar.set_prefix(format!("{index}/{total}"));
        bar.set_message(label.to_string());
        bar.reset_elapsed();
    }

    /// The running task finished after `elapsed`.
    pub fn finish(&mut self, label: &str, index: usize, total: usize, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        match &self.bar {
            Some(bar) => bar.println(format!("  [{index}/{total}] {label} ({seconds:.2}s)")),
            None => tracing::info!("[{index}/{total}] {label} done in {seconds:.2}s"),
        }
    }

    /// The running task failed.
    pub fn fail(&mut self, label: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("  {label} failed")),
            None => tracing::debug!(task = label, "failed"),
        }
    }
}

impl Drop for Progress {
    /// Clears the spinner before anything else (the metrics block) is printed.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            if let Ok(mut active) = ACTIVE.lock() {
                *active = None;
            }
            bar.finish_and_clear();
        }
    }
}
