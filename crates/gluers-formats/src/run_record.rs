//! `run.json`: the status of a run, written in its run folder by the runtime
//! and read back by `dag --compare` and the experiment engine.

use serde::{Deserialize, Serialize};

use crate::process::{Liveness, ProcessStamp};

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
    /// The process that ran (or runs) this invocation: a reader tells a
    /// killed run from a live one by it ([`RunRecord::observed_status`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub process: Option<ProcessStamp>,
}

impl RunRecord {
    /// The status as a reader should show it: a `running` record whose
    /// process is gone (killed, or its pid reused) is [`RunStatus::Killed`].
    pub fn observed_status(&self) -> RunStatus {
        match (&self.status, &self.process) {
            (RunStatus::Running, Some(p)) if p.liveness() == Liveness::Dead => RunStatus::Killed,
            (status, _) => *status,
        }
    }
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
    /// Never written: what readers show for a `running` record whose
    /// process is gone (see [`RunRecord::observed_status`]).
    Killed,
}

impl RunStatus {
    /// The lowercase name, as in `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
        }
    }
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
