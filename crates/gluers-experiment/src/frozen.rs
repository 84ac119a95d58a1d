//! The frozen set: what it contains by default, and checking that nothing in
//! it changed since the base commit.
//!
//! Tracked paths are compared with git (`git diff` against the base commit,
//! both for HEAD and for the work tree). Untracked and ignored paths (data
//! folders) are compared with content hashes recorded at init; a stat cache
//! (size, mtime, ctime, inode, device) avoids rehashing unchanged files, and
//! since ctime cannot be set from user space, restoring an mtime after an
//! edit does not hide it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::fsutil;
use crate::git::literal_pathspec;
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

/// The git pathspec of an entry.
fn pathspec(e: &FrozenEntry) -> String {
    match e.kind {
        FrozenKind::File | FrozenKind::Dir => literal_pathspec(&e.path),
        FrozenKind::Glob => format!(":(glob){}", e.path),
    }
}

/// Paths never considered part of the frozen set even when under a frozen
/// folder: run folders, the engine's own files, build output and bytecode
/// caches (repository-relative; a trailing `/` marks a folder).
pub(crate) fn exclusion_pathspecs(excluded: &[String]) -> Vec<String> {
    let mut out: Vec<String> = excluded
        .iter()
        .map(|p| format!(":(exclude,literal){}", p.trim_end_matches('/')))
        .collect();
    out.push(":(exclude,glob)**/__pycache__/**".into());
    out
}

/// Content and stat cache of one untracked frozen file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
    /// `blob:<git blob id>`, `symlink:<target>` or `other`.
    content: String,
}

impl FileRecord {
    fn same_stat(&self, other: &Self) -> bool {
        (self.size, self.mtime_ns, self.ctime_ns, self.ino, self.dev)
            == (
                other.size,
                other.mtime_ns,
                other.ctime_ns,
                other.ino,
                other.dev,
            )
    }
}

/// The untracked and ignored files of the frozen set, as they were at init.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Repository-relative path → record.
    pub files: BTreeMap<String, FileRecord>,
}

impl Manifest {
    /// Loads the manifest (missing file: empty).
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| ExperimentError::State {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ExperimentError::io("read", path, e)),
        }
    }

    /// Writes the manifest atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| ExperimentError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        fsutil::atomic_write(path, text.as_bytes())
    }
}

/// The `git ls-files` arguments listing the untracked (including ignored)
/// files under the frozen set.
fn untracked_args(entries: &[FrozenEntry], excluded: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "ls-files".into(),
        "-z".into(),
        "--others".into(),
        "--".into(),
    ];
    args.extend(entries.iter().map(pathspec));
    args.extend(exclusion_pathspecs(excluded));
    args
}

/// Untracked (including ignored) files under the frozen set, on disk now.
fn untracked_files(
    repo: &Repo,
    entries: &[FrozenEntry],
    excluded: &[String],
) -> Result<Vec<String>> {
    repo.git.run_z(&untracked_args(entries, excluded))
}

/// Stats and hashes `paths` (repository-relative).
fn records(repo: &Repo, paths: &[String]) -> Result<BTreeMap<String, FileRecord>> {
    let mut out = BTreeMap::new();
    let mut to_hash = Vec::new();
    for p in paths {
        let abs = repo.root.join(p);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            continue;
        };
        let content = if meta.file_type().is_symlink() {
            let target =
                std::fs::read_link(&abs).map_err(|e| ExperimentError::io("read link", &abs, e))?;
            format!("symlink:{}", target.display())
        } else if meta.is_file() && !p.contains('\n') {
            to_hash.push((p.clone(), meta.size()));
            String::new()
        } else {
            "other".into()
        };
        out.insert(
            p.clone(),
            FileRecord {
                size: meta.size(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                ino: meta.ino(),
                dev: meta.dev(),
                content,
            },
        );
    }
    let hashes = hash_files(repo, &to_hash)?;
    for ((p, _), h) in to_hash.iter().zip(hashes) {
        if let Some(r) = out.get_mut(p) {
            r.content = format!("blob:{h}");
        }
    }
    Ok(out)
}

