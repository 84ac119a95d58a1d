//! An in-memory storage backend, for tests and dry runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{StorageBackend, StorageError, StorageResult};

/// Files kept in memory, keyed by storage path. Folders exist implicitly
/// (as prefixes of files) or explicitly (after `mkdir`).
#[derive(Default)]
pub struct MemoryStorage {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    dirs: Mutex<std::collections::BTreeSet<String>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dirs(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    }
}

impl StorageBackend for MemoryStorage {
    fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        self.files()
            .get(path)
            .cloned()
            .ok_or_else(|| StorageError::NotFound {
                path: self.display(path),
            })
    }

    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        if self.isdir(path)? {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is a folder".into(),
            });
        }
        self.files().insert(path.to_string(), data.to_vec());
        Ok(())
    }

    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        if self.files().remove(path).is_some() {
            return Ok(());
        }
        if !self.isdir(path)? {
            return Err(StorageError::NotFound {
                path: self.display(path),
            });
        }
        if !recursive {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is a folder; remove it with recursive = true".into(),
            });
        }
        let p = prefix(path);
        self.files().retain(|k, _| !k.starts_with(&p));
        self.dirs().retain(|k| k != path && !k.starts_with(&p));
        Ok(())
    }

    fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        let data = self.read(from)?;
        self.write(to, &data)
    }

    fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        if !self.isdir(path)? {
            return Err(StorageError::NotFound {
                path: self.display(path),
            });
        }
        let p = prefix(path);
        let mut names = std::collections::BTreeSet::new();
        let files = self.files();
        let dirs = self.dirs();
        for key in files.keys().chain(dirs.iter()) {
            if let Some(rest) = key.strip_prefix(&p) {
                if let Some(name) = rest.split('/').next().filter(|n| !n.is_empty()) {
                    names.insert(name.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn mkdir(&self, path: &str) -> StorageResult<()> {
        if self.files().contains_key(path) {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is a file".into(),
            });
        }
        self.dirs().insert(path.to_string());
        Ok(())
    }

    fn isdir(&self, path: &str) -> StorageResult<bool> {
        if path.is_empty() || self.dirs().contains(path) {
            return Ok(true);
        }
        let p = prefix(path);
        Ok(self.files().keys().any(|k| k.starts_with(&p))
            || self.dirs().iter().any(|k| k.starts_with(&p)))
    }

    fn isfile(&self, path: &str) -> StorageResult<bool> {
        Ok(self.files().contains_key(path))
    }

    fn display(&self, path: &str) -> String {
        format!("memory://{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_listing() {
        let s = MemoryStorage::new();
        s.write("runs/a/x.txt", b"1").unwrap();
        s.write("runs/a/sub/y.txt", b"2").unwrap();
        assert_eq!(s.read("runs/a/x.txt").unwrap(), b"1");
        assert_eq!(s.ls("runs/a").unwrap(), vec!["sub", "x.txt"]);
        assert!(s.isdir("runs").unwrap());
        assert!(s.rm("runs/a", false).is_err());
        s.rm("runs/a", true).unwrap();
        assert!(!s.isdir("runs/a").unwrap());
        assert!(matches!(
            s.read("runs/a/x.txt"),
            Err(StorageError::NotFound { .. })
        ));
    }
}
