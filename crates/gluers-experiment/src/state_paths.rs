//! Where the engine keeps its state: the private state root and, under
//! it, one folder per repository and one per experiment branch (the
//! layout is in [`crate::state`]).

use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};
use crate::fsutil;

/// The environment variable that moves the engine's state root (tests,
/// and users who keep state on another disk).
pub(crate) const STATE_DIR_ENV: &str = "GLUERS_STATE_DIR";

/// The engine's state root: `$GLUERS_STATE_DIR`, else
/// `$XDG_STATE_HOME/gluers`, else `~/.local/state/gluers`.
///
/// It lies outside every repository on purpose: nothing a commit, a
/// `git reset` or a candidate writing under the work tree does can reach it.
pub(crate) fn state_root() -> Result<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = from_env(STATE_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(dir) = from_env("XDG_STATE_HOME") {
        return Ok(dir.join("gluers"));
    }
    if let Some(home) = from_env("HOME") {
        return Ok(home.join(".local/state/gluers"));
    }
    Err(ExperimentError::Usage(format!(
        "cannot place the engine's state: neither ${STATE_DIR_ENV}, $XDG_STATE_HOME nor $HOME is an absolute path; set {STATE_DIR_ENV}=/path/to/a/private/folder"
    )))
}

/// Where the state of the experiment on one branch lives.
#[derive(Debug, Clone)]
pub(crate) struct StatePaths {
    /// The repository's folder under the state root (lock, shared caches).
    pub root: PathBuf,
    /// `<root>/experiments/<branch>`.
    pub dir: PathBuf,
    /// Where one run's own folders live (export, target, tmp, eval): `dir`
    /// itself, or `dir/slots/<k>` for the k-th parallel candidate of a
    /// batch (k >= 1), so that siblings never share a folder they write.
    pub run_dir: PathBuf,
}

impl StatePaths {
    /// The paths for `branch` of the repository whose common git dir is
    /// `git_common_dir`: `<state root>/repos/<name>-<hash of the path>/`.
    pub fn new(git_common_dir: &Path, branch: &str) -> Result<Self> {
        let root = state_root()?.join("repos").join(repo_key(git_common_dir));
        let dir = root.join("experiments").join(slug(branch));
        Ok(Self {
            root,
            run_dir: dir.clone(),
            dir,
        })
    }

    /// The paths of parallel slot `k` of a batch: the same state, log and
    /// sealed evaluator; slot 0 uses the experiment's own run folders (its
    /// warm build cache), slot k >= 1 its own under `slots/<k>/`.
    pub fn slot(&self, k: usize) -> Self {
        let run_dir = if k == 0 {
            self.dir.clone()
        } else {
            self.dir.join("slots").join(k.to_string())
        };
        Self {
            run_dir,
            ..self.clone()
        }
    }

    /// The progress record of a batch worker in slot `k` (the process group
    /// it is running), read by recovery after a killed engine.
    pub fn slot_progress(&self, k: usize) -> PathBuf {
        self.slot(k).run_dir.join("progress.json")
    }

    /// The result a batch worker leaves for the engine.
    pub fn slot_result(&self) -> PathBuf {
        self.run_dir.join("result.json")
    }

    /// The run log a batch worker writes (the engine concatenates them in
    /// queue order into the project's run log).
    pub fn slot_run_log(&self) -> PathBuf {
        self.run_dir.join("run.log")
    }

    /// Creates the experiment folder and every engine folder above it up to
    /// the state root, private to the user (mode 0700).
    pub fn create(&self) -> Result<()> {
        fsutil::ensure_private_dir(&self.dir)
    }

    /// The repository-wide lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// The state file.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// The canonical experiment log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("experiment_log.tsv")
    }
    /// The key of the experiment log's hash chain (mode 0600).
    pub fn key(&self) -> PathBuf {
        self.dir.join("log.key")
    }
    /// Hashes of the frozen files and their stat cache.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("frozen-manifest.json")
    }
    /// The engine's export of the base commit (the sealed evaluator's
    /// sources; for command projects, what the sealed evaluator runs).
    pub fn sealed_export(&self) -> PathBuf {
        self.dir.join("sealed")
    }
    /// The Python environment the sealed Gluepy evaluator imports from.
    pub fn python_manifest(&self) -> PathBuf {
        self.dir.join("python-env.json")
    }
    /// Hashes of the sealed export and executable, with their stat cache.
    pub fn sealed_manifest(&self) -> PathBuf {
        self.dir.join("sealed-manifest.json")
    }
    /// Where the sealed executable is copied (Rust projects).
    pub fn sealed_bin_dir(&self) -> PathBuf {
        self.dir.join("sealed-bin")
    }
    /// The snapshot of the evaluation-only data, by storage-relative path.
    pub fn sealed_data(&self) -> PathBuf {
        self.dir.join("sealed-data")
    }
    /// The engine's export of the candidate commit (what is built and run).
    pub fn export(&self) -> PathBuf {
        self.run_dir.join("export")
    }
    /// The export's file list and stat cache (incremental exports).
    pub fn export_manifest(&self) -> PathBuf {
        self.run_dir.join("export-manifest.json")
    }
    /// Cargo's target folder, reused by every build of the experiment.
    pub fn target(&self) -> PathBuf {
        self.run_dir.join("target")
    }
    /// The cargo home the engine controls (its own config).
    pub fn cargo_home(&self) -> PathBuf {
        self.dir.join("cargo-home")
    }
    /// The private temporary folder of the candidate (emptied per run).
    pub fn tmp(&self) -> PathBuf {
        self.run_dir.join("tmp")
    }
    /// The evaluator's fresh folder (its storage root; emptied per run).
    pub fn eval(&self) -> PathBuf {
        self.run_dir.join("eval")
    }
    /// The snapshot of the final test's data, by storage-relative path.
    pub fn sealed_final(&self) -> PathBuf {
        self.dir.join("sealed-final")
    }
    /// The hashes of the final test's snapshot.
    pub fn final_manifest(&self) -> PathBuf {
        self.dir.join("final-manifest.json")
    }
    /// The evaluator's private tmp (emptied per run).
    pub fn eval_tmp(&self) -> PathBuf {
        self.run_dir.join("eval-tmp")
    }
    /// Build messages of the last cargo build.
    pub fn build_messages(&self) -> PathBuf {
        self.run_dir.join("cargo-messages.jsonl")
    }
}

/// A readable, collision-free folder name for a repository: the folder's
/// name and a hash of its absolute common git dir.
fn repo_key(git_common_dir: &Path) -> String {
    let path = git_common_dir.to_string_lossy();
    let hash = blake3::hash(path.as_bytes()).to_hex();
    let name = git_common_dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{name}-{}", &hash[..16])
}

/// A file-name-safe, collision-free spelling of a branch name: letters,
/// digits, `-` and `.` stay, every other byte becomes `_XX` (hex). No `%`:
/// tools such as LLVM's linker treat `%` in an output path as a pattern.
fn slug(branch: &str) -> String {
    let mut out = String::new();
    for b in branch.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_injective_on_separators() {
        assert_eq!(slug("experiment/forecast"), "experiment_2Fforecast");
        assert_ne!(slug("a/b"), slug("a_2Fb"));
        assert!(!slug("a%b/c").contains('%'));
    }
}
