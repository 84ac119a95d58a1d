//! How a gluers command ends, as one type both binaries share: the project
//! binary (`cargo manage ...`) and the installed `gluers` binary map their
//! outcomes to the same three exit codes, and the experiment engine reads a
//! project binary's code back.

use std::process::{ExitCode, Termination};

/// The outcome of a command, and the process exit code it maps to.
///
/// The codes are part of the command-line interface: scripts and the
/// experiment engine tell a failed run (1) from a command line that was
/// wrong (2).
///
/// ```
/// use gluers_formats::exit::ExitStatus;
///
/// // A binary's `main` can return it as it is.
/// fn main() -> ExitStatus {
///     assert_eq!(ExitStatus::Success.code(), 0);
///     assert_eq!(ExitStatus::Failure.code(), 1);
///     assert_eq!(ExitStatus::Usage.code(), 2);
///     assert_eq!(ExitStatus::from_code(2), ExitStatus::Usage);
///     ExitStatus::Success
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitStatus {
    /// The command did what it was asked: exit code 0.
    Success,
    /// The command ran and failed (a task, the storage, a file): exit code 1.
    Failure,
    /// The command line, the project's registry or a precondition was
    /// wrong, and nothing ran: exit code 2.
    Usage,
}

impl ExitStatus {
    /// The process exit code: 0, 1 or 2.
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
        }
    }

    /// The status a process exit code stands for: 0 success, 2 usage,
    /// anything else a failure.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => ExitStatus::Success,
            2 => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        }
    }

    /// Whether the command succeeded.
    pub const fn is_success(self) -> bool {
        matches!(self, ExitStatus::Success)
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

impl Termination for ExitStatus {
    fn report(self) -> ExitCode {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for status in [ExitStatus::Success, ExitStatus::Failure, ExitStatus::Usage] {
            assert_eq!(ExitStatus::from_code(i32::from(status.code())), status);
        }
        assert_eq!(ExitStatus::from_code(101), ExitStatus::Failure);
        assert_eq!(ExitStatus::from_code(-1), ExitStatus::Failure);
    }
}
