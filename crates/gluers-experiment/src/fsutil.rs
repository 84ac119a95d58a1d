//! Small file-system helpers: crash-safe writes and directory creation.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// Creates `dir` and its parents if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| ExperimentError::io("create directory", dir, e))
}

/// Creates `dir` and its missing parents with mode 0700 (private to the
/// user), and tightens `dir` itself to 0700 if it already existed.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ExperimentError::io("create directory", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| ExperimentError::io("set permissions of", dir, e))
}

/// Empties `dir` (removing it and creating it again, private).
pub(crate) fn fresh_private_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(dir).map_err(|e| ExperimentError::io("remove", dir, e))?
        }
        Ok(_) => fs::remove_file(dir).map_err(|e| ExperimentError::io("remove", dir, e))?,
        Err(_) => {}
    }
    ensure_private_dir(dir)
}

/// Whether a write must reach the disk before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Synced ([`atomic_write`]): records the engine cannot lose.
    Synced,
    /// Atomic only ([`atomic_replace`]): caches, which a power cut at most
    /// makes stale.
    Cache,
}

/// Reads a JSON file the engine wrote into `T`.
pub(crate) fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| ExperimentError::io("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ExperimentError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes `value` as JSON to `path`, atomically.
pub(crate) fn save_json<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| ExperimentError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    match durability {
        Durability::Synced => atomic_write(path, &bytes),
        Durability::Cache => atomic_replace(path, &bytes),
    }
}

/// Replaces `path` with `contents` atomically: the bytes go to a temporary
/// file in the same directory, which is flushed to disk and renamed over
/// `path`; the directory is then synced. A kill at any point leaves either the
/// old or the new file, never a torn one.
pub(crate) fn atomic_write(path: &Path, contents: &[u8]) -> Result<()> {
    write_replace(path, contents, true)
}

/// Replaces `path` with `contents` atomically, like [`atomic_write`], but
/// without syncing the directory: a kill at any point, or a power loss, leaves
/// either the old or the new file, never a torn one, but after a power loss
/// it may be the old one. For records that only matter while the machine is
/// up (the process group of a running child), at a fraction of the cost.
pub(crate) fn atomic_replace(path: &Path, contents: &[u8]) -> Result<()> {
    write_replace(path, contents, false)
}

fn write_replace(path: &Path, contents: &[u8], durable: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    ensure_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gluers-tmp-")
        .tempfile_in(dir)
        .map_err(|e| ExperimentError::io("create a temporary file in", dir, e))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| ExperimentError::io("write", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| ExperimentError::io("replace", path, e.error))?;
    // Make the rename itself durable. Failure here is not fatal for
    // correctness of the contents, so only directories that can be opened are
    // synced.
    if durable {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// What `lstat` says about a file, as a cache key for its content: the
/// content is taken as unchanged while the stamp is. The change time (ctime)
/// cannot be set from user space, so restoring the modification time after
/// an edit does not hide the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
}

/// How close to "now" a timestamp may be before a stamp stops being trusted:
/// a write in the same tick of the file system's clock would leave the stamp
/// unchanged. Nanosecond timestamps come from a clock that ticks at least
/// every 10 ms (Linux: one jiffy); whole seconds mean a file system that
/// keeps seconds, or two (FAT).
const RACY_MARGIN_FINE: Duration = Duration::from_millis(100);
const RACY_MARGIN_COARSE: Duration = Duration::from_secs(2);

impl Stamp {
    /// The stamp of `path` (not following a final symlink).
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let m = fs::symlink_metadata(path)?;
        Ok(Self {
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    /// Whether the file changed too recently, relative to `since` (taken
    /// before the file was read), for the stamp to vouch for its content: a
    /// later write could keep the same timestamps.
    pub fn is_racy(&self, since: SystemTime) -> bool {
        let whole_seconds =
            self.mtime_ns % 1_000_000_000 == 0 && self.ctime_ns % 1_000_000_000 == 0;
        let margin = if whole_seconds {
            RACY_MARGIN_COARSE
        } else {
            RACY_MARGIN_FINE
        };
        let limit = since
            .checked_sub(margin)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

/// Reads a file to a string, mapping errors to [`ExperimentError::Io`].
pub(crate) fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| ExperimentError::io("read", path, e))
}

/// Returns the last `n` lines of the file at `path` (lossy UTF-8), or an
/// explanation when it cannot be read.
pub(crate) fn tail_lines(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let leftovers = fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn atomic_replace_replaces_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        atomic_replace(&p, b"one").unwrap();
        atomic_replace(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
    }

    #[test]
    fn stamps_follow_content_changes_and_fresh_files_are_racy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"one").unwrap();
        let a = Stamp::of(&p).unwrap();
        assert_eq!(a, Stamp::of(&p).unwrap());
        assert!(a.is_racy(SystemTime::now()));
        assert!(!a.is_racy(SystemTime::now() + Duration::from_secs(60)));
        fs::write(&p, b"three").unwrap();
        assert_ne!(a, Stamp::of(&p).unwrap());
    }

    #[test]
    fn whole_second_timestamps_get_a_wider_racy_margin() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        let stamp = |ns: i64| Stamp {
            size: 1,
            mtime_ns: ns,
            ctime_ns: ns,
            ino: 1,
            dev: 1,
        };
        let t = 1_700_000_000_i64 * 1_000_000_000;
        // Fine-grained: trusted 100 ms after the change.
        assert!(stamp(t + 1).is_racy(at(1_700_000_000)));
        assert!(!stamp(t + 1).is_racy(at(1_700_000_001)));
        // Whole seconds: trusted only 2 s after.
        assert!(stamp(t).is_racy(at(1_700_000_001)));
        assert!(!stamp(t).is_racy(at(1_700_000_003)));
    }

    #[test]
    fn tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        fs::write(&p, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail_lines(&p, 2), "3\n4");
        assert_eq!(tail_lines(&p, 10), "1\n2\n3\n4");
    }
}
