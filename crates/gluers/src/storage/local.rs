//! The local-filesystem storage backend, confined to its root by the
//! kernel: every operation goes through [`confined`](super::confined), relative
//! to a descriptor of the root, whoever calls it (the runner, a task through
//! `ctx.storage().backend()`, a project command).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{FileType, Mode, OFlags};

use super::confined::{self, Refusal, Root};
use super::{normalize_key, StorageBackend, StorageError, StorageResult};

/// Files under a folder on the local disk (Gluepy's default `data/`).
///
/// Paths are resolved by the kernel below a descriptor of the root held by
/// the backend (`openat2` with `RESOLVE_BENEATH`, or `O_NOFOLLOW` walks where
/// that is missing): `..`, absolute paths and symbolic links that lead out
/// of the root are refused, at the moment of use, for every operation.
pub struct LocalStorage {
    root: PathBuf,
    /// The root as the user configured it, for messages.
    shown_root: String,
    /// The root's descriptor, opened when the root first exists (the
    /// first write may create it).
    fd: OnceLock<Root>,
}

impl LocalStorage {
    /// Storage rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        LocalStorage {
            shown_root: root.display().to_string(),
            root,
            fd: OnceLock::new(),
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root's descriptor; `create` makes the root folder when missing.
    fn handle(&self, key: &str, create: bool) -> StorageResult<&Root> {
        if let Some(root) = self.fd.get() {
            return Ok(root);
        }
        if create {
            std::fs::create_dir_all(&self.root).map_err(|e| self.io(key, e))?;
        }
        let root = Root::open(&self.root).map_err(|e| self.io(key, e))?;
        Ok(self.fd.get_or_init(|| root))
    }

    /// The key for `path`, refusing `..` out of the root and absolute paths.
    fn key(&self, path: &str) -> StorageResult<String> {
        normalize_key(path).map_err(|_| StorageError::Escape {
            path: path.to_string(),
            reason: "'..' and absolute paths lead out of the storage root",
            root: self.shown_root.clone(),
        })
    }

    fn refused(&self, key: &str, r: Refusal) -> StorageError {
        match r {
            Refusal::Escape => StorageError::Escape {
                path: self.display(key),
                reason: "a symbolic link leads out of the storage root",
                root: self.shown_root.clone(),
            },
            Refusal::Io(e) => self.io(key, e),
        }
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

    /// Opens `key` below the root; `Ok(None)` when it does not exist.
    fn open(&self, key: &str, flags: OFlags) -> StorageResult<Option<OwnedFd>> {
        let root = match self.handle(key, false) {
            Ok(root) => root,
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match root.open_at(key, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Refusal::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
            {
                Ok(None)
            }
            Err(r) => Err(self.refused(key, r)),
        }
    }

    fn file_type(&self, path: &str) -> StorageResult<Option<FileType>> {
        let key = self.key(path)?;
        match self.open(&key, OFlags::PATH)? {
            Some(fd) => Ok(Some(
                confined::file_type(&fd).map_err(|e| self.io(&key, e))?,
            )),
            None => Ok(None),
        }
    }

    #[cfg(test)]
    fn force_walk(&self) {
        self.handle("", true).unwrap().force_walk();
    }
}

impl StorageBackend for LocalStorage {
    fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        let key = self.key(path)?;
        let fd = self
            .open(&key, OFlags::RDONLY)?
            .ok_or_else(|| StorageError::NotFound {
                path: self.display(&key),
            })?;
        if confined::file_type(&fd).map_err(|e| self.io(&key, e))? == FileType::Directory {
            return Err(StorageError::Invalid {
                path: self.display(&key),
                message: "is a folder, not a file".into(),
            });
        }
        confined::read_all(&fd).map_err(|e| self.io(&key, e))
    }

    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        let key = self.key(path)?;
        if key.is_empty() {
            return Err(StorageError::Invalid {
                path: self.shown_root.clone(),
                message: "is the storage root, not a file".into(),
            });
        }
        let root = self.handle(&key, true)?;
        let (dir, name) = root.parent(&key, true).map_err(|r| self.refused(&key, r))?;
        confined::write_atomic_at(&dir, name, data).map_err(|e| self.io(&key, e))
    }

    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        let key = self.key(path)?;
        if key.is_empty() {
            return Err(StorageError::Invalid {
                path: self.shown_root.clone(),
                message: "is the storage root; remove what is in it instead".into(),
            });
        }
        let root = self.handle(&key, false)?;
        let (dir, name) = root
            .parent(&key, false)
            .map_err(|r| self.refused(&key, r))?;
        let st = rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io(&key, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory && !recursive {
            return Err(StorageError::Invalid {
                path: self.display(&key),
                message: "is a folder; remove it with recursive = true".into(),
            });
        }
        confined::remove_tree(&dir, name).map_err(|e| self.io(&key, e))
    }

    fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        let data = self.read(from)?;
        self.write(to, &data)
    }

    fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        let key = self.key(path)?;
        let root = self.handle(&key, false)?;
        let dir = root
            .dir(&key, false, confined::LIST_DIR)
            .map_err(|r| self.refused(&key, r))?;
        confined::list(&dir).map_err(|e| self.io(&key, e))
    }

    fn mkdir(&self, path: &str) -> StorageResult<()> {
        let key = self.key(path)?;
        let root = self.handle(&key, true)?;
        root.dir(&key, true, confined::PATH_DIR)
            .map(drop)
            .map_err(|r| self.refused(&key, r))
    }

    fn isdir(&self, path: &str) -> StorageResult<bool> {
        Ok(self.file_type(path)? == Some(FileType::Directory))
    }

    fn isfile(&self, path: &str) -> StorageResult<bool> {
        Ok(self.file_type(path)? == Some(FileType::RegularFile))
    }

    fn display(&self, path: &str) -> String {
        if path.is_empty() {
            self.shown_root.clone()
        } else {
            format!("{}/{}", self.shown_root.trim_end_matches('/'), path)
        }
    }

    /// The path on disk after checking, through the root's descriptor, that
    /// it stays below the root. A path is only as safe as that moment: code
    /// that must not follow a later swap uses the backend's operations.
    fn local_path(&self, path: &str) -> Option<PathBuf> {
        let key = self.key(path).ok()?;
        match self.open(&key, OFlags::PATH) {
            Ok(_) => Some(if key.is_empty() {
                self.root.clone()
            } else {
                self.root.join(&key)
            }),
            Err(_) => None,
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

    #[test]
    fn the_fallback_walk_refuses_every_link_and_escape() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"SECRET").unwrap();
        let root = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(root.path());
        s.write("runs/a/x.txt", b"hello").unwrap();
        s.force_walk();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink("runs", root.path().join("alias")).unwrap();
        assert_eq!(s.read("runs/a/x.txt").unwrap(), b"hello");
        for path in ["out/secret", "alias/a/x.txt"] {
            assert!(
                matches!(s.read(path), Err(StorageError::Escape { .. })),
                "{path}: {:?}",
                s.read(path)
            );
        }
        assert!(s.write("out/new", b"x").is_err());
        assert!(s.read("../secret").is_err());
        assert!(!outside.path().join("new").exists());
        s.write("runs/b/y.txt", b"walked").unwrap();
        assert_eq!(s.ls("runs").unwrap(), ["a", "b"]);
        s.rm("runs", true).unwrap();
        assert!(outside.path().join("secret").exists());
    }

    #[test]
    fn the_fallback_walk_never_follows_a_swapped_folder() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"SECRET").unwrap();
        let root = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(root.path());
        s.write("runs/x/secret", b"inside").unwrap();
        s.force_walk();
        std::os::unix::fs::symlink(outside.path(), root.path().join("runs/x.link")).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let runs = std::fs::File::open(root.path().join("runs")).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    rustix::fs::renameat_with(
                        &runs,
                        "x",
                        &runs,
                        "x.link",
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                }
            });
            for i in 0..3000 {
                if let Ok(bytes) = s.read("runs/x/secret") {
                    assert_eq!(bytes, b"inside");
                }
                let _ = s.write(&format!("runs/x/w{}", i % 4), b"w");
            }
            stop.store(true, Ordering::Relaxed);
        });
        let names: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "nothing written outside");
    }

    #[test]
    fn short_reads_are_not_the_end_of_the_file() {
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            for part in [&b"abc"[..], b"def", b"ghi"] {
                writer.write_all(part).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        let fd = std::os::fd::OwnedFd::from(reader);
        assert_eq!(confined::read_all(&fd).unwrap(), b"abcdefghi");
        feeder.join().unwrap();
    }
}
