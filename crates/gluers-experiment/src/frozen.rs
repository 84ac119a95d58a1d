//! The frozen set: what it contains by default, and checking, by the bytes,
//! that nothing in it changed since the base commit.
//!
//! At init the engine hashes (blake3, in-process) every frozen file: those
//! of the base commit from its own export of that commit, the untracked and
//! ignored ones (data folders) from the work tree. A candidate is checked on
//! the engine's export of its commit (what is built and run) and on the work
//! tree's untracked frozen files, again by hashing bytes, with a stat cache
//! so that an unchanged 500 MB data folder is not read again. git's view of
//! the files (filters, textconv, index flags, `core.checkStat`, fsmonitor)
//! plays no part.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::export::TreeFile;
use crate::hashing::{self, Snapshot};
use crate::repo::{join_rel, Repo};

use crate::state::{FrozenEntry, FrozenKind};

/// Which default rules apply to a project.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults {
    /// Rust build files (`build.rs`, `rust-toolchain*`, `.cargo/`).
    pub rust: bool,
    /// Python packaging files (`setup.py`, `pyproject.toml`).
    pub python: bool,
}

/// The default entries: build, toolchain, packaging, CI and container files
/// in the project folder and every folder above it up to the repository
/// root. Absent ones are kept too, so that creating them is caught.
pub(crate) fn default_entries(repo: &Repo, project_rel: &str, d: Defaults) -> Vec<FrozenEntry> {
    let mut files: Vec<(&str, &str)> = vec![(".dockerignore", "container build file")];
    let mut dirs: Vec<(&str, &str)> = vec![
        (".github/workflows", "CI configuration"),
        (".ci", "CI scripts"),
    ];
    if d.rust {
        files.extend([
            ("build.rs", "build script"),
            ("rust-toolchain", "toolchain pin"),
            ("rust-toolchain.toml", "toolchain pin"),
        ]);
        dirs.push((".cargo", "cargo configuration"));
    }
    if d.python {
        files.extend([("setup.py", "packaging"), ("pyproject.toml", "packaging")]);
    }
    let mut levels = vec![project_rel.to_string()];
    let mut cur = project_rel.to_string();
    while !cur.is_empty() {
        cur = cur
            .rsplit_once('/')
            .map_or(String::new(), |(p, _)| p.to_string());
        levels.push(cur.clone());
    }
    let mut out = Vec::new();
    for level in &levels {
        let abs = repo.root.join(level);
        for (name, reason) in &files {
            let path = join_rel(level, name);
            out.push(FrozenEntry {
                exists: repo.root.join(&path).exists(),
                path,
                kind: FrozenKind::File,
                reason: (*reason).into(),
            });
        }
        for (name, reason) in &dirs {
            let path = join_rel(level, name);
            out.push(FrozenEntry {
                exists: repo.root.join(&path).is_dir(),
                path,
                kind: FrozenKind::Dir,
                reason: (*reason).into(),
            });
        }
        let mut dockerfiles: Vec<String> = std::fs::read_dir(&abs)
            .map(|it| {
                it.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.starts_with("Dockerfile"))
                    .collect()
            })
            .unwrap_or_default();
        dockerfiles.sort();
        for name in dockerfiles {
            out.push(FrozenEntry {
                path: join_rel(level, &name),
                kind: FrozenKind::File,
                exists: true,
                reason: "container build file".into(),
            });
        }
        out.push(FrozenEntry {
            path: join_rel(level, "Dockerfile*"),
            kind: FrozenKind::Glob,
            exists: false,
            reason: "container build file".into(),
        });
    }
    out
}

/// Merges entries naming the same path (reasons joined), keeping order of
/// first appearance.
pub(crate) fn merge(entries: Vec<FrozenEntry>) -> Vec<FrozenEntry> {
    let mut out: Vec<FrozenEntry> = Vec::new();
    for e in entries {
        if let Some(prev) = out
            .iter_mut()
            .find(|p| p.path == e.path && p.kind == e.kind)
        {
            if !prev.reason.split("; ").any(|r| r == e.reason) {
                prev.reason = format!("{}; {}", prev.reason, e.reason);
            }
            prev.exists |= e.exists;
        } else {
            out.push(e);
        }
    }
    out
}

