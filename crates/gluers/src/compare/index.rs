//! The index of runs that `dag LABEL --compare` (no folders) reads instead
//! of two files in every run folder.
//!
//! `runs/.gluers/index.tsv` holds, for every run folder with a readable
//! `run.json`, its DAG, start time, status and metrics, in the order the
//! folder scan gives them, plus a stamp (modification time) of every folder
//! of the `runs/YYYY/M/D` tree. It is a cache: the run folders stay the
//! truth, and any doubt sends the reader back to them.
//!
//! - **Stale or missing**: the index is rebuilt (by the same walk as the
//!   scan) and replaced atomically (temporary file, rename), so a killed
//!   process leaves the old index or the new one. A run folder added or
//!   removed changes its day folder's time; a folder changed less than
//!   [`RACY`] before the index was stamped is not trusted, since two changes
//!   within a file system's timestamp granularity look the same. Days whose
//!   folder did not change keep their runs from the old index, so a new run
//!   costs a re-read of its day, not of every run.
//! - **Runs in progress**: the runner writes a marker in
//!   `runs/.gluers/pending/` before it touches a run folder and, when it is
//!   done, bumps the day folder's time and then removes the marker. Marked
//!   runs are read from their folders on every compare, so a run killed at
//!   any point (its marker stays) is still seen as its files are.
//! - **Anything unusual** (a `metrics.json` that does not parse, a metric
//!   the index cannot hold, storage that is not a local folder): no index;
//!   the caller scans the folders, and reports what the scan reports.
//!
//! What the index cannot see: a file changed in place inside an existing
//! run folder by another program (not gluers' runner). Deleting
//! `runs/.gluers/index.tsv` makes the next compare rebuild it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gluers_formats::params::PARAMS_FILE;
use gluers_formats::MetricValue;

use crate::metrics::{Metrics, METRICS_FILE};
use crate::run_record::{RunRecord, RUN_RECORD_FILE};
use crate::storage::{StorageBackend, StorageError};

/// The index, as a storage key.
pub const INDEX_FILE: &str = "runs/.gluers/index.tsv";
/// Markers of the runs in progress, one empty file per run folder.
const PENDING_DIR: &str = "runs/.gluers/pending";
/// The index format's version; another version is rebuilt.
const VERSION: u32 = 2;
/// Folders changed this close to the stamp are not trusted.
pub const RACY: Duration = Duration::from_secs(2);

/// The index, read or to be written. Read, its strings borrow from the
/// file's text, so reading 10,000 runs allocates little.
struct Index<'a> {
    /// When the stamps were taken, in nanoseconds since the epoch.
    stamped_at: i128,
    /// `runs`, `runs/YYYY`, `runs/YYYY/M` and `runs/YYYY/M/D`, with their times.
    folders: Vec<(Cow<'a, str>, i128)>,
    runs: Vec<Entry<'a>>,
}

/// One run folder, in scan order.
#[derive(Clone)]
struct Entry<'a> {
    folder: Cow<'a, str>,
    dag: Cow<'a, str>,
    started_at: Cow<'a, str>,
    /// As `--compare` shows it: `completed`, `skipped-eval`, `failed`, ...
    status: Cow<'a, str>,
    /// `params.json` as compact JSON (`{}` when there is none).
    params: Cow<'a, str>,
    /// `None` when the folder has no `metrics.json`.
    metrics: Option<Vec<(Cow<'a, str>, MetricValue)>>,
}

/// One run as the index gives it to `--compare`.
pub(super) struct IndexedRun {
    pub(super) folder: String,
    pub(super) metrics: Option<Metrics>,
    pub(super) status: super::RowStatus,
    pub(super) started_at: String,
    pub(super) params: gluers_formats::Params,
}

/// A metric value as the index writes it: an integer as itself, a float
/// with `{:e}` (which reads back to the same float, and always holds an
/// `e`, so the two cannot be confused).
fn encode_value(v: MetricValue) -> String {
    match v {
        MetricValue::Int(i) => i.to_string(),
        MetricValue::Float(f) => format!("{f:e}"),
    }
}

fn decode_value(text: &str) -> Option<MetricValue> {
    if text.contains(['e', 'E', 'N', 'n', 'i']) {
        text.parse().ok().map(MetricValue::Float)
    } else {
        text.parse().ok().map(MetricValue::Int)
    }
}

/// The first line of the index: its format and version, then the stamp time.
const MAGIC: &str = "gluers-compare-index";

