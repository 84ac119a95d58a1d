//! Engine-owned exports of a commit: what is built and run is exactly the
//! commit the log records.
//!
//! The work tree is not what runs: index flags (skip-worktree,
//! assume-unchanged), untracked files and filters can all make it differ
//! from the commit. An export is written from the commit's tree with
//! `git ls-tree` and `git cat-file --batch` (raw blobs: no filter,
//! attribute or `export-ignore` applies), into a folder only the engine
//! writes. Exports are incremental: a file whose blob and stat are unchanged
//! since the last export is left as it is (so cargo's fingerprints see no
//! change), the others are rewritten, and anything else in the folder is
//! removed.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::fsutil::Stamp;
use crate::git::Git;

/// One file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TreeFile {
    /// Git file mode (`100644`, `100755`, `120000`).
    pub mode: String,
    /// Blob id.
    pub oid: String,
    /// Repository-relative path.
    pub path: String,
}

/// The files of `commit` (blobs and symlinks; submodules are left out).
pub(crate) fn list_tree(git: &Git, commit: &str) -> Result<Vec<TreeFile>> {
    let tree = format!("{commit}^{{tree}}");
    let lines = git.run_z(&["ls-tree", "-r", "-z", "--full-tree", &tree])?;
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let Some((meta, path)) = line.split_once('\t') else {
            continue;
        };
        let mut parts = meta.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if kind != "blob" {
            continue;
        }
        check_path(path)?;
        out.push(TreeFile {
            mode: mode.to_string(),
            oid: oid.to_string(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// A tree path must stay inside the export: no empty, `.` or `..`
/// component, nothing absolute, no `.git` folder.
fn check_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.eq_ignore_ascii_case(".git"));
    if bad {
        return Err(ExperimentError::Export(format!(
            "the commit holds a path that cannot be exported safely: {path:?}"
        )));
    }
    Ok(())
}

/// A symlink of the commit must point inside the export (relative, never
/// above the export's root): a link to the work tree or elsewhere would run
/// bytes that are not in the commit.
fn check_link(path: &str, target: &str) -> Result<()> {
    let escapes = || {
        if target.starts_with('/') || target.is_empty() {
            return true;
        }
        let mut depth: i64 = path.matches('/').count() as i64;
        for c in Path::new(target).components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                _ => return true,
            }
            if depth < 0 {
                return true;
            }
        }
        false
    };
    if escapes() {
        return Err(ExperimentError::Export(format!(
            "`{path}` is a symlink to `{target}`, outside the commit; commit the file itself"
        )));
    }
    Ok(())
}

/// What the last export wrote, to make the next one incremental.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExportManifest {
    /// The commit exported.
    pub commit: String,
    /// Path → (mode, blob id, stat after writing).
    pub files: BTreeMap<String, (String, String, Option<Stamp>)>,
}

impl ExportManifest {
    fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

/// Writes `commit` into `dest` (created if needed), reusing what the
/// previous export recorded in `manifest_path`; returns the commit's files.
pub(crate) fn export(
    git: &Git,
    commit: &str,
    dest: &Path,
    manifest_path: &Path,
) -> Result<Vec<TreeFile>> {
    let files = list_tree(git, commit)?;
    crate::fsutil::ensure_private_dir(dest)?;
    let previous = ExportManifest::load(manifest_path);
    let mut manifest = ExportManifest {
        commit: commit.to_string(),
        files: BTreeMap::new(),
    };
    let mut to_write: Vec<&TreeFile> = Vec::new();
    for f in &files {
        let unchanged = previous
            .files
            .get(&f.path)
            .is_some_and(|(mode, oid, stamp)| {
                mode == &f.mode
                    && oid == &f.oid
                    && stamp.is_some()
                    && Stamp::of(&dest.join(&f.path)).ok() == *stamp
            });
        if unchanged {
            manifest
                .files
                .insert(f.path.clone(), previous.files[&f.path].clone());
        } else {
            to_write.push(f);
        }
    }

    // Remove what is not in the commit, before writing, so that a stale
    // symlink cannot redirect a write.
    let wanted: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in &files {
        let mut p = f.path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !dirs.insert(parent.to_string()) {
                break;
            }
            p = parent;
        }
    }
    let mut removed = Vec::new();
    prune(dest, "", &wanted, &dirs, &mut removed)?;

