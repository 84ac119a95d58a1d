//! The data manager: tables on the storage, as typed rows through serde, or
//! as polars DataFrames.
//!
//! Paths are relative to the run folder by default, or to the storage root
//! after [`DataManager::root`]. Every read and write goes through the
//! [`Storage`] handle, so tables work on any storage backend (local disk,
//! memory, object stores): CSV files on a local disk are streamed (parsed as
//! they are read, written to a temporary file renamed into place), other
//! backends' files are read and written whole. Errors name the file and the
//! row or column.
//!
//! | format | typed rows (serde) | DataFrame |
//! | --- | --- | --- |
//! | CSV | [`read_csv`](DataManager::read_csv), always available; streaming: [`iter_csv`](DataManager::iter_csv), [`csv_reader`](DataManager::csv_reader) (borrowed rows), [`csv_writer`](DataManager::csv_writer), [`read_csv_tail`](DataManager::read_csv_tail) | `read_frame`, feature `polars` |
//! | Parquet | `read_parquet`, feature `parquet` | `read_frame`, feature `polars` |
//!
//! [`read_table`](DataManager::read_table) and
//! [`write_table`](DataManager::write_table) pick the format of typed rows by
//! the file's extension.

mod csv_table;
mod csv_writer;
#[cfg(feature = "polars")]
mod frame;
mod json;
#[cfg(feature = "parquet")]
mod parquet_table;

pub use csv_table::{CsvReader, CsvRows};
pub use csv_writer::CsvWriter;

use crate::storage::{Storage, StorageError};

/// polars, re-exported so a project needs no version pin of its own (feature `polars`).
///
/// A project that needs more polars features (lazy frames, more data types)
/// adds `polars` to its own `Cargo.toml` with the same version and those
/// features; cargo merges them into this one.
#[cfg(feature = "polars")]
#[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
pub use polars;

/// A table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The storage failed (missing file, I/O).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A row or a value did not fit.
    #[error("{path}: {location}: {message}")]
    Format {
        /// The file.
        path: String,
        /// Where in it: `line 12`, `line 12, column "demand_gw"`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The file's format is not one this build can read or write (unknown
    /// extension, or a cargo feature that is not enabled).
    #[error("{path}: {message}")]
    Unsupported {
        /// The file.
        path: String,
        /// What is missing and what to do.
        message: String,
    },
}

/// A table file format, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableFormat {
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// Apache Parquet (`.parquet`).
    Parquet,
}

impl TableFormat {
    /// The format of `path` by its extension, case-insensitive: `.csv` or
    /// `.parquet`; `None` for anything else.
    ///
    /// ```
    /// use gluers::data::TableFormat;
    /// assert_eq!(TableFormat::from_path("runs/x/y.CSV"), Some(TableFormat::Csv));
    /// assert_eq!(TableFormat::from_path("y.parquet"), Some(TableFormat::Parquet));
    /// assert_eq!(TableFormat::from_path("y.txt"), None);
    /// ```
    pub fn from_path(path: &str) -> Option<Self> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, extension) = name.rsplit_once('.')?;
        if extension.eq_ignore_ascii_case("csv") {
            Some(TableFormat::Csv)
        } else if extension.eq_ignore_ascii_case("parquet") {
            Some(TableFormat::Parquet)
        } else {
            None
        }
    }

    /// The format's name for messages: `CSV` or `Parquet`.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Csv => "CSV",
            TableFormat::Parquet => "Parquet",
        }
    }

    /// The format of `path`, or an error naming the file and the extensions
    /// that work.
    fn of(path: &str, shown: &str) -> Result<Self, DataError> {
        TableFormat::from_path(path).ok_or_else(|| {
            let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
            let found = match name.rsplit_once('.') {
                Some((_, extension)) => format!("extension \".{extension}\""),
                None => "no extension".to_string(),
            };
            DataError::Unsupported {
                path: shown.to_string(),
                message: format!(
                    "cannot tell the table format from {found}; name the file .csv or .parquet, \
                     or call the reader of its format (read_csv, read_parquet) directly"
                ),
            }
        })
    }
}