impl<'a> Index<'a> {
    /// The index as text: a header line, one `F` line per stamped folder,
    /// one `R` line per run, fields separated by tabs; metric values with
    /// `{:e}`, which reads back to the same float. `None` when a field holds
    /// a tab or a line break (such runs are always scanned).
    fn encode(&self) -> Option<String> {
        use std::fmt::Write as _;
        let clean = |s: &str| !s.contains(['\t', '\n', '\r']);
        let mut out = String::with_capacity(64 + self.runs.len() * 128);
        let _ = writeln!(out, "{MAGIC}\t{VERSION}\t{}", self.stamped_at);
        for (folder, time) in &self.folders {
            if !clean(folder) {
                return None;
            }
            let _ = writeln!(out, "F\t{folder}\t{time}");
        }
        for e in &self.runs {
            if ![&e.folder, &e.dag, &e.started_at, &e.status, &e.params]
                .iter()
                .all(|s| clean(s))
            {
                return None;
            }
            let present = if e.metrics.is_some() { '+' } else { '-' };
            let _ = write!(
                out,
                "R\t{}\t{}\t{}\t{}\t{}\t{present}",
                e.folder, e.dag, e.started_at, e.status, e.params
            );
            for (k, v) in e.metrics.iter().flatten() {
                if !clean(k) {
                    return None;
                }
                let _ = write!(out, "\t{k}\t{}", encode_value(*v));
            }
            out.push('\n');
        }
        Some(out)
    }

    /// Reads [`encode`](Self::encode)'s text; `None` for anything else.
    fn decode(text: &'a str) -> Option<Index<'a>> {
        let mut lines = text.split_terminator('\n');
        let mut header = lines.next()?.split('\t');
        if header.next()? != MAGIC || header.next()?.parse::<u32>().ok()? != VERSION {
            return None;
        }
        let stamped_at = header.next()?.parse().ok()?;
        let mut index = Index {
            stamped_at,
            folders: Vec::new(),
            runs: Vec::new(),
        };
        for line in lines {
            let mut fields = line.split('\t');
            match fields.next()? {
                "F" => {
                    let folder = fields.next()?;
                    let time = fields.next()?.parse().ok()?;
                    index.folders.push((Cow::Borrowed(folder), time));
                }
                "R" => {
                    let mut next = || fields.next().map(Cow::Borrowed);
                    let (folder, dag, started_at, status, params) =
                        (next()?, next()?, next()?, next()?, next()?);
                    let metrics = match fields.next()? {
                        "-" => None,
                        "+" => {
                            let mut pairs = Vec::new();
                            while let Some(key) = fields.next() {
                                pairs.push((Cow::Borrowed(key), decode_value(fields.next()?)?));
                            }
                            Some(pairs)
                        }
                        _ => return None,
                    };
                    index.runs.push(Entry {
                        folder,
                        dag,
                        started_at,
                        status,
                        params,
                        metrics,
                    });
                }
                _ => return None,
            }
        }
        Some(index)
    }
}

/// Every run of `dag` with its metrics, oldest first, as the folder scan
/// would give them; `None` when the caller should scan (see the module).
pub(super) fn runs_of(backend: &dyn StorageBackend, dag: &str) -> Option<Vec<IndexedRun>> {
    let root = backend.local_path("")?;
    let text = std::fs::read_to_string(root.join(INDEX_FILE)).unwrap_or_default();
    let mut runs = match Index::decode(&text) {
        Some(index) if fresh(&root, &index) => index.runs,
        previous => rebuild(backend, &root, previous)?,
    };
    overlay_pending(backend, &root, &mut runs)?;
    runs.into_iter()
        .filter(|e| e.dag == dag)
        .map(|e| {
            let metrics = match e.metrics {
                None => None,
                Some(pairs) => {
                    let mut m = Metrics::new();
                    for (k, v) in pairs {
                        m.record(&k, v).ok()?;
                    }
                    Some(m)
                }
            };
            Some(IndexedRun {
                folder: e.folder.into_owned(),
                metrics,
                status: super::RowStatus::parse(&e.status)?,
                started_at: e.started_at.into_owned(),
                params: gluers_formats::params::params_from_json(&e.params).ok()?,
            })
        })
        .collect()
}

/// Whether no stamped folder changed since the index was stamped, nor
/// shortly before.
fn fresh(root: &Path, index: &Index<'_>) -> bool {
    index
        .folders
        .iter()
        .all(|(folder, stamp)| unchanged(root, folder, *stamp, index.stamped_at))
}

/// Whether `folder` still has the time `stamp`, taken at `stamped_at`, and
/// that time is far enough before it to be trusted.
fn unchanged(root: &Path, folder: &str, stamp: i128, stamped_at: i128) -> bool {
    let racy_after = stamped_at - RACY.as_nanos() as i128;
    mtime(&root.join(folder)) == Some(stamp) && stamp < racy_after
}

/// A folder's modification time in nanoseconds since the epoch.
fn mtime(path: &Path) -> Option<i128> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(nanos(modified))
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Walks `runs/YYYY/M/D/<run>` as the scan does, stamping each folder
/// before listing it, and writes the index; `None` if a `metrics.json` does
/// not parse (the scan then says so). The runs of a day folder that has not
/// changed since `previous` was stamped are taken from it; the others are
/// read from their folders.
fn rebuild<'a>(
    backend: &dyn StorageBackend,
    root: &Path,
    previous: Option<Index<'a>>,
) -> Option<Vec<Entry<'a>>> {
    let stamped_at = nanos(SystemTime::now());
    // No runs/ (nothing to index), or no folder for the index: the scan.
    std::fs::create_dir_all(root.join(INDEX_FILE).parent()?)
        .ok()
        .filter(|_| root.join("runs").is_dir())?;
    // The previous index's days still as they were, with their runs.
    let mut kept_days: HashMap<String, Vec<Entry<'a>>> = HashMap::new();
    if let Some(previous) = previous {
        for (folder, stamp) in &previous.folders {
            if folder.matches('/').count() == 3
                && unchanged(root, folder, *stamp, previous.stamped_at)
            {
                kept_days.insert(folder.to_string(), Vec::new());
            }
        }
        for entry in previous.runs {
            let day = entry.folder.rsplit_once('/').map_or("", |(day, _)| day);
            if let Some(runs) = kept_days.get_mut(day) {
                runs.push(entry);
            }
        }
    }
    let mut folders = Vec::new();
    let mut stamp_and_list = |key: &str, list: bool| -> Option<Vec<String>> {
        // Stamped before it is listed: a change after the stamp is seen.
        let time = mtime(&root.join(key))?;
        folders.push((Cow::Owned(key.to_string()), time));
        if !list {
            return Some(Vec::new());
        }
        match backend.ls(key) {
            Ok(names) => Some(names),
            Err(StorageError::NotFound { .. }) => Some(Vec::new()),
            Err(_) => None,
        }
    };
    let numeric = |names: Vec<String>| -> Vec<String> {
        let mut v: Vec<(u32, String)> = names
            .into_iter()
            .filter_map(|n| n.parse::<u32>().ok().map(|k| (k, n)))
            .collect();
        v.sort();
        v.into_iter().map(|(_, n)| n).collect()
    };
    let mut day_folders = Vec::new();
    let mut runs = Vec::new();
    for year in numeric(stamp_and_list("runs", true)?) {
        for month in numeric(stamp_and_list(&format!("runs/{year}"), true)?) {
            for day in numeric(stamp_and_list(&format!("runs/{year}/{month}"), true)?) {
                let day_path = format!("runs/{year}/{month}/{day}");
                match kept_days.remove(&day_path) {
                    Some(kept) => {
                        stamp_and_list(&day_path, false)?;
                        runs.extend(kept);
                    }
                    None => {
                        for id in stamp_and_list(&day_path, true)? {
                            day_folders.push(format!("{day_path}/{id}"));
                        }
                    }
                }
            }
        }
    }
    runs.extend(read_entries(backend, day_folders)?);
    // Two sorted runs of entries: the stable sort merges them in linear time.
    runs.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    let index = Index {
        stamped_at,
        folders,
        runs,
    };
    match index.encode() {
        Some(text) => {
            if let Err(e) = backend.write(INDEX_FILE, text.as_bytes()) {
                tracing::debug!("could not write the compare index: {e}");
            }
        }
        None => tracing::debug!("a run folder's name or a metric holds a tab: no compare index"),
    }
    Some(index.runs)
}