/// Whether repository-relative `path` falls under frozen entry `e`.
fn covers(e: &FrozenEntry, path: &str) -> bool {
    match e.kind {
        FrozenKind::File => path == e.path,
        FrozenKind::Dir => {
            e.path.is_empty() || path == e.path || path.starts_with(&format!("{}/", e.path))
        }
        FrozenKind::Glob => glob_match(&e.path, path),
    }
}

/// `*` matches any run of characters other than `/`; nothing else is
/// special (the default entries only use `Dockerfile*`).
fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Whether `path` is one of the engine's own paths (run folders, logs,
/// build output) or a bytecode cache, never part of the frozen set.
fn is_excluded(path: &str, excluded: &[String]) -> bool {
    path.split('/').any(|c| c == "__pycache__")
        || excluded.iter().any(|x| {
            let x = x.trim_end_matches('/');
            path == x || path.starts_with(&format!("{x}/"))
        })
}

/// The frozen files of a commit's tree.
fn tracked_frozen(files: &[TreeFile], entries: &[FrozenEntry], excluded: &[String]) -> Vec<String> {
    files
        .iter()
        .map(|f| &f.path)
        .filter(|p| !is_excluded(p, excluded) && entries.iter().any(|e| covers(e, p)))
        .cloned()
        .collect()
}

/// The frozen files in the work tree that the base commit does not track.
fn untracked_frozen(
    root: &Path,
    entries: &[FrozenEntry],
    excluded: &[String],
    base_tracked: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    let skip = |p: &str| is_excluded(p, excluded) || p == ".git" || p.ends_with("/.git");
    for e in entries {
        let start = match e.kind {
            FrozenKind::File | FrozenKind::Dir => e.path.clone(),
            // A glob names files of one folder.
            FrozenKind::Glob => e
                .path
                .rsplit_once('/')
                .map_or(String::new(), |(d, _)| d.to_string()),
        };
        if e.kind == FrozenKind::Glob {
            let dir = if start.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&start)
            };
            let Ok(it) = std::fs::read_dir(&dir) else {
                continue;
            };
            for ent in it.flatten() {
                let rel = join_rel(&start, &ent.file_name().to_string_lossy());
                if covers(e, &rel) && !base_tracked.contains(&rel) && !skip(&rel) {
                    out.insert(rel);
                }
            }
            continue;
        }
        if e.kind == FrozenKind::Dir && e.path.is_empty() {
            continue;
        }
        for p in hashing::walk(root, &start, &skip) {
            if !base_tracked.contains(&p) {
                out.insert(p);
            }
        }
    }
    out.into_iter().collect()
}

/// The frozen set's bytes as init recorded them, and the stat caches of the
/// checks since.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Frozen files of the base commit (relative to the export root).
    pub tracked: Snapshot,
    /// Frozen files the base commit does not track (relative to the work
    /// tree root), e.g. data folders.
    pub untracked: Snapshot,
    /// Every path of the base commit's tree.
    pub base_files: BTreeSet<String>,
    /// Stat cache of the candidate export's frozen files.
    #[serde(default)]
    pub export_cache: Snapshot,
    /// Stat cache of the work tree's untracked frozen files.
    #[serde(default)]
    pub work_cache: Snapshot,
}

impl Manifest {
    /// Hashes the frozen set: the base commit's files in its export at
    /// `export_root`, the others in the work tree at `repo_root`.
    pub fn record(
        repo_root: &Path,
        export_root: &Path,
        base_tree: &[TreeFile],
        entries: &[FrozenEntry],
        excluded: &[String],
    ) -> Result<Self> {
        let base_files: BTreeSet<String> = base_tree.iter().map(|f| f.path.clone()).collect();
        let tracked_paths = tracked_frozen(base_tree, entries, excluded);
        let tracked = Snapshot::take(export_root, &tracked_paths, None)?;
        let untracked_paths = untracked_frozen(repo_root, entries, excluded, &base_files);
        let untracked = Snapshot::take(repo_root, &untracked_paths, None)?;
        Ok(Self {
            export_cache: tracked.clone(),
            work_cache: untracked.clone(),
            tracked,
            untracked,
            base_files,
        })
    }

