//! `run.json`: the status of a run, written in its run folder by the runtime
//! and read back by `dag --compare` and the experiment engine.

use serde::{Deserialize, Serialize};

/// The file in the run folder that holds the run's status.
pub const RUN_RECORD_FILE: &str = "run.json";

/// What happened in a run: which DAG, which tasks, success or the failure.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// The DAG's label.
    pub dag: String,
    /// The run id.
    pub run_id: String,
    /// `running`, `success` or `failed`.
    pub status: RunStatus,
    /// When this invocation started (ISO 8601, UTC).
    pub started_at: String,
    /// When it ended, if it has.
    pub finished_at: Option<String>,
    /// The tasks that ran, with their durations.
    pub tasks: Vec<TaskTiming>,
    /// The failing task's label, on failure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failed_task: Option<String>,
    /// The failure, on failure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// The state of a run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Tasks are running (or the process died while they were).
    Running,
    /// Every task succeeded.
    Success,
    /// A task failed.
    Failed,
}

/// One task's duration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskTiming {
    /// The task's label.
    pub label: String,
    /// `work`, `eval` or `bootstrap`.
    pub kind: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}
