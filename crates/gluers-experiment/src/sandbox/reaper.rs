//! Killing every descendant of the engine, daemons included.
//!
//! A process group kill misses what left the group: `setsid` daemons and
//! double-forked orphans, which the kernel would re-parent to init, out of
//! the engine's sight. Made a *child subreaper*, the engine gets those
//! orphans as children instead, so "every process whose parent chain leads
//! to the engine" is exactly what the runs left behind; the reaper finds
//! them in `/proc`, kills them and reaps them until none is left.

use std::collections::{HashMap, HashSet};
use std::io;
use std::thread::sleep;
use std::time::{Duration, Instant};

use rustix::process::{getpid, kill_process, set_child_subreaper, wait, Pid, Signal, WaitOptions};

/// How long [`Reaper::kill_all_descendants`] keeps killing before it gives
/// up and names the survivors.
const BUDGET: Duration = Duration::from_secs(2);

/// What went wrong while making the engine a subreaper or clearing its
/// descendants.
#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    /// `prctl(PR_SET_CHILD_SUBREAPER)` failed.
    #[error("cannot make the engine a child subreaper (prctl PR_SET_CHILD_SUBREAPER): {0}")]
    Install(#[source] io::Error),
    /// `/proc` could not be listed.
    #[error("cannot list processes in /proc: {0}")]
    Proc(#[source] io::Error),
    /// Some descendants were still there after the time budget.
    #[error(
        "{} descendant process(es) still alive {:.1} s after SIGKILL: {}; kill them by hand",
        survivors.len(),
        BUDGET.as_secs_f64(),
        survivors.join(", ")
    )]
    Survivors {
        /// `PID (NAME)` of each survivor.
        survivors: Vec<String>,
    },
}

/// The engine process as child subreaper of everything it starts.
#[derive(Debug)]
pub struct Reaper {
    engine: Pid,
}

impl Reaper {
    /// Makes the calling process a child subreaper (`PR_SET_CHILD_SUBREAPER`),
    /// so that orphaned descendants of its children are re-parented to it
    /// rather than to init. Call it once, early, in the engine process; it
    /// lasts for the life of the process and is not inherited by children.
    pub fn install() -> Result<Reaper, ReaperError> {
        set_child_subreaper(Some(getpid())).map_err(|e| ReaperError::Install(e.into()))?;
        Ok(Reaper { engine: getpid() })
    }

    /// SIGKILLs every process descended from the engine and reaps the
    /// engine's zombie children, scanning `/proc` again until a scan finds
    /// none (at most 2 s; then the error names the survivors). Returns how
    /// many processes it signalled.
    ///
    /// Call it only when the engine has no live child it still means to
    /// wait for: it kills *all* descendants, and it reaps every exited child
    /// with `waitpid(-1, WNOHANG)`, so a `std::process::Child` still held
    /// elsewhere would find its process gone (`wait` then fails with
    /// `ECHILD`). The runner calls it after the candidate's `Child::wait`
    /// returned, before the sealed evaluation starts.
    pub fn kill_all_descendants(&self) -> Result<usize, ReaperError> {
        let deadline = Instant::now() + BUDGET;
        let mut signalled = HashSet::new();
        loop {
            reap_exited_children();
            let found = descendants(self.engine).map_err(ReaperError::Proc)?;
            if found.is_empty() {
                return Ok(signalled.len());
            }
            for p in &found {
                // A zombie is already dead; it goes once its parent (or,
                // after that parent dies, the engine) reaps it.
                if !p.zombie {
                    if let Some(pid) = Pid::from_raw(p.pid) {
                        // ESRCH: it exited since the scan, which is the goal.
                        let _ = kill_process(pid, Signal::KILL);
                        signalled.insert(p.pid);
                    }
                }
            }
            reap_exited_children();
            if Instant::now() >= deadline {
                let found = descendants(self.engine).map_err(ReaperError::Proc)?;
                if found.is_empty() {
                    return Ok(signalled.len());
                }
                return Err(ReaperError::Survivors {
                    survivors: found
                        .iter()
                        .map(|p| format!("{} ({})", p.pid, p.name))
                        .collect(),
                });
            }
            sleep(Duration::from_millis(2));
        }
    }
}

/// Reaps every child that has exited, without blocking.
fn reap_exited_children() {
    // Ok(None): children left, none exited; Err: ECHILD, no child at all.
    while let Ok(Some(_)) = wait(WaitOptions::NOHANG) {}
}

/// One line of `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcEntry {
    pid: i32,
    ppid: i32,
    zombie: bool,
    name: String,
}

/// Every process whose parent chain leads to `root` (not `root` itself).
fn descendants(root: Pid) -> io::Result<Vec<ProcEntry>> {
    let mut children: HashMap<i32, Vec<ProcEntry>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // Gone since the listing: nothing to kill.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(p) = parse_stat(pid, &stat) {
            children.entry(p.ppid).or_default().push(p);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root.as_raw_nonzero().get()];
    while let Some(parent) = queue.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            queue.push(child.pid);
            found.push(child);
        }
    }
    Ok(found)
}

/// Parses `/proc/PID/stat`: `PID (NAME) STATE PPID ...`. The name may hold
/// spaces and parentheses, so the fields start after the *last* `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<ProcEntry> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(ProcEntry {
        pid,
        ppid,
        zombie: state == "Z" || state == "X",
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_handles_odd_names() {
        let p = parse_stat(42, "42 (a) b (c)) S 7 42 42 0 -1 4194560").unwrap();
        assert_eq!(
            p,
            ProcEntry {
                pid: 42,
                ppid: 7,
                zombie: false,
                name: "a) b (c)".into()
            }
        );
        assert!(parse_stat(9, "9 (sleep) Z 1 9 9").unwrap().zombie);
        assert_eq!(parse_stat(9, "garbage"), None);
    }

    #[test]
    fn descendants_of_this_process_include_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found = descendants(getpid()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.iter().any(|p| p.pid == child.id() as i32));
        assert!(found
            .iter()
            .all(|p| p.pid != getpid().as_raw_nonzero().get()));
    }
}
