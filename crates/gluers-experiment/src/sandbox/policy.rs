//! What a sandboxed child may touch: the [`Policy`] type, its system
//! defaults, and its argv form (how the engine hands it to the trampoline).
//!
//! The argv form is `[--read PATH]... [--read-if-present PATH]... [--list PATH]... [--write PATH]... [--readonly PATH]...
//! [--pin PATH]... [--mask PATH]... [--mask-source DIR] [--allow-tcp] [--no-scope] [--abstract-unix] [--best-effort]
//! [--namespaces] [--parent-pid PID] -- PROGRAM [ARGS]...`. Paths travel as
//! `OsString`s, so any path the engine can name reaches the trampoline
//! unchanged (no UTF-8 or quoting step in between).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Folders (and files) the system defaults make readable and executable,
/// for toolchains and interpreters: binaries, shared libraries, the dynamic
/// loader's cache, certificates, locale and time-zone data. Those that do
/// not exist on this machine are left out.
const SYSTEM_READ_EXEC: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt"];

/// Read-only system paths: `/proc` (`/proc/self/...`, CPU and memory info;
/// other processes' `/proc` entries that matter, `environ`, `mem`, `fd`, are
/// still refused because Landlock denies ptrace-mode access outside the
/// sandbox), the CPU topology rustc and `num_cpus` read, and the cgroup
/// files `available_parallelism` reads to honour a container's CPU quota.
const SYSTEM_READ: &[&str] = &["/proc", "/sys/devices/system/cpu", "/sys/fs/cgroup"];

/// Device files every program may open for reading and writing.
const SYSTEM_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

/// The rules applied to one sandboxed child (see the module docs of
/// [`crate::sandbox`] for what each one becomes in Landlock).
///
/// Paths must be absolute; each covers the file or the whole folder tree
/// beneath it. A path that does not exist when the child starts is an error
/// (the trampoline refuses to run), so a typo never silently widens or
/// narrows the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Paths the child may read and execute (files, directory listings).
    pub readable: Vec<PathBuf>,
    /// Like [`Policy::readable`], but a path gone by the time the rules are
    /// made is skipped: for paths found by listing a folder (the siblings
    /// of a hidden path in `/tmp`, say), whose owners may remove them
    /// meanwhile. A missing path grants nothing either way; only an
    /// explicit `readable` one is worth refusing as a likely mistake.
    pub readable_if_present: Vec<PathBuf>,
    /// Folders the child may list (names only, not contents), beneath too:
    /// the folders on the way to a hidden path, which the readable set can
    /// only hold around it.
    pub listable: Vec<PathBuf>,
    /// Paths the child may read, execute, write, and create or remove
    /// files and folders beneath (not device nodes: see [`crate::sandbox`]).
    pub writable: Vec<PathBuf>,
    /// Whether the child may connect and bind TCP sockets (default: no).
    pub allow_tcp: bool,
    /// Whether signals and abstract UNIX sockets are scoped to the sandbox,
    /// so the child cannot signal or connect to the engine or any other
    /// process outside (default: yes).
    pub scoped: bool,
    /// Run even when the kernel cannot enforce the whole policy (old kernel,
    /// no Landlock), with one warning line on stderr; default: refuse.
    pub best_effort: bool,
    /// With [`Policy::scoped`], still let the child connect to abstract UNIX
    /// sockets outside the sandbox (signals stay scoped): how a supervised
    /// agent reaches its supervisor's socket (default: no).
    pub abstract_unix: bool,
    /// Run the child in its own PID and mount namespaces (needs
    /// `CAP_SYS_ADMIN`, e.g. root): every process it leaves behind dies with
    /// it, it sees only its own processes, and [`Policy::readonly`] and
    /// [`Policy::pinned`] apply (default: no).
    pub namespaces: bool,
    /// With [`Policy::namespaces`]: paths bind-mounted read-only onto
    /// themselves, so that even a writable folder above them cannot change,
    /// remove or replace them.
    pub readonly: Vec<PathBuf>,
    /// With [`Policy::namespaces`]: folders bind-mounted onto themselves
    /// (still writable inside) so that they cannot be renamed or removed:
    /// the folders above a read-only path, which a rename would otherwise
    /// move out from under it.
    pub pinned: Vec<PathBuf>,
    /// With [`Policy::namespaces`]: paths hidden under an empty, unreadable,
    /// read-only file or folder from [`Policy::mask_source`] (`file` and
    /// `dir` there), mounted over them last.
    pub masked: Vec<PathBuf>,
    /// The folder holding the empty `file` and `dir` that mask
    /// [`Policy::masked`] paths.
    pub mask_source: Option<PathBuf>,
    /// The process whose death kills the child (`PR_SET_PDEATHSIG`); the
    /// trampoline refuses to start when it is already gone.
    pub parent_pid: Option<u32>,
}

