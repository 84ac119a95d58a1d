//! Ops backends: where a run's parameters, metrics, artifacts and status are
//! reported (a tracking server such as MLflow, or the log).
//!
//! The shape follows Gluepy's ops backend (create / get / list runs, log
//! param / metric / artifact / input, set terminated), split in two so a
//! backend cannot be asked to log before a run exists:
//!
//! - [`OpsBackend`] is the backend: it opens a run ([`OpsBackend::create_run`])
//!   and looks runs up ([`OpsBackend::get_run`], [`OpsBackend::list_runs`]);
//! - [`OpsRun`] is one open run: the `log_*` calls and
//!   [`OpsRun::set_terminated`].
//!
//! Every method can fail with an [`OpsError`]. The runner always writes the
//! run folder, `metrics.json` and `params.json` itself first; a backend only
//! mirrors them, so a tracker failure never loses local data (see
//! [`OpsSettings::required`](crate::settings::OpsSettings::required) for
//! whether it fails the run).
//!
//! A project plugs in its own backend with
//! [`Project::ops`](crate::Project::ops).

mod killed;
mod log;
#[cfg(feature = "mlflow")]
pub mod mlflow;
pub(crate) mod tracker;

use std::sync::Arc;

use crate::settings::{OpsKind, Settings};
use crate::storage::Storage;

pub use log::LogOps;

/// A result of an ops backend call.
pub type OpsResult<T> = std::result::Result<T, OpsError>;

/// Why an ops backend call failed. Each message is one line that says what
/// failed, where, and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The tracker could not be reached (connection refused, DNS, timeout).
    #[error("{0}")]
    Unreachable(String),
    /// The tracker refused the credentials (HTTP 401 or 403).
    #[error("{0}")]
    Unauthorized(String),
    /// The tracker answered with an error to a well-formed request.
    #[error("{0}")]
    Rejected(String),
    /// The backend is misconfigured (bad URI, unsupported artifact store).
    #[error("{0}")]
    Config(String),
    /// A local file (an artifact) could not be read.
    #[error("{0}")]
    Local(String),
}

/// What the runner knows when it opens a tracked run.
#[derive(Clone, Debug)]
pub struct RunStart<'a> {
    /// The DAG's label (MLflow: the experiment's name).
    pub dag: &'a str,
    /// The gluers run id.
    pub run_id: &'a str,
    /// The run folder, as a storage path.
    pub run_folder: &'a str,
    /// True for `--retry`: reopen the run this run id already has, if any,
    /// rather than create a second one.
    pub resume: bool,
    /// Who started the run (the `USER` of the process), if known.
    pub username: Option<&'a str>,
}

/// A run as a backend stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpsRunInfo {
    /// The backend's own id of the run (MLflow's run id).
    pub id: String,
    /// The gluers run id, when the run carries it.
    pub run_id: Option<String>,
    /// The DAG, when known.
    pub dag: Option<String>,
    /// The run folder, when the run carries it.
    pub run_folder: Option<String>,
    /// The backend's status (`RUNNING`, `FINISHED`, `FAILED`, `KILLED`, ...).
    pub status: String,
    /// When the run started, in milliseconds since the Unix epoch.
    pub start_time_ms: Option<i64>,
    /// When the run ended, in milliseconds since the Unix epoch.
    pub end_time_ms: Option<i64>,
}

/// How a run ended, as Gluepy and MLflow name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminalStatus {
    /// Every task succeeded.
    Finished,
    /// A task (or the runner) failed.
    Failed,
    /// The run was stopped from outside (a signal).
    Killed,
}

impl TerminalStatus {
    /// `FINISHED`, `FAILED` or `KILLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalStatus::Finished => "FINISHED",
            TerminalStatus::Failed => "FAILED",
            TerminalStatus::Killed => "KILLED",
        }
    }
}

/// An artifact a task logged: a file on the run's storage.
pub struct Artifact<'a> {
    path: &'a str,
    name: &'a str,
    storage: &'a Storage,
}

impl<'a> Artifact<'a> {
    /// The artifact at storage path `path`, named `name` in the tracker.
    pub fn new(path: &'a str, name: &'a str, storage: &'a Storage) -> Self {
        Artifact {
            path,
            name,
            storage,
        }
    }

