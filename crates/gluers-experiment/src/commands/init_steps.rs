//! Steps of `experiment init` that stand on their own: the experiment
//! branch's name, the listing of the frozen set, and the sealed
//! evaluator's build.

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::RUN_LOG_FILE;
use crate::error::{ExperimentError, Result};
use crate::launch::Launcher;
use crate::repo::Repo;
use crate::state::{FrozenEntry, FrozenKind};

/// The DAG label must make a valid branch name.
pub(super) fn check_label(repo: &Repo, dag: &str) -> Result<()> {
    let name = format!("experiment/{dag}");
    if dag.is_empty()
        || !repo
            .git
            .succeeds(&["check-ref-format", "--branch", &name])?
    {
        return Err(ExperimentError::Usage(format!(
            "DAG label `{dag}` cannot name a git branch (`{name}`); use the DAG's label as registered"
        )));
    }
    Ok(())
}

/// `experiment/<dag>`, or the first of `-2`, `-3`, … that is free.
pub(super) fn free_branch_name(repo: &Repo, dag: &str) -> Result<String> {
    let base = format!("experiment/{dag}");
    if !repo.git.branch_exists(&base)? {
        return Ok(base);
    }
    for n in 2..10_000 {
        let name = format!("{base}-{n}");
        if !repo.git.branch_exists(&name)? {
            return Ok(name);
        }
    }
    Err(ExperimentError::Usage(format!(
        "branches {base} to {base}-9999 all exist; delete old experiment branches, then retry"
    )))
}

pub(super) fn print_frozen(entries: &[FrozenEntry]) {
    let present: Vec<&FrozenEntry> = entries.iter().filter(|e| e.exists).collect();
    println!("frozen set         {} path(s)", present.len());
    for e in &present {
        let shown = if e.kind == FrozenKind::Dir {
            format!("{}/", e.path)
        } else {
            e.path.clone()
        };
        println!("  {shown:<40} {}", e.reason);
    }
    let absent: Vec<String> = entries
        .iter()
        .filter(|e| !e.exists)
        .map(|e| {
            if e.kind == FrozenKind::Dir {
                format!("{}/", e.path)
            } else {
                e.path.clone()
            }
        })
        .collect();
    if !absent.is_empty() {
        println!("  must stay absent: {}", absent.join(", "));
    }
}

/// Builds the base commit's export in the sandbox and copies the executable
/// into `sealed-bin/`, out of reach of later candidate builds.
pub(super) fn build_sealed(
    launcher: &Launcher<'_>,
    tc: &crate::toolchain::Toolchain,
    sealed_project: &std::path::Path,
    bin: &str,
    log: &std::fs::File,
) -> Result<PathBuf> {
    let paths = launcher.paths;
    crate::fsutil::fresh_private_dir(&paths.tmp())?;
    // Built once; not bounded by a run's timeout.
    let far = std::time::Instant::now() + Duration::from_secs(60 * 60 * 24);
    let built = launcher.build(
        tc,
        &paths.sealed_export(),
        sealed_project,
        bin,
        log,
        far,
        &mut |_| Ok(()),
    )?;
    let exe = match built {
        crate::toolchain::Build::Built(exe) => exe,
        crate::toolchain::Build::Failed(why) => {
            return Err(ExperimentError::Sealed(format!(
                "building the base commit failed: {why}; see {RUN_LOG_FILE}"
            )))
        }
        crate::toolchain::Build::TimedOut => {
            return Err(ExperimentError::Sealed(
                "building the base commit timed out".into(),
            ))
        }
    };
    let dir = paths.sealed_bin_dir();
    crate::fsutil::fresh_private_dir(&dir)?;
    let copy = dir.join(bin);
    std::fs::copy(&exe, &copy)
        .map_err(|e| ExperimentError::io("copy the sealed executable to", &copy, e))?;
    Ok(copy)
}
