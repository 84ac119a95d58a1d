//! The re-exec trampoline: `ENGINE-BINARY __sandbox POLICY -- PROGRAM
//! ARGS...` confines itself and becomes `PROGRAM`.
//!
//! Applying Landlock between `fork` and `exec` would need `unsafe`
//! (`pre_exec`); instead the engine starts its own binary, which, still
//! single-threaded at the top of `main`, drops its capabilities, restricts
//! itself and `exec`s the program in place (same pid, so the engine's
//! process group, deadline and kill logic apply unchanged).

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use super::{apply, caps, namespaces, Policy};

/// The first argument that makes the engine binary act as the trampoline.
pub const SANDBOX_ARG: &str = "__sandbox";

/// Exit code when the sandbox cannot be set up or the program cannot be
/// executed (as a shell does for "found but cannot run").
const EXIT_CANNOT_RUN: u8 = 126;
/// Exit code when the program does not exist (as a shell does).
const EXIT_NOT_FOUND: u8 = 127;

/// If the process was started as `BINARY __sandbox ...`, runs the
/// trampoline and returns its exit code (only reached on failure: on
/// success the process has become the program). Otherwise returns `None`.
/// Call it first thing in `main`, before any thread is started:
/// `if let Some(code) = gluers_experiment::sandbox::dispatch() { return code; }`
pub fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(SANDBOX_ARG)) {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    Some(trampoline_main(&rest))
}

/// The trampoline, given its arguments after `__sandbox`: parses the policy,
/// drops every capability, restricts the process with Landlock (which also
/// sets `no_new_privs`), then `exec`s the program with the environment it
/// was given. Returns only on failure, after one line on stderr: exit 127
/// if the program does not exist, 126 for anything else. A strict policy
/// the kernel cannot fully enforce is a failure; a best-effort one runs with
/// a warning line.
pub fn trampoline_main(args: &[OsString]) -> ExitCode {
    let (init, args) = match args.split_first() {
        Some((first, rest)) if first == namespaces::INIT_FLAG => (true, rest),
        _ => (false, args),
    };
    let (policy, command) = match Policy::from_args(args) {
        Ok(parsed) => parsed,
        Err(e) => return fail(EXIT_CANNOT_RUN, &e),
    };
    if init || policy.namespaces {
        let stage = if init {
            namespaces::init(&policy, &command)
        } else {
            namespaces::outer(&policy, &command)
        };
        return stage.unwrap_or_else(|e| fail(EXIT_CANNOT_RUN, &e));
    }
    let mut warnings = Vec::new();
    if let Err(e) = caps::drop_all() {
        if !policy.best_effort {
            return fail(EXIT_CANNOT_RUN, &e);
        }
        warnings.push(e);
    }
    match apply::restrict_self(&policy) {
        Ok(None) => {}
        Ok(Some(w)) => warnings.push(w),
        Err(e) => return fail(EXIT_CANNOT_RUN, &e),
    }
    if !warnings.is_empty() {
        eprintln!(
            "gluers sandbox: warning: running with a partial sandbox (best effort): {}",
            warnings.join("; ")
        );
    }
    // `exec` looks the program up in the child's own `PATH` (the allow-list
    // environment the engine gave), and only returns on failure.
    let err = Command::new(&command[0]).args(&command[1..]).exec();
    let code = if err.kind() == ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    fail(
        code,
        &format!(
            "cannot run `{}`: {err} (is it on PATH and in the sandbox's readable set?)",
            command[0].to_string_lossy()
        ),
    )
}

/// Prints the one line and turns the code into an [`ExitCode`].
fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("gluers sandbox: {message}");
    ExitCode::from(code)
}
