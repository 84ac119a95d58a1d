//! Content hashes of files, taken in-process (blake3), with a stat cache.
//!
//! The engine never asks git whether a frozen file changed: git's answer
//! depends on filters, attributes, index flags and configuration that the
//! repository controls. It hashes the bytes itself. A [`Snapshot`] maps
//! paths (relative to a root folder) to what they held; hashing a large data
//! folder again is avoided by remembering each file's [`Stamp`] (size,
//! mtime, ctime, inode, device), which no write can leave unchanged since the
//! change time cannot be set from user space. Files are hashed on every core.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::fsutil::Stamp;

/// What a path held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Content {
    /// A regular file with this blake3 hash (hex).
    File(String),
    /// A symbolic link with this target.
    Symlink(String),
    /// Anything else (a fifo, a socket, a device).
    Other,
}

/// One path of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// What it held.
    pub content: Content,
    /// Its stat when hashed, if old enough to vouch for the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// Paths under one root and what they held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// Relative path (with `/`) → entry.
    pub files: BTreeMap<String, Entry>,
}

/// How a path differs between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// Different bytes (or a different kind of file).
    Modified,
    /// Present now, absent before.
    Added,
    /// Absent now, present before.
    Removed,
}

impl Change {
    /// The word for messages.
    pub fn word(self) -> &'static str {
        match self {
            Self::Modified => "modified",
            Self::Added => "added",
            Self::Removed => "removed",
        }
    }
}

impl Snapshot {
    /// Hashes `paths` under `root` (missing ones are left out), reusing the
    /// content of `cache` for every path whose stamp is unchanged.
    pub fn take<'a>(
        root: &Path,
        paths: impl IntoIterator<Item = &'a String>,
        cache: Option<&Snapshot>,
    ) -> Result<Self> {
        let started = SystemTime::now();
        let mut files = BTreeMap::new();
        let mut to_hash: Vec<(String, u64, Option<Stamp>)> = Vec::new();
        for rel in paths {
            let abs = root.join(rel);
            let Ok(meta) = std::fs::symlink_metadata(&abs) else {
                continue;
            };
            let stamp = Stamp::of(&abs).ok();
            if let (Some(s), Some(cached)) = (stamp, cache.and_then(|c| c.files.get(rel))) {
                if cached.stamp == Some(s) {
                    files.insert(rel.clone(), cached.clone());
                    continue;
                }
            }
            let fresh = stamp.filter(|s| !s.is_racy(started));
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&abs)
                    .map_err(|e| ExperimentError::io("read link", &abs, e))?;
                files.insert(
                    rel.clone(),
                    Entry {
                        content: Content::Symlink(target.to_string_lossy().into_owned()),
                        stamp: fresh,
                    },
                );
            } else if meta.is_file() {
                to_hash.push((rel.clone(), meta.len(), fresh));
            } else {
                files.insert(
                    rel.clone(),
                    Entry {
                        content: Content::Other,
                        stamp: fresh,
                    },
                );
            }
        }
        let hashes = hash_all(root, &to_hash)?;
        for ((rel, _, stamp), hash) in to_hash.into_iter().zip(hashes) {
            // A file that changed while it was hashed is hashed again next
            // time.
            let stamp = stamp.filter(|s| Stamp::of(&root.join(&rel)).ok() == Some(*s));
            files.insert(
                rel,
                Entry {
                    content: Content::File(hash),
                    stamp,
                },
            );
        }
        Ok(Self { files })
    }

    /// The paths whose content differs from `recorded` (by content only).
    pub fn changes_from(&self, recorded: &Snapshot) -> Vec<(String, Change)> {
        let mut out = Vec::new();
        for (path, was) in &recorded.files {
            match self.files.get(path) {
                None => out.push((path.clone(), Change::Removed)),
                Some(now) if now.content != was.content => {
                    out.push((path.clone(), Change::Modified));
                }
                Some(_) => {}
            }
        }
        for path in self.files.keys() {
            if !recorded.files.contains_key(path) {
                out.push((path.clone(), Change::Added));
            }
        }
        out.sort();
        out
    }
}

/// The blake3 hash (hex) of one file's bytes.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| ExperimentError::io("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(&mut file)
        .map_err(|e| ExperimentError::io("read", path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Hashes the files on every core (see [`par_map_largest_first`]).
fn hash_all(root: &Path, files: &[(String, u64, Option<Stamp>)]) -> Result<Vec<String>> {
    par_map_largest_first(files, |f| f.1, |f| hash_file(&root.join(&f.0)))
        .into_iter()
        .collect()
}

/// How many threads hash: every core, at most 8 (beyond that the disk, not
/// the hash, is the limit).
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

/// `f` applied to every item on [`workers`] threads, results in the items'
/// order. Threads take the next item from one queue ordered largest first
/// (`size`), so that one big file does not finish last on a loaded thread.
pub(crate) fn par_map_largest_first<T: Sync, R: Send>(
    items: &[T],
    size: impl Fn(&T) -> u64,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(size(&items[i])));
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..workers().min(items.len()) {
            s.spawn(|| {
                let mut mine = Vec::new();
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    mine.push((i, f(&items[i])));
                }
                done.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Every file, symlink and special file below `root/rel` (or `rel` itself
/// when it is not a folder), relative to `root`, without following links;
/// `skip` prunes relative paths (folders and files).
pub(crate) fn walk(root: &Path, rel: &str, skip: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![rel.trim_end_matches('/').to_string()];
    while let Some(cur) = stack.pop() {
        if skip(&cur) {
            continue;
        }
        let abs = if cur.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&cur)
        };
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            continue;
        };
        if !meta.is_dir() {
            out.push(cur);
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&abs) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            stack.push(if cur.is_empty() {
                name
            } else {
                format!("{cur}/{name}")
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_seen_even_with_the_mtime_restored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/a.csv"), "1,2\n").unwrap();
        std::fs::write(root.join("b.txt"), "b").unwrap();
        let paths = walk(root, "", &|_| false);
        assert_eq!(paths, vec!["b.txt".to_string(), "d/a.csv".to_string()]);
        let first = Snapshot::take(root, &paths, None).unwrap();
        let mtime = std::fs::metadata(root.join("d/a.csv"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::write(root.join("d/a.csv"), "9,9\n").unwrap();
        let f = File::options()
            .write(true)
            .open(root.join("d/a.csv"))
            .unwrap();
        f.set_modified(mtime).unwrap();
        let second = Snapshot::take(root, &paths, Some(&first)).unwrap();
        assert_eq!(
            second.changes_from(&first),
            vec![("d/a.csv".to_string(), Change::Modified)]
        );
        std::fs::write(root.join("c.txt"), "new").unwrap();
        std::fs::remove_file(root.join("b.txt")).unwrap();
        let paths = walk(root, "", &|_| false);
        let third = Snapshot::take(root, &paths, Some(&second)).unwrap();
        assert_eq!(
            third.changes_from(&second),
            vec![
                ("b.txt".to_string(), Change::Removed),
                ("c.txt".to_string(), Change::Added)
            ]
        );
    }

    #[test]
    fn walk_prunes_and_does_not_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("keep/runs/x")).unwrap();
        std::fs::write(root.join("keep/runs/x/m.json"), "{}").unwrap();
        std::fs::write(root.join("keep/f"), "f").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("keep/link")).unwrap();
        let paths = walk(root, "keep", &|p| p == "keep/runs");
        assert_eq!(paths, vec!["keep/f".to_string(), "keep/link".to_string()]);
    }
}
