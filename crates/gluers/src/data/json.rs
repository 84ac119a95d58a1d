//! JSON documents (a model's parameters, a report) through the data
//! manager: one serde value per file, pretty-printed, written atomically
//! like every storage write.

use super::{DataError, DataManager};

impl DataManager<'_> {
    /// Reads a JSON file into `T`. A malformed file is an error naming the
    /// file, the line and the column.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gluers::{MemoryStorage, Storage};
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Model { slope: f64, intercept: f64 }
    /// let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
    /// let data = gluers::DataManager::new(&storage);
    /// data.write_json("model.json", &Model { slope: 2.0, intercept: 1.0 }).unwrap();
    /// let model: Model = data.read_json("model.json").unwrap();
    /// assert_eq!(model, Model { slope: 2.0, intercept: 1.0 });
    /// ```
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, DataError> {
        let key = self.path(path);
        let bytes = self.storage.read(&key)?;
        serde_json::from_slice(&bytes).map_err(|e| DataError::Format {
            path: self.storage.display(&key),
            location: format!("line {}, column {}", e.line(), e.column()),
            message: format!("{e}; is it the JSON document this task expects?"),
        })
    }

    /// Writes `value` as pretty-printed JSON (with a final newline).
    pub fn write_json<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        value: &T,
    ) -> Result<(), DataError> {
        let key = self.path(path);
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| DataError::Format {
            path: self.storage.display(&key),
            location: "value".to_string(),
            message: format!("cannot be written as JSON: {e}"),
        })?;
        bytes.push(b'\n');
        self.storage.write(&key, &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{DataManager, MemoryStorage, Storage};

    #[test]
    fn a_malformed_file_names_the_file_and_the_place() {
        let storage = Storage::new(Arc::new(MemoryStorage::new()), "runs/r");
        let data = DataManager::new(&storage);
        storage
            .write("runs/r/m.json", b"{\n  \"a\": 1,\n  oops\n}")
            .unwrap();
        let err = data
            .read_json::<serde_json::Value>("m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.json") && err.contains("line 3"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
