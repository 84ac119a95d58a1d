//! Storage: where runs read and write files, behind a backend trait.
//!
//! Paths are storage keys: relative, `/`-separated, confined to the storage
//! root. [`StorageBackend`] is what a backend implements (local disk and
//! memory here; object stores later); [`Storage`] is the handle tasks use,
//! which adds the run folder (`runpath`) and text helpers.

#[cfg(feature = "s3")]
mod aws_profile;
mod confined;
#[cfg(feature = "gcs")]
mod gcs;
mod local;
mod memory;
#[cfg(feature = "object-store")]
mod object;

use std::path::PathBuf;
use std::sync::Arc;

pub use local::LocalStorage;
pub use memory::MemoryStorage;
#[cfg(feature = "object-store")]
pub use object::ObjectStorage;

/// A storage failure, naming the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The path does not exist.
    #[error("{path}: no such file or folder on the storage")]
    NotFound {
        /// The storage path as the user wrote it.
        path: String,
    },
    /// The path would leave the storage root.
    #[error("{path}: {reason}; storage paths must stay inside the storage root {root}")]
    Escape {
        /// The offending path.
        path: String,
        /// Why it is refused.
        reason: &'static str,
        /// The storage root.
        root: String,
    },
    /// A write went over the process's file-size limit (EFBIG, `ulimit -f`).
    #[error("{path}: file too large for this process's file-size limit (ulimit -f); raise the limit or write less")]
    TooLarge {
        /// The path that failed.
        path: String,
    },
    /// An I/O error from the backend.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A remote store (S3, GCS, Azure) refused or failed a request.
    #[error("{path}: {message}")]
    Remote {
        /// The object, as a URL (`s3://bucket/prefix/key`).
        path: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The operation does not apply to this path (for example `rm` on a folder without `recursive`).
    #[error("{path}: {message}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Shorthand for storage results.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// The operations a storage backend provides (Gluepy's storage API).
///
/// Paths are keys relative to the backend's root, already checked by
/// [`normalize_key`]. Writes replace whole files atomically.
pub trait StorageBackend: Send + Sync {
    /// Reads a whole file.
    fn read(&self, path: &str) -> StorageResult<Vec<u8>>;
    /// Creates or replaces a file with `data`, creating parent folders.
    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()>;
    /// Removes a file, or a folder with everything in it when `recursive`.
    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()>;
    /// Copies a file.
    fn cp(&self, from: &str, to: &str) -> StorageResult<()>;
    /// The names of the entries of a folder, sorted.
    fn ls(&self, path: &str) -> StorageResult<Vec<String>>;
    /// Creates a folder and its parents.
    fn mkdir(&self, path: &str) -> StorageResult<()>;
    /// Whether `path` is a folder.
    fn isdir(&self, path: &str) -> StorageResult<bool>;
    /// Whether `path` is a file.
    fn isfile(&self, path: &str) -> StorageResult<bool>;
    /// Reads many whole files; one result per path, in order. Backends
    /// override this when a batch is cheaper than single reads (`--compare`
    /// over thousands of run folders).
    fn read_many(&self, paths: &[String]) -> Vec<StorageResult<Vec<u8>>> {
        paths.iter().map(|p| self.read(p)).collect()
    }
    /// Every file under the folder `path`, as keys relative to it, from
    /// one listing; `None` when the backend has no cheaper way than
    /// walking with [`ls`](Self::ls) (object stores list a whole prefix in
    /// one paginated request, which `--compare` uses).
    fn list_files(&self, _path: &str) -> Option<StorageResult<Vec<String>>> {
        None
    }
    /// A human-readable location for messages, e.g. `data/runs/x/y.csv`.
    fn display(&self, path: &str) -> String;
    /// The path on the local disk, for backends that have one.
    fn local_path(&self, _path: &str) -> Option<PathBuf> {
        None
    }
}

/// Opens the backend a storage URL names: `file://path`, `memory://`, or an object store (`s3://`, `gs://`, `az://`, each behind
/// its gluers feature) with `options` as `object_store` configuration keys.
pub fn open_url(
    url: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> StorageResult<Arc<dyn StorageBackend>> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalStorage::new(path)));
    }
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(MemoryStorage::new()));
    }
    #[cfg(feature = "object-store")]
    {
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Arc::new(ObjectStorage::open(url, &options)?))
    }
    #[cfg(not(feature = "object-store"))]
    {
        let _ = options;
        let feature = match url.split("://").next() {
            Some("s3") => "s3",
            Some("gs") => "gcs",
            Some("az") => "azure",
            _ => {
                return Err(StorageError::Invalid {
                    path: url.to_string(),
                    message: "is not a storage URL; use s3://bucket/prefix, gs://, az://, file://path or memory://".into(),
                })
            }
        };
        Err(StorageError::Invalid {
            path: url.to_string(),
            message: format!("this project was built without the gluers feature `{feature}`; enable it on the gluers dependency in Cargo.toml"),
        })
    }
}

