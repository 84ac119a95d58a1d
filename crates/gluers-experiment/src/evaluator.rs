//! The private evaluator's folder: what the sealed evaluator sees.
//!
//! The sealed evaluator never reads anything the candidate can reach. Before
//! each evaluation the engine empties the evaluator's storage root and puts
//! in it copies (regular files only, size-capped, never through a link) of
//! the candidate's run folder, a `context.yaml` built from the base commit's
//! configuration (so the candidate's context cannot change how it scores),
//! and the sealed evaluation-only data. Metrics are read from that folder
//! once the evaluator and all its descendants are gone.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_norway::{Mapping, Value};

use crate::error::{ExperimentError, Result};

/// The largest file copied from a candidate's run folder.
pub(crate) const MAX_FILE_BYTES: u64 = 2 << 30;
/// The most bytes copied from a candidate's run folder in all.
pub(crate) const MAX_TOTAL_BYTES: u64 = 8 << 30;
/// The largest `metrics.json` read.
const MAX_METRICS_BYTES: u64 = 1 << 20;

/// Files of a run folder that are the run's record, not its outputs: the
/// evaluator gets the engine's own.
const RECORD_FILES: [&str; 3] = ["context.yaml", "metrics.json", "run.json"];

/// What the evaluator's folder is made of.
#[derive(Debug)]
pub(crate) struct EvalInputs<'a> {
    /// The candidate's run folder (absolute).
    pub candidate_run: &'a Path,
    /// The run folder, relative to the storage root.
    pub run_folder: &'a str,
    /// The run id.
    pub run_id: &'a str,
    /// The sealed data snapshot (laid out by storage-relative path).
    pub sealed_data: &'a Path,
    /// The base commit's configuration folder (in the sealed export).
    pub config_dir: &'a Path,
    /// `gluers` or `gluepy`.
    pub protected_key: &'a str,
}

/// Empties `eval_root` and fills it for one evaluation. An error names what
/// the candidate left that cannot be evaluated (a crash of the run).
pub(crate) fn prepare(eval_root: &Path, inputs: &EvalInputs<'_>) -> Result<()> {
    crate::fsutil::fresh_private_dir(eval_root)?;
    let run_dir = eval_root.join(inputs.run_folder);
    crate::fsutil::ensure_private_dir(&run_dir)?;
    let mut total = 0u64;
    copy_outputs(inputs.candidate_run, &run_dir, "", &mut total)?;
    let context = base_context(inputs)?;
    std::fs::write(run_dir.join("context.yaml"), context)
        .map_err(|e| ExperimentError::io("write", run_dir.join("context.yaml"), e))?;
    let mut ignored = 0u64;
    copy_tree(inputs.sealed_data, eval_root, "", &mut ignored, u64::MAX)?;
    Ok(())
}

/// For `finish`: replaces, in the prepared `eval_root`, each evaluation-only
/// path with the final test's data standing in for it (a file for a file,
/// a folder's content for a folder), from the snapshot in `sealed_final`.
pub(crate) fn substitute_final(
    eval_root: &Path,
    sealed_final: &Path,
    finals: &[crate::state::FinalData],
) -> Result<()> {
    for f in finals {
        let at = eval_root.join(&f.replaces);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&at),
            Ok(_) => std::fs::remove_file(&at),
            Err(_) => Ok(()),
        }
        .map_err(|e| ExperimentError::io("remove", &at, e))?;
        let from = sealed_final.join(&f.path);
        let meta = std::fs::symlink_metadata(&from)
            .map_err(|e| ExperimentError::io("read the final test's snapshot", &from, e))?;
        if let Some(parent) = at.parent() {
            crate::fsutil::ensure_private_dir(parent)?;
        }
        let mut total = 0;
        if meta.is_dir() {
            crate::fsutil::ensure_private_dir(&at)?;
            copy_tree(&from, &at, "", &mut total, u64::MAX)?;
        } else {
            copy_file_nofollow(&from, &at, u64::MAX)?;
        }
    }
    Ok(())
}

