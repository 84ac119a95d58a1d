//! Tests of the CSV reader, writer and tail reader, on the local disk and in memory.

use std::sync::Arc;

use crate::data::DataManager;
use crate::storage::{LocalStorage, MemoryStorage, Storage};

#[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq, Clone)]
struct Row {
    timestamp: String,
    demand_gw: f64,
}

#[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
struct RowRef<'a> {
    timestamp: &'a str,
    demand_gw: f64,
}

fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| Row {
            timestamp: format!("t{i:06}"),
            demand_gw: i as f64 + 0.5,
        })
        .collect()
}

/// A local storage in a temporary folder, and one in memory.
fn storages() -> (tempfile::TempDir, Vec<Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let local = Storage::new(Arc::new(LocalStorage::new(dir.path())), "runs/r");
    let memory = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    (dir, vec![local, memory])
}

#[test]
fn round_trip_keeps_the_bytes_gluepy_writes() {
    let (_dir, storages) = storages();
    for storage in &storages {
        let data = DataManager::new(storage);
        let rows = vec![Row {
            timestamp: "2014-01-01T00:00".into(),
            demand_gw: 3.9,
        }];
        data.write_csv("x.csv", &rows).unwrap();
        assert_eq!(
            storage.read_to_string("runs/r/x.csv").unwrap(),
            "timestamp,demand_gw\n2014-01-01T00:00,3.9\n"
        );
        assert_eq!(data.read_csv::<Row>("x.csv").unwrap(), rows);
    }
}

#[test]
fn bad_value_names_file_line_and_column() {
    let (_dir, storages) = storages();
    for storage in &storages {
        storage
            .write("in.csv", b"timestamp,demand_gw\na,1.0\nb,oops\n")
            .unwrap();
        let err = DataManager::new(storage)
            .root()
            .read_csv::<Row>("in.csv")
            .unwrap_err()
            .to_string();
        let shown = storage.display("in.csv");
        assert!(
            err.starts_with(&format!("{shown}: line 3, column \"demand_gw\"")),
            "{err}"
        );
    }
}

#[test]
fn a_missing_file_is_a_storage_error_naming_it() {
    let (_dir, storages) = storages();
    for storage in &storages {
        let err = DataManager::new(storage)
            .read_csv::<Row>("nope.csv")
            .unwrap_err();
        assert!(
            matches!(
                err,
                crate::data::DataError::Storage(crate::storage::StorageError::NotFound { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("nope.csv"), "{err}");
    }
}

#[test]
fn a_folder_is_not_read_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(Arc::new(LocalStorage::new(dir.path())), "runs/r");
    storage.mkdir("runs/r/t.csv").unwrap();
    let err = DataManager::new(&storage)
        .read_csv::<Row>("t.csv")
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("runs/r/t.csv: is a folder; name a table file"),
        "{err}"
    );
}

#[test]
fn borrowed_rows_and_streamed_writes_give_the_same_table() {
    let (_dir, storages) = storages();
    for storage in &storages {
        let data = DataManager::new(storage);
        data.write_csv("in.csv", &rows(1000)).unwrap();
        let mut reader = data.csv_reader("in.csv").unwrap();
        assert_eq!(reader.headers(), ["timestamp", "demand_gw"]);
        let mut out = data.csv_writer("out.csv").unwrap();
        while let Some(row) = reader.next_row::<RowRef>().unwrap() {
            out.write(&row).unwrap();
        }
        assert_eq!(out.rows(), 1000);
        out.finish().unwrap();
        assert_eq!(
            storage.read("runs/r/out.csv").unwrap(),
            storage.read("runs/r/in.csv").unwrap()
        );
        let owned: Vec<Row> = data
            .iter_csv("out.csv")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(owned, rows(1000));
    }
}

#[test]
fn an_unfinished_writer_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(Arc::new(LocalStorage::new(dir.path())), "runs/r");
    let data = DataManager::new(&storage);
    data.write_csv("t.csv", &rows(2)).unwrap();
    let before = storage.read("runs/r/t.csv").unwrap();
    {
        let mut out = data.csv_writer("t.csv").unwrap();
        for row in rows(50) {
            out.write(&row).unwrap();
        }
        // Dropped: a task that failed half way.
    }
    assert_eq!(storage.read("runs/r/t.csv").unwrap(), before);
    assert_eq!(storage.ls("runs/r").unwrap(), ["t.csv"]);
}

