//! The engine's persistent state, kept outside the repository in a folder
//! private to the user (mode 0700), where no commit, `git reset`, `git
//! clean` or candidate process reaches it.
//!
//! Layout (`<state root>` from [`crate::state_paths::state_root`]; one folder per repository,
//! one per experiment branch):
//!
//! ```text
//! <state root>/repos/<repo>/lock                         one engine command at a time
//! <state root>/repos/<repo>/experiments/<branch>/state.json
//!   experiment_log.tsv     canonical, hash-chained log (the project's is a mirror)
//!   log.key                the chain's key (0600)
//!   frozen-manifest.json   hashes of the frozen files' bytes
//!   sealed/                export of the base commit (the sealed evaluator's sources)
//!   sealed-bin/            the sealed evaluator's executable (Rust)
//!   sealed-manifest.json   hashes of the sealed export and executable
//!   sealed-data/           snapshot of the evaluation-only data
//!   export/                export of the candidate commit (what is built and run)
//!   target/, cargo-home/   the engine-owned cargo target and home
//!   tmp/, eval/            the candidate's private tmp; the evaluator's fresh folder
//! ```
//!
//! Every write replaces the file atomically. The state carries a keyed hash
//! under the log's key (`log.key`), so that an edit by hand (a better
//! baseline, the pending run's metrics, the chain head, the sandbox switched
//! off) is refused rather than believed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::explog::Key;
use crate::fsutil;
use crate::metrics::Metrics;
use gluers_formats::contract::{Constraint, Direction};

pub(crate) use crate::state_paths::StatePaths;

/// The state format version written by this engine (3: metric contracts,
/// the primary metric, the best kept commit and the final test).
pub(crate) const STATE_VERSION: u32 = 3;

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

/// A documented metric, as the evaluation tasks describe it, with its
/// declared contract (from `--describe`, or `init --direction` /
/// `--constraint`); see [`crate::contract`] for the fallbacks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct MetricDoc {
    /// Metric key.
    pub name: String,
    /// Its documentation.
    pub doc: String,
    /// Its declared direction.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Its declared hard constraints.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

/// One final-test path: sealed at init, scored only by `finish`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FinalData {
    /// The final test's data, relative to the storage root.
    pub path: String,
    /// The evaluation-only path (`eval_data`) it stands in for when
    /// `finish` evaluates.
    pub replaces: String,
}

/// The result of `experiment finish`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FinalResult {
    /// The `final` row's experiment id.
    pub experiment_id: u64,
    /// The experiment whose commit was scored (0 = baseline).
    pub scored_experiment: u64,
    /// Full hash of the commit scored.
    pub commit: String,
    /// Its metrics in the loop (on the holdout).
    pub loop_metrics: Metrics,
    /// Its metrics on the final test.
    pub metrics: Metrics,
    /// The run id of the final evaluation.
    pub run_id: String,
}

/// The sealed evaluator, taken from the base commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// The engine's export of the base commit.
    pub export: PathBuf,
    /// The project folder inside it (the evaluator's working folder).
    pub project_dir: PathBuf,
    /// Rust projects: the copied executable that evaluates.
    pub executable: Option<PathBuf>,
    /// The evaluator's storage root, emptied and refilled for every run
    /// (Gluepy: the storage folder its base settings name, inside the
    /// export).
    pub eval_root: PathBuf,
    /// The export-relative folder left out of the sealed export's hashes
    /// (Gluepy's storage folder), if any.
    #[serde(default)]
    pub unhashed: Option<String>,
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

/// A candidate commit queued for a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Queued {
    /// Its full hash.
    pub commit: String,
    /// The log's description of it.
    pub description: String,
}

/// One evaluated candidate of a batch, waiting for its decision or for the
/// decisions of the candidates before it (rows go to the log in queue
/// order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BatchRun {
    /// The run, as a single run would leave it pending.
    pub run: PendingRun,
    /// Why it failed, for crash and timeout.
    #[serde(default)]
    pub reason: Option<String>,
    /// The decision: `Some(true)` kept, `Some(false)` discarded (or its
    /// crash/timeout recorded), `None` undecided.
    #[serde(default)]
    pub kept: Option<bool>,
}

