//! PID and mount namespaces for a long-lived sandboxed child (a supervised
//! agent): three processes, each with one job.
//!
//! 1. **Outer** (`__sandbox --namespaces ...`, a child of the supervisor):
//!    dies with the supervisor, unshares a mount and a PID namespace, makes
//!    its mounts private, pins the folders above the read-only paths,
//!    bind-mounts those read-only and covers the masked ones with an empty,
//!    unreadable file or folder, then starts and waits for the init.
//! 2. **Init** (pid 1 of the new PID namespace): dies with the outer, mounts
//!    a `/proc` that shows only the namespace, starts the leaf and reaps
//!    every orphan until the leaf exits, then exits with its status. When it
//!    exits the kernel kills whatever is left in the namespace: daemons,
//!    `setsid` and double forks included.
//! 3. **Leaf**: the ordinary trampoline (capabilities dropped, Landlock),
//!    which `exec`s the program.
//!
//! The init runs no untrusted code and, being outside the leaf's Landlock
//! domain, cannot be signalled or traced by it.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

use rustix::mount::{
    mount, mount_bind, mount_change, mount_remount, MountFlags, MountPropagationFlags,
};
use rustix::process::{set_parent_process_death_signal, wait, Pid, Signal, WaitOptions};

use super::Policy;

/// The internal trampoline flag that marks the init stage.
pub(super) const INIT_FLAG: &str = "--ns-init";

/// Stage 1: sets up the namespaces and the mounts, runs the init, and
/// returns its exit status. Errors are one line.
pub(super) fn outer(policy: &Policy, command: &[OsString]) -> Result<ExitCode, String> {
    die_with_parent(policy.parent_pid)?;
    // Safe for these two flags: the unsafety `unshare_unsafe` warns about is
    // that of `CLONE_FILES` (descriptors of other threads), and this process
    // is single-threaded here anyway.
    #[allow(deprecated)]
    rustix::thread::unshare(
        rustix::thread::UnshareFlags::NEWNS | rustix::thread::UnshareFlags::NEWPID,
    )
    .map_err(|e| {
        format!(
            "cannot create the agent's PID and mount namespaces ({e}); agent mode needs \
             CAP_SYS_ADMIN (run as root, e.g. in a container or VM)"
        )
    })?;
    // Nothing mounted below leaks back to the rest of the system.
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| format!("cannot make the mounts private: {e}"))?;
    for dir in &policy.pinned {
        mount_bind(dir, dir).map_err(|e| format!("cannot pin {}: {e}", dir.display()))?;
    }
    for path in &policy.readonly {
        read_only(path, path)?;
    }
    if !policy.masked.is_empty() {
        let source = policy
            .mask_source
            .as_deref()
            .ok_or("masked paths need `--mask-source`")?;
        for path in &policy.masked {
            let empty = if path.is_dir() { "dir" } else { "file" };
            read_only(&source.join(empty), path)?;
        }
    }
    let inner = Policy {
        namespaces: false,
        readonly: Vec::new(),
        pinned: Vec::new(),
        masked: Vec::new(),
        mask_source: None,
        parent_pid: Some(std::process::id()),
        ..policy.clone()
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the engine binary: {e}"))?;
    let status = Command::new(exe)
        .arg(super::SANDBOX_ARG)
        .arg(INIT_FLAG)
        .args(inner.to_args())
        .arg("--")
        .args(command)
        .status()
        .map_err(|e| format!("cannot start the namespace's init: {e}"))?;
    Ok(exit_code(
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ))
}

/// Stage 2, pid 1 of the namespace: starts the leaf, reaps every child
/// until the leaf exits, and returns the leaf's status.
pub(super) fn init(policy: &Policy, command: &[OsString]) -> Result<ExitCode, String> {
    die_with_parent(policy.parent_pid)?;
    // A `/proc` of this namespace: the agent's `ps` shows its own processes
    // only. Best effort: the old one is still guarded by Landlock.
    let _ = mount(
        "proc",
        "/proc",
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    );
    let leaf = Policy {
        parent_pid: None,
        ..policy.clone()
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the engine binary: {e}"))?;
    let child = Command::new(exe)
        .arg(super::SANDBOX_ARG)
        .args(leaf.to_args())
        .arg("--")
        .args(command)
        .spawn()
        .map_err(|e| format!("cannot start the sandboxed program: {e}"))?;
    let leaf_pid = Pid::from_raw(child.id() as i32);
    loop {
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if Some(pid) == leaf_pid => {
                return Ok(exit_code(status.exit_status(), status.terminating_signal()));
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("waiting for the sandboxed program: {e}")),
        }
    }
}

/// Bind-mounts `source` read-only onto `path` (itself, or an empty mask).
fn read_only(source: &Path, path: &Path) -> Result<(), String> {
    let err = |e| format!("cannot make {} read-only: {e}", path.display());
    mount_bind(source, path).map_err(err)?;
    mount_remount(
        path,
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
        "",
    )
    .map_err(err)
}

/// Asks for `SIGKILL` when the parent dies, then checks that the parent is
/// still `expected` (it may have died before the request): a child of a
/// dead supervisor must not run on.
fn die_with_parent(expected: Option<u32>) -> Result<(), String> {
    let Some(expected) = expected else {
        return Ok(());
    };
    set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("cannot tie the sandbox to its supervisor: {e}"))?;
    // `/proc/self/stat` of the mount this process started with shows its
    // parent as the supervisor's namespace sees it (`getppid` would say 0 for
    // pid 1 of a new namespace).
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    let ppid = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    if ppid != Some(expected) {
        return Err("the supervisor is gone; not starting".into());
    }
    Ok(())
}

/// An exit code the way a shell reports it: the program's own, or 128 plus
/// the signal that killed it.
fn exit_code(code: Option<i32>, signal: Option<i32>) -> ExitCode {
    let n = match (code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    };
    ExitCode::from(u8::try_from(n).unwrap_or(1))
}
