//! The runner's side of an ops backend: one tracked run, and what happens
//! when the tracker fails.
//!
//! The run folder is the record of a run; the tracker is a mirror of it. So
//! the first failure of a tracker call stops tracking for the rest of the
//! run (no second timeout per metric, no half-logged run reported as whole)
//! and is one warning line; the run goes on and its folder is complete. With
//! `[ops] required = true` the failure is kept and the runner fails the run
//! at its end instead, after writing everything locally.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Artifact, Input, OpsBackend, OpsError, OpsRun, RunStart, TerminalStatus};

/// One run's tracker, or none once it failed.
pub(crate) struct Tracker {
    backend: String,
    /// Set while the run is open: a stop signal then ends it as KILLED.
    active: Arc<AtomicBool>,
    /// Whether a signal thread watches `active`.
    watched: bool,
    run: Option<Box<dyn OpsRun>>,
    required: bool,
    failure: Option<String>,
}

impl Tracker {
    /// A tracker over an already open run (a task's unit test, a caller
    /// that opened the run itself).
    pub(crate) fn with_run(run: Box<dyn OpsRun>) -> Self {
        Tracker {
            backend: "ops".into(),
            active: Arc::new(AtomicBool::new(false)),
            watched: false,
            run: Some(run),
            required: false,
            failure: None,
        }
    }

    /// No tracked run (before the run folder exists).
    pub(crate) fn detached() -> Self {
        Tracker {
            backend: "ops".into(),
            active: Arc::new(AtomicBool::new(false)),
            watched: false,
            run: None,
            required: false,
            failure: None,
        }
    }

    /// Opens the tracked run of `start` on `backend`; a failure is handled
    /// as any later one.
    pub(crate) fn open(backend: &dyn OpsBackend, start: &RunStart<'_>, required: bool) -> Self {
        let mut tracker = Tracker {
            backend: backend.name().to_string(),
            active: Arc::new(AtomicBool::new(false)),
            watched: false,
            run: None,
            required,
            failure: None,
        };
        match backend.create_run(start) {
            Ok(run) => {
                tracing::debug!("ops {}: run {}", tracker.backend, run.id());
                if let Some(switch) = run.kill_switch() {
                    tracker.active.store(true, Ordering::SeqCst);
                    tracker.watched = super::killed::watch(switch, tracker.active.clone());
                }
                tracker.run = Some(run);
            }
            Err(e) => tracker.fail(e),
        }
        tracker
    }

    /// The first failure, when tracking is required (the run must fail).
    pub(crate) fn required_failure(&self) -> Option<&str> {
        self.failure.as_deref().filter(|_| self.required)
    }

    fn fail(&mut self, e: OpsError) {
        self.run = None;
        self.active.store(false, Ordering::SeqCst);
        if self.failure.is_some() {
            return;
        }
        let message = format!("ops backend {}: {e}", self.backend);
        if !self.required {
            tracing::warn!(
                "{message}; tracking stops for this run, its run folder is complete \
                 (set [ops] required = true in settings to fail the run instead)"
            );
        }
        self.failure = Some(message);
    }

    fn call(&mut self, f: impl FnOnce(&mut dyn OpsRun) -> super::OpsResult<()>) {
        if let Some(run) = self.run.as_mut() {
            if let Err(e) = f(run.as_mut()) {
                self.fail(e);
            }
        }
    }

    pub(crate) fn log_param(&mut self, key: &str, value: &str) {
        self.call(|run| run.log_param(key, value));
    }

    pub(crate) fn log_metric(&mut self, key: &str, value: f64) {
        self.call(|run| run.log_metric(key, value));
    }

    pub(crate) fn log_artifact(&mut self, artifact: &Artifact<'_>) {
        self.call(|run| run.log_artifact(artifact));
    }

    pub(crate) fn log_input(&mut self, input: &Input<'_>) {
        self.call(|run| run.log_input(input));
    }

    /// Ends the tracked run; later calls do nothing.
    pub(crate) fn terminate(&mut self, status: TerminalStatus) {
        // From here a stop signal no longer turns the run into KILLED.
        if self.watched && !self.active.swap(false, Ordering::SeqCst) && self.run.is_some() {
            // The signal thread got there first and reported KILLED.
            return;
        }
        self.call(|run| run.set_terminated(status));
        self.run = None;
    }
}