/// Turns a user path into a storage key: `/`-separated, no `.` or `..`,
/// not absolute. Refuses anything that would leave the root.
///
/// ```
/// assert_eq!(gluers::storage::normalize_key("runs/./a//b.csv").unwrap(), "runs/a/b.csv");
/// assert!(gluers::storage::normalize_key("../etc/passwd").is_err());
/// ```
pub fn normalize_key(path: &str) -> StorageResult<String> {
    let escape = |reason| StorageError::Escape {
        path: path.to_string(),
        reason,
        root: "of this project".to_string(),
    };
    if path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':') && path.len() > 1 && path.as_bytes()[1] == b':'
    {
        return Err(escape("absolute paths are not storage paths"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(escape("'..' leads out of the storage root"));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// The storage handle tasks use: a backend plus the current run folder.
#[derive(Clone)]
pub struct Storage {
    backend: Arc<dyn StorageBackend>,
    run_folder: String,
}

impl Storage {
    /// Wraps `backend`, with `run_folder` (a storage key) for [`runpath`](Self::runpath).
    pub fn new(backend: Arc<dyn StorageBackend>, run_folder: impl Into<String>) -> Self {
        Storage {
            backend,
            run_folder: run_folder.into(),
        }
    }

    /// The run folder, as a storage key (e.g. `runs/2026/11/25/<run_id>`).
    pub fn run_folder(&self) -> &str {
        &self.run_folder
    }

    /// `path` inside the run folder, as a storage key.
    ///
    /// ```
    /// let s = gluers::Storage::new(std::sync::Arc::new(gluers::MemoryStorage::new()), "runs/2026/1/2/x");
    /// assert_eq!(s.runpath("model.json"), "runs/2026/1/2/x/model.json");
    /// ```
    pub fn runpath(&self, path: &str) -> String {
        if path.is_empty() {
            self.run_folder.clone()
        } else if self.run_folder.is_empty() {
            // Outside a run (a project command), paths are from the root.
            path.trim_start_matches('/').to_string()
        } else {
            format!("{}/{}", self.run_folder, path.trim_start_matches('/'))
        }
    }

    /// Reads a whole file (Gluepy's `open`).
    pub fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        self.backend.read(&normalize_key(path)?)
    }

    /// Reads a whole UTF-8 text file.
    pub fn read_to_string(&self, path: &str) -> StorageResult<String> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|_| StorageError::Invalid {
            path: self.display(path),
            message: "is not UTF-8 text".to_string(),
        })
    }

    /// Creates or atomically replaces a file (Gluepy's `touch` with content).
    pub fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        self.backend.write(&normalize_key(path)?, data)
    }

    /// Creates an empty file if it does not exist.
    pub fn touch(&self, path: &str) -> StorageResult<()> {
        let key = normalize_key(path)?;
        if self.backend.isfile(&key)? {
            return Ok(());
        }
        self.backend.write(&key, b"")
    }

    /// Removes a file, or a folder and its content when `recursive`.
    pub fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        self.backend.rm(&normalize_key(path)?, recursive)
    }

    /// Copies a file.
    pub fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        self.backend.cp(&normalize_key(from)?, &normalize_key(to)?)
    }

    /// The names of a folder's entries, sorted.
    pub fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        self.backend.ls(&normalize_key(path)?)
    }

    /// Creates a folder and its parents.
    pub fn mkdir(&self, path: &str) -> StorageResult<()> {
        self.backend.mkdir(&normalize_key(path)?)
    }

    /// Whether `path` is a folder.
    pub fn isdir(&self, path: &str) -> StorageResult<bool> {
        self.backend.isdir(&normalize_key(path)?)
    }

    /// Whether `path` is a file.
    pub fn isfile(&self, path: &str) -> StorageResult<bool> {
        self.backend.isfile(&normalize_key(path)?)
    }

    /// Whether `path` exists, as a file or a folder.
    pub fn exists(&self, path: &str) -> StorageResult<bool> {
        let key = normalize_key(path)?;
        Ok(self.backend.isfile(&key)? || self.backend.isdir(&key)?)
    }

    /// Where `path` is, for messages.
    pub fn display(&self, path: &str) -> String {
        match normalize_key(path) {
            Ok(key) => self.backend.display(&key),
            Err(_) => path.to_string(),
        }
    }

    /// The file on the local disk, when the backend is local.
    pub fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.backend.local_path(&normalize_key(path).ok()?)
    }

    /// The backend, for code that needs it directly.
    pub fn backend(&self) -> &Arc<dyn StorageBackend> {
        &self.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_normalised_and_confined() {
        assert_eq!(normalize_key("a/b/../c").unwrap(), "a/c");
        assert_eq!(normalize_key("").unwrap(), "");
        assert!(normalize_key("a/../../b").is_err());
        assert!(normalize_key("/etc/passwd").is_err());
        assert!(normalize_key("C:/x").is_err());
    }

    #[test]
    fn urls_open_their_backend_or_say_what_is_missing() {
        let none = std::collections::BTreeMap::new();
        let dir = tempfile::tempdir().unwrap();
        let local = open_url(&format!("file://{}", dir.path().display()), &none).unwrap();
        local.write("a.txt", b"x").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"x");
        let memory = open_url("memory://", &none).unwrap();
        assert_eq!(memory.display("k"), "memory://k");
        let err = open_url("ftp://host/x", &none).err().unwrap().to_string();
        assert!(err.contains("ftp") && err.contains("s3://"), "{err}");
        #[cfg(not(feature = "s3"))]
        {
            let err = open_url("s3://bucket/p", &none).err().unwrap().to_string();
            assert!(err.contains("feature `s3`"), "{err}");
        }
        #[cfg(feature = "s3")]
        {
            let err = open_url("s3://bucket/../x", &none)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("'..'"), "{err}");
        }
    }
}
