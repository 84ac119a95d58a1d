//! What a supervised agent may touch: the sandbox policy of `experiment
//! agent`, built from the experiment it works on.
//!
//! * **Read**: the whole filesystem except the engine's state root (state,
//!   log and key, sealed snapshot, exports) and the sealed data's
//!   originals; of `/dev` only the terminal and the harmless devices.
//! * **Write**: the work tree, a private tmp and the agent's own
//!   configuration files.
//! * **Read-only mounts** in the agent's mount namespace: `.git`, the run
//!   folders (`runs/` under the storage root: what the engine evaluates)
//!   and every frozen file and folder, with the folders above them pinned,
//!   so that neither a write nor a rename of a parent folder reaches them.
//! * **Masks**: the sealed originals inside the work tree are covered by an
//!   empty, unreadable, read-only file or folder.

use std::path::{Path, PathBuf};

use crate::contain::paths_around;
use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::frozen::Manifest;
use crate::hashing::Content;
use crate::sandbox::Policy;
use crate::state::FrozenKind;

/// Devices an interactive agent needs, read and write (no disks).
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

/// The agents' own files, writable when they exist (relative to `$HOME`).
const AGENT_HOME_FILES: &[&str] = &[".claude", ".claude.json", ".codex"];

/// The paths a policy hides from the agent: they must be neither readable
/// nor writable, whatever else grants.
#[derive(Debug)]
pub(crate) struct Hidden(Vec<PathBuf>);

impl Hidden {
    /// The engine's state root and the sealed originals, as real paths.
    pub fn of(ctx: &Ctx) -> Result<Hidden> {
        let mut hidden = vec![real(&crate::state_paths::state_root()?)];
        hidden.extend(sealed_originals(ctx).iter().map(|p| real(p)));
        Ok(Hidden(hidden))
    }

    fn covers(&self, p: &Path) -> bool {
        self.0.iter().any(|h| p.starts_with(h) || h.starts_with(p))
    }
}

/// The sealed data (loop holdout and final test) where the project keeps
/// it (under the storage root).
pub(crate) fn sealed_originals(ctx: &Ctx) -> Vec<PathBuf> {
    ctx.state
        .sealed_storage()
        .iter()
        .map(|p| ctx.state.storage_root.join(p))
        .collect()
}

