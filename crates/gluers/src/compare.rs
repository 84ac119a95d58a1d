//! `dag LABEL --compare`: a table of metrics across run folders, with each
//! run's status, start date and logged parameters (or Gluepy's exact table
//! with `--format gluepy`). A damaged file or a missing folder is a warning
//! naming the folder; the other runs still print.

pub(crate) mod index;
mod listed;

use std::path::Path;

use serde_json::json;

use crate::error::{escape_controls, Result};
use crate::metrics::{python_float, Metrics, METRICS_FILE};
use crate::run_folder::resolve_run_folder;
use crate::run_record::{RunRecord, RunStatus, RUN_RECORD_FILE};
use crate::settings::Settings;
use crate::storage::{StorageBackend, StorageError};
use gluers_formats::params::{param_text, params_from_json, Params, PARAMS_FILE};

/// Output formats of `--compare`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// `run_folder<TAB>status<TAB>started_at<TAB>param:KEY...<TAB>metric...`,
    /// `N/A` for a missing value; tabs and newlines in cells escaped.
    #[default]
    Tsv,
    /// A JSON array of `{"run_folder", "status", "started_at", "params", "metrics"}` objects.
    Json,
    /// Gluepy 1.6.0's table, byte for byte: `run_folder<TAB>metric...`.
    Gluepy,
}

/// The status of a compared run, as the table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowStatus {
    /// Every task succeeded, evaluation included.
    Completed,
    /// Every task succeeded, without evaluation tasks (`--skip-eval`, or none).
    SkippedEval,
    /// A task failed.
    Failed,
    /// Still running.
    Running,
    /// Its process is gone while `run.json` says running.
    Killed,
    /// The folder has no `run.json`.
    Unknown,
    /// `run.json` cannot be read.
    Damaged,
    /// The folder does not exist.
    Missing,
}

