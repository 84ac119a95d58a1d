//! Per-task progress: a live line on a terminal, log lines in a pipe.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

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
        if self.live {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{prefix}] {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("{index}/{total}"));
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            self.bar = Some(bar);
        } else {
            tracing::debug!("[{index}/{total}] {label} started");
        }
    }

    /// The running task finished after `elapsed`.
    pub fn finish(&mut self, label: &str, index: usize, total: usize, elapsed: Duration) {
        let line = format!(
            "[{index}/{total}] {label} done in {:.2}s",
            elapsed.as_secs_f64()
        );
        match self.bar.take() {
            Some(bar) => {
                bar.finish_with_message(format!("{label} ({:.2}s)", elapsed.as_secs_f64()))
            }
            None => tracing::info!("{line}"),
        }
    }

    /// The running task failed.
    pub fn fail(&mut self, label: &str) {
        match self.bar.take() {
            Some(bar) => bar.abandon_with_message(format!("{label} failed")),
            None => tracing::debug!(task = label, "failed"),
        }
    }
}
