//! DataFrames through polars: CSV and Parquet from and to storage bytes.

use std::io::Cursor;

use polars::prelude::{
    CsvReadOptions, CsvWriter, DataFrame, ParquetReader, ParquetWriter, PolarsError, SerReader,
    SerWriter,
};

use super::{DataError, TableFormat};

/// Reads a whole file's bytes as a DataFrame.
pub(super) fn read(
    bytes: Vec<u8>,
    format: TableFormat,
    shown: &str,
) -> Result<DataFrame, DataError> {
    let cursor = Cursor::new(bytes.as_slice());
    let frame = match format {
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .into_reader_with_file_handle(cursor)
            .finish(),
        TableFormat::Parquet => ParquetReader::new(cursor).finish(),
    };
    frame.map_err(|e| {
        let csv = (format == TableFormat::Csv).then_some(bytes.as_slice());
        polars_error(shown, "reading", format, &e, csv)
    })
}

/// Encodes a DataFrame as the bytes of a file.
pub(super) fn write(
    frame: &mut DataFrame,
    format: TableFormat,
    shown: &str,
) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::new();
    let done = match format {
        TableFormat::Csv => CsvWriter::new(&mut bytes)
            .include_header(true)
            .finish(frame),
        TableFormat::Parquet => ParquetWriter::new(&mut bytes).finish(frame).map(|_| ()),
    };
    done.map_err(|e| polars_error(shown, "writing", format, &e, None))?;
    Ok(bytes)
}

/// A polars error as one line naming the file and, for CSV, the line and
/// column at fault when they can be found.
///
/// polars' messages start with what went wrong and go on with hints worded
/// for its Python API; only the first line is kept.
fn polars_error(
    shown: &str,
    doing: &str,
    format: TableFormat,
    e: &PolarsError,
    csv: Option<&[u8]>,
) -> DataError {
    let text = e.to_string();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("failed");
    let bad_value = bad_csv_value(first);
    let column = bad_value.map(|(_, name, _)| name.to_string());
    let line =
        csv.and_then(|bytes| csv_line(bytes, bad_value.map(|(value, _, index)| (value, index))));
    let message = match bad_value {
        Some(_) => {
            format!("{first}; the column's type was inferred from the first {INFERENCE_ROWS} rows")
        }
        None => first.to_string(),
    };
    let location = match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column \"{column}\""),
        (Some(line), None) => format!("line {line}"),
        (None, Some(column)) => format!("column \"{column}\""),
        (None, None) => format!("{doing} {}", format.name()),
    };
    DataError::Format {
        path: shown.to_string(),
        location,
        message,
    }
}

/// How many rows polars' CSV reader infers column types from (its default).
const INFERENCE_ROWS: usize = 100;

/// The value, column name and 0-based column index in polars' wording
/// ``could not parse `high` as dtype `f64` at column 'demand_gw' (column number 2)``.
fn bad_csv_value(message: &str) -> Option<(&str, &str, usize)> {
    let rest = message.strip_prefix("could not parse `")?;
    let (value, rest) = rest.split_once("` as dtype `")?;
    let (_, rest) = rest.split_once("` at column '")?;
    let (column, rest) = rest.split_once("' (column number ")?;
    let (number, _) = rest.split_once(')')?;
    let index = number.trim().parse::<usize>().ok()?.checked_sub(1)?;
    Some((value, column, index))
}

/// The line of the first CSV record that holds `value` in column `index`,
/// or, with no value to look for, the first record the strict `csv` reader
/// rejects (a ragged line, bad quoting).
fn csv_line(bytes: &[u8], value: Option<(&str, usize)>) -> Option<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(value.is_some())
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => {
                if let Some((value, index)) = value {
                    if record.get(index).is_some_and(|v| v == value.as_bytes()) {
                        return record.position().map(|p| p.line());
                    }
                }
            }
            Err(e) => {
                return if value.is_none() {
                    e.position().map(|p| p.line())
                } else {
                    None
                }
            }
        }
    }
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
        assert_eq!(
            read(bytes, TableFormat::Parquet, "x.parquet").unwrap(),
            frame()
        );
    }

    #[test]
    fn garbage_parquet_names_the_file() {
        let err = read(
            b"not parquet".to_vec(),
            TableFormat::Parquet,
            "data/x.parquet",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("data/x.parquet: reading Parquet: "),
            "{err}"
        );
    }

    #[test]
    fn bad_value_is_found_in_polars_wording() {
        let message = "could not parse `x` as dtype `i64` at column 'y' (column number 2)";
        assert_eq!(bad_csv_value(message), Some(("x", "y", 1)));
        assert_eq!(bad_csv_value("oops"), None);
    }

    #[test]
    fn csv_lines_are_found() {
        let text = b"a,y\n1,2\n3,x\n4,5,6\n";
        assert_eq!(csv_line(text, Some(("x", 1))), Some(3));
        assert_eq!(csv_line(text, None), Some(4));
        assert_eq!(csv_line(text, Some(("zz", 1))), None);
    }
}
