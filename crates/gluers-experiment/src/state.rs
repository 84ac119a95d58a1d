//! The engine's persistent state, kept under `.git/gluers/` where no
//! `git reset`, `git checkout` or `git clean` reaches it.
//!
//! Layout (one folder per experiment branch):
//!
//! ```text
//! .git/gluers/lock                          one engine command at a time
//! .git/gluers/experiments/<branch>/state.json
//! .git/gluers/experiments/<branch>/experiment_log.tsv   canonical log
//! .git/gluers/experiments/<branch>/frozen-manifest.json hashes of untracked frozen files
//! .git/gluers/experiments/<branch>/worktree/             base commit checkout
//! .git/gluers/experiments/<branch>/sealed/               sealed evaluator executable
//! ```
//!
//! Every write replaces the file atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::fsutil::{self, Stamp};
use crate::metrics::Metrics;

/// The state format version written by this engine.
pub(crate) const STATE_VERSION: u32 = 1;

/// How the project is built and run, as stored at init.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StoredProject {
    /// A gluers Rust project.
    Cargo {
        /// The package directory, relative to the repository root.
        manifest_dir: String,
        /// The binary target.
        bin: String,
    },
    /// A project run by a shell command.
    Command {
        /// The command, e.g. `python manage.py`.
        cmd: String,
        /// The project directory, relative to the repository root.
        dir: String,
        /// Which protocol the command speaks.
        flavor: Flavor,
    },
}

impl StoredProject {
    /// The project directory relative to the repository root (`""` = root).
    pub fn rel_dir(&self) -> &str {
        match self {
            Self::Cargo { manifest_dir, .. } => manifest_dir,
            Self::Command { dir, .. } => dir,
        }
    }
}

/// The protocol of a command project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Flavor {
    /// Gluepy 1.6.0 (`manage.py`, settings module, `STORAGE_ROOT`).
    Gluepy,
    /// Any command implementing the gluers contract (`GLUERS_STORAGE_ROOT`).
    Generic,
}

/// One entry of the frozen set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FrozenEntry {
    /// Repository-relative path (a folder ends with `/`), or a glob pattern.
    pub path: String,
    /// File, folder or glob.
    pub kind: FrozenKind,
    /// Whether it existed at init (absent entries must stay absent).
    pub exists: bool,
    /// Why it is frozen.
    pub reason: String,
}

/// What a frozen entry names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FrozenKind {
    /// A single file.
    File,
    /// A folder and everything below it.
    Dir,
    /// A git glob pattern (`Dockerfile*`).
    Glob,
}

/// A documented metric, as the evaluation tasks describe it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MetricDoc {
    /// Metric key.
    pub name: String,
    /// Its documentation.
    pub doc: String,
}

/// The sealed evaluator built from the base commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// The base-commit worktree.
    pub worktree: PathBuf,
    /// The project directory inside the worktree (the evaluator's cwd).
    pub project_dir: PathBuf,
    /// For Rust projects: the copied executable and its content hash.
    pub executable: Option<PathBuf>,
    /// Content hash of `executable` (git blob id), checked before each use.
    pub executable_hash: Option<String>,
    /// The stat of `executable` when it last matched `executable_hash`: while
    /// it is unchanged the file is not hashed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable_stamp: Option<Stamp>,
    /// For Gluepy projects: the worktree's storage folder, a symlink to the
    /// project's storage root.
    #[serde(default)]
    pub storage_link: Option<PathBuf>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Metrics were produced.
    Ok,
    /// A non-zero exit, a failed build, or missing/invalid metrics.
    Crash,
    /// The run exceeded its timeout and was killed.
    Timeout,
}

impl Outcome {
    /// The word used in messages and in the log's status column.
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Crash => "crash",
            Self::Timeout => "timeout",
        }
    }
}

/// A finished run waiting for `keep` or `discard`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingRun {
    /// Its experiment id (the log row it will become).
    pub experiment_id: u64,
    /// The engine's run id (the run folder's last segment).
    pub run_id: String,
    /// The run folder, relative to the storage root.
    pub run_folder: String,
    /// Full hash of the commit that ran.
    pub commit: String,
    /// The agent's description.
    pub description: String,
    /// ISO 8601 start time.
    pub timestamp: String,
    /// Wall-clock seconds for build, work and evaluation.
    pub duration_secs: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// The metrics (empty unless `outcome` is ok).
    pub metrics: Metrics,
}

/// A run that was started and not finished; found here after the engine was
/// killed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InProgress {
    /// The experiment id it would have had.
    pub experiment_id: u64,
    /// The engine's run id.
    pub run_id: String,
    /// Full hash of the commit that was running.
    pub commit: String,
    /// What was running (build, work tasks, sealed evaluation).
    pub phase: String,
    /// The process group of the running child, if one was running.
    pub pgid: Option<i32>,
    /// The engine's own pid.
    pub engine_pid: u32,
    /// ISO 8601 start time.
    pub started_at: String,
}

