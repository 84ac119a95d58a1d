//! The engine's error type.
//!
//! Every message is one line that says what went wrong, where, and what to do
//! about it. [`ExperimentError::exit_code`] maps usage and precondition errors
//! to exit code 2 and everything else to 1.

use std::path::PathBuf;

/// Everything that can stop an experiment command.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// `git` could not be started.
    #[error(
        "git is not installed or not on PATH ({0}); experiments need git: install it and retry"
    )]
    GitMissing(String),

    /// `git` is older than the engine's hardening needs.
    #[error("{version} is too old: the engine needs git {minimum} or newer (it reads attributes from an empty tree with --attr-source, so a repository's filters never run); upgrade git and retry")]
    GitTooOld {
        /// What `git --version` printed.
        version: String,
        /// The oldest version that works.
        minimum: String,
    },

    /// The project directory is not inside a git work tree.
    #[error("{} is not inside a git repository; run `git init` and commit the project, then retry", dir.display())]
    NotARepo {
        /// The directory that was checked.
        dir: PathBuf,
    },

    /// The repository has no commit yet.
    #[error("the repository at {} has no commit yet; commit the project, then retry", root.display())]
    NoCommit {
        /// The repository root.
        root: PathBuf,
    },

    /// The work tree has uncommitted changes where a clean tree is required.
    #[error("the work tree has uncommitted changes ({count} path(s), e.g. `{example}`); {action}")]
    DirtyTree {
        /// How many paths `git status` reported.
        count: usize,
        /// The first reported path.
        example: String,
        /// What the user should do.
        action: &'static str,
    },

    /// HEAD is not on a branch that has an experiment.
    #[error("no experiment on {where_}; start one with `experiment init DAG --goal \"...\"` or check out an `experiment/...` branch")]
    NoExperiment {
        /// A description of the current position (branch name or detached HEAD).
        where_: String,
    },

    /// The engine needs to know how to run the project.
    #[error("no project to run: `experiment init` needs the project's run command (e.g. `--project-cmd \"python manage.py\"`) or a gluers project binary")]
    ProjectRequired,

    /// Another engine command holds the repository lock.
    #[error("another experiment command is running in this repository (lock {} is held); wait for it to finish, then retry", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// `run` was called while the previous run still waits for a decision.
    #[error("experiment {id} ({status}) is still waiting for a decision; record it with `{prog} keep` or `{prog} discard` first")]
    PendingDecision {
        /// The pending experiment id.
        id: u64,
        /// Its outcome (ok, crash, timeout).
        status: String,
        /// The command prefix to show, e.g. `cargo manage experiment`.
        prog: String,
    },

    /// `keep` or `discard` was called with nothing to decide.
    #[error(
        "there is no run waiting for a decision; start one with `{prog} run -m \"what changed\"`"
    )]
    NoPending {
        /// The command prefix to show.
        prog: String,
    },

    /// `keep` was called on a run that crashed or timed out.
    #[error("experiment {id} ended with {status} and has no metrics, so it cannot be kept; record it with `{prog} discard`")]
    CannotKeepFailed {
        /// The pending experiment id.
        id: u64,
        /// crash or timeout.
        status: String,
        /// The command prefix to show.
        prog: String,
    },

    /// A `--freeze` argument is unusable.
    #[error("--freeze {}: {reason}", path.display())]
    FreezePath {
        /// The path as given.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },

    /// Some other command-line argument is unusable.
    #[error("{0}")]
    Usage(String),

    /// The DAG has no evaluation task, so nothing can be measured.
    #[error("DAG `{dag}` has no evaluation task ({detail}); add an evaluation task that logs metrics, then retry")]
    NoEvalTasks {
        /// The DAG label.
        dag: String,
        /// Where we looked.
        detail: String,
    },

    /// Frozen paths changed since the base commit: the run is refused.
    #[error("refused, nothing ran: frozen path(s) changed since base commit {base}: {paths}; such an edit cannot move a metric anyway (evaluation runs from the base commit); commit {head} stays for you to fix: restore them (`git checkout {base} -- PATH`, or put the data back), then run again")]
    FrozenViolation {
        /// Short hash of the base commit.
        base: String,
        /// Short hash of the refused commit (HEAD).
        head: String,
        /// The changed paths with the kind of change, `; `-separated.
        paths: String,
    },

    /// A git command failed.
    #[error("`git {args}` failed in {}: {message}", dir.display())]
    Git {
        /// The arguments, space-joined.
        args: String,
        /// Where it ran.
        dir: PathBuf,
        /// git's own message (first lines of stderr).
        message: String,
    },

    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we tried to do, e.g. "write".
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A child process (build, project, python) could not be started.
    #[error("cannot start `{program}`: {source}; check that it is installed and on PATH")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The engine state file is unreadable.
    #[error("engine state {} is unreadable ({message}); remove it and run `experiment init` again", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },

    /// The engine state was written by another version of the engine.
    #[error("engine state {} is of format version {found}, and this gluers reads version {}: the experiment was started by another gluers version; finish it with that version, or start a new experiment with `experiment init` (the log and branch stay)", path.display(), crate::state::STATE_VERSION)]
    StateVersion {
        /// The state file.
        path: PathBuf,
        /// The version it carries.
        found: u32,
    },

    /// `keep` was called on a run that breaks a hard constraint.
    #[error("experiment {id} breaks a hard constraint ({metric}={value}, {constraint}), so it cannot be kept; record it with `{prog} discard`")]
    ConstraintBroken {
        /// The pending experiment id.
        id: u64,
        /// The metric.
        metric: String,
        /// Its value.
        value: String,
        /// The constraint in words.
        constraint: String,
        /// The command prefix to show.
        prog: String,
    },

    /// `finish` was called on an experiment without a final test.
    #[error("this experiment has no final test: declare one when starting it, with `experiment init --final-test PATH` or `Dag::final_test_data(PATH)`")]
    NoFinalTest,

    /// The engine state does not carry the engine's keyed hash: it was
    /// written by hand (or by another engine).
    #[error("engine state {} was edited outside the engine ({reason}); nothing in it can be trusted: restore the engine's copy, or start a new experiment with `experiment init`", path.display())]
    StateEdited {
        /// The state file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },

    /// The project could not be inspected (describe output, Python scan, settings).
    #[error("cannot inspect the project: {0}")]
    Inspect(String),

    /// The sealed evaluator could not be built or is damaged.
    #[error("sealed evaluator: {0}")]
    Sealed(String),
    /// A commit could not be exported for building and running.
    #[error("cannot export the commit: {0}")]
    Export(String),
    /// The sandbox could not be set up or is unavailable.
    #[error("{0}")]
    Sandbox(String),

    /// The baseline run of `init` failed.
    #[error("the baseline run ended with {status}; the experiment was not started (log: {}); fix the project on its branch, then run `experiment init` again", log.display())]
    BaselineFailed {
        /// crash or timeout.
        status: String,
        /// The run log.
        log: PathBuf,
    },

    /// The requested metric is not in the log.
    #[error("metric `{metric}` is not in the experiment log (known: {known}); pass one of them with --metric")]
    UnknownMetric {
        /// The requested metric.
        metric: String,
        /// The metrics the log has.
        known: String,
    },

    /// The experiment log's hash chain is broken: a row was edited,
    /// removed, reordered or forged outside the engine.
    #[error("{0}; the record can no longer be trusted: restore the engine's log, or start a new experiment with `experiment init`")]
    BrokenLog(#[source] crate::explog::ChainError),

    /// The project's copy of the log is not the engine's log.
    #[error("the project's experiment log {0}; the engine's log is intact, and the next engine command rewrites the copy from it")]
    MirrorDiffers(#[source] crate::explog::MirrorError),

    /// The key of the experiment log's chain is missing or unreadable.
    #[error("the key of the experiment log {} is unusable ({message}); without it the log cannot be checked: restore it, or start a new experiment with `experiment init`", path.display())]
    LogKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// Rendering the chart failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl ExperimentError {
    /// The process exit code for this error: 2 for usage and precondition
    /// errors (bad arguments, wrong repository state), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::GitMissing(_)
            | Self::GitTooOld { .. }
            | Self::NotARepo { .. }
            | Self::NoCommit { .. }
            | Self::DirtyTree { .. }
            | Self::NoExperiment { .. }
            | Self::ProjectRequired
            | Self::Locked { .. }
            | Self::PendingDecision { .. }
            | Self::NoPending { .. }
            | Self::CannotKeepFailed { .. }
            | Self::ConstraintBroken { .. }
            | Self::NoFinalTest
            | Self::StateVersion { .. }
            | Self::FreezePath { .. }
            | Self::Usage(_)
            | Self::NoEvalTasks { .. }
            | Self::UnknownMetric { .. }
            | Self::Report(crate::report::ReportError::UnsupportedFormat { .. }) => 2,
            _ => 1,
        }
    }

    /// Wraps an I/O error with the action and path it concerns.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;