/// The git blob ids of the files `paths` (repository-relative, with their
/// sizes), in their order. Up to one `git hash-object` per core runs at a
/// time, each given a share of the bytes (largest files first, each to the
/// least loaded process).
fn hash_files(repo: &Repo, paths: &[(String, u64)]) -> Result<Vec<String>> {
    let jobs = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8)
        .min(paths.len());
    if jobs == 0 {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(paths[i].1));
    let mut groups: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); jobs];
    for i in order {
        if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
            g.0 += paths[i].1;
            g.1.push(i);
        }
    }
    let args = ["hash-object", "--no-filters", "--stdin-paths"];
    let outputs: Vec<Result<String>> = std::thread::scope(|scope| {
        let running: Vec<_> = groups
            .iter()
            .map(|(_, members)| {
                let input: String = members
                    .iter()
                    .map(|&i| format!("{}\n", paths[i].0))
                    .collect();
                scope.spawn(move || repo.git.run_with_input(&args, input.as_bytes()))
            })
            .collect();
        running
            .into_iter()
            .map(|r| {
                r.join().unwrap_or_else(|_| {
                    Err(ExperimentError::io(
                        "hash",
                        &repo.root,
                        std::io::Error::other("a hashing thread panicked"),
                    ))
                })
            })
            .collect()
    });
    let mut out = vec![String::new(); paths.len()];
    for ((_, members), output) in groups.iter().zip(outputs) {
        let text = output?;
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() != members.len() {
            return Err(ExperimentError::Git {
                args: args.join(" "),
                dir: repo.root.clone(),
                message: format!("{} hashes for {} files", lines.len(), members.len()),
            });
        }
        for (&i, h) in members.iter().zip(lines) {
            out[i] = h.to_string();
        }
    }
    Ok(out)
}

/// Records the untracked frozen files as they are now (at init).
pub(crate) fn snapshot(
    repo: &Repo,
    entries: &[FrozenEntry],
    excluded: &[String],
) -> Result<Manifest> {
    let files = untracked_files(repo, entries, excluded)?;
    Ok(Manifest {
        files: records(repo, &files)?,
    })
}

/// Checks the frozen set of the experiment open in `ctx` against its base
/// (HEAD's history and tree too when `check_head`), and saves the manifest
/// when its stat cache was refreshed.
pub(crate) fn check_and_save(ctx: &Ctx, check_head: bool) -> Result<Vec<Violation>> {
    let path = ctx.paths.manifest();
    let mut manifest = Manifest::load(&path)?;
    let before = manifest.clone();
    let violations = Check {
        repo: &ctx.repo,
        base: &ctx.state.base_commit,
        entries: &ctx.state.frozen,
        excluded: &ctx.state.excluded,
        check_head,
    }
    .run(&mut manifest)?;
    if manifest != before {
        manifest.save(&path)?;
    }
    Ok(violations)
}

/// One change found in the frozen set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Violation {
    /// Repository-relative path.
    pub path: String,
    /// What happened to it.
    pub change: &'static str,
}

/// Joins violations for a one-line message.
pub(crate) fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} ({})", v.path, v.change))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `git diff` arguments listing the frozen paths that differ between the
/// revisions (one revision: against the work tree).
fn diff_args(revs: &[&str], specs: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "diff".into(),
        "--no-renames".into(),
        "--name-status".into(),
        "-z".into(),
    ];
    args.extend(revs.iter().map(|r| r.to_string()));
    args.push("--".into());
    args.extend(specs.iter().cloned());
    args
}

/// What to compare.
pub(crate) struct Check<'a> {
    /// The repository.
    pub repo: &'a Repo,
    /// Full hash of the base commit.
    pub base: &'a str,
    /// The frozen set.
    pub entries: &'a [FrozenEntry],
    /// Paths excluded from it.
    pub excluded: &'a [String],
    /// Also compare HEAD's history and tree (before a run); after the work
    /// tasks only the work tree and untracked files are compared.
    pub check_head: bool,
}