    let mut written = Vec::new();
    if !to_write.is_empty() {
        let input: String = to_write.iter().map(|f| format!("{}\n", f.oid)).collect();
        let out = git.run_with_input_bytes(&["cat-file", "--batch"], input.as_bytes())?;
        let mut rest: &[u8] = &out;
        for f in &to_write {
            let (content, tail) = next_blob(rest, &f.oid)?;
            rest = tail;
            let abs = dest.join(&f.path);
            if let Some(parent) = abs.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| ExperimentError::io("create directory", parent, e))?;
            }
            remove_existing(&abs)?;
            if f.mode == "120000" {
                let target = String::from_utf8_lossy(content).into_owned();
                check_link(&f.path, &target)?;
                std::os::unix::fs::symlink(&target, &abs)
                    .map_err(|e| ExperimentError::io("create symlink", &abs, e))?;
            } else {
                std::fs::write(&abs, content).map_err(|e| ExperimentError::io("write", &abs, e))?;
                let mode = if f.mode == "100755" { 0o755 } else { 0o644 };
                std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| ExperimentError::io("set permissions of", &abs, e))?;
            }
            let stamp = Stamp::of(&abs).ok();
            manifest
                .files
                .insert(f.path.clone(), (f.mode.clone(), f.oid.clone(), stamp));
            written.push(f.path.clone());
        }
    }
    let text = serde_json::to_vec(&manifest).map_err(|e| ExperimentError::State {
        path: manifest_path.to_path_buf(),
        message: e.to_string(),
    })?;
    crate::fsutil::atomic_replace(manifest_path, &text)?;
    tracing::debug!(
        written = written.len(),
        removed = removed.len(),
        "exported {commit}"
    );
    Ok(files)
}

/// Splits one `cat-file --batch` record off `out`.
fn next_blob<'a>(out: &'a [u8], oid: &str) -> Result<(&'a [u8], &'a [u8])> {
    let bad = |why: &str| {
        ExperimentError::Export(format!("`git cat-file --batch` output for {oid}: {why}"))
    };
    let nl = out
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header"))?;
    let header = std::str::from_utf8(&out[..nl]).map_err(|_| bad("header is not UTF-8"))?;
    let mut parts = header.split(' ');
    let (Some(got), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(&format!("unexpected header `{header}`")));
    };
    if got != oid || kind != "blob" {
        return Err(bad(&format!("unexpected header `{header}`")));
    }
    let size: usize = size.parse().map_err(|_| bad("bad size"))?;
    let start = nl + 1;
    let end = start + size;
    if out.len() < end + 1 {
        return Err(bad("truncated"));
    }
    Ok((&out[start..end], &out[end + 1..]))
}

/// Removes a file, link or folder at `path` if there is one.
fn remove_existing(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return Ok(()),
    }
    .map_err(|e| ExperimentError::io("remove", path, e))
}

/// Removes everything below `dest/rel` that is neither a wanted file nor a
/// folder on the way to one.
fn prune(
    dest: &Path,
    rel: &str,
    wanted: &BTreeSet<&str>,
    dirs: &BTreeSet<String>,
    removed: &mut Vec<String>,
) -> Result<()> {
    let abs: PathBuf = if rel.is_empty() {
        dest.to_path_buf()
    } else {
        dest.join(rel)
    };
    let entries = match std::fs::read_dir(&abs) {
        Ok(e) => e,
        Err(_) => return Ok(()),
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && dirs.contains(&child) {
            prune(dest, &child, wanted, dirs, removed)?;
        } else if !is_dir && wanted.contains(child.as_str()) {
            // Kept (rewritten below if its blob changed).
        } else {
            remove_existing(&dest.join(&child))?;
            removed.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links_that_leave_the_export_are_refused() {
        for p in [
            "../x",
            "a/../../x",
            "/abs",
            "a//b",
            ".git/config",
            "a/./b",
            "",
        ] {
            assert!(check_path(p).is_err(), "{p}");
        }
        assert!(check_path("src/main.rs").is_ok());
        assert!(check_link("a/b", "c").is_ok());
        assert!(check_link("a/b", "../c").is_ok());
        assert!(check_link("a/b", "../../c").is_err());
        assert!(check_link("a", "/etc/passwd").is_err());
    }
}
