//! Which process wrote a file, and whether it still runs.
//!
//! A [`ProcessStamp`] (pid, host, the process's start time in clock ticks
//! since boot, the boot id) is recorded in `run.json` and in the names of
//! temporary files. A reader on the same host and boot tells a live writer
//! from a dead one, pid reuse included: a reused pid has another start time
//! in `/proc/<pid>/stat`. Elsewhere (another host, no `/proc`) it cannot
//! tell, and says so ([`Liveness::Unknown`]).

use serde::{Deserialize, Serialize};

/// The process that wrote a run record or a temporary file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessStamp {
    /// The process id.
    pub pid: u32,
    /// The host name.
    pub host: String,
    /// The process's start time, in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_ticks: Option<u64>,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub boot_id: Option<String>,
}

/// Whether a stamped process still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The same process (pid and start time) runs on this host.
    Alive,
    /// It is gone: no such pid, a pid reused by another process, or another boot.
    Dead,
    /// It cannot be told from here (another host, or no `/proc`).
    Unknown,
}

impl ProcessStamp {
    /// The current process.
    pub fn current() -> Self {
        let pid = std::process::id();
        ProcessStamp {
            pid,
            host: host_name(),
            start_ticks: start_ticks(pid),
            boot_id: boot_id(),
        }
    }

    /// Whether this is the current process.
    pub fn is_current(&self) -> bool {
        *self == ProcessStamp::current()
    }

    /// Whether the stamped process still runs, seen from this host.
    pub fn liveness(&self) -> Liveness {
        if self.host != host_name() || start_ticks(std::process::id()).is_none() {
            return Liveness::Unknown;
        }
        if let (Some(theirs), Some(ours)) = (&self.boot_id, boot_id()) {
            if *theirs != ours {
                return Liveness::Dead;
            }
        }
        match (start_ticks(self.pid), self.start_ticks) {
            (None, _) => Liveness::Dead,
            (Some(now), Some(then)) if now != then => Liveness::Dead,
            _ => Liveness::Alive,
        }
    }
}

/// The host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`), or `unknown`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The kernel's boot id, where `/proc` has it.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// When process `pid` started, in clock ticks since boot; `None` when it
/// does not exist (or there is no `/proc`).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses, so fields are counted
/// after its last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_start_ticks(stat), Some(123456));
        assert_eq!(parse_start_ticks("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_current_process_is_alive_and_a_changed_start_time_is_dead() {
        let me = ProcessStamp::current();
        assert!(me.start_ticks.is_some());
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = ProcessStamp {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let elsewhere = ProcessStamp {
            host: format!("{}-other", me.host),
            ..reused
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
        let gone = ProcessStamp {
            pid: u32::MAX - 1,
            ..me
        };
        assert_eq!(gone.liveness(), Liveness::Dead);
    }
}
