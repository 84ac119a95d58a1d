//! The sealed evaluator: evaluation code and data taken from the base
//! commit, in folders only the engine writes, hashed at init and checked by
//! their bytes before every evaluation.
//!
//! * Its sources are an engine-owned export of the base commit (not a git
//!   worktree, which git and the candidate could write into).
//! * Rust projects: the export is built once at init, sandboxed, and the
//!   executable is copied out of the target folder (later candidate builds
//!   share that folder and cannot touch the copy).
//! * Command projects (Gluepy): the export itself runs with the project's
//!   interpreter, isolated.
//! * The evaluation-only data is copied at init into `sealed-data/`.
//!
//! [`SealedManifest`] keeps the hashes of all three and a stat cache, so the
//! check before an evaluation re-hashes only what was touched.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::hashing::{self, Snapshot};
use crate::state::{Flavor, State, StatePaths, StoredProject};

/// The recorded bytes of the sealed evaluator, and the stat cache of the
/// checks since.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SealedManifest {
    /// The sealed export's files.
    pub export: Snapshot,
    /// The sealed executable (Rust), relative to `sealed-bin/`.
    pub bin: Snapshot,
    /// The sealed data, relative to `sealed-data/`.
    pub data: Snapshot,
    /// Stat cache of the last check.
    #[serde(default)]
    pub cache: [Snapshot; 3],
}

fn roots(paths: &StatePaths) -> [std::path::PathBuf; 3] {
    [
        paths.sealed_export(),
        paths.sealed_bin_dir(),
        paths.sealed_data(),
    ]
}

fn listing(root: &Path, unhashed: Option<&str>) -> Vec<String> {
    hashing::walk(root, "", &|p| unhashed.is_some_and(|u| p == u))
}

impl SealedManifest {
    /// Hashes the sealed export, executable and data as they are now.
    pub fn record(paths: &StatePaths, unhashed: Option<&str>) -> Result<Self> {
        let [e, b, d] = roots(paths);
        let export = Snapshot::take(&e, &listing(&e, unhashed), None)?;
        let bin = Snapshot::take(&b, &listing(&b, None), None)?;
        let data = Snapshot::take(&d, &listing(&d, None), None)?;
        Ok(Self {
            cache: [export.clone(), bin.clone(), data.clone()],
            export,
            bin,
            data,
        })
    }

    /// Saves the manifest atomically and durably (at init).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::save_json(path, self, crate::fsutil::Durability::Synced)
    }

    /// Saves the manifest with its refreshed stat cache, atomically but not
    /// synced: a cache lost to a power cut only costs a re-hash.
    pub fn save_cache(&self, path: &Path) -> Result<()> {
        crate::fsutil::save_json(path, self, crate::fsutil::Durability::Cache)
    }

    /// Loads the manifest.
    pub fn load(path: &Path) -> Result<Self> {
        crate::fsutil::load_json(path)
    }
}

/// Checks that the sealed export, executable and data hold the bytes init
/// recorded in `m` (re-hashing only files whose stat changed; `m`'s stat
/// cache is refreshed), and the Python environment a Gluepy evaluator
/// imports from.
pub(crate) fn check(paths: &StatePaths, state: &State, m: &mut SealedManifest) -> Result<()> {
    let unhashed = state.sealed.unhashed.as_deref();
    let names = ["sealed export", "sealed executable", "sealed data"];
    let recorded = [&m.export, &m.bin, &m.data];
    let mut fresh: Vec<Snapshot> = Vec::with_capacity(3);
    for (i, root) in roots(paths).iter().enumerate() {
        let now = Snapshot::take(
            root,
            &listing(root, if i == 0 { unhashed } else { None }),
            Some(&m.cache[i]),
        )?;
        if let Some((p, c)) = now.changes_from(recorded[i]).first() {
            return Err(ExperimentError::Sealed(format!(
                "{} changed since init: `{p}` {} ({}); the evaluator is not trustworthy: start a new experiment with `experiment init`",
                names[i],
                c.word(),
                root.display()
            )));
        }
        fresh.push(now);
    }
    check_python(paths, state)?;
    m.cache = [fresh.remove(0), fresh.remove(0), fresh.remove(0)];
    Ok(())
}

