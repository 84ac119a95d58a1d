//! Writing CSV tables row by row into a file that appears whole at the end.

use std::io::Write;
use std::path::PathBuf;

use super::csv_table::{io_error, BUFFER};
use super::{CsvReader, DataError};
use crate::storage::Storage;

/// Where a [`CsvWriter`] puts its bytes until [`finish`](CsvWriter::finish).
enum Sink {
    /// A temporary file beside the local file, renamed over it at the end.
    File {
        tmp: tempfile::NamedTempFile,
        path: PathBuf,
    },
    /// Memory, written to the storage at the end (backends without local files).
    Memory(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File { tmp, .. } => tmp.as_file_mut().write(buf),
            Sink::Memory(v) => v.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File { tmp, .. } => tmp.as_file_mut().write_all(buf),
            Sink::Memory(v) => v.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes typed rows one at a time as a CSV file with a header row.
///
/// The file appears, whole, when [`finish`](Self::finish) is called: rows go
/// to a temporary file beside it (on a local backend) that is then renamed
/// into place, so a reader or a killed run never sees half a table. A
/// writer dropped without `finish` leaves the old file, if any, untouched.
pub struct CsvWriter {
    /// The sink until the first row says how the header is written.
    sink: Option<Sink>,
    writer: Option<csv::Writer<Sink>>,
    /// The header, when it came from a copied row's file.
    copied_header: Option<csv::ByteRecord>,
    /// The reader whose columns were last checked against that header.
    checked_reader: Option<u64>,
    storage: Storage,
    key: String,
    shown: String,
    rows: usize,
}

impl CsvWriter {
    pub(super) fn create(storage: &Storage, key: String) -> Result<CsvWriter, DataError> {
        let shown = storage.display(&key);
        let sink = match storage.local_path(&key) {
            Some(path) => Sink::File {
                tmp: crate::atomic::temp_beside(&path).map_err(|e| io_error(storage, &key, e))?,
                path,
            },
            None => Sink::Memory(Vec::new()),
        };
        Ok(CsvWriter {
            sink: Some(sink),
            writer: None,
            copied_header: None,
            checked_reader: None,
            storage: storage.clone(),
            key,
            shown,
            rows: 0,
        })
    }

    /// The CSV writer, made at the first row: it writes the header from the
    /// first serialized row's field names, unless `header` (a copied row's
    /// file's) is given and written now.
    fn writer(&mut self, header: Option<&csv::ByteRecord>) -> csv::Result<&mut csv::Writer<Sink>> {
        if self.writer.is_none() {
            let sink = self
                .sink
                .take()
                .expect("the sink is there until the writer");
            let mut writer = csv::WriterBuilder::new()
                .buffer_capacity(BUFFER)
                .has_headers(header.is_none())
                .from_writer(sink);
            if let Some(header) = header {
                writer.write_byte_record(header)?;
                self.copied_header = Some(header.clone());
            }
            self.writer = Some(writer);
        }
        Ok(self.writer.as_mut().expect("made above"))
    }

    fn row_error(&self, message: String) -> DataError {
        DataError::Format {
            path: self.shown.clone(),
            location: format!("row {}", self.rows),
            message,
        }
    }

    /// Appends one row; the header comes from the first row's field names.
    pub fn write<T: serde::Serialize>(&mut self, row: &T) -> Result<(), DataError> {
        self.rows += 1;
        let done = self.writer(None).and_then(|w| w.serialize(row));
        done.map_err(|e| self.row_error(e.to_string()))
    }

    /// Appends the row `reader` read last, as it was in its file: no value
    /// is parsed or formatted again, which makes tasks that filter or pass
    /// rows through several times faster than [`write`](Self::write).
    /// When the first row is copied, the file's header is `reader`'s; rows
    /// copied from a file with other columns are refused.
    pub fn copy_row(&mut self, reader: &CsvReader) -> Result<(), DataError> {
        let (id, header, record) = reader.raw();
        self.rows += 1;
        if self.checked_reader != Some(id) {
            if let Some(copied) = &self.copied_header {
                if copied != header {
                    return Err(self.row_error(format!(
                        "cannot copy a row of {}: its columns differ from the rows copied before",
                        reader.shown()
                    )));
                }
            }
            self.checked_reader = Some(id);
        }
        let done = self
            .writer(Some(header))
            .and_then(|w| w.write_byte_record(record));
        done.map_err(|e| self.row_error(e.to_string()))
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes what is buffered and puts the file in place.
    pub fn finish(self) -> Result<(), DataError> {
        let CsvWriter {
            sink,
            writer,
            storage,
            key,
            shown,
            ..
        } = self;
        let sink = match (writer, sink) {
            (Some(writer), _) => writer.into_inner().map_err(|e| DataError::Format {
                path: shown,
                location: "end".into(),
                message: e.error().to_string(),
            })?,
            (None, Some(sink)) => sink,
            (None, None) => unreachable!("a writer holds its sink until the first row"),
        };
        match sink {
            Sink::File { tmp, path } => {
                crate::atomic::persist(tmp, &path).map_err(|e| io_error(&storage, &key, e))
            }
            Sink::Memory(bytes) => Ok(storage.write(&key, &bytes)?),
        }
    }
}
