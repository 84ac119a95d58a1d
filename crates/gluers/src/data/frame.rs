//! DataFrames through polars: CSV and Parquet from and to storage bytes.

use std::io::Cursor;

use polars::prelude::{
    CsvReadOptions, CsvWriter, DataFrame, ParquetReader, ParquetWriter, PolarsError, SerReader, SerWriter,
};

use super::{DataError, TableFormat};

/// Reads a whole file's bytes as a DataFrame.
pub(super) fn read(bytes: Vec<u8>, format: TableFormat, shown: &str) -> Result<DataFrame, DataError> {
    let cursor = Cursor::new(bytes);
    let frame = match format {
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .into_reader_with_file_handle(cursor)
            .finish(),
        TableFormat::Parquet => ParquetReader::new(cursor).finish(),
    };
    frame.map_err(|e| polars_error(shown, "reading", format, &e))
}

/// Encodes a DataFrame as the bytes of a file.
pub(super) fn write(frame: &mut DataFrame, format: TableFormat, shown: &str) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::new();
    let done = match format {
        TableFormat::Csv => CsvWriter::new(&mut bytes).include_header(true).finish(frame),
        TableFormat::Parquet => ParquetWriter::new(&mut bytes).finish(frame).map(|_| ()),
    };
    done.map_err(|e| polars_error(shown, "writing", format, &e))?;
    Ok(bytes)
}

/// A polars error as one line naming the file, and the column when polars
/// names one (`... at column 'y' ...`).
fn polars_error(shown: &str, doing: &str, format: TableFormat, e: &PolarsError) -> DataError {
    let text = e.to_string();
    let message = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let location = match named_column(&message) {
        Some(column) => format!("{doing} {} column \"{column}\"", format.name()),
        None => format!("{doing} {}", format.name()),
    };
    DataError::Format {
        path: shown.to_string(),
        location,
        message,
    }
}

/// The column in polars' `at column 'name'` wording.
fn named_column(message: &str) -> Option<&str> {
    let start = message.find("at column '")? + "at column '".len();
    let rest = &message[start..];
    Some(&rest[..rest.find('\'')?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn frame() -> DataFrame {
        df!(
            "timestamp" => ["2014-01-01T00:00", "2014-01-01T00:30"],
            "demand_gw" => [3.9, 4.1],
            "n" => [1i64, 2],
        )
        .unwrap()
    }

    #[test]
    fn csv_round_trip() {
        let bytes = write(&mut frame(), TableFormat::Csv, "x.csv").unwrap();
        assert!(String::from_utf8_lossy(&bytes).starts_with("timestamp,demand_gw,n\n"));
        assert_eq!(read(bytes, TableFormat::Csv, "x.csv").unwrap(), frame());
    }

    #[test]
    fn parquet_round_trip() {
        let bytes = write(&mut frame(), TableFormat::Parquet, "x.parquet").unwrap();
        assert_eq!(read(bytes, TableFormat::Parquet, "x.parquet").unwrap(), frame());
    }

    #[test]
    fn garbage_parquet_names_the_file() {
        let err = read(b"not parquet".to_vec(), TableFormat::Parquet, "data/x.parquet").unwrap_err();
        assert!(err.to_string().starts_with("data/x.parquet: reading Parquet: "), "{err}");
    }

    #[test]
    fn column_is_found_in_polars_wording() {
        assert_eq!(named_column("could not parse `x` as dtype `i64` at column 'y' (column number 2)"), Some("y"));
        assert_eq!(named_column("oops"), None);
    }
}
