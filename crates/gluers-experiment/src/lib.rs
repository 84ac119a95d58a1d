//! The gluers experiment engine.
//!
//! An AI coding agent improves a DAG's work tasks; the engine takes over every
//! mechanical and trust-critical step of the loop, so that a metric can only
//! move because the work got better:
//!
//! * `experiment init DAG --goal "..."` checks git, creates the branch
//!   `experiment/<dag>`, resolves the *frozen set* (evaluation sources and
//!   their wiring, build, toolchain, CI and container files, plus every
//!   `--freeze PATH`), builds the *sealed evaluator* from the base commit,
//!   runs the baseline and starts `experiment_log.tsv`.
//! * `experiment run -m "..."` commits the agent's changes, refuses the run if
//!   any frozen path changed, runs the candidate's work tasks into a fresh run
//!   folder, then the sealed evaluator on that folder, and reads the metrics
//!   it wrote (never the candidate's stdout).
//! * `experiment keep` / `experiment discard` record the decision; discard
//!   resets the branch to the last kept commit.
//! * `experiment status`, `experiment log`, `experiment report`.
//! * `experiment verify` checks the experiment log's hash chain (each row
//!   carries a keyed hash of the one before it) and the project's copy;
//!   every other command refuses a broken chain, naming the row.
//!
//! Each `experiment run` ends `experiment_run.log` with a line saying where
//! its time went (`[gluers experiment] timings: open 3.1 ms, commit 19.1 ms,
//! ..., engine overhead 44.3 ms, total 231.8 ms`); the engine overhead is
//! everything but the build, the work tasks and the sealed evaluation
//! (`bench/engine_overhead.sh` measures it).
//!
//! State lives outside the repository, in a private state root
//! (`$GLUERS_STATE_DIR`, `$XDG_STATE_HOME/gluers` or `~/.local/state/gluers`;
//! see `state.rs`); one engine command runs at a time per repository.
//! Candidates run from an engine-owned export of their commit, under
//! Landlock, and every process they start is killed after each phase
//! (`docs/threat-model.md`). The engine works on Linux; elsewhere only with
//! `init --no-sandbox`.
//!
//! The same engine drives gluers Rust projects ([`ProjectSpec::Cargo`]) and
//! any project run by a command speaking the same `dag` protocol, Gluepy 1.6.0
//! included ([`ProjectSpec::Command`]).

#![warn(missing_docs)]

mod agent;
mod batch;
mod cli;
mod commands;
mod contain;
mod contract;
mod engine;
mod error;
mod evaluator;
mod explog;
mod export;
mod frozen;
mod fsutil;
mod git;
mod hashing;
mod launch;
mod lock;
mod metrics;
mod process;
mod project;
mod pyenv;
mod python;
mod repo;
pub mod report;
mod runner;
pub mod sandbox;
mod sealed;
mod state;
mod state_paths;
mod timings;
mod toolchain;

use std::path::PathBuf;
use std::process::ExitCode;

pub use cli::ExperimentCommand;
pub use error::{ExperimentError, Result};

/// How to run the project under experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectSpec {
    /// A gluers Rust project: built with cargo from `manifest_dir`, binary
    /// `bin`.
    Cargo {
        /// The package directory (holding `Cargo.toml`).
        manifest_dir: PathBuf,
        /// The binary target that runs the project's DAGs.
        bin: String,
    },
    /// Any project run by a shell command, e.g. `python manage.py` (Gluepy).
    /// The command gets `dag LABEL --skip-eval --retry FOLDER` or
    /// `dag LABEL --eval-only --retry FOLDER` appended.
    Command {
        /// The command, interpreted by `sh`.
        cmd: String,
        /// The project directory the command runs in.
        dir: PathBuf,
    },
}

/// Runs one `experiment` subcommand.
///
/// `project` says how to run the project; `init` needs it (it is stored in
/// the engine state), later commands locate the repository from it when
/// given, else from the current directory, and use the stored one.
///
/// Returns the exit code for outcomes that are not errors of the engine
/// (0, or 1 for a run that crashed or timed out); errors carry their own
/// exit code ([`ExperimentError::exit_code`]).
pub fn execute(cmd: ExperimentCommand, project: Option<ProjectSpec>) -> Result<ExitCode> {
    // Inside a supervised session the supervisor runs the command.
    if let Some(session) = agent::Session::from_env() {
        return session.forward(cmd);
    }
    process::install_reaper();
    let dir = match &project {
        Some(ProjectSpec::Cargo { manifest_dir, .. }) => manifest_dir.clone(),
        Some(ProjectSpec::Command { dir, .. }) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| ExperimentError::io("read the current directory", ".", e))?,
    };
    match cmd {
        ExperimentCommand::Init {
            dag,
            goal,
            freeze,
            timeout,
            holdout,
            unfreeze,
            no_sandbox,
            metric,
            direction,
            constraint,
            final_test,
        } => commands::init::init(
            project,
            commands::init::InitArgs {
                dag,
                goal,
                freeze,
                timeout,
                holdout,
                unfreeze,
                no_sandbox,
                metric,
                direction,
                constraint,
                final_test,
            },
        ),
        ExperimentCommand::Run {
            queued: true,
            jobs,
            timeout,
            ..
        } => batch::run_queued(&dir, usize::try_from(jobs).unwrap_or(1), timeout),
        ExperimentCommand::Run {
            message, timeout, ..
        } => commands::run::run(&dir, message.as_deref().unwrap_or_default(), timeout),
        ExperimentCommand::Queue { rev, message } => {
            batch::queue(&dir, rev.as_deref(), message.as_deref())
        }
        ExperimentCommand::Keep { id } => commands::decide::keep(&dir, id),
        ExperimentCommand::Discard { id } => commands::decide::discard(&dir, id),
        ExperimentCommand::Status => commands::show::status(&dir),
        ExperimentCommand::Log => commands::show::log(&dir),
        ExperimentCommand::Verify => commands::verify::verify(&dir),
        ExperimentCommand::Finish => commands::finish::finish(&dir),
        ExperimentCommand::Report { metric, out } => {
            commands::show::report(&dir, metric.as_deref(), &out)
        }
        ExperimentCommand::Agent {
            allow_write,
            command,
        } => agent::agent(&dir, &allow_write, &command),
    }
}

/// Makes a closed stdout (`gluers experiment log | head`) end the process
/// quietly with status 141 (as a shell reports death by `SIGPIPE`) instead
/// of a panic message: Rust ignores `SIGPIPE`, so printing to a closed pipe
/// panics. A run cut short so is recovered like any interrupted run. Call
/// it once at the start of `main`.
pub fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info)
    }));
}

/// Handles the engine binary's hidden entry points: the sandbox trampoline
/// (`__sandbox`) and a command forwarded by an agent supervisor
/// (`__agent-command`). Returns their exit code, or `None` for an ordinary
/// command line. Call it first thing in `main`, before any thread starts:
/// `if let Some(code) = gluers_experiment::dispatch() { return code; }`
pub fn dispatch() -> Option<ExitCode> {
    sandbox::dispatch()
        .or_else(agent::dispatch_command)
        .or_else(batch::worker::dispatch)
}
