//! Tests of the compare index: the same table as the folder scan, rebuilt
//! when missing, stale or unreadable, and runs in progress read from their
//! folders.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::compare::{compare, discover, render_gluepy, CompareFormat};
use crate::settings::Settings;
use crate::storage::{LocalStorage, MemoryStorage};
use gluers_formats::MetricValue;

fn write_run(root: &Path, folder: &str, dag: &str, started_at: &str, metrics: Option<&str>) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let id = folder.rsplit('/').next().unwrap();
    let record = format!(
        r#"{{"dag": "{dag}", "run_id": "{id}", "status": "success", "started_at": "{started_at}", "finished_at": null, "tasks": []}}"#
    );
    std::fs::write(dir.join(RUN_RECORD_FILE), record).unwrap();
    if let Some(m) = metrics {
        std::fs::write(dir.join(METRICS_FILE), m).unwrap();
    }
}

/// A store with runs of two DAGs over three days (one of them in another
/// year), a run without metrics, a folder without run.json, and start
/// times that do not follow the folders' names.
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_run(
        root,
        "runs/2025/12/31/b",
        "forecast",
        "2025-12-31T10:00:00Z",
        Some(r#"{"mape": 12.5, "bias": -0.03}"#),
    );
    write_run(
        root,
        "runs/2025/12/31/a",
        "forecast",
        "2025-12-31T11:00:00Z",
        Some(r#"{"mape": 1e-05}"#),
    );
    write_run(
        root,
        "runs/2026/1/2/c",
        "forecast",
        "2026-01-02T09:00:00Z",
        None,
    );
    write_run(
        root,
        "runs/2026/1/2/d",
        "other",
        "2026-01-02T09:30:00Z",
        Some(r#"{"x": 1}"#),
    );
    write_run(
        root,
        "runs/2026/1/10/e",
        "forecast",
        "2026-01-10T08:00:00Z",
        Some(r#"{"mape": 10.426526230368689, "extra": 3}"#),
    );
    std::fs::create_dir_all(root.join("runs/2026/1/10/no-record")).unwrap();
    dir
}

/// Sets every folder of the runs tree an hour back, as if the last change
/// were long ago (no racy stamps).
fn age(root: &Path) {
    let then = SystemTime::now() - Duration::from_secs(3600);
    let mut stack = vec![root.join("runs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let depth = path.strip_prefix(root).unwrap().components().count();
            if path.is_dir() && depth <= 4 && !path.ends_with(".gluers") {
                stack.push(path);
            }
        }
        std::fs::File::open(&dir)
            .unwrap()
            .set_modified(then)
            .unwrap();
    }
}

/// Gluepy's table from the folder scan: the index's own fast path is the
/// one that table takes (the detailed table reads every run's files).
fn scan(backend: &dyn StorageBackend, dag: &str) -> String {
    render_gluepy(&discover(backend, dag, false).unwrap())
}

fn from_index(backend: &dyn StorageBackend, dag: &str) -> String {
    compare(
        backend,
        &Settings::default(),
        Path::new("."),
        dag,
        &[],
        CompareFormat::Gluepy,
    )
    .unwrap()
}

/// Changes the first metric of `folder`'s run to 999 in the index on
/// disk: seeing 999 in the output proves the index was read.
fn tamper(root: &Path, folder: &str) {
    let path = root.join(INDEX_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let index = Index::decode(&text).unwrap();
    let mut runs = index.runs.clone();
    let run = runs.iter_mut().find(|e| e.folder == folder).unwrap();
    run.metrics.as_mut().unwrap()[0].1 = MetricValue::Float(999.0);
    let tampered = Index { runs, ..index }.encode().unwrap();
    std::fs::write(&path, tampered).unwrap();
}

#[test]
fn the_index_gives_the_scan_table_and_is_rebuilt_when_missing_or_stale() {
    let dir = store();
    let root = dir.path();
    let backend = LocalStorage::new(root);
    age(root);
    for dag in ["forecast", "other", "none"] {
        assert_eq!(from_index(&backend, dag), {
            let s = scan(&backend, dag);
            if dag == "none" {
                format!("No metrics found in any run of DAG '{dag}'.\n")
            } else {
                s
            }
        });
    }
    assert!(root.join(INDEX_FILE).is_file(), "the index was written");
    let expected = scan(&backend, "forecast");
    assert!(
        expected
            .starts_with("run_folder\tbias\textra\tmape\nruns/2025/12/31/b\t-0.03\tN/A\t12.5\n"),
        "{expected}"
    );

    // Fresh: read from the index, not from the folders.
    age(root);
    from_index(&backend, "forecast");
    tamper(root, "runs/2025/12/31/b");
    tamper(root, "runs/2026/1/10/e");
    let fresh = from_index(&backend, "forecast");
    assert!(
        fresh.contains("runs/2025/12/31/b\t-0.03\tN/A\t999.0\n"),
        "the fresh index is used: {fresh}"
    );

    // A new run folder makes its day stale: that day is read again, the
    // days that did not change are kept from the index.
    write_run(
        root,
        "runs/2025/12/31/f",
        "forecast",
        "2025-12-31T12:00:00Z",
        Some(r#"{"mape": 7.0}"#),
    );
    let with_f = from_index(&backend, "forecast");
    assert!(
        with_f.contains("runs/2025/12/31/f\tN/A\tN/A\t7.0\n"),
        "{with_f}"
    );
    assert!(
        with_f.contains("runs/2025/12/31/b\t-0.03\tN/A\t12.5\n"),
        "the changed day is read again: {with_f}"
    );
    assert!(
        with_f.contains("runs/2026/1/10/e\tN/A\t3.0\t999.0\n"),
        "the other days are kept: {with_f}"
    );
    // Without the tampering it is the scan's table.
    std::fs::remove_file(root.join(INDEX_FILE)).unwrap();
    assert_eq!(from_index(&backend, "forecast"), scan(&backend, "forecast"));

    // A removed run folder, a removed day, a new day in a new month.
    age(root);
    from_index(&backend, "forecast");
    std::fs::remove_dir_all(root.join("runs/2026/1/10")).unwrap();
    std::fs::remove_dir_all(root.join("runs/2026/1/2/d")).unwrap();
    write_run(
        root,
        "runs/2026/2/1/g",
        "forecast",
        "2026-02-01T00:00:00Z",
        Some(r#"{"mape": 6.0}"#),
    );
    let changed = from_index(&backend, "forecast");
    assert_eq!(changed, scan(&backend, "forecast"));
    assert!(
        !changed.contains("runs/2026/1/10") && changed.contains("runs/2026/2/1/g\t"),
        "{changed}"
    );
    assert_eq!(
        from_index(&backend, "other"),
        "No metrics found in any run of DAG 'other'.\n"
    );

    // Missing, unreadable or of another version: rebuilt.
    for broken in [
        None,
        Some("{not json"),
        Some("gluers-compare-index\t0\t0\n"),
    ] {
        age(root);
        from_index(&backend, "forecast");
        match broken {
            None => std::fs::remove_file(root.join(INDEX_FILE)).unwrap(),
            Some(text) => std::fs::write(root.join(INDEX_FILE), text).unwrap(),
        }
        assert_eq!(from_index(&backend, "forecast"), scan(&backend, "forecast"));
        let text = std::fs::read_to_string(root.join(INDEX_FILE)).unwrap();
        assert!(Index::decode(&text).is_some(), "{text}");
    }
}

#[test]
fn a_folder_changed_just_before_the_stamp_is_not_trusted() {
    let dir = store();
    let root = dir.path();
    let backend = LocalStorage::new(root);
    // Not aged: the folders changed a moment ago, within the racy window.
    from_index(&backend, "forecast");
    tamper(root, "runs/2025/12/31/b");
    assert_eq!(from_index(&backend, "forecast"), scan(&backend, "forecast"));
}

#[test]
fn a_run_in_progress_or_killed_is_read_from_its_folder() {
    let dir = store();
    let root = dir.path();
    let backend = LocalStorage::new(root);
    age(root);
    from_index(&backend, "forecast");
    age(root);
    from_index(&backend, "forecast");

    // A retry rewrites metrics.json in an existing folder and is killed
    // before its mark is dropped: the marker stays.
    let mark = RunMark::begin(&backend, "runs/2026/1/2/c").expect("a local storage is marked");
    std::fs::write(
        root.join("runs/2026/1/2/c").join(METRICS_FILE),
        r#"{"mape": 4.5}"#,
    )
    .unwrap();
    std::mem::forget(mark);
    let killed = from_index(&backend, "forecast");
    assert!(
        killed.contains("runs/2026/1/2/c\tN/A\tN/A\t4.5\n"),
        "{killed}"
    );
    assert_eq!(killed, scan(&backend, "forecast"));

    // A run that ends drops its mark: the day folder's time moves and the
    // marker goes, and the table is still the scan's.
    age(root);
    from_index(&backend, "forecast");
    let mark = RunMark::begin(&backend, "runs/2026/1/2/c").unwrap();
    std::fs::write(
        root.join("runs/2026/1/2/c").join(METRICS_FILE),
        r#"{"mape": 3.25}"#,
    )
    .unwrap();
    drop(mark);
    assert_eq!(
        std::fs::read_dir(root.join(PENDING_DIR)).unwrap().count(),
        0
    );
    let ended = from_index(&backend, "forecast");
    assert!(
        ended.contains("runs/2026/1/2/c\tN/A\tN/A\t3.25\n"),
        "{ended}"
    );
    assert_eq!(ended, scan(&backend, "forecast"));
}

#[test]
fn a_bad_metrics_file_or_a_storage_without_folders_goes_to_the_scan() {
    let dir = store();
    let root = dir.path();
    let backend = LocalStorage::new(root);
    std::fs::write(root.join("runs/2026/1/10/e").join(METRICS_FILE), "{oops").unwrap();
    assert!(runs_of(&backend, "forecast").is_none());
    assert!(!root.join(INDEX_FILE).exists());
    let memory = MemoryStorage::new();
    memory.write("runs/2026/1/1/x/run.json", b"{}").unwrap();
    assert!(runs_of(&memory, "forecast").is_none());
    assert!(RunMark::begin(&memory, "runs/2026/1/1/x").is_none());
}

#[test]
fn the_index_text_reads_back_to_the_same_runs() {
    let index = Index {
        stamped_at: 1_700_000_000_123_456_789,
        folders: vec![(Cow::Borrowed("runs"), 5), (Cow::Borrowed("runs/2026"), -7)],
        runs: vec![
            Entry {
                folder: Cow::Borrowed("runs/2026/1/2/a"),
                dag: Cow::Borrowed("forecast"),
                started_at: Cow::Borrowed("2026-01-02T00:00:00Z"),
                status: Cow::Borrowed("completed"),
                params: Cow::Borrowed(r#"{"alpha":0.5,"name":"a b"}"#),
                metrics: Some(vec![
                    (Cow::Borrowed("mape"), MetricValue::Float(0.1 + 0.2)),
                    (Cow::Borrowed("tiny"), MetricValue::Float(5e-324)),
                    (
                        Cow::Borrowed("big"),
                        MetricValue::Float(-1.7976931348623157e308),
                    ),
                    (Cow::Borrowed("rows"), MetricValue::Int(42)),
                    (Cow::Borrowed("whole"), MetricValue::Float(42.0)),
                ]),
            },
            Entry {
                folder: Cow::Borrowed("runs/2026/1/2/b"),
                dag: Cow::Borrowed("forecast"),
                started_at: Cow::Borrowed("2026-01-02T00:00:01Z"),
                status: Cow::Borrowed("running"),
                params: Cow::Borrowed("{}"),
                metrics: None,
            },
            Entry {
                folder: Cow::Borrowed("runs/2026/1/2/c"),
                dag: Cow::Borrowed("other"),
                started_at: Cow::Borrowed("x"),
                status: Cow::Borrowed("failed"),
                params: Cow::Borrowed("{}"),
                metrics: Some(Vec::new()),
            },
        ],
    };
    let text = index.encode().unwrap();
    let back = Index::decode(&text).unwrap();
    assert_eq!(back.encode().unwrap(), text);
    assert_eq!(back.stamped_at, index.stamped_at);
    assert_eq!(back.folders, index.folders);
    let values: Vec<MetricValue> = back.runs[0]
        .metrics
        .iter()
        .flatten()
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(
        values,
        [
            MetricValue::Float(0.1 + 0.2),
            MetricValue::Float(5e-324),
            MetricValue::Float(-1.7976931348623157e308),
            MetricValue::Int(42),
            MetricValue::Float(42.0),
        ],
        "integers stay integers, floats stay floats"
    );
    assert_eq!(back.runs[0].params, r#"{"alpha":0.5,"name":"a b"}"#);
    assert!(back.runs[1].metrics.is_none() && back.runs[2].metrics == Some(Vec::new()));
    // A tab in a field cannot be written; a damaged line cannot be read.
    let mut odd = index.runs.clone();
    odd[0].dag = Cow::Borrowed("a\tb");
    assert!(Index { runs: odd, ..index }.encode().is_none());
    assert!(Index::decode(&text.replace("\t+\t", "\t?\t")).is_none());
    assert!(Index::decode(&text.replace("R\t", "X\t")).is_none());
    assert!(Index::decode("").is_none());
}

#[test]
fn markers_name_run_folders_and_nothing_else() {
    assert_eq!(marker_of_folder("runs/2026/1/2/abc"), "runs+2026+1+2+abc");
    assert_eq!(
        folder_of_marker("runs+2026+1+2+abc").as_deref(),
        Some("runs/2026/1/2/abc")
    );
    for bad in [
        "runs+2026+1+abc",
        "x+2026+1+2+a",
        "runs+2026+1+2+.tmp",
        "runs+a+1+2+b",
        "runs+2026+1+2+a+b",
    ] {
        assert_eq!(folder_of_marker(bad), None, "{bad}");
    }
}
