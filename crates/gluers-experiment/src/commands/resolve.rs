//! What `experiment init` works out before it changes anything: the
//! project's folders, protocol (Gluepy or the gluers contract) and storage
//! root, the engine's own paths, and the frozen entries given on the command
//! line or found in the evaluation sources.

use std::path::{Path, PathBuf};

use crate::engine::{LOG_FILE, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::project;
use crate::python;
use crate::repo::{join_rel, normalize, Repo};
use crate::state::{Flavor, FrozenEntry, FrozenKind, StoredProject};
use crate::ProjectSpec;

/// The project as init resolves it.
pub(crate) struct Resolved {
    /// How to run the project, as stored.
    pub stored: StoredProject,
    /// The project folder (absolute).
    pub project_dir: PathBuf,
    /// The storage root (absolute).
    pub storage_root: PathBuf,
    /// The command prefix shown in hints.
    pub prog: String,
    /// Cargo's target directory and the workspace's Cargo.lock (Rust).
    pub cargo: Option<(PathBuf, PathBuf)>,
}

/// Resolves the project spec: directories, flavor, storage root.
pub(crate) fn resolve_project(repo: &Repo, spec: ProjectSpec) -> Result<Resolved> {
    let rel_of = |dir: &Path| -> Result<(PathBuf, String)> {
        let abs = dir
            .canonicalize()
            .map_err(|e| ExperimentError::io("open directory", dir, e))?;
        let rel = repo
            .rel(&abs)
            .ok_or_else(|| ExperimentError::NotARepo { dir: abs.clone() })?;
        Ok((abs, rel))
    };
    match spec {
        ProjectSpec::Cargo { manifest_dir, bin } => {
            let (abs, rel) = rel_of(&manifest_dir)?;
            let layout = project::cargo_layout(&abs)?;
            Ok(Resolved {
                storage_root: env_storage_root(&abs),
                stored: StoredProject::Cargo {
                    manifest_dir: rel,
                    bin,
                },
                prog: "gluers experiment".into(),
                cargo: Some((
                    layout.target_directory,
                    layout.workspace_root.join("Cargo.lock"),
                )),
                project_dir: abs,
            })
        }
        ProjectSpec::Command { cmd, dir } => {
            let (abs, rel) = rel_of(&dir)?;
            if cmd.trim().is_empty() {
                return Err(ExperimentError::Usage(
                    "the project command is empty; pass e.g. --project-cmd \"python manage.py\""
                        .into(),
                ));
            }
            let manage = abs.join("manage.py");
            let is_gluepy = std::fs::read_to_string(&manage).is_ok_and(|t| t.contains("gluepy"));
            let (flavor, storage_root) = if is_gluepy {
                let settings = python::gluepy_settings(&python::interpreter(&cmd), &abs)?;
                if let Some(b) = &settings.storage_backend {
                    if !b.ends_with("LocalStorage") {
                        return Err(ExperimentError::Inspect(format!(
                            "STORAGE_BACKEND is `{b}`; the engine reads run folders from disk, so experiments need gluepy.files.storages.local.LocalStorage"
                        )));
                    }
                }
                let root = settings.storage_root.map(PathBuf::from).ok_or_else(|| {
                    ExperimentError::Inspect(format!(
                        "settings module `{}` sets no STORAGE_ROOT",
                        settings.module
                    ))
                })?;
                (Flavor::Gluepy, normalize(&root).unwrap_or(root))
            } else {
                (Flavor::Generic, env_storage_root(&abs))
            };
            Ok(Resolved {
                stored: StoredProject::Command {
                    cmd,
                    dir: rel,
                    flavor,
                },
                project_dir: abs,
                storage_root,
                prog: "gluers experiment".into(),
                cargo: None,
            })
        }
    }
}

/// `GLUERS_STORAGE_ROOT` (relative to the project folder) or `data/`.
fn env_storage_root(project_dir: &Path) -> PathBuf {
    match std::env::var_os(project::STORAGE_ENV) {
        Some(v) if !v.is_empty() => {
            let p = project_dir.join(PathBuf::from(v));
            normalize(&p).unwrap_or(p)
        }
        _ => project_dir.join("data"),
    }
}

/// The engine's own paths inside the repository.
pub(crate) fn excluded_paths(repo: &Repo, r: &Resolved) -> Vec<String> {
    let rel = r.stored.rel_dir();
    let mut out = vec![join_rel(rel, LOG_FILE), join_rel(rel, RUN_LOG_FILE)];
    if let Some(runs) = repo.rel(&r.storage_root.join("runs")) {
        out.push(format!("{runs}/"));
    }
    if let Some((target, _)) = &r.cargo {
        if let Some(t) = repo.rel(target) {
            if !t.is_empty() {
                out.push(format!("{t}/"));
            }
        }
    }
    out
}

/// Turns `--freeze` arguments (relative to the current directory) into
/// frozen entries.
pub(crate) fn resolve_freeze_args(repo: &Repo, args: &[PathBuf]) -> Result<Vec<FrozenEntry>> {
    let cwd = std::env::current_dir()
        .map_err(|e| ExperimentError::io("read the current directory", ".", e))?;
    let mut out = Vec::new();
    for p in args {
        let bad = |reason: &str| ExperimentError::FreezePath {
            path: p.clone(),
            reason: reason.into(),
        };
        let joined = cwd.join(p);
        let meta = std::fs::symlink_metadata(&joined).map_err(|_| {
            bad("no such file or folder; give a path relative to the current directory")
        })?;
        // Canonicalise the parent so that symlinked prefixes resolve, but keep
        // a symlink itself as the frozen path.
        let abs = match (joined.parent(), joined.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .map(|d| d.join(name))
                .unwrap_or(joined.clone()),
            _ => joined.canonicalize().unwrap_or(joined.clone()),
        };
        let rel = repo
            .rel(&abs)
            .ok_or_else(|| bad("outside the repository; only paths inside it can be frozen"))?;
        if rel.is_empty() || rel == ".git" || rel.starts_with(".git/") {
            return Err(bad(
                "freezing the whole repository or its .git folder is not possible",
            ));
        }
        out.push(FrozenEntry {
            path: rel,
            kind: if meta.is_dir() {
                FrozenKind::Dir
            } else {
                FrozenKind::File
            },
            exists: true,
            reason: "--freeze".into(),
        });
    }
    Ok(out)
}

/// An evaluation source path (relative to the project) as a frozen entry;
/// sources outside the repository (a dependency's) are reported and skipped.
pub(crate) fn push_source(
    repo: &Repo,
    project_dir: &Path,
    file: &str,
    reason: String,
    out: &mut Vec<FrozenEntry>,
) {
    let abs = normalize(&project_dir.join(file));
    match abs.as_deref().and_then(|a| repo.rel(a)) {
        Some(rel) if !rel.is_empty() => out.push(FrozenEntry {
            exists: repo.root.join(&rel).exists(),
            path: rel,
            kind: FrozenKind::File,
            reason,
        }),
        _ => eprintln!(
            "note: {file} ({reason}) is outside the repository; the sealed evaluator still uses the base commit's build of it"
        ),
    }
}

pub(crate) fn has_python_files(repo: &Repo, project_rel: &str) -> Result<bool> {
    let spec = if project_rel.is_empty() {
        ":(glob)**/*.py".to_string()
    } else {
        format!(":(glob){project_rel}/**/*.py")
    };
    Ok(!repo.git.run_z(&["ls-files", "-z", "--", &spec])?.is_empty())
}

/// A `--holdout` or `--final-test` path: given relative to the current folder (or absolute)
/// and under the storage root, or already relative to the storage root.
pub(crate) fn resolve_holdout(
    flag: &str,
    path: &std::path::Path,
    storage_root: &std::path::Path,
) -> Result<String> {
    let cwd = std::env::current_dir()
        .map_err(|e| ExperimentError::io("read the current directory", ".", e))?;
    let abs = crate::repo::normalize(&cwd.join(path));
    if let Some(rel) = abs
        .as_deref()
        .and_then(|a| a.strip_prefix(storage_root).ok())
    {
        if abs.as_deref().is_some_and(|a| a.exists()) && !rel.as_os_str().is_empty() {
            return Ok(crate::repo::to_slash(rel));
        }
    }
    let rel = crate::repo::to_slash(path);
    if path.is_absolute() || rel.split('/').any(|c| c == "..") || rel.is_empty() {
        return Err(ExperimentError::Usage(format!(
            "{flag} {}: not under the storage root {}; give a path inside it",
            path.display(),
            storage_root.display()
        )));
    }
    Ok(rel)
}
