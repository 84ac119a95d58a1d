//! Atomic file writes: a reader, or a process killed at any moment, sees
//! the old file or the new one, never half of either.
//!
//! Run outputs are written without `fsync`: the rename alone makes them
//! atomic against a killed process, and syncing every file of every run
//! would cost more than the run itself on small DAGs. State whose loss on
//! power failure matters (the experiment engine's) is synced by its owner.
//!
//! Temporary files are named after their writer,
//! `.gluers-tmp-<boot>-<pid>-<start ticks>-<random>`, so that the temporary
//! files a killed writer left behind can be told from a live writer's and
//! swept ([`sweep_stale_temps`], when a run starts or is retried).

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use gluers_formats::process;

use crate::storage::StorageBackend;

/// How every temporary file gluers writes begins.
pub(crate) const TEMP_PREFIX: &str = ".gluers-tmp-";

/// `.gluers-tmp-<boot>-<pid>-<start ticks>-`: this process's temporary-file prefix.
pub(crate) fn temp_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let pid = std::process::id();
        format!(
            "{TEMP_PREFIX}{}-{pid}-{}-",
            boot_tag(),
            process::start_ticks(pid).unwrap_or(0)
        )
    })
}

fn boot_tag() -> String {
    let id: String = process::boot_id()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    if id.is_empty() {
        "noboot".to_string()
    } else {
        id
    }
}

/// Whether `name` is a temporary file of a writer that is gone (killed
/// mid-write): same boot, and its pid no longer runs or now belongs to a
/// process with another start time. A file of another boot or host, or of
/// a live writer, is not stale.
pub(crate) fn is_stale_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let mut parts = rest.splitn(4, '-');
    let (Some(boot), Some(pid), Some(ticks), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(pid), Ok(ticks)) = (pid.parse::<u32>(), ticks.parse::<u64>()) else {
        return false;
    };
    if boot == "noboot" || boot != boot_tag() {
        return false;
    }
    match process::start_ticks(pid) {
        None => process::start_ticks(std::process::id()).is_some(),
        Some(now) => now != ticks,
    }
}

/// Removes, under `folder` (a storage key) and its subfolders, the
/// temporary files of writers that were killed mid-write. Returns how many
/// it removed; failures to list or remove are skipped (best effort).
pub(crate) fn sweep_stale_temps(backend: &dyn StorageBackend, folder: &str) -> usize {
    let mut removed = 0;
    let mut pending = vec![folder.to_string()];
    while let Some(dir) = pending.pop() {
        let Ok(names) = backend.ls(&dir) else {
            continue;
        };
        for name in names {
            let key = format!("{dir}/{name}");
            if is_stale_temp(&name) {
                if backend.rm(&key, false).is_ok() {
                    removed += 1;
                }
            } else if backend.isdir(&key).unwrap_or(false) {
                pending.push(key);
            }
        }
    }
    removed
}

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
    // Named after this writer, so a killed writer's leftovers are swept.
    tempfile::Builder::new()
        .prefix(temp_prefix())
        .rand_bytes(8)
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

    #[cfg(target_os = "linux")]
    #[test]
    fn temporaries_of_dead_writers_are_stale_and_ours_are_not() {
        let ours = format!("{}abcdefgh", temp_prefix());
        assert!(!is_stale_temp(&ours));
        let boot = boot_tag();
        let pid = std::process::id();
        let ticks = process::start_ticks(pid).unwrap();
        // Our pid with another start time: a reused pid, the writer is gone.
        assert!(is_stale_temp(&format!(
            "{TEMP_PREFIX}{boot}-{pid}-{}-x",
            ticks + 1
        )));
        // Another boot (or host): cannot tell, kept.
        assert!(!is_stale_temp(&format!("{TEMP_PREFIX}0000zzzz-1-1-x")));
        assert!(!is_stale_temp("model.json"));
        assert!(!is_stale_temp(&format!("{TEMP_PREFIX}garbage")));
    }
}
