//! Atomic file writes: a reader, or a process killed at any moment, sees
//! the old file or the new one, never half of either.
//!
//! Run outputs are written without `fsync`: the rename alone makes them
//! atomic against a killed process, and syncing every file of every run
//! would cost more than the run itself on small DAGs. State whose loss on
//! power failure matters (the experiment engine's) is synced by its owner.

use std::io::Write;
use std::path::Path;

/// Writes `data` to `path` through a temporary file in the same folder,
/// then renames it over `path`. Creates parent folders.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(data)?;
    persist(tmp, path)
}

/// A temporary file in `path`'s folder (created if missing), to be filled
/// and then [`persist`]ed over `path`; dropped, it is removed.
pub(crate) fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(".gluers-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Renames a filled temporary file from [`temp_beside`] over `path`.
pub(crate) fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    // tempfile creates files private (0600); a replaced file keeps its
    // mode and a new one gets the usual 0644, as a plain write would.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/file.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
    }
}
