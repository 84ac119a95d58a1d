//! `--compare` over an object store: what one listing of `runs/` tells.
//!
//! On an object store every read is a request, and the server, not gluers,
//! sets the pace. The listing already says which files exist, so a file it
//! does not hold (`params.json` of a run that logged none) is "not found"
//! without asking, and a file read once (`run.json`, read to find the
//! DAG's runs and again for the table) is not fetched twice.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::storage::{StorageBackend, StorageError, StorageResult};

/// A backend seen through one listing: reads of unlisted files fail at
/// once, and whole-file reads are kept for the rest of the command.
pub(super) struct Listed<'a> {
    backend: &'a dyn StorageBackend,
    files: HashSet<String>,
    read: Mutex<HashMap<String, Vec<u8>>>,
}

impl<'a> Listed<'a> {
    /// `files` are the listed keys under `root`, relative to it.
    pub(super) fn new(backend: &'a dyn StorageBackend, root: &str, files: &[String]) -> Self {
        Listed {
            backend,
            files: files.iter().map(|f| format!("{root}/{f}")).collect(),
            read: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StorageBackend for Listed<'_> {
    fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        self.read_many(&[path.to_string()]).remove(0)
    }

    fn read_many(&self, paths: &[String]) -> Vec<StorageResult<Vec<u8>>> {
        let mut results: Vec<Option<StorageResult<Vec<u8>>>> = Vec::with_capacity(paths.len());
        let mut fetch = Vec::new();
        {
            let cache = self.cache();
            for path in paths {
                if !self.files.contains(path) {
                    results.push(Some(Err(StorageError::NotFound {
                        path: self.backend.display(path),
                    })));
                } else if let Some(bytes) = cache.get(path) {
                    results.push(Some(Ok(bytes.clone())));
                } else {
                    fetch.push(path.clone());
                    results.push(None);
                }
            }
        }
        let mut fetched = self.backend.read_many(&fetch).into_iter();
        let mut cache = self.cache();
        for (slot, path) in results.iter_mut().filter(|r| r.is_none()).zip(fetch.iter()) {
            let got = fetched.next().unwrap_or_else(|| {
                Err(StorageError::NotFound {
                    path: self.backend.display(path),
                })
            });
            if let Ok(bytes) = &got {
                cache.insert(path.clone(), bytes.clone());
            }
            *slot = Some(got);
        }
        results.into_iter().flatten().collect()
    }

    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        self.backend.write(path, data)
    }
    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        self.backend.rm(path, recursive)
    }
    fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        self.backend.cp(from, to)
    }
    fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        self.backend.ls(path)
    }
    fn mkdir(&self, path: &str) -> StorageResult<()> {
        self.backend.mkdir(path)
    }
    fn isdir(&self, path: &str) -> StorageResult<bool> {
        self.backend.isdir(path)
    }
    fn isfile(&self, path: &str) -> StorageResult<bool> {
        Ok(self.files.contains(path))
    }
    fn display(&self, path: &str) -> String {
        self.backend.display(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn unlisted_files_are_not_read_and_listed_ones_once() {
        let store = MemoryStorage::new();
        store.write("runs/a/run.json", b"1").unwrap();
        store
            .write("runs/a/late.json", b"written after the listing")
            .unwrap();
        let listed = Listed::new(&store, "runs", &["a/run.json".to_string()]);
        assert_eq!(listed.read("runs/a/run.json").unwrap(), b"1");
        assert!(matches!(
            listed.read("runs/a/late.json"),
            Err(StorageError::NotFound { .. })
        ));
        store.write("runs/a/run.json", b"2").unwrap();
        let again = listed.read_many(&["runs/a/none".into(), "runs/a/run.json".into()]);
        assert!(again[0].is_err());
        assert_eq!(again[1].as_ref().unwrap(), b"1", "read once per command");
    }
}
