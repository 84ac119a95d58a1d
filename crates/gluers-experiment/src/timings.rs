//! Where the time of one `experiment run` goes.
//!
//! Every phase is measured with [`Instant`]; the engine appends one line to
//! `experiment_run.log` at the end of each run:
//!
//! ```text
//! [gluers experiment] timings: open 4.0 ms, commit 12.1 ms, frozen check 3.0 ms, build 210.4 ms, work 150.2 ms, frozen recheck 2.9 ms, sealed check 1.0 ms, evaluation 61.0 ms, bookkeeping 4.1 ms, engine overhead 27.1 ms, total 450.0 ms
//! ```
//!
//! `engine overhead` is `total - build - work - evaluation`: everything the
//! engine itself costs. `bookkeeping` is what no named phase covers (state
//! and log writes, reading the metrics, the run folder, the printed
//! summary's git queries).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Measured phases of one run; a phase that did not happen stays zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timings {
    /// Lock, repository discovery, state load, recovery check.
    pub open: Duration,
    /// Committing pending changes (lock file refresh, `git status`, `git
    /// add`, `git commit`, reading HEAD).
    pub commit: Duration,
    /// The export of the commit and the frozen-set check by bytes before
    /// the build.
    pub frozen_check: Duration,
    /// The candidate's build.
    pub build: Duration,
    /// The candidate's work tasks process.
    pub work: Duration,
    /// The frozen-set check after the work tasks.
    pub frozen_recheck: Duration,
    /// Checking the sealed evaluator by its bytes (export, executable,
    /// data, Python environment) and preparing the evaluator's folder.
    pub sealed_check: Duration,
    /// The sealed evaluation process.
    pub evaluation: Duration,
}

/// Adds the time since `start` to `slot` and returns the value of `f`.
pub(crate) fn measure<T>(slot: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *slot += start.elapsed();
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Timings {
    /// What the engine itself cost: `total` minus build, work tasks and
    /// evaluation.
    pub fn overhead(&self, total: Duration) -> Duration {
        total.saturating_sub(self.build + self.work + self.evaluation)
    }

    /// Time no named phase covers.
    pub fn bookkeeping(&self, total: Duration) -> Duration {
        total.saturating_sub(
            self.open
                + self.commit
                + self.frozen_check
                + self.build
                + self.work
                + self.frozen_recheck
                + self.sealed_check
                + self.evaluation,
        )
    }

    /// The log line (without the `[gluers experiment] ` prefix).
    pub fn line(&self, total: Duration) -> String {
        let mut s = String::from("timings:");
        let parts = [
            ("open", self.open),
            ("commit", self.commit),
            ("frozen check", self.frozen_check),
            ("build", self.build),
            ("work", self.work),
            ("frozen recheck", self.frozen_recheck),
            ("sealed check", self.sealed_check),
            ("evaluation", self.evaluation),
            ("bookkeeping", self.bookkeeping(total)),
            ("engine overhead", self.overhead(total)),
            ("total", total),
        ];
        for (i, (name, d)) in parts.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(s, "{sep}{name} {:.1} ms", ms(*d));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_excludes_build_work_and_evaluation() {
        let t = Timings {
            open: Duration::from_millis(4),
            commit: Duration::from_millis(10),
            frozen_check: Duration::from_millis(3),
            build: Duration::from_millis(200),
            work: Duration::from_millis(150),
            frozen_recheck: Duration::from_millis(3),
            sealed_check: Duration::from_millis(1),
            evaluation: Duration::from_millis(60),
        };
        let total = Duration::from_millis(435);
        assert_eq!(t.overhead(total), Duration::from_millis(25));
        assert_eq!(t.bookkeeping(total), Duration::from_millis(4));
        assert_eq!(
            t.line(total),
            "timings: open 4.0 ms, commit 10.0 ms, frozen check 3.0 ms, build 200.0 ms, \
             work 150.0 ms, frozen recheck 3.0 ms, sealed check 1.0 ms, evaluation 60.0 ms, \
             bookkeeping 4.0 ms, engine overhead 25.0 ms, total 435.0 ms"
        );
    }

    #[test]
    fn measure_accumulates() {
        let mut slot = Duration::ZERO;
        let v = measure(&mut slot, || 7);
        measure(&mut slot, || std::thread::sleep(Duration::from_millis(2)));
        assert_eq!(v, 7);
        assert!(slot >= Duration::from_millis(2));
    }
}
