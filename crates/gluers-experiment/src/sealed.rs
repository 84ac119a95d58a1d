//! The sealed evaluator: evaluation code taken from the base commit and run
//! in its own process, so that no change of the candidate (to an evaluation
//! helper, to `main`, to the runner) can move a metric.
//!
//! * It starts as a `git worktree` of the base commit under the engine's
//!   state folder.
//! * Rust projects: the worktree is built once at init with cargo, sharing the
//!   candidate's target directory (dependencies are not rebuilt), and the
//!   executable is copied into the state folder; the copy is what runs, so
//!   later candidate builds cannot overwrite it. Its hash is checked before
//!   every use.
//! * Command projects (Gluepy): the worktree itself runs, with the project's
//!   command. Gluepy keeps runs under `STORAGE_ROOT` (by default
//!   `BASE_DIR/data`, i.e. inside the worktree), so the worktree's storage
//!   folder is replaced by a symlink to the project's: the evaluator sees the
//!   candidate's run folders and the project's data.
//! * Before every evaluation the worktree must still be at the base commit
//!   with no tracked file modified.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::error::{ExperimentError, Result};
use crate::fsutil::Stamp;
use crate::git::{Git, Started};
use crate::project::{Build, CargoBuild};
use crate::repo::Repo;
use crate::state::{State, StatePaths};

/// Creates (or recreates) the base-commit worktree at `paths.worktree()`.
pub(crate) fn create_worktree(repo: &Repo, paths: &StatePaths, base: &str) -> Result<PathBuf> {
    let wt = paths.worktree();
    remove_worktree(repo, &wt);
    let wt_s = wt.to_string_lossy().into_owned();
    repo.git
        .run(&["worktree", "add", "--detach", "--quiet", &wt_s, base])?;
    Ok(wt)
}

/// Removes the worktree registration and folder; errors are ignored (used on
/// cleanup paths).
pub(crate) fn remove_worktree(repo: &Repo, wt: &Path) {
    if wt.exists() {
        let wt_s = wt.to_string_lossy().into_owned();
        let _ = repo
            .git
            .run(&["worktree", "remove", "--force", "--force", &wt_s]);
        let _ = std::fs::remove_dir_all(wt);
    }
    let _ = repo.git.run(&["worktree", "prune"]);
}

/// Builds the Rust sealed evaluator from the worktree and copies the
/// executable into the state folder. Returns the copy and its hash.
pub(crate) fn build_cargo(
    repo: &Repo,
    paths: &StatePaths,
    wt_manifest_dir: &Path,
    bin: &str,
    target_dir: &Path,
    workspace_lock: Option<&Path>,
    log: &File,
) -> Result<(PathBuf, String)> {
    // An untracked Cargo.lock is not in the worktree: reuse the project's so
    // that the sealed build resolves the same versions offline.
    if let Some((lock, wt_lock)) =
        workspace_lock.and_then(|l| Some((l, wt_path_of(repo, paths, l)?)))
    {
        if !wt_lock.exists() && lock.exists() {
            std::fs::copy(lock, &wt_lock)
                .map_err(|e| ExperimentError::io("copy Cargo.lock to", &wt_lock, e))?;
        }
    }
    let messages = paths.build_messages();
    let build = CargoBuild {
        manifest_dir: wt_manifest_dir,
        bin,
        target_dir: Some(target_dir),
        messages: &messages,
        run_id: None,
    };
    // The sealed build is not bounded by the run timeout: it happens once.
    let far = Instant::now() + std::time::Duration::from_secs(60 * 60 * 24);
    let exe = match build.run(log, far, &mut |_| Ok(()))? {
        Build::Built(exe) => exe,
        Build::Failed(why) => {
            return Err(ExperimentError::Sealed(format!(
                "building the base commit failed: {why}; see experiment_run.log"
            )))
        }
        Build::TimedOut => {
            return Err(ExperimentError::Sealed(
                "building the base commit timed out".into(),
            ))
        }
    };
    let dir = paths.sealed_dir();
    crate::fsutil::ensure_dir(&dir)?;
    let copy = dir.join(bin);
    let tmp = dir.join(format!(".{bin}.tmp"));
    std::fs::copy(&exe, &tmp)
        .map_err(|e| ExperimentError::io("copy the sealed executable to", &tmp, e))?;
    std::fs::rename(&tmp, &copy)
        .map_err(|e| ExperimentError::io("install the sealed executable at", &copy, e))?;
    let hash = hash_file(repo, &copy)?;
    Ok((copy, hash))
}

/// The path inside the worktree corresponding to `abs` in the project.
fn wt_path_of(repo: &Repo, paths: &StatePaths, abs: &Path) -> Option<PathBuf> {
    let rel = repo.rel(abs)?;
    Some(paths.worktree().join(rel))
}

