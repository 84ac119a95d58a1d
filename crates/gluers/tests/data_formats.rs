//! The data manager's formats end to end: typed rows as CSV and Parquet,
//! DataFrames as CSV and Parquet, on memory and local storage, relative to
//! the run folder and to the storage root, and the errors for bad input.
//!
//! Parquet tests need `--features parquet`, DataFrame tests `--features polars`
//! (CI runs `cargo test -p gluers --features parquet,polars`).

use std::sync::Arc;

use gluers::data::DataError;
use gluers::data::TableFormat;
use gluers::{DataManager, LocalStorage, MemoryStorage, Storage};
use serde::{Deserialize, Serialize};

const RUN: &str = "runs/2014/1/1/3f1c";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Demand {
    timestamp: String,
    demand_gw: f64,
    temperature: Option<f64>,
    holiday: bool,
    region: Region,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
enum Region {
    Vic,
    Nsw,
}

fn demand() -> Vec<Demand> {
    vec![
        Demand {
            timestamp: "2014-01-01T00:00:00".into(),
            demand_gw: 4.382,
            temperature: Some(21.4),
            holiday: true,
            region: Region::Vic,
        },
        Demand {
            timestamp: "2014-01-01T00:30:00".into(),
            demand_gw: 4.263,
            temperature: None,
            holiday: true,
            region: Region::Nsw,
        },
        Demand {
            timestamp: "2014-01-02T00:00:00".into(),
            demand_gw: 3.9,
            temperature: Some(-1.5),
            holiday: false,
            region: Region::Vic,
        },
    ]
}

fn memory() -> Storage {
    Storage::new(Arc::new(MemoryStorage::new()), RUN)
}

fn local() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(Arc::new(LocalStorage::new(dir.path().join("data"))), RUN);
    (dir, storage)
}

