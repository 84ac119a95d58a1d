//! The agent's side: inside a supervised session, `gluers experiment ...`
//! does not open the engine's state (it cannot: the sandbox hides it) but
//! hands the command to the supervisor and relays what comes back.

use std::io::Write;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::protocol::{read_frame, write_frame, Kind, Request};
use super::{SOCKET_ENV, TOKEN_ENV};
use crate::cli::ExperimentCommand;
use crate::error::{ExperimentError, Result};

/// The session this process runs in, from its environment.
#[derive(Debug)]
pub(crate) struct Session {
    socket: String,
    token: String,
}

impl Session {
    /// The session named by `GLUERS_AGENT_SOCKET` and `GLUERS_AGENT_TOKEN`,
    /// if this process runs under `experiment agent`.
    pub fn from_env() -> Option<Session> {
        let socket = std::env::var(SOCKET_ENV).ok().filter(|s| !s.is_empty())?;
        let token = std::env::var(TOKEN_ENV).unwrap_or_default();
        Some(Session { socket, token })
    }

    /// Sends `cmd` to the supervisor, prints its output as it comes, writes
    /// the file it returns (a chart) where `cmd` asked, and returns its exit
    /// code.
    pub fn forward(&self, mut cmd: ExperimentCommand) -> Result<ExitCode> {
        let lost = |e: std::io::Error| {
            ExperimentError::Usage(format!(
                "lost the experiment supervisor ({e}); the session has ended or `{SOCKET_ENV}` is wrong"
            ))
        };
        // The chart is written by this process, with this sandbox's rights,
        // at the path as this process resolves it.
        let out_file = match &mut cmd {
            ExperimentCommand::Report { out, .. } => {
                let abs = absolute(out)?;
                *out = abs.clone();
                Some(abs)
            }
            _ => None,
        };
        let addr = SocketAddr::from_abstract_name(self.socket.as_bytes()).map_err(lost)?;
        let mut stream = UnixStream::connect_addr(&addr).map_err(lost)?;
        let request = serde_json::to_vec(&Request {
            token: self.token.clone(),
            command: cmd,
        })
        .map_err(|e| ExperimentError::Usage(format!("cannot encode the request: {e}")))?;
        write_frame(&mut stream, Kind::Request, &request).map_err(lost)?;
        loop {
            let Some((kind, payload)) = read_frame(&mut stream).map_err(lost)? else {
                return Err(lost(std::io::ErrorKind::UnexpectedEof.into()));
            };
            match kind {
                Kind::Stdout => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&payload).and_then(|()| out.flush());
                }
                Kind::Stderr => {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&payload).and_then(|()| err.flush());
                }
                Kind::File => {
                    let Some(path) = &out_file else { continue };
                    crate::fsutil::atomic_write(path, &payload)?;
                }
                Kind::Exit => {
                    let code = payload
                        .get(..4)
                        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(1);
                    return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
                }
                Kind::Request => return Err(lost(std::io::ErrorKind::InvalidData.into())),
            }
        }
    }
}

/// `path` against the current directory.
fn absolute(path: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| ExperimentError::io("read the current directory", ".", e))?;
    Ok(cwd.join(path))
}