/// The error for a format whose cargo feature is off.
#[cfg(not(feature = "parquet"))]
fn feature_off(shown: &str, what: &str, feature: &str) -> DataError {
    DataError::Unsupported {
        path: shown.to_string(),
        message: format!(
            "{what} needs the `{feature}` feature of gluers; enable it in Cargo.toml: \
             gluers = {{ version = \"...\", features = [\"{feature}\"] }}"
        ),
    }
}

/// Runs a decoder or encoder of a third-party format library, turning a
/// panic on malformed input into an error naming the file.
///
/// The parquet and polars decoders panic on some corrupt files (a few in a
/// thousand randomly damaged ones); a task gets an error instead of an
/// abort. The panic message still reaches stderr through the panic hook.
#[cfg(any(feature = "parquet", feature = "polars"))]
fn guarded<R>(
    shown: &str,
    format: TableFormat,
    doing: &str,
    f: impl FnOnce() -> Result<R, DataError>,
) -> Result<R, DataError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        let reason = reason.lines().next().unwrap_or_default().to_string();
        Err(DataError::Format {
            path: shown.to_string(),
            location: "file".to_string(),
            message: format!(
                "the {} {doing} failed on this file, which looks corrupt ({reason})",
                format.name()
            ),
        })
    })
}

/// Reads and writes tables relative to the run folder or the storage root.
pub struct DataManager<'a> {
    storage: &'a Storage,
    from_root: bool,
}

impl<'a> DataManager<'a> {
    /// Tables relative to the run folder of `storage`.
    pub fn new(storage: &'a Storage) -> Self {
        DataManager {
            storage,
            from_root: false,
        }
    }

