//! Reading CSV tables: a streaming reader (rows owned or borrowed from its
//! buffer) and a reader of the last rows of a file that seeks from its end.

use std::io::{Read, Seek, SeekFrom};
use std::marker::PhantomData;

use super::DataError;
use crate::storage::{Storage, StorageError};

/// Read buffer of the CSV reader and write buffer of the writer: large
/// enough that system calls cost nothing next to parsing.
pub(super) const BUFFER: usize = 256 * 1024;

/// Where the bytes of a table come from: a file on the local disk, read as
/// it is parsed, or the whole file's bytes from any other backend.
pub(super) enum Source {
    File(std::fs::File),
    Bytes(std::io::Cursor<Vec<u8>>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Bytes(b) => b.read(buf),
        }
    }
}

impl Source {
    /// Opens `key` on `storage`: the local file when the backend has one
    /// (the storage checked the path), else the file's bytes.
    pub(super) fn open(storage: &Storage, key: &str) -> Result<Source, DataError> {
        let Some(path) = storage.local_path(key) else {
            return Ok(Source::Bytes(std::io::Cursor::new(storage.read(key)?)));
        };
        let file = std::fs::File::open(&path).map_err(|e| io_error(storage, key, e))?;
        match file.metadata() {
            Ok(meta) if meta.is_dir() => Err(DataError::Storage(StorageError::Invalid {
                path: storage.display(key),
                message: "is a folder; name a table file".into(),
            })),
            _ => Ok(Source::File(file)),
        }
    }
}

pub(super) fn io_error(storage: &Storage, key: &str, source: std::io::Error) -> DataError {
    let path = storage.display(key);
    DataError::Storage(if source.kind() == std::io::ErrorKind::NotFound {
        StorageError::NotFound { path }
    } else {
        StorageError::Io { path, source }
    })
}

/// A CSV file with a header row, read one row at a time.
///
/// [`next_row`](Self::next_row) deserializes into types that borrow from
/// the reader's buffer (`&str` fields: no allocation per row);
/// [`rows`](Self::rows) turns it into an iterator of owned rows. Memory
/// stays at one buffer whatever the file's size. Columns are matched to
/// fields by name; errors name the file, the line and the column.
pub struct CsvReader {
    /// Unique per reader, so a writer checks a source's columns once.
    id: u64,
    reader: csv::Reader<Source>,
    headers: csv::ByteRecord,
    record: csv::ByteRecord,
    shown: String,
}

impl CsvReader {
    pub(super) fn new(source: Source, shown: String) -> Result<CsvReader, DataError> {
        let mut reader = csv::ReaderBuilder::new()
            .buffer_capacity(BUFFER)
            .from_reader(source);
        let headers = reader
            .byte_headers()
            .map_err(|e| format_error(&shown, &e, None))?
            .clone();
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(CsvReader {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            reader,
            headers,
            record: csv::ByteRecord::new(),
            shown,
        })
    }

    /// The next row, or `None` at the end of the file. `T` may borrow from
    /// the reader (`struct Row<'a> { timestamp: &'a str, .. }`) until the
    /// next call.
    pub fn next_row<'r, T: serde::Deserialize<'r>>(&'r mut self) -> Result<Option<T>, DataError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(format_error(&self.shown, &e, Some(&self.headers))),
        }
        self.record
            .deserialize(Some(&self.headers))
            .map(Some)
            .map_err(|e| format_error(&self.shown, &e, Some(&self.headers)))
    }

    /// The header row and the row last read, as read (for
    /// [`CsvWriter::copy_row`](super::CsvWriter::copy_row)).
    pub(super) fn raw(&self) -> (u64, &csv::ByteRecord, &csv::ByteRecord) {
        (self.id, &self.headers, &self.record)
    }

    /// The file, for messages.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// The column names of the header row.
    pub fn headers(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect()
    }

    /// The remaining rows as an iterator of owned rows.
    pub fn rows<T: serde::de::DeserializeOwned>(self) -> CsvRows<T> {
        CsvRows {
            reader: self,
            row: PhantomData,
        }
    }
}

/// An iterator of owned rows of a CSV file, read as it goes (from
/// [`DataManager::iter_csv`](super::DataManager::iter_csv) or
/// [`CsvReader::rows`]).
pub struct CsvRows<T> {
    reader: CsvReader,
    row: PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned> Iterator for CsvRows<T> {
    type Item = Result<T, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_row().transpose()
    }
}

