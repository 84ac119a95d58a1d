//! The local-filesystem storage backend.

use std::path::{Path, PathBuf};

use super::{StorageBackend, StorageError, StorageResult};
use crate::atomic::write_atomic;

/// Files under a folder on the local disk (Gluepy's default `data/`).
///
/// Every path is checked to stay inside the root, following symlinks: a
/// link inside the root that points outside it is refused.
pub struct LocalStorage {
    root: PathBuf,
    /// The root as the user configured it, for messages.
    shown_root: String,
    /// The canonical root once it exists; computed lazily because the
    /// folder may be created by the first write.
    canonical_root: std::sync::OnceLock<PathBuf>,
    /// Folders below the root already checked for links.
    checked: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
}

impl LocalStorage {
    /// Storage rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        LocalStorage {
            shown_root: root.display().to_string(),
            root,
            canonical_root: std::sync::OnceLock::new(),
            checked: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn canonical_root(&self) -> Option<&Path> {
        if let Some(p) = self.canonical_root.get() {
            return Some(p);
        }
        let canonical = std::fs::canonicalize(&self.root).ok()?;
        Some(self.canonical_root.get_or_init(|| canonical))
    }

    /// The file for `key`, refusing symlink escapes: every existing
    /// component below the root is checked with `lstat`, and a symlink must
    /// resolve inside the canonical root. Folders already checked are
    /// remembered, so repeated writes into a run folder cost one `lstat`.
    fn resolve(&self, key: &str) -> StorageResult<PathBuf> {
        let path = if key.is_empty() {
            self.root.clone()
        } else {
            self.root.join(key)
        };
        let Some(root) = self.canonical_root() else {
            // No root yet: nothing under it can be a link.
            return Ok(path);
        };
        let mut current = self.root.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            current.push(part);
            if self.checked_dirs().contains(&current) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&current) else {
                break; // Nothing exists below a missing component.
            };
            if meta.file_type().is_symlink() {
                let inside = std::fs::canonicalize(&current)
                    .map(|real| real.starts_with(root))
                    .unwrap_or(false);
                if !inside {
                    return Err(StorageError::Escape {
                        path: self.display(key),
                        reason: "a symbolic link leads out of the storage root",
                        root: self.shown_root.clone(),
                    });
                }
            }
            if meta.is_dir() || meta.file_type().is_symlink() {
                self.checked_dirs().insert(current.clone());
            }
        }
        Ok(path)
    }

    fn checked_dirs(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<PathBuf>> {
        self.checked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a folder after checking it, and lists which of its entries
    /// are links; `None` when that fails (the careful path then runs).
    fn check_folder(&self, folder: &str) -> Option<CheckedFolder> {
        let dir = self.resolve(folder).ok()?;
        let mut links = std::collections::HashSet::new();
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            if entry.file_type().ok()?.is_symlink() {
                links.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let flags = rustix::fs::OFlags::DIRECTORY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC;
        let fd = rustix::fs::open(&dir, flags, rustix::fs::Mode::empty()).ok()?;
        Some(CheckedFolder { fd, links })
    }

    fn io(&self, key: &str, source: std::io::Error) -> StorageError {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound {
                path: self.display(key),
            }
        } else if source.kind() == std::io::ErrorKind::FileTooLarge {
            StorageError::TooLarge {
                path: self.display(key),
            }
        } else {
            StorageError::Io {
                path: self.display(key),
                source,
            }
        }
    }
}

impl StorageBackend for LocalStorage {
    fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        std::fs::read(self.resolve(path)?).map_err(|e| self.io(path, e))
    }

    /// Checks each parent folder once (one directory listing tells which
    /// entries are links), then opens each file without following a final
    /// link: about three system calls a file instead of seven.
    fn read_many(&self, paths: &[String]) -> Vec<StorageResult<Vec<u8>>> {
        let mut folders: std::collections::HashMap<&str, Option<CheckedFolder>> =
            std::collections::HashMap::new();
        paths
            .iter()
            .map(|key| {
                let Some((folder, _file)) = key.rsplit_once('/') else {
                    return self.read(key);
                };
                let Some((grandparent, name)) = folder.rsplit_once('/') else {
                    return self.read(key);
                };
                let checked = folders
                    .entry(grandparent)
                    .or_insert_with(|| self.check_folder(grandparent));
                match checked {
                    Some(f) if !f.links.contains(name) => {
                        match read_at(&f.fd, &key[grandparent.len() + 1..]) {
                            Ok(bytes) => Ok(bytes),
                            // A link, or anything unusual: the careful path decides.
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => self.read(key),
                            Err(e) => Err(self.io(key, e)),
                        }
                    }
                    _ => self.read(key),
                }
            })
            .collect()
    }

    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        let file = self.resolve(path)?;
        write_atomic(&file, data).map_err(|e| self.io(path, e))
    }

    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        let file = self.resolve(path)?;
        let meta = std::fs::symlink_metadata(&file).map_err(|e| self.io(path, e))?;
        if meta.is_dir() {
            if !recursive {
                return Err(StorageError::Invalid {
                    path: self.display(path),
                    message: "is a folder; remove it with recursive = true".into(),
                });
            }
            std::fs::remove_dir_all(&file).map_err(|e| self.io(path, e))
        } else {
            std::fs::remove_file(&file).map_err(|e| self.io(path, e))
        }
    }

    fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        let data = self.read(from)?;
        self.write(to, &data)
    }

    fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        let dir = self.resolve(path)?;
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| self.io(path, e))? {
            let entry = entry.map_err(|e| self.io(path, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn mkdir(&self, path: &str) -> StorageResult<()> {
        std::fs::create_dir_all(self.resolve(path)?).map_err(|e| self.io(path, e))
    }

    fn isdir(&self, path: &str) -> StorageResult<bool> {
        Ok(self.resolve(path)?.is_dir())
    }

    fn isfile(&self, path: &str) -> StorageResult<bool> {
        Ok(self.resolve(path)?.is_file())
    }

    fn display(&self, path: &str) -> String {
        if path.is_empty() {
            self.shown_root.clone()
        } else {
            format!("{}/{}", self.shown_root.trim_end_matches('/'), path)
        }
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.resolve(path).ok()
    }
}

/// A folder checked for links once, held open for reads relative to it.
struct CheckedFolder {
    fd: std::os::fd::OwnedFd,
    links: std::collections::HashSet<String>,
}

/// Reads a whole file relative to `dir`, refusing to follow a link in its
/// last component. Relative opens skip the walk of the long absolute path,
/// and a short read of a regular file is its end: about three system calls
/// a file.
fn read_at(dir: &std::os::fd::OwnedFd, rel: &str) -> std::io::Result<Vec<u8>> {
    let flags =
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, rel, flags, rustix::fs::Mode::empty())?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match rustix::io::read(&fd, &mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    return Ok(bytes);
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_out_of_root_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let s = LocalStorage::new(root.path());
        let err = s.read("link/secret").unwrap_err();
        assert!(matches!(err, StorageError::Escape { .. }), "{err}");
        assert!(s.write("link/new", b"y").is_err());
        assert!(!outside.path().join("new").exists());
    }

    #[test]
    fn read_many_reads_files_and_still_refuses_escapes() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("run")).unwrap();
        std::fs::write(outside.path().join("run/m.json"), b"secret").unwrap();
        std::fs::write(outside.path().join("m.json"), b"secret").unwrap();
        let root = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(root.path());
        s.write("runs/a/m.json", b"a").unwrap();
        s.write("runs/b/m.json", b"b").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("run"),
            root.path().join("runs/linked_dir"),
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("runs/c")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("m.json"),
            root.path().join("runs/c/m.json"),
        )
        .unwrap();
        let keys: Vec<String> = [
            "runs/a/m.json",
            "runs/b/m.json",
            "runs/linked_dir/m.json",
            "runs/c/m.json",
            "runs/none/m.json",
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        let got = s.read_many(&keys);
        assert_eq!(got[0].as_ref().unwrap(), b"a");
        assert_eq!(got[1].as_ref().unwrap(), b"b");
        assert!(
            matches!(got[2], Err(StorageError::Escape { .. })),
            "{:?}",
            got[2]
        );
        assert!(
            matches!(got[3], Err(StorageError::Escape { .. })),
            "{:?}",
            got[3]
        );
        assert!(
            matches!(got[4], Err(StorageError::NotFound { .. })),
            "{:?}",
            got[4]
        );
    }

    #[test]
    fn write_read_ls_rm() {
        let root = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(root.path().join("data"));
        s.write("runs/a/x.txt", b"hello").unwrap();
        assert_eq!(s.read("runs/a/x.txt").unwrap(), b"hello");
        assert_eq!(s.ls("runs/a").unwrap(), vec!["x.txt"]);
        s.cp("runs/a/x.txt", "runs/b/y.txt").unwrap();
        assert!(s.isfile("runs/b/y.txt").unwrap());
        assert!(s.rm("runs", false).is_err());
        s.rm("runs", true).unwrap();
        assert!(matches!(
            s.read("runs/a/x.txt"),
            Err(StorageError::NotFound { .. })
        ));
    }
}
