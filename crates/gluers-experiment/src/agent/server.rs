//! The supervisor's side of the session socket: one thread accepting
//! connections, one engine command at a time, each run by the engine's own
//! binary outside the sandbox (`BINARY __agent-command JSON`) with its
//! output relayed to the client.

use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::protocol::{read_frame, same_secret, write_frame, Kind, Request};
use crate::cli::ExperimentCommand;
use crate::error::{ExperimentError, Result};

/// The hidden first argument that runs one forwarded engine command.
pub(crate) const COMMAND_ARG: &str = "__agent-command";

/// What every connection handler needs.
#[derive(Debug)]
struct Shared {
    token: String,
    /// Where the commands run (the folder `experiment agent` was started in).
    project_dir: PathBuf,
    /// The supervisor's own scratch folder (charts before they are handed
    /// over), outside everything the agent may write.
    scratch: PathBuf,
    /// The repository root, for excluding a chart written into it.
    repo_root: PathBuf,
    /// Held while a command runs: one at a time, and the summary waits.
    busy: Arc<Mutex<()>>,
}

/// The listening socket of a session.
#[derive(Debug)]
pub(crate) struct Server {
    /// The socket's abstract name.
    pub name: String,
    /// Held while a command runs; lock it to wait for the last one.
    pub busy: Arc<Mutex<()>>,
}