/// Everything the engine remembers about one experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    /// Format version.
    pub version: u32,
    /// The DAG under experiment.
    pub dag: String,
    /// The goal given at init.
    pub goal: String,
    /// The experiment branch.
    pub branch: String,
    /// Full hash of the base commit (where the sealed evaluator comes from).
    pub base_commit: String,
    /// Full hash of the last kept commit (discard resets here).
    pub kept_commit: String,
    /// The experiment id of the last kept run (0 = baseline).
    pub kept_experiment: u64,
    /// How to run the project.
    pub project: StoredProject,
    /// Absolute storage root shared by candidate and sealed evaluator.
    pub storage_root: PathBuf,
    /// Default run timeout in seconds.
    pub timeout_secs: u64,
    /// The command prefix shown in hints (`cargo manage experiment`).
    pub prog: String,
    /// The sealed evaluator.
    pub sealed: Sealed,
    /// The frozen set.
    pub frozen: Vec<FrozenEntry>,
    /// Repository-relative paths the engine itself writes (logs, run
    /// folders, build output), never part of the frozen set nor of a dirty
    /// tree; a trailing `/` marks a folder.
    pub excluded: Vec<String>,
    /// Metric documentation, when the project provides it.
    #[serde(default)]
    pub metric_docs: Vec<MetricDoc>,
    /// The baseline's metrics.
    pub baseline: Metrics,
    /// The last kept run's metrics.
    pub best_kept: Metrics,
    /// The next experiment id.
    pub next_id: u64,
    /// The run waiting for a decision.
    pub pending: Option<PendingRun>,
    /// A run that was started and never finished.
    pub in_progress: Option<InProgress>,
}

/// Where the state of the experiment on one branch lives.
#[derive(Debug, Clone)]
pub(crate) struct StatePaths {
    /// `.git/gluers`.
    pub root: PathBuf,
    /// `.git/gluers/experiments/<branch>`.
    pub dir: PathBuf,
}

impl StatePaths {
    /// The paths for `branch` under the repository's common git dir.
    pub fn new(git_common_dir: &Path, branch: &str) -> Self {
        let root = git_common_dir.join("gluers");
        let dir = root.join("experiments").join(slug(branch));
        Self { root, dir }
    }

    /// The repository-wide lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// The state file.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// The canonical experiment log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("experiment_log.tsv")
    }
    /// The key of the experiment log's hash chain.
    pub fn key(&self) -> PathBuf {
        self.dir.join("log.key")
    }
    /// The stat cache and hashes of untracked frozen files.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("frozen-manifest.json")
    }
    /// The base-commit worktree.
    pub fn worktree(&self) -> PathBuf {
        self.dir.join("worktree")
    }
    /// Where the sealed executable is copied.
    pub fn sealed_dir(&self) -> PathBuf {
        self.dir.join("sealed")
    }
    /// Build messages of the last cargo build.
    pub fn build_messages(&self) -> PathBuf {
        self.dir.join("cargo-messages.jsonl")
    }
}

/// A file-name-safe, collision-free spelling of a branch name.
fn slug(branch: &str) -> String {
    branch.replace('%', "%25").replace('/', "%2F")
}

impl State {
    /// Loads the state, or `None` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExperimentError::io("read", path, e)),
        };
        let state: Self = serde_json::from_str(&text).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(ExperimentError::State {
                path: path.to_path_buf(),
                message: format!(
                    "format version {} (this engine reads {STATE_VERSION})",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// Writes the state atomically and durably.
    pub fn save(&self, path: &Path) -> Result<()> {
        fsutil::atomic_write(path, self.to_json(path)?.as_bytes())
    }

    /// Writes the state atomically, without waiting for the rename to reach
    /// the disk (see [`fsutil::atomic_replace`]): for the progress and the
    /// result of a run, which the engine writes up to five times per run.
    /// After a power loss an earlier state may come back: the run is then
    /// either unknown (its commit stays in git and the next run takes it) or
    /// marked in progress, which the next command reports as interrupted, as
    /// after a killed engine.
    pub fn save_progress(&self, path: &Path) -> Result<()> {
        fsutil::atomic_replace(path, self.to_json(path)?.as_bytes())
    }

    fn to_json(&self, path: &Path) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_injective_on_separators() {
        assert_eq!(slug("experiment/forecast"), "experiment%2Fforecast");
        assert_ne!(slug("a/b"), slug("a%2Fb"));
    }
}
