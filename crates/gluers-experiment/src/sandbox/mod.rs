//! Containing the candidate (trust property 3 in `DESIGN.md`): Landlock for
//! what its processes may touch, an allow-list environment, and a reaper for
//! every process it leaves behind. Linux only.
//!
//! The engine runs a candidate command as
//! [`sandboxed_command`]`(engine_binary, &policy, program, args, &env, cwd)`,
//! which starts the engine's own binary as a trampoline
//! (`BINARY __sandbox POLICY -- PROGRAM ARGS...`, see [`dispatch`]) that
//! drops every capability, restricts itself and `exec`s the program. What
//! the child then gets, by [`Policy`] field:
//!
//! * `readable`: read files, list folders, execute, beneath each path.
//! * `writable`: that, plus write, truncate, create and remove files,
//!   folders, symlinks, FIFOs and sockets, and rename or link within the
//!   writable set; never device nodes. Everything else is neither readable
//!   nor writable, whatever `..`, symlinks or hard links say (Landlock
//!   checks the resolved object's place in the tree, and a rename or link
//!   across trees needs rights on both sides).
//! * `allow_tcp == false`: no TCP `connect` or `bind` at all.
//! * `scoped`: no signal to, and no abstract-UNIX-socket connection with,
//!   a process outside the sandbox (the engine included); ptrace of, and
//!   `/proc/PID/{environ,mem,fd}` of, outside processes are refused by
//!   Landlock in any case.
//!
//! Not covered: UDP and raw
//! sockets need Landlock ABI 10 or a network namespace (raw ones also need
//! `CAP_NET_RAW`, which is dropped); connecting to a *pathname* UNIX socket
//! the child can resolve needs ABI 9, so the engine must not expose one
//! (use an abstract socket, which is scoped); files already open in the
//! engine and inherited without `O_CLOEXEC`; hard links the engine itself
//! places in a writable folder; resource exhaustion (CPU, memory, disk,
//! processes).
//!
//! [`Reaper`] makes the engine a child subreaper and kills every descendant
//! after a run, `setsid` daemons and double forks included.

mod apply;
mod caps;
mod env;
mod namespaces;
mod policy;
mod reaper;
mod trampoline;

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;

pub use apply::{landlock_available, LANDLOCK_ABI};
pub use env::{base_env, prepend_path, SAFE_PATH};
pub use policy::Policy;
pub use reaper::{Reaper, ReaperError};
pub use trampoline::{dispatch, trampoline_main, SANDBOX_ARG};

/// The command that runs `program args...` confined by `policy`, through
/// `trampoline` (the engine's own binary, which must call [`dispatch`] at
/// the top of `main`), in `cwd`, with exactly the environment `env` (built
/// from [`base_env`]; nothing of the engine's environment is inherited).
///
/// The caller may still set stdio, the process group and so on; it must not
/// add environment variables it does not mean the candidate to see.
pub fn sandboxed_command<I, S>(
    trampoline: &Path,
    policy: &Policy,
    program: impl AsRef<OsStr>,
    args: I,
    env: &[(OsString, OsString)],
    cwd: &Path,
) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(trampoline);
    cmd.arg(SANDBOX_ARG)
        .args(policy.to_args())
        .arg("--")
        .arg(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxed_command_shape() {
        let policy = Policy {
            scoped: false,
            ..Policy::default()
        }
        .read("/usr");
        let env = base_env(Path::new("/h"), Path::new("/t"));
        let cmd = sandboxed_command(
            Path::new("/engine"),
            &policy,
            "sh",
            ["-c", "true"],
            &env,
            Path::new("/w"),
        );
        assert_eq!(cmd.get_program(), "/engine");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args,
            [
                "__sandbox",
                "--read",
                "/usr",
                "--no-scope",
                "--",
                "sh",
                "-c",
                "true"
            ]
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(envs.len(), env.len());
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/w")));
    }
}