/// Copies the evaluation-only data (storage-relative files or folders) into
/// `sealed-data/`, at the same relative paths. Missing paths are an error:
/// a declared answer key that is not there would score nothing.
pub(crate) fn snapshot_data(
    paths: &StatePaths,
    storage_root: &Path,
    data: &[String],
) -> Result<()> {
    snapshot_into(&paths.sealed_data(), storage_root, data)
}

/// Copies storage-relative files or folders into `dest` (emptied first),
/// at the same relative paths.
pub(crate) fn snapshot_into(dest: &Path, storage_root: &Path, data: &[String]) -> Result<()> {
    crate::fsutil::fresh_private_dir(dest)?;
    for rel in data {
        let src = storage_root.join(rel);
        let meta = std::fs::symlink_metadata(&src).map_err(|_| {
            ExperimentError::Usage(format!(
                "evaluation-only data `{rel}` does not exist under the storage root {}; create it or fix the declaration",
                storage_root.display()
            ))
        })?;
        let mut total = 0;
        if meta.is_dir() {
            crate::fsutil::ensure_private_dir(&dest.join(rel))?;
            let from = storage_root.join(rel);
            crate::evaluator::copy_tree(&from, &dest.join(rel), "", &mut total, u64::MAX)?;
        } else if meta.is_file() {
            if let Some(parent) = dest.join(rel).parent() {
                crate::fsutil::ensure_private_dir(parent)?;
            }
            std::fs::copy(&src, dest.join(rel))
                .map_err(|e| ExperimentError::io("copy", &src, e))?;
        } else {
            return Err(ExperimentError::Usage(format!(
                "evaluation-only data `{rel}` is not a regular file or folder"
            )));
        }
    }
    Ok(())
}

/// The recorded bytes of the final test's snapshot (`sealed-final/`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FinalManifest {
    /// The final test's data, relative to `sealed-final/`.
    pub data: Snapshot,
}

impl FinalManifest {
    /// Hashes `sealed-final/` as it is now.
    pub fn record(paths: &StatePaths) -> Result<Self> {
        let root = paths.sealed_final();
        Ok(Self {
            data: Snapshot::take(&root, &listing(&root, None), None)?,
        })
    }

    /// Saves the manifest atomically and durably.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::save_json(path, self, crate::fsutil::Durability::Synced)
    }

    /// Checks that `sealed-final/` holds the bytes init recorded.
    pub fn check(paths: &StatePaths) -> Result<()> {
        let recorded: Self = crate::fsutil::load_json(&paths.final_manifest())?;
        let root = paths.sealed_final();
        let now = Snapshot::take(&root, &listing(&root, None), None)?;
        if let Some((p, c)) = now.changes_from(&recorded.data).first() {
            return Err(ExperimentError::Sealed(format!(
                "the final test's data changed since init: `{p}` {} ({}); it cannot be trusted: start a new experiment with `experiment init`",
                c.word(),
                root.display()
            )));
        }
        Ok(())
    }
}

/// Checks the Python environment the sealed Gluepy evaluator imports from
/// (`sys.path`, `.pth` files, `sitecustomize`) against its manifest. Init
/// records one for every Gluepy project: a missing one is an error, not a
/// check skipped.
fn check_python(paths: &StatePaths, state: &State) -> Result<()> {
    let path = paths.python_manifest();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let gluepy = matches!(
                state.project,
                StoredProject::Command {
                    flavor: Flavor::Gluepy,
                    ..
                }
            );
            if !gluepy {
                return Ok(());
            }
            return Err(ExperimentError::Sealed(format!(
                "the manifest of the sealed evaluator's Python environment ({}) is missing, so the environment cannot be checked; restore it, or start a new experiment with `experiment init`",
                path.display()
            )));
        }
        Err(e) => return Err(ExperimentError::io("read", &path, e)),
    };
    let manifest: crate::pyenv::Manifest =
        serde_json::from_slice(&bytes).map_err(|e| ExperimentError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
    // `Changed` says what changed and what to do, in one line.
    manifest
        .verify()
        .map_err(|changed| ExperimentError::Sealed(changed.to_string()))
}