    /// The same manager with paths relative to the storage root.
    pub fn root(&self) -> DataManager<'a> {
        DataManager {
            storage: self.storage,
            from_root: true,
        }
    }

    /// The storage path of `path`.
    pub fn path(&self, path: &str) -> String {
        if self.from_root {
            path.to_string()
        } else {
            self.storage.runpath(path)
        }
    }

    /// Reads a CSV file with a header row into typed rows.
    ///
    /// The file is parsed as it is read (a local file is never held whole
    /// in memory); for tables larger than memory, or to skip the allocation
    /// of every row, see [`iter_csv`](Self::iter_csv) and
    /// [`csv_reader`](Self::csv_reader).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Row { t: String, y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// data.write_csv("y.csv", &[Row { t: "a".into(), y: 1.5 }]).unwrap();
    /// let rows: Vec<Row> = data.read_csv("y.csv").unwrap();
    /// assert_eq!(rows[0].y, 1.5);
    /// ```
    pub fn read_csv<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, DataError> {
        self.iter_csv(path)?.collect()
    }

    /// Opens a CSV file with a header row for reading row by row, with rows
    /// that may borrow from the reader's buffer: no allocation per row,
    /// and memory of one buffer whatever the file's size.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Deserialize)]
    /// struct Row<'a> { t: &'a str, y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// storage.write("runs/r/y.csv", b"t,y\na,1.5\nb,2.5\n").unwrap();
    /// let mut reader = gluers::DataManager::new(&storage).csv_reader("y.csv").unwrap();
    /// let (mut last, mut sum) = (String::new(), 0.0);
    /// while let Some(row) = reader.next_row::<Row>().unwrap() {
    ///     last.replace_range(.., row.t);
    ///     sum += row.y;
    /// }
    /// assert_eq!((last.as_str(), sum), ("b", 4.0));
    /// ```
    pub fn csv_reader(&self, path: &str) -> Result<CsvReader, DataError> {
        let key = self.path(path);
        let source = csv_table::Source::open(self.storage, &key)?;
        CsvReader::new(source, self.storage.display(&key))
    }

    /// Reads a CSV file with a header row as an iterator of typed rows,
    /// parsed as the iterator goes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Deserialize)]
    /// struct Row { y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// storage.write("runs/r/y.csv", b"y\n1.5\n2.5\n").unwrap();
    /// let data = gluers::DataManager::new(&storage);
    /// let mut total = 0.0;
    /// for row in data.iter_csv::<Row>("y.csv").unwrap() {
    ///     total += row.unwrap().y;
    /// }
    /// assert_eq!(total, 4.0);
    /// ```
    pub fn iter_csv<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<CsvRows<T>, DataError> {
        Ok(self.csv_reader(path)?.rows())
    }

    /// The last `n` rows of a CSV file (all of them when it has fewer).
    ///
    /// On a local disk the file is read from its end, so the cost does not
    /// grow with the file; when that cannot be done exactly (quoted fields
    /// near the end, blank lines, another backend) the whole file is read,
    /// keeping `n` rows at a time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Deserialize)]
    /// struct Row { y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// storage.write("runs/r/y.csv", b"y\n1\n2\n3\n").unwrap();
    /// let data = gluers::DataManager::new(&storage);
    /// let last: Vec<Row> = data.read_csv_tail("y.csv", 2).unwrap();
    /// assert_eq!(last.iter().map(|r| r.y).collect::<Vec<_>>(), [2.0, 3.0]);
    /// ```
    pub fn read_csv_tail<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        n: usize,
    ) -> Result<Vec<T>, DataError> {
        let key = self.path(path);
        let shown = self.storage.display(&key);
        let source = csv_table::Source::open(self.storage, &key)?;
        let source = match source {
            csv_table::Source::File(file) if n > 0 => {
                if let Some(rows) = csv_table::tail_of_file(file, n, &shown)? {
                    return Ok(rows);
                }
                csv_table::Source::open(self.storage, &key)?
            }
            other => other,
        };
        let reader = CsvReader::new(source, shown)?;
        csv_table::tail_by_scan(reader, n)
    }

    /// Writes typed rows as a CSV file with a header row.
    pub fn write_csv<T: serde::Serialize>(&self, path: &str, rows: &[T]) -> Result<(), DataError> {
        let mut writer = self.csv_writer(path)?;
        for row in rows {
            writer.write(row)?;
        }
        writer.finish()
    }

    /// Opens a CSV file for writing row by row; it appears, whole, at
    /// [`CsvWriter::finish`] (a temporary file renamed into place), and a
    /// writer dropped before that leaves nothing behind.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Serialize)]
    /// struct Row<'a> { t: &'a str, y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// let mut out = data.csv_writer("y.csv").unwrap();
    /// out.write(&Row { t: "a", y: 1.5 }).unwrap();
    /// out.finish().unwrap();
    /// assert_eq!(storage.read("runs/r/y.csv").unwrap(), b"t,y\na,1.5\n");
    /// ```
    pub fn csv_writer(&self, path: &str) -> Result<CsvWriter, DataError> {
        CsvWriter::create(self.storage, self.path(path))
    }

    /// Reads a Parquet file into typed rows (feature `parquet`).
    ///
    /// Columns are matched to the fields of `T` by name; extra columns are
    /// ignored, a missing or mistyped column is an error naming the file, the
    /// row and the column. Snappy, zstd and uncompressed files are read.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Row { t: String, y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// data.write_parquet("y.parquet", &[Row { t: "a".into(), y: 1.5 }]).unwrap();
    /// let rows: Vec<Row> = data.read_parquet("y.parquet").unwrap();
    /// assert_eq!(rows, [Row { t: "a".into(), y: 1.5 }]);
    /// ```
    #[cfg(feature = "parquet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parquet")))]
    pub fn read_parquet<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, DataError> {
        let key = self.path(path);
        let bytes = self.storage.read(&key)?;
        let shown = self.storage.display(&key);
        guarded(&shown, TableFormat::Parquet, "decoder", || {
            parquet_table::read(bytes, &shown)
        })
    }

    /// Writes typed rows as a Parquet file, snappy-compressed (feature `parquet`).
    ///
    /// Column types are traced from the rows, so `rows` must not be empty:
    /// an empty table has no rows to tell them. A column whose values are
    /// all `None` is written with Arrow's null type.
    #[cfg(feature = "parquet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "parquet")))]
    pub fn write_parquet<T: serde::Serialize>(
        &self,
        path: &str,
        rows: &[T],
    ) -> Result<(), DataError> {
        let key = self.path(path);
        let shown = self.storage.display(&key);
        let bytes = guarded(&shown, TableFormat::Parquet, "encoder", || {
            parquet_table::write(rows, &shown)
        })?;
        self.storage.write(&key, &bytes)?;
        Ok(())
    }

    /// Reads typed rows from a `.csv` or `.parquet` file, by its extension.
    ///
    /// Parquet needs the `parquet` feature; without it, or for any other
    /// extension, the error names the file and what to do.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Serialize, serde::Deserialize, Debug)]
    /// struct Row { y: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// data.write_table("y.csv", &[Row { y: 2.0 }]).unwrap();
    /// let rows: Vec<Row> = data.read_table("y.csv").unwrap();
    /// assert_eq!(rows[0].y, 2.0);
    /// assert!(data.read_table::<Row>("y.txt").unwrap_err().to_string().contains(".csv or .parquet"));
    /// ```
    pub fn read_table<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, DataError> {
        let key = self.path(path);
        match TableFormat::of(path, &self.storage.display(&key))? {
            TableFormat::Csv => self.read_csv(path),
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => self.read_parquet(path),
            #[cfg(not(feature = "parquet"))]
            TableFormat::Parquet => Err(feature_off(
                &self.storage.display(&key),
                "reading Parquet",
                "parquet",
            )),
        }
    }

    /// Writes typed rows to a `.csv` or `.parquet` file, by its extension.
    ///
    /// Parquet needs the `parquet` feature; without it, or for any other
    /// extension, the error names the file and what to do.
    pub fn write_table<T: serde::Serialize>(
        &self,
        path: &str,
        rows: &[T],
    ) -> Result<(), DataError> {
        let key = self.path(path);
        match TableFormat::of(path, &self.storage.display(&key))? {
            TableFormat::Csv => self.write_csv(path, rows),
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => self.write_parquet(path, rows),
            #[cfg(not(feature = "parquet"))]
            TableFormat::Parquet => Err(feature_off(
                &self.storage.display(&key),
                "writing Parquet",
                "parquet",
            )),
        }
    }

    /// Reads a `.csv` or `.parquet` file into a polars DataFrame, by its
    /// extension (feature `polars`).
    ///
    /// CSV files have a header row; column types are inferred from the
    /// first 100 rows.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// use gluers::data::polars::prelude::*;
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// let mut df = df!("t" => ["a", "b"], "y" => [1.5, 2.5]).unwrap();
    /// data.write_frame("y.parquet", &mut df).unwrap();
    /// assert_eq!(data.read_frame("y.parquet").unwrap(), df);
    /// ```
    #[cfg(feature = "polars")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
    pub fn read_frame(&self, path: &str) -> Result<polars::prelude::DataFrame, DataError> {
        let key = self.path(path);
        let shown = self.storage.display(&key);
        let format = TableFormat::of(path, &shown)?;
        let bytes = self.storage.read(&key)?;
        guarded(&shown, format, "decoder", || {
            frame::read(bytes, format, &shown)
        })
    }

    /// Writes a polars DataFrame as a `.csv` (with a header row) or a
    /// `.parquet` file (zstd-compressed, polars' default), by its extension
    /// (feature `polars`).
    ///
    /// The frame is `&mut` because polars may rechunk it while writing.
    #[cfg(feature = "polars")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
    pub fn write_frame(
        &self,
        path: &str,
        frame: &mut polars::prelude::DataFrame,
    ) -> Result<(), DataError> {
        let key = self.path(path);
        let shown = self.storage.display(&key);
        let format = TableFormat::of(path, &shown)?;
        let bytes = guarded(&shown, format, "encoder", || {
            frame::write(frame, format, &shown)
        })?;
        self.storage.write(&key, &bytes)?;
        Ok(())
    }
}