impl RowStatus {
    fn as_str(self) -> &'static str {
        match self {
            RowStatus::Completed => "completed",
            RowStatus::SkippedEval => "skipped-eval",
            RowStatus::Failed => "failed",
            RowStatus::Running => "running",
            RowStatus::Killed => "killed",
            RowStatus::Unknown => "unknown",
            RowStatus::Damaged => "damaged",
            RowStatus::Missing => "missing",
        }
    }

    /// The status [`as_str`](Self::as_str) names.
    fn parse(text: &str) -> Option<Self> {
        [
            RowStatus::Completed,
            RowStatus::SkippedEval,
            RowStatus::Failed,
            RowStatus::Running,
            RowStatus::Killed,
            RowStatus::Unknown,
            RowStatus::Damaged,
            RowStatus::Missing,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    fn of(record: &RunRecord) -> Self {
        match record.observed_status() {
            RunStatus::Success if record.tasks.iter().any(|t| t.kind == "eval") => {
                RowStatus::Completed
            }
            RunStatus::Success => RowStatus::SkippedEval,
            RunStatus::Failed => RowStatus::Failed,
            RunStatus::Running => RowStatus::Running,
            RunStatus::Killed => RowStatus::Killed,
        }
    }
}

/// One row of the comparison.
struct Row {
    folder: String,
    metrics: Option<Metrics>,
    status: RowStatus,
    started_at: Option<String>,
    params: Params,
}

/// Compares the metrics of `folders`, or of every run of `dag_label`
/// (oldest first) when `folders` is empty.
pub fn compare(
    backend: &dyn StorageBackend,
    settings: &Settings,
    project_dir: &Path,
    dag_label: &str,
    folders: &[String],
    format: CompareFormat,
) -> Result<String> {
    let detail = format != CompareFormat::Gluepy;
    let rows = if folders.is_empty() {
        // Every run of the DAG: from the index, which holds each run's
        // status, start, params and metrics, when it can be trusted.
        match index::runs_of(backend, dag_label) {
            Some(runs) => runs
                .into_iter()
                .map(|r| Row {
                    folder: r.folder,
                    metrics: r.metrics,
                    status: r.status,
                    started_at: Some(r.started_at),
                    params: r.params,
                })
                .collect(),
            None => discover(backend, dag_label, detail)?,
        }
    } else {
        let keys = folders
            .iter()
            .map(|f| {
                resolve_run_folder("--compare", f, &settings.storage_root, project_dir)
                    .map(|key| (f.trim_end_matches('/').to_string(), key))
            })
            .collect::<Result<Vec<_>>>()?;
        read_rows(backend, keys, detail)?
    };
    Ok(match format {
        CompareFormat::Gluepy | CompareFormat::Tsv
            if rows.iter().all(|r| r.metrics.is_none())
                && (format == CompareFormat::Gluepy || rows.is_empty()) =>
        {
            // Gluepy's wording, so scripts that look for it keep working.
            if folders.is_empty() {
                format!("No metrics found in any run of DAG '{dag_label}'.\n")
            } else {
                "No metrics found in any of the specified run folders.\n".to_string()
            }
        }
        CompareFormat::Tsv => render_tsv(&rows),
        CompareFormat::Gluepy => render_gluepy(&rows),
        CompareFormat::Json => render_json(&rows),
    })
}

/// Reads each `(shown, key)` folder: `metrics.json`, and with `detail`
/// also `run.json` (status, date) and `params.json`, each in one batch. A
/// damaged file is skipped with a one-line warning naming the folder, and a
/// folder that does not exist is named in a warning; the other rows print.
fn read_rows(
    backend: &dyn StorageBackend,
    folders: Vec<(String, String)>,
    detail: bool,
) -> Result<Vec<Row>> {
    let batch = |file: &str| -> Vec<String> {
        folders
            .iter()
            .map(|(_, key)| format!("{key}/{file}"))
            .collect()
    };
    let metrics_files = batch(METRICS_FILE);
    let metrics = read_parallel(backend, &metrics_files);
    let (records, params) = if detail {
        (
            read_parallel(backend, &batch(RUN_RECORD_FILE)),
            read_parallel(backend, &batch(PARAMS_FILE)),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let mut records = records.into_iter();
    let mut params = params.into_iter();
    let mut rows = Vec::with_capacity(folders.len());
    for ((shown, key), content) in folders.into_iter().zip(metrics) {
        let warn = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(
                "--compare {}: {what} cannot be read ({}); skipped, the other runs still print",
                escape_controls(&shown),
                escape_controls(&e.to_string())
            )
        };
        let mut found = false;
        let metrics = match content {
            Ok(bytes) => {
                found = true;
                Metrics::from_json(&String::from_utf8_lossy(&bytes))
                    .map_err(|e| warn(METRICS_FILE, &e))
                    .ok()
            }
            Err(StorageError::NotFound { .. }) => None,
            Err(e) => {
                warn(METRICS_FILE, &e);
                None
            }
        };
        let mut row = Row {
            folder: shown.clone(),
            metrics,
            status: RowStatus::Unknown,
            started_at: None,
            params: Params::new(),
        };
        match records.next() {
            Some(Ok(bytes)) => {
                found = true;
                match serde_json::from_slice::<RunRecord>(&bytes) {
                    Ok(record) => {
                        row.status = RowStatus::of(&record);
                        row.started_at = Some(record.started_at);
                    }
                    Err(e) => {
                        warn(RUN_RECORD_FILE, &e);
                        row.status = RowStatus::Damaged;
                    }
                }
            }
            Some(Err(StorageError::NotFound { .. })) | None => {}
            Some(Err(e)) => {
                warn(RUN_RECORD_FILE, &e);
                row.status = RowStatus::Damaged;
            }
        }
        match params.next() {
            Some(Ok(bytes)) => match params_from_json(&String::from_utf8_lossy(&bytes)) {
                Ok(p) => row.params = p,
                Err(e) => warn(PARAMS_FILE, &e),
            },
            Some(Err(StorageError::NotFound { .. })) | None => {}
            Some(Err(e)) => warn(PARAMS_FILE, &e),
        }
        if !found && !backend.isdir(&key).unwrap_or(false) {
            tracing::warn!(
                "--compare {}: no such run folder ({}); check the path, relative to the storage root",
                row.folder,
                backend.display(&key)
            );
            row.status = RowStatus::Missing;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// `read_many` over the available cores for large batches: the cost is in
/// the kernel (open, read, close), which two cores do side by side.
fn read_parallel(
    backend: &dyn StorageBackend,
    files: &[String],
) -> Vec<crate::storage::StorageResult<Vec<u8>>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if threads < 2 || files.len() < 2048 {
        return backend.read_many(files);
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || backend.read_many(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("storage reads do not panic"))
            .collect()
    })
}

/// The folders of `files` (keys relative to `root`, from one listing), each
/// with the names of its entries: the listing as `ls` would give it.
fn folder_tree(
    root: &str,
    files: &[String],
) -> std::collections::HashMap<String, std::collections::BTreeSet<String>> {
    let mut tree: std::collections::HashMap<String, std::collections::BTreeSet<String>> =
        std::collections::HashMap::new();
    for file in files {
        let mut folder = root.to_string();
        for name in file.split('/').filter(|n| !n.is_empty()) {
            tree.entry(folder.clone())
                .or_default()
                .insert(name.to_string());
            folder.push('/');
            folder.push_str(name);
        }
    }
    tree
}

/// Every run folder of `dag_label` under `runs/`, oldest first.
fn discover(backend: &dyn StorageBackend, dag_label: &str, detail: bool) -> Result<Vec<Row>> {
    // On an object store, one listing of `runs/` replaces a request per folder.
    let (tree, listed) = match backend.list_files("runs") {
        Some(Ok(files)) => (
            Some(folder_tree("runs", &files)),
            Some(listed::Listed::new(backend, "runs", &files)),
        ),
        Some(Err(StorageError::NotFound { .. })) => (Some(Default::default()), None),
        Some(Err(e)) => return Err(e.into()),
        None => (None, None),
    };
    let backend: &dyn StorageBackend = match &listed {
        Some(listed) => listed,
        None => backend,
    };
    let ls = |path: &str| -> Result<Vec<String>> {
        if let Some(tree) = &tree {
            return Ok(tree
                .get(path)
                .map(|names| names.iter().cloned().collect())
                .unwrap_or_default());
        }
        match backend.ls(path) {
            Ok(v) => Ok(v),
            Err(StorageError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    };
    let numeric = |names: Vec<String>| -> Vec<(u32, String)> {
        let mut v: Vec<(u32, String)> = names
            .into_iter()
            .filter_map(|n| n.parse::<u32>().ok().map(|k| (k, n)))
            .collect();
        v.sort();
        v
    };
    let mut found = Vec::new();
    for (_, year) in numeric(ls("runs")?) {
        for (_, month) in numeric(ls(&format!("runs/{year}"))?) {
            for (_, day) in numeric(ls(&format!("runs/{year}/{month}"))?) {
                let day_path = format!("runs/{year}/{month}/{day}");
                let folders: Vec<String> = ls(&day_path)?
                    .into_iter()
                    .map(|id| format!("{day_path}/{id}"))
                    .collect();
                let records: Vec<String> = folders
                    .iter()
                    .map(|f| format!("{f}/{RUN_RECORD_FILE}"))
                    .collect();
                let mut runs = Vec::new();
                for (folder, bytes) in folders.into_iter().zip(backend.read_many(&records)) {
                    let Ok(bytes) = bytes else { continue };
                    match serde_json::from_slice::<RunRecord>(&bytes) {
                        Ok(record) if record.dag == dag_label => {
                            runs.push((record.started_at, folder))
                        }
                        Ok(_) => {}
                        // Not hidden: listed (last of its day) with status `damaged`.
                        Err(e) => {
                            tracing::warn!(
                                "{}: damaged ({e}); listed as damaged, it may be a run of another DAG",
                                backend.display(&format!("{folder}/{RUN_RECORD_FILE}"))
                            );
                            runs.push(("~".to_string(), folder));
                        }
                    }
                }
                runs.sort();
                found.extend(runs.into_iter().map(|(_, f)| (f.clone(), f)));
            }
        }
    }
    read_rows(backend, found, detail)
}

/// The sorted union of the metric keys of `rows`.
fn metric_keys(rows: &[Row]) -> Vec<&str> {
    let mut keys: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .flat_map(|m| m.iter().map(|(k, _)| k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Gluepy's table: `run_folder` and the metrics, `N/A` where missing.
fn render_gluepy(rows: &[Row]) -> String {
    let keys = metric_keys(rows);
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str("run_folder");
    for k in &keys {
        out.push('\t');
        out.push_str(&tsv_cell(k));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&tsv_cell(&row.folder));
        push_metrics(&mut out, row, &keys);
        out.push('\n');
    }
    out
}

/// gluers' table: Gluepy's, with the status, the start date and the logged
/// parameters (`param:KEY`) before the metrics.
fn render_tsv(rows: &[Row]) -> String {
    let keys = metric_keys(rows);
    let mut params: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.params.keys().map(String::as_str))
        .collect();
    params.sort_unstable();
    params.dedup();
    let mut out = String::with_capacity(96 * (rows.len() + 1));
    out.push_str("run_folder\tstatus\tstarted_at");
    for p in &params {
        out.push_str("\tparam:");
        out.push_str(&tsv_cell(p));
    }
    for k in &keys {
        out.push('\t');
        out.push_str(&tsv_cell(k));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&tsv_cell(&row.folder));
        out.push('\t');
        out.push_str(row.status.as_str());
        out.push('\t');
        out.push_str(&tsv_cell(row.started_at.as_deref().unwrap_or("N/A")));
        for p in &params {
            out.push('\t');
            match row.params.get(*p) {
                Some(v) => out.push_str(&tsv_cell(&param_text(v))),
                None => out.push_str("N/A"),
            }
        }
        push_metrics(&mut out, row, &keys);
        out.push('\n');
    }
    out
}

fn push_metrics(out: &mut String, row: &Row, keys: &[&str]) {
    for k in keys {
        out.push('\t');
        match row.metrics.as_ref().and_then(|m| m.get(k)) {
            Some(v) => out.push_str(&python_float(v)),
            None => out.push_str("N/A"),
        }
    }
}

/// A table cell: tabs, newlines and other control characters escaped
/// (`\t`, `\n`, `\x1b`), so that a cell never breaks a row or a column.
fn tsv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    crate::error::escape_controls(text)
}

fn render_json(rows: &[Row]) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let metrics: serde_json::Map<String, serde_json::Value> = r
                .metrics
                .iter()
                .flat_map(|m| m.iter())
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            json!({
                "run_folder": r.folder,
                "status": r.status.as_str(),
                "started_at": r.started_at,
                "params": r.params,
                "metrics": metrics,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&list).expect("json serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn parallel_reads_keep_the_order_of_the_folders() {
        let storage = MemoryStorage::new();
        let mut folders = Vec::new();
        for i in 0..5000 {
            let key = format!("runs/2026/1/1/r{i:05}");
            if i % 7 != 0 {
                storage
                    .write(
                        &format!("{key}/{METRICS_FILE}"),
                        format!("{{\"i\": {i}}}").as_bytes(),
                    )
                    .unwrap();
            }
            folders.push((key.clone(), key));
        }
        let rows = read_rows(&storage, folders, true).unwrap();
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.folder, format!("runs/2026/1/1/r{i:05}"));
            let expected = (i % 7 != 0).then_some(i as f64);
            assert_eq!(row.metrics.as_ref().and_then(|m| m.get("i")), expected);
        }
    }
}