    /// The storage path.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The name in the tracker: the path relative to the run folder when
    /// the file is inside it, else the storage path.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The file's bytes, read from the storage when a backend uploads it
    /// (a backend that only records the path never pays for the read).
    pub fn read(&self) -> OpsResult<Vec<u8>> {
        self.storage.read(self.path).map_err(|e| {
            OpsError::Local(format!(
                "cannot read the artifact '{}' to upload it: {e}",
                self.path
            ))
        })
    }
}

/// A data set a run read (Gluepy's `log_input`).
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// The data set's name.
    pub name: &'a str,
    /// Where it comes from (a storage path, a URL, a table name).
    pub source: &'a str,
    /// A digest of its content, if known (a hash or a version).
    pub digest: Option<&'a str>,
}

/// An ops backend: opens tracked runs and looks them up.
///
/// Implement it (with [`OpsRun`]) to send runs to your own tracker, and
/// hand it to [`Project::ops`](crate::Project::ops).
pub trait OpsBackend: Send + Sync {
    /// A short name for messages (`log`, `mlflow`).
    fn name(&self) -> &str;

    /// Opens the tracked run of a gluers run: a new one, or with
    /// [`RunStart::resume`] the one this run id already has.
    fn create_run(&self, start: &RunStart<'_>) -> OpsResult<Box<dyn OpsRun>>;

    /// The tracked run of gluers run `run_id`, if the backend has one.
    fn get_run(&self, run_id: &str) -> OpsResult<Option<OpsRunInfo>>;

    /// The tracked runs, of one DAG or of every DAG, newest first.
    fn list_runs(&self, dag: Option<&str>) -> OpsResult<Vec<OpsRunInfo>>;
}

/// One open tracked run. Calls come in logging order.
pub trait OpsRun: Send {
    /// The backend's id of this run.
    fn id(&self) -> &str;
    /// Logs a parameter.
    fn log_param(&mut self, key: &str, value: &str) -> OpsResult<()>;
    /// Logs a metric (already checked to be finite).
    fn log_metric(&mut self, key: &str, value: f64) -> OpsResult<()>;
    /// Logs an artifact.
    fn log_artifact(&mut self, artifact: &Artifact<'_>) -> OpsResult<()>;
    /// Logs a data set the run read.
    fn log_input(&mut self, input: &Input<'_>) -> OpsResult<()>;
    /// Ends the run with `status`.
    fn set_terminated(&mut self, status: TerminalStatus) -> OpsResult<()>;

    /// A call that ends this run as [`TerminalStatus::Killed`] from another
    /// thread, made when SIGINT, SIGTERM or SIGHUP stops the process (the
    /// process then dies of the signal as before). `None` (the default):
    /// nothing to tell, and no signal handler is installed.
    fn kill_switch(&self) -> Option<KillSwitch> {
        None
    }
}

/// Lets the tracked runs of this process report KILLED when SIGINT,
/// SIGTERM or SIGHUP stops it (see [`OpsRun::kill_switch`]). The project
/// binary's `dag` command calls it; a program that runs DAGs in-process
/// and handles stop signals itself does not.
pub fn enable_kill_reports() {
    killed::enable();
}

/// See [`OpsRun::kill_switch`].
pub type KillSwitch = Box<dyn FnOnce() + Send>;

/// The backend the settings name: [`LogOps`], or with the `mlflow` feature
/// the MLflow backend (its tracking URI and credentials from the settings
/// and the environment, as MLflow's own clients read them).
pub fn open_ops(settings: &Settings) -> crate::Result<Arc<dyn OpsBackend>> {
    match settings.ops.backend {
        OpsKind::Log => Ok(Arc::new(LogOps)),
        OpsKind::Mlflow => open_mlflow(settings),
    }
}

#[cfg(feature = "mlflow")]
fn open_mlflow(settings: &Settings) -> crate::Result<Arc<dyn OpsBackend>> {
    let config =
        mlflow::MlflowConfig::from_settings(&settings.ops.mlflow, |k| std::env::var(k).ok())?;
    Ok(Arc::new(mlflow::MlflowOps::new(config)))
}

#[cfg(not(feature = "mlflow"))]
fn open_mlflow(_settings: &Settings) -> crate::Result<Arc<dyn OpsBackend>> {
    Err(OpsError::Config(
        "settings: [ops] backend = \"mlflow\" needs gluers built with its `mlflow` feature: \
         add features = [\"mlflow\"] to the gluers dependency in Cargo.toml"
            .into(),
    )
    .into())
}
