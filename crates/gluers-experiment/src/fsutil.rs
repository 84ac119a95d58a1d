//! Small file-system helpers: crash-safe writes and directory creation.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{ExperimentError, Result};

/// Creates `dir` and its parents if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| ExperimentError::io("create directory", dir, e))
}

/// Replaces `path` with `contents` atomically: the bytes go to a temporary
/// file in the same directory, which is flushed to disk and renamed over
/// `path`; the directory is then synced. A kill at any point leaves either the
/// old or the new file, never a torn one.
pub(crate) fn atomic_write(path: &Path, contents: &[u8]) -> Result<()> {
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
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
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
    fn tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        fs::write(&p, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail_lines(&p, 2), "3\n4");
        assert_eq!(tail_lines(&p, 10), "1\n2\n3\n4");
    }
}
