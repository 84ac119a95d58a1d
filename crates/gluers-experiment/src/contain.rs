//! What a contained child may touch, and the command that starts it so.
//!
//! Every process the engine starts from a project (the candidate's build and
//! work tasks, `--describe`, the sealed evaluator) gets a [`Jail`]: the
//! folders it may read and those it may write, with an environment that is
//! exactly what the engine passes (nothing inherited). On Linux the jail is
//! enforced by Landlock through the engine's own binary as a trampoline
//! (`gluers __sandbox`); in `--no-sandbox` experiments only the environment
//! and the process-tree cleanup apply.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folders a contained child may use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Jail {
    /// Read (and execute) beneath these.
    pub read: Vec<PathBuf>,
    /// List (names only) beneath these.
    pub list: Vec<PathBuf>,
    /// Read and write beneath these.
    pub write: Vec<PathBuf>,
}

impl Jail {
    /// Adds readable folders (missing ones are skipped when the jail is
    /// applied).
    pub fn read(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.read.extend(paths);
        self
    }

    /// Adds writable folders.
    pub fn write(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.write.extend(paths);
        self
    }
}

/// Whether experiments of this state are sandboxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Landlock enforces the jail.
    Sandboxed,
    /// `init --no-sandbox`: environment and cleanup only.
    Unsandboxed,
}

impl Mode {
    /// The mode of an experiment whose state says `sandboxed`.
    pub fn of(sandboxed: bool) -> Self {
        if sandboxed {
            Self::Sandboxed
        } else {
            Self::Unsandboxed
        }
    }
}

/// The command running `program args` in `cwd` with exactly `env`, inside
/// `jail` when `mode` is [`Mode::Sandboxed`] (through the engine's own
/// binary as the Landlock trampoline).
pub(crate) fn command(
    mode: Mode,
    jail: &Jail,
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    cwd: &Path,
) -> Command {
    match mode {
        Mode::Sandboxed => {
            let mut policy = crate::sandbox::Policy::system();
            // A path that does not exist grants nothing. The read set is
            // mostly paths listed around hidden ones, which their owners
            // may remove before the trampoline makes its rules.
            policy
                .readable_if_present
                .extend(jail.read.iter().filter(|p| p.exists()).cloned());
            for p in jail.write.iter().filter(|p| p.exists()) {
                policy = policy.write(p.clone());
            }
            policy
                .listable
                .extend(jail.list.iter().filter(|p| p.exists()).cloned());
            let trampoline = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("gluers"));
            crate::sandbox::sandboxed_command(&trampoline, &policy, program, args, env, cwd)
        }
        Mode::Unsandboxed => {
            let mut c = Command::new(program);
            c.args(args)
                .env_clear()
                .envs(env.iter().cloned())
                .current_dir(cwd);
            c
        }
    }
}

/// Refuses when the kernel cannot enforce a jail (no Landlock): `init`
/// then needs `--no-sandbox`.
pub(crate) fn require_sandbox() -> crate::error::Result<()> {
    crate::sandbox::landlock_available().map(|_| ()).map_err(|why| {
        crate::error::ExperimentError::Sandbox(format!(
            "cannot sandbox candidates on this machine ({why}); run `experiment init` with --no-sandbox to accept unsandboxed runs (every row will say so)"
        ))
    })
}

/// The folders under the storage root a candidate may read: everything but
/// the evaluation-only paths (`sealed`, storage-relative) and `runs/` (its
/// own run folder is granted separately), listed so that Landlock's
/// "beneath" rules reach around the sealed paths.
pub(crate) fn readable_storage(root: &Path, sealed: &[String]) -> Vec<PathBuf> {
    let hidden: Vec<PathBuf> = std::iter::once(root.join("runs"))
        .chain(sealed.iter().map(|s| root.join(s)))
        .collect();
    paths_around(root, &hidden)
}

/// Everything beneath `root` except the `hidden` paths (absolute, real
/// paths), as the fewest paths whose Landlock "beneath" rules cover it: the
/// entries of each folder on the way to a hidden path, and everything else
/// whole. Entries created later in those folders are not covered.
pub(crate) fn paths_around(root: &Path, hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if hidden.iter().any(|h| root.starts_with(h)) {
        return out;
    }
    if !hidden.iter().any(|h| h.starts_with(root)) {
        out.push(root.to_path_buf());
        return out;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if hidden.iter().any(|h| path.starts_with(h)) {
            continue;
        }
        // A link to a folder is split too: granted whole, Landlock would
        // give the folder it points to, hidden path included.
        if path.is_dir() && hidden.iter().any(|h| h.starts_with(&path)) {
            out.extend(paths_around(&path, hidden));
        } else {
            out.push(path);
        }
    }
    out
}

/// The folders [`paths_around`] splits (`root` and those between it and
/// each hidden path): to be granted listing only, so that a program can
/// still read the names in its working folder.
pub(crate) fn folders_toward(root: &Path, hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for h in hidden {
        let Ok(rel) = h.strip_prefix(root) else {
            continue;
        };
        let mut at = root.to_path_buf();
        let parts: Vec<_> = rel.components().collect();
        if parts.is_empty() {
            continue;
        }
        if !out.contains(&at) {
            out.push(at.clone());
        }
        for c in &parts[..parts.len() - 1] {
            at.push(c);
            if !out.contains(&at) {
                out.push(at.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_toward_a_hidden_path_are_listed() {
        let root = Path::new("/e");
        assert_eq!(
            folders_toward(
                root,
                &[
                    PathBuf::from("/e/proj/data/truth.json"),
                    PathBuf::from("/x")
                ]
            ),
            vec![
                PathBuf::from("/e"),
                PathBuf::from("/e/proj"),
                PathBuf::from("/e/proj/data")
            ]
        );
    }

    #[test]
    fn around_lists_everything_but_the_hidden_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in ["a/secret/key", "a/b.txt", "c/d.txt", "e.txt"] {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), "x").unwrap();
        }
        let rel = |v: Vec<PathBuf>| {
            let mut v: Vec<String> = v
                .iter()
                .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            rel(paths_around(root, &[root.join("a/secret")])),
            vec!["a/b.txt", "c", "e.txt"]
        );
        assert_eq!(
            rel(paths_around(root, &[PathBuf::from("/elsewhere")])),
            vec![""]
        );
        assert!(paths_around(&root.join("a/secret/key"), &[root.join("a")]).is_empty());
    }

    #[test]
    fn storage_is_readable_around_sealed_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "input/train.csv",
            "holdout/actuals.csv",
            "holdout/notes.txt",
            "runs/x/a",
            "top.csv",
        ] {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), "x").unwrap();
        }
        let mut got: Vec<String> = readable_storage(root, &["holdout/actuals.csv".into()])
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, vec!["holdout/notes.txt", "input", "top.csv"]);
    }
}
