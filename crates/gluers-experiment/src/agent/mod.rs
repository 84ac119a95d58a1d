//! Supervised agent mode (`experiment agent -- CMD`): the agent runs
//! sandboxed, and the engine, outside, does the git work, the runs and the
//! records on its behalf.
//!
//! The supervisor:
//! 1. opens the experiment and checks its log, and refuses when sealed
//!    data is in the repository's history (an agent that reads `.git` would
//!    read the answers);
//! 2. opens an abstract UNIX socket with a fresh name and a random token
//!    ([`server`]);
//! 3. starts the agent through the sandbox trampoline with the policy of
//!    [`jail`] in its own PID and mount namespaces, with the socket's name
//!    and token in its environment; the agent's `gluers experiment ...`
//!    then forwards to the supervisor ([`client`]);
//! 4. when the agent exits (and everything it started with it), waits for
//!    a command still running and prints the session's summary.

mod client;
mod jail;
mod protocol;
mod server;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(crate) use client::Session;

use crate::engine::{Access, Ctx};
use crate::error::{ExperimentError, Result};
use crate::explog::{self, Status};

/// The environment variable naming the session's socket (abstract name).
pub(crate) const SOCKET_ENV: &str = "GLUERS_AGENT_SOCKET";
/// The environment variable holding the session's token.
pub(crate) const TOKEN_ENV: &str = "GLUERS_AGENT_TOKEN";

/// `experiment agent [--allow-write PATH]... -- CMD ARGS...`.
pub(crate) fn agent(dir: &Path, allow_write: &[PathBuf], command: &[String]) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        return Err(ExperimentError::Usage(
            "no agent command; give one after `--`, e.g. `experiment agent -- claude`".into(),
        ));
    };
    crate::contain::require_sandbox()?;
    probe_namespaces()?;
    let mut ctx = Ctx::open(dir, Access::Read)?;
    // Commands of the session take the lock themselves.
    ctx.lock = None;
    ctx.verify_log()?;
    refuse_sealed_in_history(&ctx)?;
    // An untracked answer file must never be committed by a `run` either.
    let sealed_rel: Vec<String> = jail::sealed_originals(&ctx)
        .iter()
        .filter_map(|p| ctx.repo.rel(p))
        .filter(|r| !r.is_empty())
        .collect();
    ctx.repo.exclude(&sealed_rel)?;
    let manifest = crate::frozen::Manifest::load(&ctx.paths.manifest())?;
    let start_rows = explog::read(&ctx.paths.log())?.len();
    let (start_best, start_best_id) = (ctx.state.best_kept.inline(), ctx.state.best_experiment);

    let session = tempfile::Builder::new()
        .prefix("gluers-agent-")
        .tempdir()
        .map_err(|e| ExperimentError::io("create", std::env::temp_dir(), e))?;
    let tmp = session.path().join("tmp");
    let scratch = session.path().join("supervisor");
    for d in [&tmp, &scratch] {
        crate::fsutil::ensure_dir(d)?;
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let project_dir = std::env::current_dir()
        .map_err(|e| ExperimentError::io("read the current directory", ".", e))?;
    let server = server::Server::start(token.clone(), &project_dir, &scratch, &ctx.repo.root)?;
    let policy = jail::policy(
        &ctx,
        &manifest,
        &tmp,
        &scratch,
        allow_write,
        std::process::id(),
    )?;

    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            !k.starts_with("GLUERS_AGENT_") && k != "TMPDIR"
        })
        .collect();
    env.push((SOCKET_ENV.into(), server.name.clone().into()));
    env.push((TOKEN_ENV.into(), token.into()));
    env.push(("TMPDIR".into(), tmp.clone().into()));
    let trampoline = std::env::current_exe()
        .map_err(|e| ExperimentError::Sandbox(format!("cannot find the engine binary: {e}")))?;
    let mut cmd =
        crate::sandbox::sandboxed_command(&trampoline, &policy, program, args, &env, &project_dir);
    println!(
        "agent session: `{}` sandboxed (work tree writable except .git, frozen and sealed paths); its `{} ...` commands reach this supervisor",
        command.join(" "),
        ctx.state.prog
    );
    let status = cmd.status().map_err(|e| {
        ExperimentError::Sandbox(format!("cannot start the agent `{program}`: {e}"))
    })?;
    // A command the agent left running finishes and records first.
    let _wait = server.busy.lock().unwrap_or_else(|p| p.into_inner());
    summary(dir, start_rows, &start_best, start_best_id, status.code())?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

