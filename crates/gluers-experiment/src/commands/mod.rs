//! The implementation of each `experiment` subcommand.

pub(crate) mod decide;
pub(crate) mod finish;
pub(crate) mod init;
mod init_contract;
mod init_steps;
mod resolve;
pub(crate) mod run;
pub(crate) mod show;
pub(crate) mod verify;

use std::path::Path;

/// How many lines of the run log a failed run shows.
const TAIL_LINES: usize = 50;

/// Prints why a run failed (when known) and the end of its run log.
pub(crate) fn print_failure(reason: Option<&str>, log: &Path) {
    if let Some(reason) = reason {
        println!("  {reason}");
    }
    print_tail(log);
}

/// Prints the last lines of the run log, framed.
pub(crate) fn print_tail(log: &Path) {
    println!("--- last {TAIL_LINES} lines of {} ---", log.display());
    println!("{}", crate::fsutil::tail_lines(log, TAIL_LINES));
    println!("--- end of {} ---", log.display());
}