/// Writes and reads back `file` with `write`/`read`, relative to the run
/// folder and to the root, and checks where the files landed.
fn round_trip_everywhere(
    file: &str,
    write: impl Fn(&DataManager<'_>, &str),
    read: impl Fn(&DataManager<'_>, &str),
) {
    let storage = memory();
    let data = DataManager::new(&storage);
    write(&data, file);
    read(&data, file);
    assert!(storage.isfile(&format!("{RUN}/{file}")).unwrap());
    write(&data.root(), &format!("inputs/{file}"));
    read(&data.root(), &format!("inputs/{file}"));
    assert!(storage.isfile(&format!("inputs/{file}")).unwrap());

    let (dir, storage) = local();
    let data = DataManager::new(&storage);
    write(&data, file);
    read(&data, file);
    assert!(dir.path().join("data").join(RUN).join(file).is_file());
    write(&data.root(), &format!("inputs/{file}"));
    read(&data.root(), &format!("inputs/{file}"));
    assert!(dir.path().join("data/inputs").join(file).is_file());
}

fn expect_format_error(err: DataError) -> (String, String) {
    match err {
        DataError::Format { path, location, .. } => (path, location),
        other => panic!("expected a format error, got {other}"),
    }
}

#[test]
fn csv_typed_rows_round_trip() {
    round_trip_everywhere(
        "demand.csv",
        |data, path| data.write_csv(path, &demand()).unwrap(),
        |data, path| assert_eq!(data.read_csv::<Demand>(path).unwrap(), demand()),
    );
}

#[test]
fn tables_by_extension_round_trip_csv() {
    round_trip_everywhere(
        "demand.CSV",
        |data, path| data.write_table(path, &demand()).unwrap(),
        |data, path| assert_eq!(data.read_table::<Demand>(path).unwrap(), demand()),
    );
}

#[test]
fn format_by_extension() {
    assert_eq!(TableFormat::from_path("a/b.csv"), Some(TableFormat::Csv));
    assert_eq!(
        TableFormat::from_path("a/b.Parquet"),
        Some(TableFormat::Parquet)
    );
    assert_eq!(TableFormat::from_path("a.csv/b"), None);
    assert_eq!(TableFormat::from_path("b.json"), None);
}

#[test]
fn unknown_extension_is_a_clear_error() {
    let storage = memory();
    let data = DataManager::new(&storage);
    for file in ["demand.json", "demand"] {
        let err = data.write_table(file, &demand()).unwrap_err();
        assert!(matches!(err, DataError::Unsupported { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "memory://{RUN}/{file}: cannot tell the table format"
            )),
            "{text}"
        );
        assert!(text.contains(".csv or .parquet"), "{text}");
        assert!(data.read_table::<Demand>(file).is_err());
    }
    assert!(!storage.exists(&format!("{RUN}/demand.json")).unwrap());
}

#[test]
fn bad_csv_value_names_file_line_and_column() {
    let storage = memory();
    storage
        .write(
            "inputs/demand.csv",
            b"timestamp,demand_gw,temperature,holiday,region\n\
              2014-01-01T00:00:00,4.3,,true,Vic\n\
              2014-01-01T00:30:00,high,,true,Vic\n",
        )
        .unwrap();
    let err = DataManager::new(&storage)
        .root()
        .read_csv::<Demand>("inputs/demand.csv")
        .unwrap_err();
    let text = err.to_string();
    let (path, location) = expect_format_error(err);
    assert_eq!(path, "memory://inputs/demand.csv");
    assert_eq!(location, "line 3, column \"demand_gw\"");
    assert!(
        text.starts_with("memory://inputs/demand.csv: line 3, column \"demand_gw\": "),
        "{text}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let (_dir, storage) = local();
    let err = DataManager::new(&storage)
        .read_table::<Demand>("nowhere.csv")
        .unwrap_err();
    assert!(matches!(err, DataError::Storage(_)), "{err}");
    assert!(err.to_string().contains("nowhere.csv"), "{err}");
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_says_how_to_enable_it() {
    let storage = memory();
    let data = DataManager::new(&storage);
    for err in [
        data.write_table("demand.parquet", &demand()).unwrap_err(),
        data.read_table::<Demand>("demand.parquet").unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(matches!(err, DataError::Unsupported { .. }), "{text}");
        assert!(
            text.starts_with(&format!("memory://{RUN}/demand.parquet: ")),
            "{text}"
        );
        assert!(text.contains("`parquet` feature"), "{text}");
    }
}

#[cfg(feature = "parquet")]
mod parquet_rows {
    use super::*;

    #[test]
    fn typed_rows_round_trip() {
        round_trip_everywhere(
            "demand.parquet",
            |data, path| data.write_parquet(path, &demand()).unwrap(),
            |data, path| assert_eq!(data.read_parquet::<Demand>(path).unwrap(), demand()),
        );
    }

    #[test]
    fn tables_by_extension_round_trip() {
        round_trip_everywhere(
            "demand.parquet",
            |data, path| data.write_table(path, &demand()).unwrap(),
            |data, path| assert_eq!(data.read_table::<Demand>(path).unwrap(), demand()),
        );
    }

    #[test]
    fn many_rows_round_trip() {
        let rows: Vec<Demand> = (0..20_000)
            .map(|i| Demand {
                timestamp: format!("t{i}"),
                demand_gw: i as f64 / 7.0,
                temperature: (i % 3 != 0).then_some(i as f64),
                holiday: i % 2 == 0,
                region: if i % 5 == 0 { Region::Nsw } else { Region::Vic },
            })
            .collect();
        let storage = memory();
        let data = DataManager::new(&storage);
        data.write_parquet("big.parquet", &rows).unwrap();
        assert_eq!(data.read_parquet::<Demand>("big.parquet").unwrap(), rows);
    }

    #[test]
    fn a_subset_of_the_columns_can_be_read() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Partial {
            demand_gw: f64,
        }
        let storage = memory();
        let data = DataManager::new(&storage);
        data.write_parquet("demand.parquet", &demand()).unwrap();
        let rows: Vec<Partial> = data.read_parquet("demand.parquet").unwrap();
        assert_eq!(rows[2], Partial { demand_gw: 3.9 });
    }

    #[test]
    fn truncated_file_names_the_file() {
        let (_dir, storage) = local();
        let data = DataManager::new(&storage);
        data.write_parquet("demand.parquet", &demand()).unwrap();
        let key = storage.runpath("demand.parquet");
        let bytes = storage.read(&key).unwrap();
        for cut in [bytes.len() / 2, 4, 0] {
            storage.write(&key, &bytes[..cut]).unwrap();
            let err = data.read_parquet::<Demand>("demand.parquet").unwrap_err();
            let text = err.to_string();
            let (path, location) = expect_format_error(err);
            assert!(
                path.ends_with(&format!("data/{RUN}/demand.parquet")),
                "{path}"
            );
            assert_eq!(location, "file");
            assert!(text.contains("not a readable Parquet file"), "{text}");
        }
    }

    #[test]
    fn garbage_names_the_file() {
        let storage = memory();
        storage
            .write(
                "inputs/demand.parquet",
                b"timestamp,demand_gw\nnot,parquet\n",
            )
            .unwrap();
        let err = DataManager::new(&storage)
            .root()
            .read_table::<Demand>("inputs/demand.parquet")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("memory://inputs/demand.parquet: file: not a readable Parquet file"),
            "{text}"
        );
    }

    #[test]
    fn wrong_column_type_names_the_row_and_column() {
        #[derive(Serialize)]
        struct Textual {
            timestamp: String,
            demand_gw: String,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Numeric {
            timestamp: String,
            demand_gw: f64,
        }
        let storage = memory();
        let data = DataManager::new(&storage);
        let rows = [
            Textual {
                timestamp: "a".into(),
                demand_gw: "high".into(),
            },
            Textual {
                timestamp: "b".into(),
                demand_gw: "low".into(),
            },
        ];
        data.write_parquet("demand.parquet", &rows).unwrap();
        let err = data.read_parquet::<Numeric>("demand.parquet").unwrap_err();
        let text = err.to_string();
        let (path, location) = expect_format_error(err);
        assert_eq!(path, format!("memory://{RUN}/demand.parquet"));
        assert_eq!(location, "row 1, column \"demand_gw\"", "{text}");
        assert!(text.contains("Utf8"), "{text}");
    }

    #[test]
    fn missing_column_is_named_with_the_columns_there_are() {
        #[derive(Serialize)]
        struct Short {
            timestamp: String,
            demand_gw: f64,
        }
        let storage = memory();
        let data = DataManager::new(&storage);
        data.write_parquet(
            "demand.parquet",
            &[Short {
                timestamp: "a".into(),
                demand_gw: 1.0,
            }],
        )
        .unwrap();
        let err = data.read_parquet::<Demand>("demand.parquet").unwrap_err();
        let text = err.to_string();
        let (_, location) = expect_format_error(err);
        assert!(location.ends_with("column \"holiday\""), "{text}");
        assert!(text.contains("its columns: timestamp, demand_gw"), "{text}");
    }

    #[test]
    fn empty_table_is_refused_with_the_file_named() {
        let storage = memory();
        let err = DataManager::new(&storage)
            .write_parquet::<Demand>("demand.parquet", &[])
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("memory://{RUN}/demand.parquet: ")),
            "{text}"
        );
        assert!(text.contains("empty table"), "{text}");
        assert!(!storage.exists(&format!("{RUN}/demand.parquet")).unwrap());
    }
}

#[cfg(feature = "polars")]
mod frames {
    use super::*;
    use gluers::data::polars::prelude::*;

    fn frame() -> DataFrame {
        df!(
            "timestamp" => ["2014-01-01T00:00:00", "2014-01-01T00:30:00", "2014-01-02T00:00:00"],
            "demand_gw" => [4.382, 4.263, 3.9],
            "temperature" => [Some(21.4), None, Some(-1.5)],
            "holiday" => [true, true, false],
            "region" => ["Vic", "Nsw", "Vic"],
        )
        .unwrap()
    }

    fn assert_same(read: DataFrame) {
        let expected = frame();
        assert_eq!(read.get_column_names(), expected.get_column_names());
        assert_eq!(read, expected, "\n{read}\n{expected}");
    }

    #[test]
    fn csv_round_trip() {
        round_trip_everywhere(
            "demand.csv",
            |data, path| data.write_frame(path, &mut frame()).unwrap(),
            |data, path| assert_same(data.read_frame(path).unwrap()),
        );
    }

    #[test]
    fn parquet_round_trip() {
        round_trip_everywhere(
            "demand.parquet",
            |data, path| data.write_frame(path, &mut frame()).unwrap(),
            |data, path| assert_same(data.read_frame(path).unwrap()),
        );
    }

    #[test]
    fn frames_read_csv_written_as_typed_rows() {
        let storage = memory();
        let data = DataManager::new(&storage);
        data.write_csv("demand.csv", &demand()).unwrap();
        let read = data.read_frame("demand.csv").unwrap();
        assert_eq!(read.shape(), (3, 5));
        assert_eq!(
            read.column("demand_gw").unwrap().dtype(),
            &DataType::Float64
        );
    }

    #[test]
    fn unknown_extension_is_a_clear_error() {
        let storage = memory();
        let data = DataManager::new(&storage);
        let err = data.write_frame("demand.xlsx", &mut frame()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "memory://{RUN}/demand.xlsx: cannot tell the table format"
            )),
            "{err}"
        );
        let err = data.read_frame("demand.xlsx").unwrap_err();
        assert!(matches!(err, DataError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn garbage_parquet_names_the_file() {
        let storage = memory();
        storage
            .write("inputs/demand.parquet", b"PAR1 this is not parquet")
            .unwrap();
        let err = DataManager::new(&storage)
            .root()
            .read_frame("inputs/demand.parquet")
            .unwrap_err();
        let text = err.to_string();
        let (path, location) = expect_format_error(err);
        assert_eq!(path, "memory://inputs/demand.parquet");
        assert_eq!(location, "reading Parquet", "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn ragged_csv_names_the_file() {
        let storage = memory();
        storage
            .write(
                "inputs/demand.csv",
                b"timestamp,demand_gw\na,1.0\nb,2.0,extra,fields\n",
            )
            .unwrap();
        let err = DataManager::new(&storage)
            .root()
            .read_frame("inputs/demand.csv")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("memory://inputs/demand.csv: line 3: "),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn bad_csv_value_past_inference_names_the_column() {
        let mut text = String::from("timestamp,demand_gw\n");
        for i in 0..200 {
            text.push_str(&format!("t{i},{i}\n"));
        }
        text.push_str("t200,high\n");
        let storage = memory();
        storage.write("inputs/demand.csv", text.as_bytes()).unwrap();
        let err = DataManager::new(&storage)
            .root()
            .read_frame("inputs/demand.csv")
            .unwrap_err();
        let text = err.to_string();
        let (path, location) = expect_format_error(err);
        assert_eq!(path, "memory://inputs/demand.csv");
        assert_eq!(location, "line 202, column \"demand_gw\"", "{text}");
        assert!(text.contains("could not parse `high`"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[cfg(all(feature = "parquet", feature = "polars"))]
mod interop {
    use super::*;
    use gluers::data::polars::prelude::*;

    #[test]
    fn typed_rows_read_parquet_written_by_polars() {
        let storage = memory();
        let data = DataManager::new(&storage);
        let mut frame = df!(
            "timestamp" => ["a", "b"],
            "demand_gw" => [1.5, 2.5],
            "temperature" => [None, Some(3.0)],
            "holiday" => [false, true],
            "region" => ["Nsw", "Vic"],
        )
        .unwrap();
        data.write_frame("demand.parquet", &mut frame).unwrap();
        let rows: Vec<Demand> = data.read_parquet("demand.parquet").unwrap();
        assert_eq!(rows[1].region, Region::Vic);
        assert_eq!(rows[0].temperature, None);
        assert_eq!(rows[1].demand_gw, 2.5);
    }

    #[test]
    fn polars_reads_parquet_written_as_typed_rows() {
        let storage = memory();
        let data = DataManager::new(&storage);
        data.write_parquet("demand.parquet", &demand()).unwrap();
        let frame = data.read_frame("demand.parquet").unwrap();
        assert_eq!(frame.shape(), (3, 5));
        let demand_gw = frame.column("demand_gw").unwrap().f64().unwrap().clone();
        let demand_gw: Vec<Option<f64>> = (0..3).map(|i| demand_gw.get(i)).collect();
        assert_eq!(demand_gw, [Some(4.382), Some(4.263), Some(3.9)]);
        let region = frame.column("region").unwrap().str().unwrap().get(1);
        assert_eq!(region, Some("Nsw"));
    }
}
