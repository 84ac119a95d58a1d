//! The error type of the gluers library and the exit status it maps to.

use std::path::PathBuf;

use gluers_formats::exit::ExitStatus;

use crate::storage::StorageError;

/// Everything that can stop a gluers command.
///
/// Each message is one line that says what went wrong, where, and what to
/// do. A variant that wraps another error keeps it as its
/// [`source`](std::error::Error::source) rather than copying its text, so a
/// caller can inspect or downcast it; `cargo manage` prints the whole chain
/// on one line, `outer: cause: its cause`, as `anyhow`'s `{:#}` does.
///
/// ```
/// use std::error::Error;
/// use gluers::{GluersError, ExitStatus};
///
/// let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
/// let err = GluersError::Io { context: "cannot read the current folder".into(), source: io };
/// assert_eq!(err.to_string(), "cannot read the current folder");
/// assert_eq!(err.source().unwrap().to_string(), "denied");
/// assert_eq!(err.exit_status(), ExitStatus::Failure);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GluersError {
    /// The command line asked for something that does not exist or cannot be combined.
    #[error("{0}")]
    Usage(String),

    /// The project's registry is inconsistent (for example a duplicate label).
    #[error("{0}")]
    Registry(String),

    /// The settings file could not be read or understood.
    #[error("settings {path}: {message}")]
    Settings {
        /// The settings file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A configuration or patch file could not be read, parsed or merged.
    #[error("{0}")]
    Config(String),

    /// A file or folder outside the storage could not be read or written.
    #[error("{context}")]
    Io {
        /// What was being done, and on which path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A server the project uses (the Celery worker's broker or result
    /// backend) could not be reached or refused the request.
    #[error("{context}")]
    Service {
        /// Which server, where, and what to do about it.
        context: String,
        /// The client library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The ops backend (an experiment tracker) could not be opened or used.
    #[error(transparent)]
    Ops(#[from] crate::ops::OpsError),

    /// With `[ops] required = true`, the run could not be tracked; the
    /// message names the tracker and what to do. The run folder is complete.
    #[error("{0}")]
    Untracked(String),

    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),

    /// A task returned an error (or panicked); the run stopped there.
    #[error("task '{task}' failed")]
    TaskFailed {
        /// The label of the failing task.
        task: String,
        /// The task's error, with its own causes as its source chain.
        #[source]
        source: anyhow::Error,
    },

    /// A project command (see [`Command`](crate::Command)) returned an error.
    #[error("{command}")]
    CommandFailed {
        /// The command's name.
        command: String,
        /// The command's error, with its own causes as its source chain.
        #[source]
        source: anyhow::Error,
    },
}

impl GluersError {
    /// How the process ends for this error: [`ExitStatus::Usage`] (code 2)
    /// for usage errors, [`ExitStatus::Failure`] (code 1) otherwise.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            GluersError::Usage(_) => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        }
    }
}

pub(crate) use gluers_formats::escape::escape_controls;

/// Shorthand for results in the gluers library.
pub type Result<T, E = GluersError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error;

    use anyhow::Context;
    use gluers_formats::message::chain;

    use super::*;

    /// As the runner builds it from a task's `anyhow::Error`.
    fn task_failed(error: anyhow::Error) -> GluersError {
        GluersError::TaskFailed {
            task: "train".into(),
            source: error,
        }
    }

    #[test]
    fn a_task_error_is_the_source_with_its_chain_intact() {
        let cause = std::io::Error::other("disk on fire");
        let err = task_failed(Err::<(), _>(cause).context("reading x.csv").unwrap_err());
        assert_eq!(err.to_string(), "task 'train' failed");
        assert_eq!(
            chain(&err),
            "task 'train' failed: reading x.csv: disk on fire"
        );
        let task_error = err.source().expect("the task's error");
        assert!(task_error.source().is_some());
        assert_eq!(task_error.to_string(), "reading x.csv");
        let io = task_error.source().expect("its cause");
        assert!(io.downcast_ref::<std::io::Error>().is_some(), "{io:?}");
    }

    #[test]
    fn a_cause_an_error_already_prints_is_not_repeated() {
        // StorageError::Io prints its I/O error and also returns it as source.
        let storage = StorageError::Io {
            path: "runs/a/x.csv".into(),
            source: std::io::Error::other("permission denied"),
        };
        let err = task_failed(storage.into());
        assert_eq!(
            chain(&err),
            "task 'train' failed: runs/a/x.csv: permission denied"
        );
        assert!(err
            .source()
            .unwrap()
            .downcast_ref::<StorageError>()
            .is_some());
    }

    #[test]
    fn usage_errors_exit_2_and_the_rest_1() {
        assert_eq!(GluersError::Usage("x".into()).exit_status().code(), 2);
        assert_eq!(GluersError::Config("x".into()).exit_status().code(), 1);
    }
}