#[test]
fn tail_reads_the_last_rows_whatever_the_file_looks_like() {
    let (_dir, storages) = storages();
    let header = "timestamp,demand_gw\n";
    let body: String = rows(5000)
        .iter()
        .map(|r| format!("{},{}\n", r.timestamp, r.demand_gw))
        .collect();
    let cases = [
        ("plain", format!("{header}{body}")),
        ("no final newline", format!("{header}{}", body.trim_end())),
        ("crlf", format!("{header}{body}").replace('\n', "\r\n")),
        (
            "quoted field far from the end",
            format!("{header}\"t,x\",1\n{body}"),
        ),
        (
            "quoted line break in the tail",
            format!("{header}{body}\"a\nb\",9\n"),
        ),
        ("blank line in the tail", format!("{header}{body}\nx,7\n")),
    ];
    for storage in &storages {
        let data = DataManager::new(storage);
        for (name, text) in &cases {
            storage.write("runs/r/t.csv", text.as_bytes()).unwrap();
            let all: Vec<Row> = data.read_csv("t.csv").unwrap();
            for n in [0, 1, 2, 336, 4999, 5000, 5002, 20_000] {
                let tail: Vec<Row> = data.read_csv_tail("t.csv", n).unwrap();
                let expected = &all[all.len().saturating_sub(n)..];
                assert_eq!(tail, expected, "{name}, n = {n}");
            }
        }
    }
}

#[test]
fn tail_of_a_header_only_file_is_empty_and_a_bad_tail_names_its_line() {
    let (_dir, storages) = storages();
    for storage in &storages {
        let data = DataManager::new(storage);
        storage
            .write("runs/r/t.csv", b"timestamp,demand_gw\n")
            .unwrap();
        assert!(data.read_csv_tail::<Row>("t.csv", 3).unwrap().is_empty());
        storage
            .write("runs/r/t.csv", b"timestamp,demand_gw\na,1\nb,x\n")
            .unwrap();
        let err = data
            .read_csv_tail::<Row>("t.csv", 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3, column \"demand_gw\""), "{err}");
    }
}

#[test]
fn tail_is_read_from_the_end_only_when_that_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = rows(3000)
        .iter()
        .map(|r| format!("{},{}\n", r.timestamp, r.demand_gw))
        .collect();
    let read_from_end = |text: String| {
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        super::tail_of_file::<Row>(file, 10, "t.csv").unwrap()
    };
    let tail = read_from_end(format!("timestamp,demand_gw\n{body}")).expect("read from the end");
    assert_eq!(tail, rows(3000)[2990..]);
    assert!(read_from_end(format!("timestamp,demand_gw\n{body}\"a\nb\",1\n")).is_none());
    assert!(read_from_end(format!("timestamp,demand_gw\n{body}\n")).is_some());
    assert!(read_from_end(format!("timestamp,demand_gw\n{body}\n\nx,1\n")).is_none());
}

#[test]
fn copied_rows_keep_their_bytes_and_the_header_of_their_file() {
    let (_dir, storages) = storages();
    for storage in &storages {
        let data = DataManager::new(storage);
        // Numbers as a person typed them: a copy keeps them, a rewrite would not.
        storage
            .write("runs/r/in.csv", b"timestamp,demand_gw\na,1.50\n\"b,c\",2\n")
            .unwrap();
        storage.write("runs/r/other.csv", b"x,y\n1,2\n").unwrap();
        let mut reader = data.csv_reader("in.csv").unwrap();
        let mut out = data.csv_writer("out.csv").unwrap();
        while let Some(row) = reader.next_row::<RowRef>().unwrap() {
            if row.timestamp != "skip" {
                out.copy_row(&reader).unwrap();
            }
        }
        out.write(&Row {
            timestamp: "d".into(),
            demand_gw: 3.0,
        })
        .unwrap();
        let mut other = data.csv_reader("other.csv").unwrap();
        other.next_row::<(u8, u8)>().unwrap();
        let err = out.copy_row(&other).unwrap_err().to_string();
        assert!(err.contains("columns differ"), "{err}");
        out.finish().unwrap();
        assert_eq!(
            storage.read_to_string("runs/r/out.csv").unwrap(),
            "timestamp,demand_gw\na,1.50\n\"b,c\",2\nd,3.0\n"
        );
    }
}

#[test]
fn a_writer_with_no_rows_writes_an_empty_file() {
    let (_dir, storages) = storages();
    for storage in &storages {
        DataManager::new(storage)
            .csv_writer("empty.csv")
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(storage.read("runs/r/empty.csv").unwrap(), b"");
    }
}