/// Copies the candidate's outputs: regular files only, below the caps.
fn copy_outputs(from: &Path, to: &Path, rel: &str, total: &mut u64) -> Result<()> {
    copy_tree_filtered(from, to, rel, total, MAX_TOTAL_BYTES, &|rel| {
        !RECORD_FILES.contains(&rel)
    })
}

/// Copies every regular file below `from` to the same place below `to`.
pub(crate) fn copy_tree(
    from: &Path,
    to: &Path,
    rel: &str,
    total: &mut u64,
    cap: u64,
) -> Result<()> {
    copy_tree_filtered(from, to, rel, total, cap, &|_| true)
}

fn copy_tree_filtered(
    from: &Path,
    to: &Path,
    rel: &str,
    total: &mut u64,
    cap: u64,
    keep: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let dir = if rel.is_empty() {
        from.to_path_buf()
    } else {
        from.join(rel)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let Ok(meta) = std::fs::symlink_metadata(from.join(&child)) else {
            continue;
        };
        if meta.is_dir() {
            crate::fsutil::ensure_private_dir(&to.join(&child))?;
            copy_tree_filtered(from, to, &child, total, cap, keep)?;
        } else if meta.is_file() && keep(&child) {
            if meta.len() > MAX_FILE_BYTES {
                return Err(ExperimentError::Sealed(format!(
                    "`{child}` in the run folder is {} bytes, over the evaluator's limit of {MAX_FILE_BYTES}",
                    meta.len()
                )));
            }
            *total += meta.len();
            if *total > cap {
                return Err(ExperimentError::Sealed(format!(
                    "the run folder holds over {cap} bytes, the evaluator's limit"
                )));
            }
            copy_file_nofollow(&from.join(&child), &to.join(&child), MAX_FILE_BYTES)?;
        }
        // Links, fifos, sockets and devices are never copied.
    }
    Ok(())
}

/// Copies a regular file without following a link at its name, reading at
/// most `cap` bytes.
fn copy_file_nofollow(from: &Path, to: &Path, cap: u64) -> Result<()> {
    let src = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(from)
        .map_err(|e| ExperimentError::io("open", from, e))?;
    if !src
        .metadata()
        .map_err(|e| ExperimentError::io("stat", from, e))?
        .is_file()
    {
        return Ok(());
    }
    let mut dst = File::create(to).map_err(|e| ExperimentError::io("create", to, e))?;
    std::io::copy(&mut src.take(cap), &mut dst)
        .map_err(|e| ExperimentError::io("copy", from, e))?;
    dst.flush().map_err(|e| ExperimentError::io("write", to, e))
}

/// `context.yaml` for the evaluator: every `*.yaml` of the base commit's
/// configuration folder, deep-merged in file-name order, then the run's
/// identity under the protected key.
fn base_context(inputs: &EvalInputs<'_>) -> Result<String> {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(inputs.config_dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut merged = Mapping::new();
    for p in names {
        let text = crate::fsutil::read_to_string(&p)?;
        let value: Value = serde_norway::from_str(&text).map_err(|e| {
            ExperimentError::Sealed(format!(
                "the base configuration {} is invalid YAML: {e}",
                p.display()
            ))
        })?;
        match value {
            Value::Mapping(m) => deep_merge(&mut merged, m),
            Value::Null => {}
            _ => {
                return Err(ExperimentError::Sealed(format!(
                    "the base configuration {} is not a mapping",
                    p.display()
                )))
            }
        }
    }
    let now = jiff::Timestamp::now();
    let mut meta = Mapping::new();
    meta.insert("run_id".into(), inputs.run_id.into());
    meta.insert("run_folder".into(), inputs.run_folder.into());
    meta.insert("created_at".into(), now.to_string().into());
    merged.insert(inputs.protected_key.into(), Value::Mapping(meta));
    serde_norway::to_string(&Value::Mapping(merged))
        .map_err(|e| ExperimentError::Sealed(format!("cannot write the evaluator's context: {e}")))
}