impl Check<'_> {
    /// Compares the frozen set with the base; returns every change found.
    /// Refreshes the stat cache in `manifest` for files whose stat changed
    /// but content did not (the caller saves it).
    pub fn run(&self, manifest: &mut Manifest) -> Result<Vec<Violation>> {
        let repo = self.repo;
        // The git queries are independent: they run side by side, while the
        // untracked files recorded at init are stat'ed here.
        let ancestor = if self.check_head {
            Some(
                repo.git
                    .start(&["merge-base", "--is-ancestor", self.base, "HEAD"])?,
            )
        } else {
            None
        };
        let specs: Vec<String> = self.entries.iter().map(pathspec).collect();
        let mut diffs = vec![repo.git.start(&diff_args(&[self.base], &specs))?];
        if self.check_head {
            diffs.push(repo.git.start(&diff_args(&[self.base, "HEAD"], &specs))?);
        }
        let untracked = repo
            .git
            .start(&untracked_args(self.entries, self.excluded))?;
        // A tracked file flagged assume-unchanged or skip-worktree hides its
        // edits from `git diff` and `git add`, while the build still reads it.
        let mut flags_args = vec![
            "ls-files".to_string(),
            "-v".into(),
            "-z".into(),
            "--".into(),
        ];
        flags_args.extend(specs.iter().cloned());
        let flags = repo.git.start(&flags_args)?;

        // Stat first; hash only what changed.
        let mut missing = Vec::new();
        let mut stat_changed = Vec::new();
        for (p, old) in &manifest.files {
            let Ok(meta) = std::fs::symlink_metadata(repo.root.join(p)) else {
                missing.push(p.clone());
                continue;
            };
            let probe = FileRecord {
                size: meta.size(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                ino: meta.ino(),
                dev: meta.dev(),
                content: String::new(),
            };
            if !old.same_stat(&probe) {
                stat_changed.push(p.clone());
            }
        }

        let mut found: BTreeMap<String, &'static str> = BTreeMap::new();
        if let Some(a) = ancestor {
            if !a.succeeds()? {
                found.insert(
                    format!(
                        "history: base commit {}",
                        &self.base[..self.base.len().min(12)]
                    ),
                    "no longer an ancestor of HEAD: the base was rewritten",
                );
            }
        }
        for diff in diffs {
            let out = diff.finish_z()?;
            for pair in out.chunks(2) {
                if let [status, path] = pair {
                    found
                        .entry(path.clone())
                        .or_insert(match status.chars().next() {
                            Some('A') => "added",
                            Some('D') => "deleted",
                            Some('T') => "type changed",
                            _ => "modified",
                        });
                }
            }
        }
        for entry in flags.finish_z()? {
            let Some((tag, path)) = entry.split_once(' ') else {
                continue;
            };
            let hidden = tag == "S" || tag.chars().all(|c| c.is_ascii_lowercase());
            if hidden {
                found.insert(
                    path.to_string(),
                    "hidden from git by assume-unchanged or skip-worktree; clear the flag with git update-index",
                );
            }
        }
        for p in untracked.finish_z()? {
            if !manifest.files.contains_key(&p) {
                found.entry(p).or_insert("added (untracked)");
            }
        }
        for p in missing {
            found.entry(p).or_insert("deleted (untracked)");
        }
        stat_changed.retain(|p| !found.contains_key(p));
        let fresh = records(repo, &stat_changed)?;
        for p in stat_changed {
            // Gone between the stat and the hash.
            if !fresh.contains_key(&p) {
                found.insert(p, "deleted (untracked)");
            }
        }
        for (p, rec) in fresh {
            if manifest.files[&p].content == rec.content {
                manifest.files.insert(p, rec);
            } else {
                found.insert(p, "modified (untracked)");
            }
        }
        Ok(found
            .into_iter()
            .map(|(path, change)| Violation { path, change })
            .collect())
    }
}