/// A batch being evaluated, for recovery after a killed engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BatchRunning {
    /// The experiment id of its first candidate.
    pub first_id: u64,
    /// How many candidates it evaluates.
    pub count: usize,
    /// How many slots (parallel workers) it uses.
    pub jobs: usize,
    /// The engine's own pid.
    pub engine_pid: u32,
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
    /// Whether candidates run under Landlock (false: `init --no-sandbox`).
    pub sandboxed: bool,
    /// Rust projects: the toolchain every build uses.
    #[serde(default)]
    pub toolchain: Option<crate::toolchain::Toolchain>,
    /// Cargo configuration files above the engine's build folders, with
    /// their hashes, as they were at init.
    #[serde(default)]
    pub cargo_configs: Vec<(PathBuf, String)>,
    /// The lock file blob the engine's cargo home last fetched for.
    #[serde(default)]
    pub fetched_lock: Option<String>,
    /// Folders outside the repository that builds read (path dependencies)
    /// and interpreters' prefixes (command projects).
    #[serde(default)]
    pub external_read: Vec<PathBuf>,
    /// Command projects: a folder put first on `PATH`, holding links to the
    /// interpreter resolved at init.
    #[serde(default)]
    pub tool_dir: Option<PathBuf>,
    /// Command projects running Python: the interpreter resolved at init
    /// (Gluepy's sealed evaluator runs it isolated, `-I -B`).
    #[serde(default)]
    pub python: Option<PathBuf>,
    /// Evaluation-only data, relative to the storage root, sealed at init.
    #[serde(default)]
    pub eval_data: Vec<String>,
    /// The base's evaluation wiring (`--describe --format json` without the
    /// work tasks), compared with every candidate's.
    #[serde(default)]
    pub base_eval: Option<serde_json::Value>,
    /// The key of the run's identity in `context.yaml` (`gluers` or
    /// `gluepy`).
    pub protected_key: String,
    /// The configuration folder, relative to the project folder.
    pub config_dir: String,
    /// The frozen set.
    pub frozen: Vec<FrozenEntry>,
    /// Repository-relative paths the engine itself writes (logs, run
    /// folders, build output), never part of the frozen set nor of a dirty
    /// tree; a trailing `/` marks a folder.
    pub excluded: Vec<String>,
    /// Metric documentation, when the project provides it.
    #[serde(default)]
    pub metric_docs: Vec<MetricDoc>,
    /// The metric the goal names (`init --metric`, or the goal's words):
    /// the best kept run is the best by it.
    pub primary_metric: String,
    /// The baseline's metrics.
    pub baseline: Metrics,
    /// The best kept run's metrics (by the primary metric, in its
    /// direction: [`crate::contract::direction`]).
    pub best_kept: Metrics,
    /// The experiment id of the best kept run (0 = baseline).
    #[serde(default)]
    pub best_experiment: u64,
    /// Full hash of the best kept run's commit (what `finish` scores).
    pub best_commit: String,
    /// The final test's data (`init --final-test`, `Dag::final_test_data`),
    /// sealed at init and never scored in the loop.
    #[serde(default)]
    pub final_test: Vec<FinalData>,
    /// What `finish` recorded, one entry per commit scored.
    #[serde(default)]
    pub finals: Vec<FinalResult>,
    /// The hash of the canonical log's last row, so that a removed last
    /// row is caught.
    #[serde(default)]
    pub log_head: Option<String>,
    /// The next experiment id.
    pub next_id: u64,
    /// The run waiting for a decision.
    pub pending: Option<PendingRun>,
    /// A run that was started and never finished.
    pub in_progress: Option<InProgress>,
    /// Candidate commits waiting for `run --queued`, in queue order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<Queued>,
    /// The evaluated candidates of the last batch whose rows are not yet
    /// in the log, in experiment-id (queue) order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<BatchRun>,
    /// A batch being evaluated; found here after the engine was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_running: Option<BatchRunning>,
    /// The keyed hash of every other field under the experiment's log key
    /// ([`State::check_mac`]): a hand edit that does not recompute it with
    /// the key is refused by every command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl State {
    /// The experiment ids of the last batch's rows still waiting for a
    /// keep or a discard, in queue order.
    pub fn undecided_batch(&self) -> Vec<u64> {
        self.batch
            .iter()
            .filter(|b| b.kept.is_none())
            .map(|b| b.run.experiment_id)
            .collect()
    }

    /// Every storage path the candidate must not read: the evaluation-only
    /// data and the final test's.
    pub fn sealed_storage(&self) -> Vec<String> {
        let mut out = self.eval_data.clone();
        out.extend(self.final_test.iter().map(|f| f.path.clone()));
        out
    }

    /// Loads the state, or `None` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExperimentError::io("read", path, e)),
        };
        // The version first: an older state lacks fields this one requires.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        if let Ok(Version { version }) = serde_json::from_str::<Version>(&text) {
            if version != STATE_VERSION {
                return Err(ExperimentError::StateVersion {
                    path: path.to_path_buf(),
                    found: version,
                });
            }
        }
        let state: Self = serde_json::from_str(&text).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(ExperimentError::StateVersion {
                path: path.to_path_buf(),
                found: state.version,
            });
        }
        Ok(Some(state))
    }

    /// Writes the state atomically and durably, with its keyed hash under
    /// `key`.
    pub fn save(&self, path: &Path, key: &Key) -> Result<()> {
        fsutil::atomic_write(path, self.to_json(path, key)?.as_bytes())
    }

    /// Writes the state atomically, without waiting for the rename to reach
    /// the disk (see [`fsutil::atomic_replace`]): for the progress and the
    /// result of a run, which the engine writes up to five times per run.
    /// After a power loss an earlier state may come back: the run is then
    /// either unknown (its commit stays in git and the next run takes it) or
    /// marked in progress, which the next command reports as interrupted, as
    /// after a killed engine.
    pub fn save_progress(&self, path: &Path, key: &Key) -> Result<()> {
        fsutil::atomic_replace(path, self.to_json(path, key)?.as_bytes())
    }

    /// Checks that the state is the one the engine wrote: its keyed hash
    /// under `key` must match every other field as loaded.
    pub fn check_mac(&self, path: &Path, key: &Key) -> Result<()> {
        let reason = match self.mac.as_deref().map(blake3::Hash::from_hex) {
            None => "it carries no keyed hash",
            Some(Err(_)) => "its keyed hash is malformed",
            Some(Ok(mac)) if mac == key.state_mac(self.body(path)?.as_bytes()) => return Ok(()),
            Some(Ok(_)) => "it does not match its keyed hash",
        };
        Err(ExperimentError::StateEdited {
            path: path.to_path_buf(),
            reason: reason.into(),
        })
    }

    /// The JSON the keyed hash covers: the state without its hash.
    fn body(&self, path: &Path) -> Result<String> {
        let bare = Self {
            mac: None,
            ..self.clone()
        };
        serde_json::to_string_pretty(&bare).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn to_json(&self, path: &Path, key: &Key) -> Result<String> {
        let signed = Self {
            mac: Some(
                key.state_mac(self.body(path)?.as_bytes())
                    .to_hex()
                    .to_string(),
            ),
            ..self.clone()
        };
        serde_json::to_string_pretty(&signed).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}
