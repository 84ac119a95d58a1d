//! One engine command at a time per repository.
//!
//! The lock is an advisory exclusive lock (flock) on the repository's `lock`
//! file in the engine's state root,
//! taken without waiting. The operating system drops it when the engine
//! exits, even on `kill -9`, and it is not inherited by child processes
//! (the file is opened close-on-exec).

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{ExperimentError, Result};
use crate::fsutil;

/// The held repository lock; released on drop.
#[derive(Debug)]
pub(crate) struct EngineLock {
    _file: File,
}

impl EngineLock {
    /// Takes the lock at `path`, waiting while a sibling holds it: the
    /// parallel candidates of a batch take turns this way where they must
    /// share a folder (a Gluepy evaluator's storage folder).
    pub fn wait(path: &Path) -> Result<Self> {
        let file = open(path)?;
        fs4::FileExt::lock(&file).map_err(|e| ExperimentError::io("lock", path, e))?;
        Ok(Self { _file: file })
    }

    /// Takes the lock at `path`, failing at once if another command holds it.
    pub fn acquire(path: &Path) -> Result<Self> {
        let file = open(path)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Self { _file: file }),
            Err(fs4::TryLockError::WouldBlock) => Err(ExperimentError::Locked {
                path: path.to_path_buf(),
            }),
            Err(fs4::TryLockError::Error(e)) => Err(ExperimentError::io("lock", path, e)),
        }
    }
}

/// Opens (creating) the lock file at `path`.
fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| ExperimentError::io("open the lock file", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gluers/lock");
        let first = EngineLock::acquire(&p).unwrap();
        assert!(matches!(
            EngineLock::acquire(&p),
            Err(ExperimentError::Locked { .. })
        ));
        drop(first);
        assert!(EngineLock::acquire(&p).is_ok());
    }
}