impl Server {
    /// Binds a fresh abstract socket and starts accepting in a thread.
    pub fn start(
        token: String,
        project_dir: &Path,
        scratch: &Path,
        repo_root: &Path,
    ) -> Result<Server> {
        let name = format!("gluers-agent-{}", uuid::Uuid::new_v4().simple());
        let addr = SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| ExperimentError::Usage(format!("cannot name the session socket: {e}")))?;
        let listener = UnixListener::bind_addr(&addr)
            .map_err(|e| ExperimentError::Usage(format!("cannot open the session socket: {e}")))?;
        let busy = Arc::new(Mutex::new(()));
        let shared = Arc::new(Shared {
            token,
            project_dir: project_dir.to_path_buf(),
            scratch: scratch.to_path_buf(),
            repo_root: repo_root.to_path_buf(),
            busy: busy.clone(),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Ok(Server { name, busy })
    }
}

/// Serves one connection: checks who asks and what, runs it, relays.
fn serve(mut stream: UnixStream, shared: &Shared) {
    // Another user on the machine can reach an abstract socket; only this
    // user's processes that know the token get further.
    let same_user = rustix::net::sockopt::socket_peercred(&stream)
        .is_ok_and(|c| c.uid == rustix::process::getuid());
    if !same_user {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request: Option<Request> = match read_frame(&mut stream) {
        Ok(Some((Kind::Request, body))) => serde_json::from_slice(&body).ok(),
        _ => None,
    };
    let _ = stream.set_read_timeout(None);
    let Some(request) = request else {
        return refuse(&mut stream, "a malformed request");
    };
    if !same_secret(&request.token, &shared.token) {
        return refuse(
            &mut stream,
            "a wrong session token: only the agent this session started may use its socket",
        );
    }
    let mut command = request.command;
    let client_out = match &mut command {
        ExperimentCommand::Run { .. }
        | ExperimentCommand::Queue { .. }
        | ExperimentCommand::Keep { .. }
        | ExperimentCommand::Discard { .. }
        | ExperimentCommand::Status
        | ExperimentCommand::Log
        | ExperimentCommand::Verify => None,
        ExperimentCommand::Report { out, .. } => {
            let asked = out.clone();
            let ext = asked
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default();
            *out = shared
                .scratch
                .join(format!("chart-{}.{ext}", uuid::Uuid::new_v4().simple()));
            Some((asked, out.clone()))
        }
        other => {
            let word = match other {
                ExperimentCommand::Init { .. } => "init",
                ExperimentCommand::Agent { .. } => "agent",
                ExperimentCommand::Finish => "finish",
                _ => "this command",
            };
            return refuse(
                &mut stream,
                &format!(
                    "`experiment {word}` inside an agent session; it is the user's, to run after the session"
                ),
            );
        }
    };
    let busy = shared.busy.lock().unwrap_or_else(|p| p.into_inner());
    let code = run(&mut stream, shared, &command, client_out.as_ref());
    drop(busy);
    let _ = write_frame(&mut stream, Kind::Exit, &code.to_be_bytes());
}

/// Runs the command with the engine's binary and relays its output;
/// returns its exit code. A client that goes away does not stop the
/// command: the engine finishes and records as if it had stayed.
fn run(
    stream: &mut UnixStream,
    shared: &Shared,
    command: &ExperimentCommand,
    chart: Option<&(PathBuf, PathBuf)>,
) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            send_err(
                stream,
                &format!("error: cannot find the engine binary: {e}\n"),
            );
            return 2;
        }
    };
    let json = match serde_json::to_string(command) {
        Ok(j) => j,
        Err(e) => {
            send_err(stream, &format!("error: cannot encode the command: {e}\n"));
            return 2;
        }
    };
    let child = Command::new(exe)
        .arg(COMMAND_ARG)
        .arg(json)
        .current_dir(&shared.project_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            send_err(stream, &format!("error: cannot start the engine: {e}\n"));
            return 2;
        }
    };
    let out = Arc::new(Mutex::new(stream.try_clone().ok()));
    let relay = |pipe: Option<Box<dyn Read + Send>>, kind: Kind, buffer: bool| {
        let out = out.clone();
        std::thread::spawn(move || {
            let Some(mut pipe) = pipe else {
                return Vec::new();
            };
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) if buffer => kept.extend_from_slice(&buf[..n]),
                    Ok(n) => {
                        let mut guard = out.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(s) = guard.as_mut() {
                            if write_frame(s, kind, &buf[..n]).is_err() {
                                *guard = None;
                            }
                        }
                    }
                }
            }
            kept
        })
    };
    let stdout = child
        .stdout
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    // The chart's output names the supervisor's scratch file: hold it back
    // to name the client's path instead.
    let out_thread = relay(stdout, Kind::Stdout, chart.is_some());
    let err_thread = relay(stderr, Kind::Stderr, false);
    let held = out_thread.join().unwrap_or_default();
    let _ = err_thread.join();
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
    if let Some((asked, scratch)) = chart {
        let text = String::from_utf8_lossy(&held)
            .replace(&scratch.display().to_string(), &asked.display().to_string());
        let _ = write_frame(stream, Kind::Stdout, text.as_bytes());
        if code == 0 {
            match std::fs::read(scratch) {
                Ok(bytes) => {
                    let _ = write_frame(stream, Kind::File, &bytes);
                    exclude_chart(shared, asked);
                }
                Err(e) => send_err(stream, &format!("error: the chart was not written: {e}\n")),
            }
            let _ = std::fs::remove_file(scratch);
        }
    }
    code
}

/// A chart the client writes into the repository stays out of the agent's
/// commits, as with `experiment report` outside a session.
fn exclude_chart(shared: &Shared, asked: &Path) {
    let Some(abs) = crate::repo::normalize(asked) else {
        return;
    };
    if let Ok(rel) = abs.strip_prefix(&shared.repo_root) {
        let rel = crate::repo::to_slash(rel);
        if !rel.is_empty() && !rel.starts_with(".git") {
            if let Ok(repo) = crate::repo::Repo::discover(&shared.repo_root) {
                let _ = repo.exclude(&[rel]);
            }
        }
    }
}

/// Sends one error line and exit code 2.
fn refuse(stream: &mut UnixStream, what: &str) {
    send_err(
        stream,
        &format!("error: the experiment supervisor refused {what}\n"),
    );
    let _ = write_frame(stream, Kind::Exit, &2i32.to_be_bytes());
}

fn send_err(stream: &mut UnixStream, text: &str) {
    let _ = write_frame(stream, Kind::Stderr, text.as_bytes());
    let _ = stream.flush();
}