/// An empty strict policy: nothing readable or writable, no TCP, scoped.
impl Default for Policy {
    fn default() -> Policy {
        Policy {
            readable: Vec::new(),
            readable_if_present: Vec::new(),
            listable: Vec::new(),
            writable: Vec::new(),
            allow_tcp: false,
            scoped: true,
            best_effort: false,
            abstract_unix: false,
            namespaces: false,
            readonly: Vec::new(),
            pinned: Vec::new(),
            masked: Vec::new(),
            mask_source: None,
            parent_pid: None,
        }
    }
}

impl Policy {
    /// The policy for running toolchains and interpreters, before the caller
    /// adds its own paths (toolchain sysroot, project export, run folder,
    /// private tmp): read and execute on `/usr`, `/bin`, `/sbin`, `/lib`,
    /// `/lib64`, `/etc`, `/opt`; read on `/proc`, `/sys/devices/system/cpu`,
    /// `/sys/fs/cgroup`; read and write on `/dev/null`, `/dev/zero`,
    /// `/dev/urandom`, `/dev/random` (each only if it exists). No TCP,
    /// scoped, strict.
    pub fn system() -> Policy {
        let existing = |list: &[&str]| -> Vec<PathBuf> {
            list.iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect()
        };
        let mut readable = existing(SYSTEM_READ_EXEC);
        readable.extend(existing(SYSTEM_READ));
        Policy {
            readable,
            writable: existing(SYSTEM_DEVICES),
            ..Policy::default()
        }
    }

    /// Adds a readable (and executable) path.
    pub fn read(mut self, path: impl Into<PathBuf>) -> Policy {
        self.readable.push(path.into());
        self
    }

    /// Adds a writable path (read, execute, write, create and remove
    /// beneath).
    pub fn write(mut self, path: impl Into<PathBuf>) -> Policy {
        self.writable.push(path.into());
        self
    }

    /// The policy as trampoline arguments (everything before `--`); the
    /// inverse of [`Policy::from_args`].
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for (flag, paths) in [
            ("--read", &self.readable),
            ("--read-if-present", &self.readable_if_present),
            ("--list", &self.listable),
            ("--write", &self.writable),
            ("--readonly", &self.readonly),
            ("--pin", &self.pinned),
            ("--mask", &self.masked),
        ] {
            for p in paths {
                args.push(OsString::from(flag));
                args.push(p.clone().into_os_string());
            }
        }
        for (flag, on) in [
            ("--allow-tcp", self.allow_tcp),
            ("--no-scope", !self.scoped),
            ("--best-effort", self.best_effort),
            ("--abstract-unix", self.abstract_unix),
            ("--namespaces", self.namespaces),
        ] {
            if on {
                args.push(OsString::from(flag));
            }
        }
        if let Some(dir) = &self.mask_source {
            args.push(OsString::from("--mask-source"));
            args.push(dir.clone().into_os_string());
        }
        if let Some(pid) = self.parent_pid {
            args.push(OsString::from("--parent-pid"));
            args.push(OsString::from(pid.to_string()));
        }
        args
    }

    /// Parses `POLICY-ARGS -- PROGRAM [ARGS]...` (the trampoline's
    /// arguments after `__sandbox`) into the policy and the command line to
    /// run. Errors are one line naming the offending argument.
    pub fn from_args(args: &[OsString]) -> Result<(Policy, Vec<OsString>), String> {
        let mut policy = Policy::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let flag = arg.to_str().unwrap_or("");
            match flag {
                "--" => {
                    let command: Vec<OsString> = it.cloned().collect();
                    if command.is_empty() {
                        return Err("no program after `--`".into());
                    }
                    return Ok((policy, command));
                }
                "--read" | "--read-if-present" | "--list" | "--write" | "--readonly" | "--pin"
                | "--mask" | "--mask-source" => {
                    let path = it.next().ok_or_else(|| format!("`{flag}` needs a path"))?;
                    let path = absolute(path)?;
                    match flag {
                        "--read" => policy.readable.push(path),
                        "--read-if-present" => policy.readable_if_present.push(path),
                        "--list" => policy.listable.push(path),
                        "--write" => policy.writable.push(path),
                        "--readonly" => policy.readonly.push(path),
                        "--pin" => policy.pinned.push(path),
                        "--mask" => policy.masked.push(path),
                        _ => policy.mask_source = Some(path),
                    }
                }
                "--parent-pid" => {
                    let pid = it
                        .next()
                        .and_then(|p| p.to_str())
                        .and_then(|p| p.parse::<u32>().ok())
                        .ok_or("`--parent-pid` needs a process id")?;
                    policy.parent_pid = Some(pid);
                }
                "--abstract-unix" => policy.abstract_unix = true,
                "--namespaces" => policy.namespaces = true,
                "--allow-tcp" => policy.allow_tcp = true,
                "--no-scope" => policy.scoped = false,
                "--best-effort" => policy.best_effort = true,
                _ => {
                    return Err(format!(
                        "unknown sandbox argument `{}`",
                        arg.to_string_lossy()
                    ))
                }
            }
        }
        Err("missing `--` before the program".into())
    }
}

