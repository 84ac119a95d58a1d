//! `dag LABEL --compare`: a table of metrics across run folders.

pub(crate) mod index;

use std::path::Path;

use serde_json::json;

use crate::error::{GluersError, Result};
use crate::metrics::{python_float, Metrics, METRICS_FILE};
use crate::run_folder::resolve_run_folder;
use crate::run_record::{RunRecord, RUN_RECORD_FILE};
use crate::settings::Settings;
use crate::storage::{StorageBackend, StorageError};

/// Output formats of `--compare`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Gluepy's table: `run_folder<TAB>key...`, `N/A` for a missing key.
    #[default]
    Tsv,
    /// A JSON array of `{"run_folder", "metrics"}` objects.
    Json,
}

/// One row of the comparison.
struct Row {
    folder: String,
    metrics: Option<Metrics>,
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
    let rows = if folders.is_empty() {
        // Every run of the DAG: from the index when it can be trusted.
        match index::runs_of(backend, dag_label) {
            Some(runs) => runs
                .into_iter()
                .map(|(folder, metrics)| Row { folder, metrics })
                .collect(),
            None => discover(backend, dag_label)?,
        }
    } else {
        let keys = folders
            .iter()
            .map(|f| {
                resolve_run_folder("--compare", f, &settings.storage_root, project_dir)
                    .map(|key| (f.trim_end_matches('/').to_string(), key))
            })
            .collect::<Result<Vec<_>>>()?;
        read_rows(backend, keys)?
    };
    Ok(match format {
        CompareFormat::Tsv if rows.iter().all(|r| r.metrics.is_none()) => {
            // Gluepy's wording, so scripts that look for it keep working.
            if folders.is_empty() {
                format!("No metrics found in any run of DAG '{dag_label}'.\n")
            } else {
                "No metrics found in any of the specified run folders.\n".to_string()
            }
        }
        CompareFormat::Tsv => render_tsv(&rows),
        CompareFormat::Json => render_json(&rows),
    })
}

/// Reads `metrics.json` of each `(shown, key)` folder, in one batch.
fn read_rows(backend: &dyn StorageBackend, folders: Vec<(String, String)>) -> Result<Vec<Row>> {
    let files: Vec<String> = folders
        .iter()
        .map(|(_, key)| format!("{key}/{METRICS_FILE}"))
        .collect();
    let contents = read_parallel(backend, &files);
    folders
        .into_iter()
        .zip(files.iter().zip(contents))
        .map(|((shown, _), (file, content))| match content {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let metrics = Metrics::from_json(&text)
                    .map_err(|e| GluersError::Other(format!("{}: {e}", backend.display(file))))?;
                Ok(Row {
                    folder: shown,
                    metrics: Some(metrics),
                })
            }
            Err(StorageError::NotFound { .. }) => Ok(Row {
                folder: shown,
                metrics: None,
            }),
            Err(e) => Err(e.into()),
        })
        .collect()
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

/// Every run folder of `dag_label` under `runs/`, oldest first.
fn discover(backend: &dyn StorageBackend, dag_label: &str) -> Result<Vec<Row>> {
    let ls = |path: &str| -> Result<Vec<String>> {
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
                    let Ok(record) = serde_json::from_slice::<RunRecord>(&bytes) else {
                        continue;
                    };
                    if record.dag == dag_label {
                        runs.push((record.started_at, folder));
                    }
                }
                runs.sort();
                found.extend(runs.into_iter().map(|(_, f)| (f.clone(), f)));
            }
        }
    }
    read_rows(backend, found)
}

fn render_tsv(rows: &[Row]) -> String {
    let mut keys: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .flat_map(|m| m.iter().map(|(k, _)| k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str("run_folder");
    for k in &keys {
        out.push('\t');
        out.push_str(k);
    }
    out.push('\n');
    for row in rows {
        out.push_str(&row.folder);
        for k in &keys {
            out.push('\t');
            match row.metrics.as_ref().and_then(|m| m.get(k)) {
                Some(v) => out.push_str(&python_float(v)),
                None => out.push_str("N/A"),
            }
        }
        out.push('\n');
    }
    out
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
            json!({ "run_folder": r.folder, "metrics": metrics })
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
        let rows = read_rows(&storage, folders).unwrap();
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.folder, format!("runs/2026/1/1/r{i:05}"));
            let expected = (i % 7 != 0).then_some(i as f64);
            assert_eq!(row.metrics.as_ref().and_then(|m| m.get("i")), expected);
        }
    }
}