/// The entries of `folders` (in day order, sorted within a day by start
/// time as the scan sorts them); folders without a `run.json` are left out,
/// as the scan leaves them out; a damaged one gives `None` (scan instead).
fn read_entries(backend: &dyn StorageBackend, folders: Vec<String>) -> Option<Vec<Entry<'static>>> {
    let records: Vec<String> = folders
        .iter()
        .map(|f| format!("{f}/{RUN_RECORD_FILE}"))
        .collect();
    let records = super::read_parallel(backend, &records);
    let mut found: Vec<(String, RunRecord)> = Vec::with_capacity(folders.len());
    for (folder, bytes) in folders.into_iter().zip(records) {
        let Ok(bytes) = bytes else { continue };
        // A damaged run.json is listed as `damaged` by the scan, with a
        // warning: the index cannot stand for it.
        found.push((folder, serde_json::from_slice::<RunRecord>(&bytes).ok()?));
    }
    let files: Vec<String> = found
        .iter()
        .map(|(f, _)| format!("{f}/{METRICS_FILE}"))
        .collect();
    let contents = super::read_parallel(backend, &files);
    let params_files: Vec<String> = found
        .iter()
        .map(|(f, _)| format!("{f}/{PARAMS_FILE}"))
        .collect();
    let params = super::read_parallel(backend, &params_files);
    let mut entries = Vec::with_capacity(found.len());
    for (((folder, record), content), params) in found.into_iter().zip(contents).zip(params) {
        let metrics = match content {
            Ok(bytes) => {
                let metrics = Metrics::from_json(&String::from_utf8_lossy(&bytes)).ok()?;
                Some(
                    metrics
                        .values()
                        .map(|(k, v)| (Cow::Owned(k.to_string()), v))
                        .collect(),
                )
            }
            Err(StorageError::NotFound { .. }) => None,
            Err(_) => return None,
        };
        // A damaged params.json is the scan's to report.
        let params = match params {
            Ok(bytes) => {
                let parsed =
                    gluers_formats::params::params_from_json(&String::from_utf8_lossy(&bytes))
                        .ok()?;
                serde_json::to_string(&parsed).ok()?
            }
            Err(StorageError::NotFound { .. }) => "{}".to_string(),
            Err(_) => return None,
        };
        entries.push(Entry {
            folder: Cow::Owned(folder),
            dag: Cow::Owned(record.dag.clone()),
            started_at: Cow::Owned(record.started_at.clone()),
            status: Cow::Owned(super::RowStatus::of(&record).as_str().to_string()),
            params: Cow::Owned(params),
            metrics,
        });
    }
    entries.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    Some(entries)
}

