//! `run.json`: the status of a run, written in its run folder.
//!
//! The format lives in [`gluers_formats::run_record`], which the experiment
//! engine reads too; it is re-exported here.

pub use gluers_formats::run_record::{RunRecord, RunStatus, TaskTiming, RUN_RECORD_FILE};

/// Now, as ISO 8601 in UTC.
pub fn now_iso() -> String {
    jiff::Timestamp::now().to_string()
}
