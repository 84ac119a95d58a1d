//! The repository an experiment runs in: discovery, relative paths, the
//! clean-tree check and `.git/info/exclude`.

use std::path::{Component, Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::fsutil;
use crate::git::Git;

/// A git repository, located from a directory inside it.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    /// Git runner at the repository root.
    pub git: Git,
    /// The work tree root (canonical).
    pub root: PathBuf,
    /// The common git directory (`.git`, shared by worktrees).
    pub common_dir: PathBuf,
}

impl Repo {
    /// Finds the repository containing `dir`, checking that git works and
    /// that there is at least one commit.
    ///
    /// The work tree root is the nearest folder (from `dir` up) holding a
    /// `.git` entry, found without git, so the repository's `core.worktree`
    /// cannot move it; git then resolves the git dirs with every call
    /// hardened ([`Git`]). A `.git` git does not take as a repository is
    /// skipped, as git's own discovery does.
    pub fn discover(dir: &Path) -> Result<Self> {
        Git::check_installed()?;
        let dir = dir
            .canonicalize()
            .map_err(|e| ExperimentError::io("open directory", dir, e))?;
        for root in work_tree_candidates(&dir) {
            let probe = Git::new(&root);
            let out = probe.output([
                "rev-parse",
                "--path-format=absolute",
                "--absolute-git-dir",
                "--git-common-dir",
                "--show-object-format",
            ])?;
            if !out.status.success() {
                continue;
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            let [git_dir, common, format] = lines.as_slice() else {
                continue;
            };
            let git = probe.resolved(git_dir, common, format);
            if !git.succeeds(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])? {
                return Err(ExperimentError::NoCommit { root });
            }
            return Ok(Self {
                git,
                root,
                common_dir: PathBuf::from(common),
            });
        }
        Err(ExperimentError::NotARepo { dir })
    }

    /// [`Repo::discover`] and the checked-out branch (`None` on a detached
    /// HEAD), in one git call when all is well; the errors are those of
    /// [`Repo::discover`].
    pub fn discover_on_branch(dir: &Path) -> Result<(Self, Option<String>)> {
        if let Some(found) = Self::discover_fast(dir) {
            return Ok(found);
        }
        let repo = Self::discover(dir)?;
        let branch = repo.git.current_branch()?;
        Ok((repo, branch))
    }

    /// One `git rev-parse` for the git dirs, the object format, the HEAD
    /// commit (failing before the first commit) and the ref HEAD names, at
    /// the nearest work tree root; `None` on any failure or surprise (the
    /// slow path says what is wrong).
    fn discover_fast(dir: &Path) -> Option<(Self, Option<String>)> {
        let dir = dir.canonicalize().ok()?;
        let root = work_tree_candidates(&dir).next()?;
        let probe = Git::new(&root);
        let out = probe
            .output([
                "rev-parse",
                "--path-format=absolute",
                "--absolute-git-dir",
                "--git-common-dir",
                "--show-object-format",
                "HEAD^{commit}",
                "--symbolic-full-name",
                "HEAD",
            ])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        let [git_dir, common, format, head, symbolic] = lines.as_slice() else {
            return None;
        };
        let is_hash = head.len() >= 40 && head.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hash || git_dir.is_empty() || common.is_empty() {
            return None;
        }
        let branch = symbolic.strip_prefix("refs/heads/").map(str::to_string);
        Some((
            Self {
                git: probe.resolved(git_dir, common, format),
                root,
                common_dir: PathBuf::from(common),
            },
            branch,
        ))
    }

    /// `abs` relative to the repository root with `/` separators (`""` for
    /// the root itself), or `None` when it lies outside.
    pub fn rel(&self, abs: &Path) -> Option<String> {
        let abs = normalize(abs)?;
        let rel = abs.strip_prefix(&self.root).ok()?;
        Some(to_slash(rel))
    }