/// Starts `true` the way the agent will be started, to refuse with one line
/// up front where the namespaces cannot be made (no `CAP_SYS_ADMIN`).
fn probe_namespaces() -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| ExperimentError::Sandbox(format!("cannot find the engine binary: {e}")))?;
    let policy = crate::sandbox::Policy {
        namespaces: true,
        parent_pid: Some(std::process::id()),
        ..crate::sandbox::Policy::system()
    };
    let env = crate::sandbox::base_env(Path::new("/"), Path::new("/tmp"));
    let out =
        crate::sandbox::sandboxed_command(&exe, &policy, "true", [""; 0], &env, Path::new("/"))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ExperimentError::Sandbox(format!("cannot start the sandbox: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    Err(ExperimentError::Sandbox(format!(
        "cannot start a supervised agent here: {}",
        why.trim().trim_start_matches("gluers sandbox: ")
    )))
}

/// Refuses a session when a sealed file is in any commit of the
/// repository: the agent may read `.git`, so it could read the answers
/// from history.
fn refuse_sealed_in_history(ctx: &Ctx) -> Result<()> {
    for abs in jail::sealed_originals(ctx) {
        let Some(rel) = ctx.repo.rel(&abs).filter(|r| !r.is_empty()) else {
            continue;
        };
        let found = ctx.repo.git.run(&[
            "log",
            "--all",
            "--format=%h",
            "-1",
            "--",
            &format!(":(literal){rel}"),
        ])?;
        if !found.trim().is_empty() {
            return Err(ExperimentError::Sandbox(format!(
                "the sealed data `{rel}` is in this repository's history (commit {}): an agent can read it from .git; keep evaluation data untracked (in .gitignore) and out of history before `experiment agent`",
                found.trim()
            )));
        }
    }
    Ok(())
}

/// Prints what the session did: its rows by status, the best kept run
/// before and after, a pending decision, and the log's chain check.
fn summary(
    dir: &Path,
    start_rows: usize,
    start_best: &str,
    start_best_id: u64,
    agent_code: Option<i32>,
) -> Result<()> {
    let ctx = Ctx::open(dir, Access::Inspect)?;
    let report = ctx.verify_log()?;
    let rows = explog::read(&ctx.paths.log())?;
    let new = &rows[start_rows.min(rows.len())..];
    let count = |s: Status| new.iter().filter(|r| r.status == s).count();
    let s = &ctx.state;
    println!(
        "agent session ended ({}): {} experiment(s) recorded: {} kept, {} discarded, {} crashed, {} timed out",
        agent_code.map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
        new.len(),
        count(Status::Keep),
        count(Status::Discard),
        count(Status::Crash),
        count(Status::Timeout),
    );
    let name = crate::commands::show::experiment_name;
    println!(
        "best kept: {} ({}) -> {} ({})",
        start_best,
        name(start_best_id),
        s.best_kept.inline(),
        name(s.best_experiment)
    );
    if let Some(p) = &s.pending {
        println!(
            "pending: experiment {} ({}): decide with `{} keep` or `{} discard`",
            p.experiment_id,
            p.outcome.word(),
            s.prog,
            s.prog
        );
    }
    println!("log chain verified: {} row(s)", report.rows);
    Ok(())
}

/// If the process was started as `BINARY __agent-command JSON` (by a
/// supervisor, for its agent), runs that command and returns its exit code.
pub(crate) fn dispatch_command() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(server::COMMAND_ARG)) {
        return None;
    }
    let json = args.next().unwrap_or_default();
    let cmd: crate::cli::ExperimentCommand = match serde_json::from_str(&json.to_string_lossy()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: bad forwarded command: {e}");
            return Some(ExitCode::from(2));
        }
    };
    Some(match crate::execute(cmd, None) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    })
}