/// The agent's sandbox policy (see the module docs). `tmp` is its private
/// tmp; `masks` a folder of the supervisor's for the empty mask file and
/// folder; `extra` the `--allow-write` paths; `supervisor` the pid whose
/// death ends the agent.
pub(crate) fn policy(
    ctx: &Ctx,
    manifest: &Manifest,
    tmp: &Path,
    masks: &Path,
    extra: &[PathBuf],
    supervisor: u32,
) -> Result<Policy> {
    let hidden = Hidden::of(ctx)?;
    let root = real(&ctx.repo.root);
    let git_dir = root.join(".git");

    let mut no_read = hidden.0.clone();
    no_read.push(PathBuf::from("/dev"));
    let mut readable = paths_around(Path::new("/"), &no_read);
    readable.retain(|p| p.exists());

    // The whole work tree, so that the agent can create files anywhere in
    // it; what it must not change is mounted read-only or masked below.
    let mut writable = vec![root.clone(), tmp.to_path_buf()];
    writable.extend(DEVICES.iter().map(PathBuf::from));
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        writable.extend(AGENT_HOME_FILES.iter().map(|f| home.join(f)));
    }
    writable.retain(|p| p.exists());
    for p in extra {
        let abs = p.canonicalize().map_err(|e| {
            ExperimentError::Usage(format!(
                "--allow-write {}: {e}; give an existing file or folder",
                p.display()
            ))
        })?;
        if hidden.covers(&abs) || abs.starts_with(&git_dir) || root.starts_with(&abs) {
            return Err(ExperimentError::Usage(format!(
                "--allow-write {} would let the agent write the repository's .git, the engine's state or the sealed data; give the agent's own folder instead",
                p.display()
            )));
        }
        writable.push(abs);
    }

    let mut readonly = Vec::new();
    if git_dir.is_dir() {
        readonly.push(git_dir);
    }
    let common = real(&ctx.repo.common_dir);
    if !readonly.contains(&common) {
        readonly.push(common);
    }
    // The run folders are what the engine evaluates: written by the
    // candidate's work tasks only.
    let runs = real(&ctx.state.storage_root).join("runs");
    crate::fsutil::ensure_dir(&runs)?;
    readonly.push(runs);
    readonly.extend(frozen_paths(ctx, manifest, &root));
    readonly.retain(|p| !hidden.covers(p));
    readonly.sort_by_key(|p| p.components().count());
    let pinned = pins(&root, &readonly);
    // Hidden paths inside the writable work tree (the sealed originals in
    // the project's data folder) are covered, whatever Landlock grants.
    let masked: Vec<PathBuf> = hidden
        .0
        .iter()
        .filter(|h| h.starts_with(&root) && h.exists())
        .cloned()
        .collect();
    std::fs::write(masks.join("file"), b"")
        .map_err(|e| ExperimentError::io("write", masks.join("file"), e))?;
    crate::fsutil::ensure_dir(&masks.join("dir"))?;
    for m in ["file", "dir"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(masks.join(m), std::fs::Permissions::from_mode(0o000))
            .map_err(|e| ExperimentError::io("restrict", masks.join(m), e))?;
    }

    let mut policy = Policy::system();
    // Listed around the hidden paths: siblings in /tmp may go meanwhile.
    policy.readable_if_present.extend(readable);
    // No listing rights on the folders around the hidden paths: a listing
    // right reaches beneath, into the state root too. The agent can walk
    // through `~` to its files, but not list it when the state lives there.
    policy.writable.extend(writable);
    Ok(Policy {
        readonly,
        pinned,
        masked,
        mask_source: Some(masks.to_path_buf()),
        allow_tcp: true,
        abstract_unix: true,
        namespaces: true,
        parent_pid: Some(supervisor),
        ..policy
    })
}

/// The frozen files and folders that exist, as absolute paths: folders
/// whole, files one by one (globs through the files the manifest hashed);
/// symbolic links are left to the frozen check (a bind mount would follow
/// them).
fn frozen_paths(ctx: &Ctx, manifest: &Manifest, root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for e in ctx.state.frozen.iter().filter(|e| e.exists) {
        if e.kind == FrozenKind::Dir {
            let p = root.join(e.path.trim_end_matches('/'));
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                out.push(p);
            }
        }
    }
    for (rel, entry) in manifest
        .tracked
        .files
        .iter()
        .chain(manifest.untracked.files.iter())
    {
        if !matches!(entry.content, Content::File(_)) {
            continue;
        }
        let p = root.join(rel);
        let inside_dir = out.iter().any(|d| p.starts_with(d));
        if !inside_dir && std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The folders between `root` (excluded) and each read-only path
/// (excluded), outermost first: bind-mounted onto themselves, they cannot
/// be renamed away with the read-only paths inside.
fn pins(root: &Path, readonly: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = crate::contain::folders_toward(root, readonly);
    out.retain(|p| p != root);
    out.sort_by_key(|p| p.components().count());
    out
}

/// The real path of `p` (itself when it cannot be resolved).
fn real(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_the_folders_above_read_only_paths_outermost_first() {
        let root = Path::new("/w");
        let got = pins(
            root,
            &[
                PathBuf::from("/w/src/eval/metrics.rs"),
                PathBuf::from("/w/src/evaluation.rs"),
                PathBuf::from("/w/.git"),
                PathBuf::from("/elsewhere/x"),
            ],
        );
        assert_eq!(
            got,
            vec![PathBuf::from("/w/src"), PathBuf::from("/w/src/eval")]
        );
    }
}