/// The git blob id of a file's content.
pub(crate) fn hash_file(repo: &Repo, path: &Path) -> Result<String> {
    let p = path.to_string_lossy().into_owned();
    repo.git.run(&["hash-object", "--no-filters", &p])
}

/// Points the worktree's storage folder at the project's storage root.
///
/// `wt_storage` is where the base settings put the storage inside the
/// worktree; it is replaced by a symlink to `storage_root`.
pub(crate) fn link_storage(wt: &Path, wt_storage: &Path, storage_root: &Path) -> Result<()> {
    if wt_storage == storage_root {
        return Ok(());
    }
    if !wt_storage.starts_with(wt) {
        return Err(ExperimentError::Sealed(format!(
            "the base settings put STORAGE_ROOT at {} but the project's is {}; use a storage root under the project (BASE_DIR) or the same absolute path",
            wt_storage.display(),
            storage_root.display()
        )));
    }
    match std::fs::symlink_metadata(wt_storage) {
        Ok(m) if m.file_type().is_symlink() || m.is_file() => std::fs::remove_file(wt_storage)
            .map_err(|e| ExperimentError::io("remove", wt_storage, e))?,
        Ok(_) => std::fs::remove_dir_all(wt_storage)
            .map_err(|e| ExperimentError::io("remove", wt_storage, e))?,
        Err(_) => {}
    }
    if let Some(parent) = wt_storage.parent() {
        crate::fsutil::ensure_dir(parent)?;
    }
    crate::fsutil::ensure_dir(storage_root)?;
    std::os::unix::fs::symlink(storage_root, wt_storage)
        .map_err(|e| ExperimentError::io("link the sealed storage folder", wt_storage, e))
}

/// Starts the git query of [`check`] so that it runs alongside other work
/// (`None` when the worktree is gone, which [`check`] reports).
pub(crate) fn start_check(state: &State) -> Option<Started> {
    let wt = &state.sealed.worktree;
    if !wt.is_dir() {
        return None;
    }
    Git::new(wt).start_status_with_head(false).ok()
}

/// Checks that the sealed evaluator is what init built: the worktree is at
/// the base commit with no tracked file changed (its storage link aside),
/// and the Rust executable has its recorded hash.
///
/// The executable is hashed only when its stat differs from the stamp
/// recorded when it last matched (`state.sealed.executable_stamp`); a fresh
/// stamp to record is returned after such a hash.
///
/// `started` is the worktree's `git status` from [`start_check`], if it was
/// started ahead.
pub(crate) fn check(
    repo: &Repo,
    state: &State,
    storage_link_rel: Option<&str>,
    started: Option<Started>,
) -> Result<Option<Stamp>> {
    let wt = &state.sealed.worktree;
    let git = Git::new(wt);
    let damaged = |what: String| {
        ExperimentError::Sealed(format!(
            "{what} (worktree {}); the evaluator is not trustworthy: start a new experiment with `experiment init`",
            wt.display()
        ))
    };
    if !wt.is_dir() {
        return Err(damaged("the base-commit worktree is missing".into()));
    }
    // HEAD and the changed tracked files, in one `git status`.
    let status = match started {
        Some(s) => s.finish_status(),
        None => git.status_with_head(false),
    }
    .unwrap_or_default();
    let head = status.head.unwrap_or_default();
    if head != state.base_commit {
        return Err(damaged(format!(
            "the worktree is at {head}, not at the base commit"
        )));
    }
    let changed: Vec<String> = status
        .paths
        .into_iter()
        .filter(|p| !storage_link_rel.is_some_and(|s| p == s || p.starts_with(&format!("{s}/"))))
        .collect();
    if let Some(p) = changed.first() {
        return Err(damaged(format!(
            "`{p}` was modified in the base-commit worktree"
        )));
    }
    let mut fresh = None;
    if let (Some(exe), Some(hash)) = (&state.sealed.executable, &state.sealed.executable_hash) {
        if !exe.is_file() {
            return Err(damaged(format!(
                "the sealed executable {} is missing",
                exe.display()
            )));
        }
        let now = SystemTime::now();
        let before = Stamp::of(exe).map_err(|e| ExperimentError::io("stat", exe, e))?;
        if state.sealed.executable_stamp == Some(before) {
            return Ok(None);
        }
        if hash_file(repo, exe)? != *hash {
            return Err(damaged(format!(
                "the sealed executable {} was replaced",
                exe.display()
            )));
        }
        // Recorded only if nothing happened to the file while it was hashed,
        // and its timestamps are old enough that a later write shows.
        let after = Stamp::of(exe).ok();
        if after == Some(before) && !before.is_racy(now) {
            fresh = Some(before);
        }
    }
    Ok(fresh)
}