/// The last `n` rows of a local CSV file, read from its end: `None` when
/// that cannot be done exactly (quotes in the tail, which may hide line
/// breaks; blank lines; a row that does not parse; a tail larger than
/// 16 MiB), and the caller then reads the whole file.
pub(super) fn tail_of_file<T: serde::de::DeserializeOwned>(
    file: std::fs::File,
    n: usize,
    shown: &str,
) -> Result<Option<Vec<T>>, DataError> {
    const BLOCK: u64 = 64 * 1024;
    const TAIL_LIMIT: usize = 16 * 1024 * 1024;
    let len = file
        .metadata()
        .map_err(|e| DataError::Format {
            path: shown.to_string(),
            location: "file".into(),
            message: e.to_string(),
        })?
        .len();
    let mut header_reader = csv::ReaderBuilder::new()
        .buffer_capacity(8 * 1024)
        .from_reader(&file);
    let headers = header_reader
        .byte_headers()
        .map_err(|e| format_error(shown, &e, None))?
        .clone();
    let header_end = header_reader.position().byte();
    drop(header_reader);
    let mut file = file;
    // Read blocks backwards until the region holds n line breaks before
    // its last row (final line breaks end the last row, not new ones).
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut start = len;
    let mut breaks = 0usize;
    let mut in_content = false;
    let mut cut = None;
    while start > header_end && cut.is_none() {
        let from = start.saturating_sub(BLOCK).max(header_end);
        let mut block = vec![0u8; (start - from) as usize];
        let read = file
            .seek(SeekFrom::Start(from))
            .and_then(|_| file.read_exact(&mut block));
        if read.is_err() {
            return Ok(None);
        }
        for (i, &b) in block.iter().enumerate().rev() {
            if b == b'"' {
                return Ok(None);
            }
            if !in_content {
                // Line breaks after the last row end it; they start no row.
                in_content = b != b'\n' && b != b'\r';
                continue;
            }
            if b == b'\n' {
                breaks += 1;
                if breaks == n {
                    cut = Some(i + 1);
                    break;
                }
            }
        }
        match cut {
            Some(i) => blocks.push(block.split_off(i)),
            None => blocks.push(block),
        }
        start = from;
        if blocks.iter().map(Vec::len).sum::<usize>() > TAIL_LIMIT {
            return Ok(None);
        }
    }
    let region: Vec<u8> = blocks.into_iter().rev().flatten().collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(region.as_slice());
    let mut rows = Vec::with_capacity(n);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => match record.deserialize::<T>(Some(&headers)) {
                Ok(row) => rows.push(row),
                Err(_) => return Ok(None),
            },
            Ok(false) => break,
            Err(_) => return Ok(None),
        }
    }
    if rows.len() > n {
        rows.drain(..rows.len() - n);
    }
    // Fewer rows than asked while the region did not reach the header:
    // blank lines were counted as rows; the whole file decides.
    if rows.len() < n && cut.is_some() {
        return Ok(None);
    }
    Ok(Some(rows))
}

/// The last `n` rows of any CSV source, by reading it all and keeping a
/// window of `n` rows.
pub(super) fn tail_by_scan<T: serde::de::DeserializeOwned>(
    reader: CsvReader,
    n: usize,
) -> Result<Vec<T>, DataError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut window = std::collections::VecDeque::with_capacity(n);
    for row in reader.rows::<T>() {
        if window.len() == n {
            window.pop_front();
        }
        window.push_back(row?);
    }
    Ok(window.into())
}

pub(super) fn format_error(
    shown: &str,
    e: &csv::Error,
    headers: Option<&csv::ByteRecord>,
) -> DataError {
    let line = e.position().map(|p| p.line());
    let column = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.field().and_then(|f| {
            headers
                .and_then(|h| h.get(f as usize))
                .map(|name| String::from_utf8_lossy(name).into_owned())
        }),
        _ => None,
    };
    let location = match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column \"{c}\""),
        (Some(l), None) => format!("line {l}"),
        _ => "header".to_string(),
    };
    let message = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => e.to_string(),
    };
    DataError::Format {
        path: shown.to_string(),
        location,
        message,
    }
}

#[cfg(test)]
#[path = "csv_table_tests.rs"]
mod tests;