/// Refuses relative paths: the trampoline runs in the child's working
/// folder, so a relative rule would silently mean something else there.
fn absolute(path: &OsStr) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Err(format!(
            "sandbox path `{}` is not absolute",
            p.to_string_lossy()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn args_round_trip() {
        let policy = Policy::system()
            .read("/srv/export")
            .write("/srv/run dir/with space")
            // Not UTF-8: paths travel as bytes.
            .read(PathBuf::from(<OsString as OsStringExt>::from_vec(vec![
                b'/', 0xff, b'x',
            ])));
        let policy = Policy {
            allow_tcp: true,
            best_effort: true,
            scoped: false,
            abstract_unix: true,
            namespaces: true,
            readonly: vec![PathBuf::from("/srv/export/evaluation.py")],
            pinned: vec![PathBuf::from("/srv/export")],
            listable: vec![PathBuf::from("/srv")],
            masked: vec![PathBuf::from("/srv/export/answers.csv")],
            mask_source: Some(PathBuf::from("/srv/masks")),
            parent_pid: Some(42),
            ..policy
        };
        let mut args = policy.to_args();
        args.extend(os(&["--", "sh", "-c", "--read"]));
        let (back, command) = Policy::from_args(&args).unwrap();
        assert_eq!(back, policy);
        assert_eq!(command, os(&["sh", "-c", "--read"]));
    }

    #[test]
    fn defaults_are_strict_and_existing() {
        let p = Policy::system();
        assert!(!p.allow_tcp && p.scoped && !p.best_effort);
        assert!(p.readable.iter().chain(&p.writable).all(|p| p.exists()));
        assert!(p.readable.contains(&PathBuf::from("/usr")));
        assert!(p.writable.contains(&PathBuf::from("/dev/null")));
        assert!(!p.writable.iter().any(|p| p == Path::new("/dev/tty")));
        // Parsing gives the same strict defaults.
        let (q, _) = Policy::from_args(&os(&["--", "true"])).unwrap();
        assert!(!q.allow_tcp && q.scoped && !q.best_effort);
    }

    #[test]
    fn bad_args_are_one_line_errors() {
        for (args, want) in [
            (&["--read", "rel/path", "--", "x"][..], "not absolute"),
            (&["--read"][..], "needs a path"),
            (
                &["--bogus", "--", "x"][..],
                "unknown sandbox argument `--bogus`",
            ),
            (&["--read", "/usr"][..], "missing `--`"),
            (&["--"][..], "no program"),
        ] {
            let err = Policy::from_args(&os(args)).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}