/// The scan's order: day by day (year, month, day by number, then name),
/// then by start time and folder.
fn order_key<'e>(e: &'e Entry<'_>) -> ([(u32, &'e str); 3], &'e str, &'e str) {
    let mut day = [(0u32, ""); 3];
    for (slot, part) in day.iter_mut().zip(e.folder.split('/').skip(1)) {
        *slot = (part.parse().unwrap_or(u32::MAX), part);
    }
    (day, &e.started_at, &e.folder)
}

/// Reads the marked (in progress, or killed) runs from their folders, over
/// what the index says of them.
fn overlay_pending(backend: &dyn StorageBackend, root: &Path, runs: &mut Vec<Entry>) -> Option<()> {
    let marked: Vec<String> = match std::fs::read_dir(root.join(PENDING_DIR)) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| folder_of_marker(&name))
            .collect(),
        Err(_) => return Some(()),
    };
    if marked.is_empty() {
        return Some(());
    }
    runs.retain(|e| !marked.iter().any(|m| *m == e.folder));
    let fresh = read_entries(backend, marked)?;
    runs.extend(fresh);
    runs.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    Some(())
}

/// The marker's file name for a run folder (`runs/2026/1/2/<id>` is
/// `runs+2026+1+2+<id>`): creating an empty file is atomic, so a marker is
/// whole or absent.
fn marker_of_folder(folder: &str) -> String {
    folder.replace('/', "+")
}

fn folder_of_marker(name: &str) -> Option<String> {
    let folder = name.replace('+', "/");
    let parts: Vec<&str> = folder.split('/').collect();
    let well_formed = parts.len() == 5
        && parts[0] == "runs"
        && parts[1..4].iter().all(|p| p.parse::<u32>().is_ok())
        && !parts[4].is_empty()
        && !parts[4].starts_with('.');
    well_formed.then_some(folder)
}

/// What the runner holds while it writes in a run folder: a marker that
/// makes `--compare` read that folder itself. Dropped (the run ended, or
/// failed), it bumps the day folder's time, so an index built meanwhile is
/// stale, and removes the marker. A killed runner leaves the marker.
pub(crate) struct RunMark {
    marker: PathBuf,
    day: PathBuf,
}

impl RunMark {
    /// Marks `run_folder` (a storage key) as in progress; `None` when the
    /// storage is not a local folder (no index there) or the marker cannot be
    /// written (then the next compare finds the index stale by the new run
    /// folder, or, for a retried one, may show its previous state until the
    /// day folder changes).
    pub(crate) fn begin(backend: &dyn StorageBackend, run_folder: &str) -> Option<RunMark> {
        let root = backend.local_path("")?;
        let day = root.join(run_folder.rsplit_once('/')?.0);
        let pending = root.join(PENDING_DIR);
        let marker = pending.join(marker_of_folder(run_folder));
        let created = std::fs::create_dir_all(&pending)
            .and_then(|_| std::fs::File::create(&marker).map(drop));
        match created {
            Ok(()) => Some(RunMark { marker, day }),
            Err(e) => {
                tracing::debug!("could not mark the run for the compare index: {e}");
                None
            }
        }
    }
}

impl Drop for RunMark {
    fn drop(&mut self) {
        let bumped = std::fs::File::open(&self.day).and_then(|f| f.set_modified(SystemTime::now()));
        match bumped {
            // The marker stays when the day folder could not be bumped: the
            // run is then always read from its folder, never from a stale index.
            Err(e) => tracing::debug!("could not update {}: {e}", self.day.display()),
            Ok(()) => {
                let _ = std::fs::remove_file(&self.marker);
            }
        }
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
