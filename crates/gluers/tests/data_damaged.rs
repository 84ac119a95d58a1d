//! Damaged files: every read of a randomly corrupted Parquet file ends in
//! rows or in an error naming the file, never in a panic reaching the task.
//!
//! The parquet and polars decoders panic on some corrupt files; the data
//! manager turns those panics into errors. This test lives in its own binary
//! because it silences the panic hook, which would otherwise print each
//! caught panic.

#![cfg(feature = "parquet")]

use std::sync::Arc;

use gluers::data::DataError;
use gluers::{DataManager, MemoryStorage, Storage};

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Row {
    name: String,
    value: f64,
    count: i64,
    flag: Option<bool>,
}

#[test]
fn damaged_parquet_is_an_error_not_a_panic() {
    std::panic::set_hook(Box::new(|_| {}));
    let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    let data = DataManager::new(&storage);
    let rows: Vec<Row> = (0..50)
        .map(|i| Row {
            name: format!("x{i}"),
            value: i as f64,
            count: i,
            flag: (i % 2 == 0).then_some(true),
        })
        .collect();
    data.write_parquet("good.parquet", &rows).unwrap();
    let good = storage.read("runs/r/good.parquet").unwrap();

    // xorshift: the same damage on every run.
    let mut seed: u64 = 12345;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut errors = 0;
    for _ in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() as usize % bytes.len();
            bytes[at] = next() as u8;
        }
        storage.write("runs/r/damaged.parquet", &bytes).unwrap();
        let outcomes = [
            data.read_parquet::<Row>("damaged.parquet").map(|_| ()),
            #[cfg(feature = "polars")]
            data.read_frame("damaged.parquet").map(|_| ()),
        ];
        for outcome in outcomes {
            if let Err(err) = outcome {
                errors += 1;
                assert!(
                    matches!(err, DataError::Format { .. }),
                    "unexpected error kind: {err}"
                );
                let text = err.to_string();
                assert!(
                    text.starts_with("memory://runs/r/damaged.parquet: "),
                    "{text}"
                );
                assert!(!text.contains('\n'), "{text}");
            }
        }
    }
    assert!(
        errors > 1000,
        "only {errors} of the damaged files were refused"
    );
}