    /// Paths `git status` reports (untracked included), minus `ignore`.
    pub fn dirty_paths(&self, ignore: &[String]) -> Result<Vec<String>> {
        Ok(self
            .git
            .status_paths(true)?
            .into_iter()
            .filter(|p| !is_ignored(p, ignore))
            .collect())
    }

    /// The HEAD commit and [`Repo::dirty_paths`], from one `git status`;
    /// also whether `git status` shows any of the `ignore`d paths.
    pub fn head_and_dirty_paths(&self, ignore: &[String]) -> Result<Worktree> {
        let status = self.git.status_with_head(true)?;
        Ok(Worktree {
            head: status.head,
            ignored_shown: status.paths.iter().any(|p| is_ignored(p, ignore)),
            dirty: status
                .paths
                .into_iter()
                .filter(|p| !is_ignored(p, ignore))
                .collect(),
        })
    }

    /// Fails with [`ExperimentError::DirtyTree`] when `git status` shows any
    /// path outside `ignore`.
    pub fn require_clean(&self, ignore: &[String], action: &'static str) -> Result<()> {
        let dirty = self.dirty_paths(ignore)?;
        if let Some(first) = dirty.first() {
            return Err(ExperimentError::DirtyTree {
                count: dirty.len(),
                example: first.clone(),
                action,
            });
        }
        Ok(())
    }

    /// Adds anchored patterns for `paths` (repository-relative; a trailing
    /// `/` marks a folder) to `.git/info/exclude` unless already there.
    pub fn exclude(&self, paths: &[String]) -> Result<()> {
        let file = self.common_dir.join("info").join("exclude");
        let mut text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ExperimentError::io("read", file, e)),
        };
        let existing: Vec<String> = text.lines().map(str::to_string).collect();
        let mut added = false;
        for p in paths {
            let pattern = format!("/{p}");
            if existing.contains(&pattern) {
                continue;
            }
            if !added {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                if !existing
                    .iter()
                    .any(|l| l.starts_with("# gluers experiment"))
                {
                    text.push_str("# gluers experiment engine: its log, run log and run folders stay untracked\n");
                }
                added = true;
            }
            text.push_str(&pattern);
            text.push('\n');
        }
        if added {
            fsutil::atomic_write(&file, text.as_bytes())?;
        }
        Ok(())
    }
}

/// The folders from `dir` up that hold a `.git` entry (folder, or file as
/// in linked worktrees), nearest first: the work tree roots git's own
/// discovery would consider.
fn work_tree_candidates(dir: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    dir.ancestors()
        .filter(|d| d.join(".git").symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}

/// The state of the work tree, from [`Repo::head_and_dirty_paths`].
#[derive(Debug, Clone)]
pub(crate) struct Worktree {
    /// The HEAD commit (`None` before the first commit).
    pub head: Option<String>,
    /// Changed and untracked paths, the ignored ones left out.
    pub dirty: Vec<String>,
    /// Whether `git status` showed any of the ignored paths (`git add
    /// --all` would stage it).
    pub ignored_shown: bool,
}

/// Whether `path` is one of `ignore` or under one of its folders (a trailing
/// `/` marks a folder).
fn is_ignored(path: &str, ignore: &[String]) -> bool {
    ignore
        .iter()
        .any(|i| path == i || (i.ends_with('/') && path.starts_with(i.as_str())))
}

/// Lexically normalises an absolute path (`.` and `..` resolved without
/// touching the file system); `None` if `..` climbs above the root.
pub(crate) fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

/// A relative path with `/` separators.
pub(crate) fn to_slash(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins a repository-relative directory and a name (`""` is the root).
pub(crate) fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")).unwrap(),
            PathBuf::from("/a/c/d")
        );
        assert!(normalize(Path::new("/..")).is_none());
    }

    #[test]
    fn join_rel_handles_root() {
        assert_eq!(join_rel("", "x"), "x");
        assert_eq!(join_rel("a/b", "x"), "a/b/x");
    }
}
