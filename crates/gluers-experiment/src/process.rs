//! Running child processes in their own process group, with a deadline.
//!
//! Every child (build, work tasks, sealed evaluation) is the leader of a new
//! process group, so that everything it starts can be killed at once with
//! `SIGKILL` sent to the negative group id. The group is killed when the
//! deadline passes, and also after a normal exit, so nothing a run started
//! outlives it.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use rustix::process::{kill_process_group, Pid, Signal};

use crate::error::{ExperimentError, Result};

/// The environment variable set on every child, holding the engine's run id.
/// Used to recognise a leftover process group after the engine was killed.
pub(crate) const RUN_MARKER_ENV: &str = "GLUERS_EXPERIMENT_RUN_ID";

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited (or was killed by a signal it did not get from us).
    Finished(ExitStatus),
    /// The deadline passed; its process group was killed.
    TimedOut,
}

/// Runs `cmd` as the leader of a new process group with stdout and stderr
/// appended to `log`, until it exits or `deadline` passes.
///
/// `on_spawn` receives the group id right after the spawn (the engine records
/// it so that a later command can clean up if the engine itself is killed).
pub(crate) fn run_in_group(
    mut cmd: Command,
    program: &str,
    log: &File,
    stdout: Option<File>,
    deadline: Instant,
    on_spawn: &mut dyn FnMut(i32) -> Result<()>,
) -> Result<Exit> {
    let err_log = log
        .try_clone()
        .map_err(|e| ExperimentError::io("reopen", "experiment_run.log", e))?;
    let out: Stdio = match stdout {
        Some(f) => f.into(),
        None => log
            .try_clone()
            .map_err(|e| ExperimentError::io("reopen", "experiment_run.log", e))?
            .into(),
    };
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err_log)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| ExperimentError::Spawn {
        program: program.to_string(),
        source: e,
    })?;
    let pgid = child.id() as i32;
    if let Err(e) = on_spawn(pgid) {
        kill_group(pgid);
        let _ = child.wait();
        return Err(e);
    }
    // A thread blocks in wait(2) so that the exit is seen the moment it
    // happens (polling would add up to its interval to every phase), while
    // this thread waits for it or for the deadline.
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name("wait-child".into())
        .spawn(move || {
            let _ = tx.send(child.wait());
        });
    let waiter = match waiter {
        Ok(w) => w,
        Err(e) => {
            kill_group(pgid);
            return Err(ExperimentError::io("wait for", program, e));
        }
    };
    let waited = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    // Whatever the leader left behind goes with it (and on timeout, the
    // leader too, which ends the waiter's wait).
    kill_group(pgid);
    let exit = match waited {
        Ok(Ok(status)) => Ok(Exit::Finished(status)),
        Ok(Err(e)) => Err(ExperimentError::io("wait for", program, e)),
        Err(RecvTimeoutError::Timeout) => {
            let _ = rx.recv();
            Ok(Exit::TimedOut)
        }
        Err(RecvTimeoutError::Disconnected) => Err(ExperimentError::io(
            "wait for",
            program,
            std::io::Error::other("the waiting thread stopped"),
        )),
    };
    let _ = waiter.join();
    exit
}

/// The engine as subreaper of everything it starts, installed on first use.
static REAPER: std::sync::OnceLock<Option<crate::sandbox::Reaper>> = std::sync::OnceLock::new();

/// Makes the engine the subreaper of its descendants (idempotent): orphans
/// of double forks and `setsid` daemons are re-parented to it, so that
/// [`kill_descendants`] finds them.
pub(crate) fn install_reaper() {
    REAPER.get_or_init(|| crate::sandbox::Reaper::install().ok());
}

/// Kills every descendant of the engine that is still alive (double forks
/// and new sessions included). Call only when the engine waits on no child.
pub(crate) fn kill_descendants() {
    install_reaper();
    if let Some(Some(r)) = REAPER.get() {
        if let Err(e) = r.kill_all_descendants() {
            eprintln!("warning: {e}");
        }
    }
}

/// Sends SIGKILL to every process in group `pgid`; a group that no longer
/// exists is not an error.
pub(crate) fn kill_group(pgid: i32) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// Whether any process of group `pgid` still exists and carries the marker
/// of run `run_id` in its environment.
///
/// On systems without `/proc` the marker cannot be read, and any live group
/// with that id counts.
pub(crate) fn group_belongs_to_run(pgid: i32, run_id: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Pid::from_raw(pgid)
            .map(|p| rustix::process::test_kill_process_group(p).is_ok())
            .unwrap_or(false);
    };
    let marker = format!("{RUN_MARKER_ENV}={run_id}");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if process_group_of(pid) != Some(pgid) {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
                return true;
            }
        }
    }
    false
}

/// The process group of `pid`, read from `/proc/<pid>/stat`.
fn process_group_of(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the fields
    // after the last ')' are: state ppid pgrp ...
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn log() -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("log")).unwrap();
        (dir, f)
    }

    #[test]
    fn exit_status_is_reported() {
        let (_d, f) = log();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let exit = run_in_group(
            cmd,
            "sh",
            &f,
            None,
            Instant::now() + Duration::from_secs(10),
            &mut |_| Ok(()),
        )
        .unwrap();
        match exit {
            Exit::Finished(s) => assert_eq!(s.code(), Some(3)),
            Exit::TimedOut => panic!("unexpected timeout"),
        }
    }

    #[test]
    fn timeout_kills_the_group() {
        let (_d, f) = log();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let mut group = 0;
        let start = Instant::now();
        let exit = run_in_group(
            cmd,
            "sh",
            &f,
            None,
            Instant::now() + Duration::from_millis(300),
            &mut |g| {
                group = g;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(exit, Exit::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid = Pid::from_raw(group).unwrap();
        // Give the kernel a moment to reap.
        std::thread::sleep(Duration::from_millis(100));
        let alive = rustix::process::test_kill_process_group(pid).is_ok()
            && (1..50).any(|_| {
                std::thread::sleep(Duration::from_millis(20));
                rustix::process::test_kill_process_group(pid).is_ok()
            })
            && process_group_members_alive(group);
        assert!(!alive, "process group {group} survived");
    }

    fn process_group_members_alive(pgid: i32) -> bool {
        std::fs::read_dir("/proc")
            .map(|it| {
                it.flatten().any(|e| {
                    let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                    else {
                        return false;
                    };
                    if process_group_of(pid) != Some(pgid) {
                        return false;
                    }
                    // Zombies waiting for init are dead already.
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .map(|s| !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'))
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    }
}