fn deep_merge(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => deep_merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Reads the metrics the evaluator wrote (size-capped, no link followed).
pub(crate) fn read_metrics(
    eval_root: &Path,
    run_folder: &str,
) -> std::result::Result<(crate::metrics::Metrics, Vec<u8>), String> {
    let path = eval_root.join(run_folder).join("metrics.json");
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(|e| {
            format!(
                "the sealed evaluator wrote no metrics.json ({e}); does the DAG's evaluation log any metric?"
            )
        })?;
    let mut bytes = Vec::new();
    file.take(MAX_METRICS_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the evaluator's metrics.json: {e}"))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| "the evaluator's metrics.json is not UTF-8".to_string())?;
    let m = crate::metrics::Metrics::parse(&text)?;
    Ok((m, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluator_gets_copies_base_config_and_sealed_data_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = d.join("cand/runs/2026/1/1/r1");
        std::fs::create_dir_all(run.join("sub")).unwrap();
        std::fs::write(run.join("predictions.csv"), "1\n").unwrap();
        std::fs::write(run.join("sub/x.csv"), "2\n").unwrap();
        std::fs::write(run.join("context.yaml"), "forecast: {cheat: true}\n").unwrap();
        std::fs::write(run.join("metrics.json"), "{\"mape\": 0.0}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", run.join("link")).unwrap();
        std::fs::create_dir_all(d.join("sealed/holdout")).unwrap();
        std::fs::write(d.join("sealed/holdout/actuals.csv"), "a\n").unwrap();
        std::fs::create_dir_all(d.join("configs")).unwrap();
        std::fs::write(d.join("configs/a.yaml"), "forecast: {days: 28, x: 1}\n").unwrap();
        std::fs::write(d.join("configs/b.yaml"), "forecast: {x: 2}\n").unwrap();
        let eval = d.join("eval");
        std::fs::create_dir_all(eval.join("stale")).unwrap();
        prepare(
            &eval,
            &EvalInputs {
                candidate_run: &run,
                run_folder: "runs/2026/1/1/r1",
                run_id: "r1",
                sealed_data: &d.join("sealed"),
                config_dir: &d.join("configs"),
                protected_key: "gluers",
            },
        )
        .unwrap();
        let out = eval.join("runs/2026/1/1/r1");
        assert_eq!(
            std::fs::read_to_string(out.join("predictions.csv")).unwrap(),
            "1\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("sub/x.csv")).unwrap(),
            "2\n"
        );
        assert!(!out.join("metrics.json").exists());
        assert!(std::fs::symlink_metadata(out.join("link")).is_err());
        assert!(!eval.join("stale").exists());
        let ctx = std::fs::read_to_string(out.join("context.yaml")).unwrap();
        assert!(!ctx.contains("cheat"), "{ctx}");
        assert!(
            ctx.contains("days: 28") && ctx.contains("x: 2") && ctx.contains("run_id: r1"),
            "{ctx}"
        );
        assert_eq!(
            std::fs::read_to_string(eval.join("holdout/actuals.csv")).unwrap(),
            "a\n"
        );

        // `finish`: the final test's answers where the holdout's were.
        std::fs::create_dir_all(d.join("final/final")).unwrap();
        std::fs::write(d.join("final/final/actuals.csv"), "f\n").unwrap();
        let finals = [crate::state::FinalData {
            path: "final/actuals.csv".into(),
            replaces: "holdout/actuals.csv".into(),
        }];
        substitute_final(&eval, &d.join("final"), &finals).unwrap();
        assert_eq!(
            std::fs::read_to_string(eval.join("holdout/actuals.csv")).unwrap(),
            "f\n"
        );
        assert!(!eval.join("final").exists());
    }
}