    /// Loads the manifest.
    pub fn load(path: &Path) -> Result<Self> {
        crate::fsutil::load_json(path)
    }

    /// Writes the manifest atomically and durably (at init).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::save_json(path, self, crate::fsutil::Durability::Synced)
    }

    /// Writes the manifest with refreshed stat caches, atomically but not
    /// synced: a cache lost to a power cut only costs a re-hash.
    pub fn save_cache(&self, path: &Path) -> Result<()> {
        crate::fsutil::save_json(path, self, crate::fsutil::Durability::Cache)
    }

    /// Checks the candidate's export (files of its commit, written at
    /// `export_root`) against the base's frozen bytes.
    pub fn check_export(
        &mut self,
        export_root: &Path,
        tree: &[TreeFile],
        entries: &[FrozenEntry],
        excluded: &[String],
    ) -> Result<Vec<Violation>> {
        let paths = tracked_frozen(tree, entries, excluded);
        let now = Snapshot::take(export_root, &paths, Some(&self.export_cache))?;
        let out = now
            .changes_from(&self.tracked)
            .into_iter()
            .map(|(path, c)| Violation {
                path,
                change: c.word(),
            })
            .collect();
        self.export_cache = now;
        Ok(out)
    }

    /// Checks the work tree's untracked frozen files (data) against their
    /// recorded bytes.
    pub fn check_work_tree(
        &mut self,
        repo_root: &Path,
        entries: &[FrozenEntry],
        excluded: &[String],
    ) -> Result<Vec<Violation>> {
        let paths = untracked_frozen(repo_root, entries, excluded, &self.base_files);
        let now = Snapshot::take(repo_root, &paths, Some(&self.work_cache))?;
        let out = now
            .changes_from(&self.untracked)
            .into_iter()
            .map(|(path, c)| Violation {
                path,
                change: match c {
                    hashing::Change::Added => "added (untracked)",
                    hashing::Change::Removed => "deleted (untracked)",
                    hashing::Change::Modified => "modified (untracked)",
                },
            })
            .collect();
        self.work_cache = now;
        Ok(out)
    }
}

/// A frozen path that changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Violation {
    /// Repository-relative path.
    pub path: String,
    /// How it changed.
    pub change: &'static str,
}

/// `path (change); ...` for messages.
pub(crate) fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} ({})", v.path, v.change))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_folder_level() {
        assert!(glob_match("Dockerfile*", "Dockerfile"));
        assert!(glob_match("Dockerfile*", "Dockerfile.dev"));
        assert!(!glob_match("Dockerfile*", "x/Dockerfile"));
        assert!(glob_match("p/Dockerfile*", "p/Dockerfile.x"));
        assert!(!glob_match("p/Dockerfile*", "p/Dockerfile/x"));
    }

    #[test]
    fn entries_cover_files_folders_and_globs() {
        let e = |path: &str, kind| FrozenEntry {
            path: path.into(),
            kind,
            exists: true,
            reason: String::new(),
        };
        assert!(covers(&e("src/eval.rs", FrozenKind::File), "src/eval.rs"));
        assert!(!covers(
            &e("src/eval.rs", FrozenKind::File),
            "src/eval.rs.bak"
        ));
        assert!(covers(&e(".cargo", FrozenKind::Dir), ".cargo/config.toml"));
        assert!(!covers(&e(".cargo", FrozenKind::Dir), ".cargo2/x"));
        assert!(is_excluded("p/data/runs/2026/x", &["p/data/runs/".into()]));
        assert!(is_excluded("p/__pycache__/a.pyc", &[]));
    }
}
