//! The error type of the gluers library and the exit codes it maps to.

use std::path::PathBuf;

use crate::storage::StorageError;

/// Everything that can stop a gluers command.
///
/// Each message is one line that says what went wrong, where, and what to do.
#[derive(Debug, thiserror::Error)]
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

    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),

    /// A task returned an error; the run stopped there.
    #[error("task '{task}' failed: {message}")]
    TaskFailed {
        /// The label of the failing task.
        task: String,
        /// The task's error, with its causes joined by ": ".
        message: String,
    },

    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl GluersError {
    /// The process exit code for this error: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            GluersError::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub use gluers_formats::escape::escape_controls;

/// Shorthand for results in the gluers library.
pub type Result<T, E = GluersError> = std::result::Result<T, E>;
