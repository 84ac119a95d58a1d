//! The data manager: tables on the storage, as typed rows through serde.
//!
//! Paths are relative to the run folder by default, or to the storage root
//! after [`DataManager::root`]. Errors name the file and the row or column.

mod csv_table;

use crate::storage::{Storage, StorageError};

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
    pub fn read_csv<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, DataError> {
        let key = self.path(path);
        let bytes = self.storage.read(&key)?;
        csv_table::read(&bytes, &self.storage.display(&key))
    }

    /// Writes typed rows as a CSV file with a header row.
    pub fn write_csv<T: serde::Serialize>(&self, path: &str, rows: &[T]) -> Result<(), DataError> {
        let key = self.path(path);
        let bytes = csv_table::write(rows, &self.storage.display(&key))?;
        self.storage.write(&key, &bytes)?;
        Ok(())
    }
}
