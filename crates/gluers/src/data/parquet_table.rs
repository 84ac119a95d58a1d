//! Parquet encoding of typed rows: serde rows ⇄ Arrow record batches
//! (serde_arrow) ⇄ Parquet (the `parquet` crate of arrow-rs).

use std::sync::Arc;

use arrow_schema::{DataType, FieldRef, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use serde_path_to_error::Segment;

use super::DataError;

/// Reads every row of a Parquet file.
pub(super) fn read<T: serde::de::DeserializeOwned>(
    bytes: Vec<u8>,
    shown: &str,
) -> Result<Vec<T>, DataError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|builder| builder.build())
        .map_err(|e| DataError::Format {
            path: shown.to_string(),
            location: "file".to_string(),
            message: format!("not a readable Parquet file: {}", parquet_message(&e)),
        })?;
    let mut rows = Vec::new();
    for batch in reader {
        let first_row = rows.len() + 1;
        let batch = batch.map_err(|e| DataError::Format {
            path: shown.to_string(),
            location: format!("rows from {first_row}"),
            message: format!("cannot decode: {}", parquet_message(&ParquetError::from(e))),
        })?;
        let schema = batch.schema();
        let deserializer = serde_arrow::Deserializer::from_record_batch(&batch).map_err(|e| {
            DataError::Format {
                path: shown.to_string(),
                location: annotated_column(&e.to_string())
                    .map(|c| format!("column \"{c}\""))
                    .unwrap_or_else(|| "columns".to_string()),
                message: format!("cannot read these columns as rows: {}", e.message()),
            }
        })?;
        let part: Vec<T> = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| row_error(shown, first_row, &schema, e))?;
        rows.extend(part);
    }
    Ok(rows)
}

/// Writes rows as one snappy-compressed Parquet file.
pub(super) fn write<T: serde::Serialize>(rows: &[T], shown: &str) -> Result<Vec<u8>, DataError> {
    let error = |location: String, message: String| DataError::Format {
        path: shown.to_string(),
        location,
        message,
    };
    if rows.is_empty() {
        return Err(error(
            "rows".to_string(),
            "cannot write an empty table as Parquet: the column types are traced from the rows; \
             write at least one row, or write CSV"
                .to_string(),
        ));
    }
    let options = TracingOptions::default()
        .allow_null_fields(true)
        .strings_as_large_utf8(false)
        .enums_without_data_as_strings(true);
    let fields = Vec::<FieldRef>::from_samples(rows, options).map_err(|e| {
        error(
            column_or(&e, "columns"),
            format!("cannot map the rows to Parquet columns: {}", e.message()),
        )
    })?;
    let fields: Vec<FieldRef> = fields.into_iter().map(plain_strings).collect();
    if let Some(column) = unstorable(&fields) {
        return Err(error(
            format!("column \"{column}\""),
            "Parquet cannot store an enum whose variants carry data; \
             use unit variants (stored as text), or put the data in columns of its own"
                .to_string(),
        ));
    }
    let batch = serde_arrow::to_record_batch(&fields, &rows).map_err(|e| {
        error(
            column_or(&e, "rows"),
            format!("cannot encode: {}", e.message()),
        )
    })?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties))
        .map_err(|e| error("columns".to_string(), parquet_message(&e)))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(|_| ()))
        .map_err(|e| error("rows".to_string(), parquet_message(&e)))?;
    Ok(bytes)
}

/// Unit enums as plain string columns, not dictionaries: what pandas and
/// polars read as text rather than as categoricals.
fn plain_strings(field: FieldRef) -> FieldRef {
    match field.data_type() {
        DataType::Dictionary(_, value)
            if matches!(**value, DataType::Utf8 | DataType::LargeUtf8) =>
        {
            let value = (**value).clone();
            Arc::new(field.as_ref().clone().with_data_type(value))
        }
        _ => field,
    }
}

/// The error for a row that did not deserialize, naming its row and column.
fn row_error(
    shown: &str,
    first_row: usize,
    schema: &Schema,
    e: serde_path_to_error::Error<serde_arrow::Error>,
) -> DataError {
    let mut row = None;
    let mut column = None;
    for segment in e.path() {
        match segment {
            Segment::Seq { index } if row.is_none() => row = Some(first_row + index),
            Segment::Map { key } if column.is_none() => column = Some(key.clone()),
            _ => {}
        }
    }
    let inner = e.into_inner();
    let mut message = inner.message().to_string();
    let missing = match inner.kind() {
        serde_arrow::ErrorKind::MissingField { field } => Some(field.clone()),
        _ => missing_field(inner.message()),
    };
    if let Some(field) = missing {
        column = Some(field);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        message = format!(
            "the file has no such column (its columns: {})",
            names.join(", ")
        );
    } else {
        if column.is_none() {
            column = annotated_column(&inner.to_string());
        }
        if let Some(field) = column
            .as_deref()
            .and_then(|c| schema.field_with_name(c).ok())
        {
            message = match unsupported_read(&message) {
                Some(wanted) => format!(
                    "cannot read {wanted} from this column: it holds {}",
                    field.data_type()
                ),
                None => format!("{message} (the column holds {})", field.data_type()),
            };
        }
    }
    let location = match (row, column) {
        (Some(r), Some(c)) => format!("row {r}, column \"{c}\""),
        (Some(r), None) => format!("row {r}"),
        (None, Some(c)) => format!("column \"{c}\""),
        (None, None) => format!("rows from {first_row}"),
    };
    DataError::Format {
        path: shown.to_string(),
        location,
        message,
    }
}

/// The Rust type in serde_arrow's `does not implement deserialize_f64_at`
/// wording (a column of the wrong type), as `f64 values`.
fn unsupported_read(message: &str) -> Option<String> {
    let start =
        message.find("does not implement deserialize_")? + "does not implement deserialize_".len();
    let rest = &message[start..];
    let wanted = rest.split_whitespace().next()?.strip_suffix("_at")?;
    Some(match wanted {
        "str" | "string" => "text".to_string(),
        "seq" => "a list".to_string(),
        "map" | "struct" => "a struct".to_string(),
        "enum" => "an enum".to_string(),
        other => format!("{other} values"),
    })
}

/// The first column whose Arrow type Parquet cannot store (an enum with
/// data becomes a union), with that type's description.
fn unstorable(fields: &[FieldRef]) -> Option<&str> {
    fn has_union(data_type: &DataType) -> bool {
        match data_type {
            DataType::Union(..) => true,
            DataType::Struct(fields) => fields.iter().any(|f| has_union(f.data_type())),
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::FixedSizeList(f, _)
            | DataType::Map(f, _) => has_union(f.data_type()),
            DataType::Dictionary(_, value) => has_union(value),
            _ => false,
        }
    }
    fields
        .iter()
        .find(|f| has_union(f.data_type()))
        .map(|f| f.name().as_str())
}

/// The field in serde's `missing field `name`` wording.
fn missing_field(message: &str) -> Option<String> {
    let start = message.find("missing field `")? + "missing field `".len();
    let rest = &message[start..];
    Some(rest[..rest.find('`')?].to_string())
}

/// The column a serde_arrow error is annotated with, or `fallback`.
fn column_or(e: &serde_arrow::Error, fallback: &str) -> String {
    annotated_column(&e.to_string())
        .map(|c| format!("column \"{c}\""))
        .unwrap_or_else(|| fallback.to_string())
}

/// The column named in a serde_arrow error's `field: "$.name"` annotation
/// (serde_arrow shows annotations only in its Display text).
fn annotated_column(text: &str) -> Option<String> {
    let start = text.find("field: \"")? + "field: \"".len();
    let rest = &text[start..];
    let path = &rest[..rest.find('"')?];
    let column = path.strip_prefix("$.").unwrap_or(path);
    let column = column.split('.').next().unwrap_or(column);
    (!column.is_empty() && column != "$").then(|| column.to_string())
}

/// A parquet error without the crate's `Parquet error:` prefixes, and with
/// a hint for compressions this build does not read.
fn parquet_message(e: &ParquetError) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("Parquet error: ")
        .or_else(|| text.strip_prefix("Parquet argument error: "))
        .unwrap_or(&text)
        .to_string();
    if text.contains("Disabled feature at compile time") {
        format!("{text}; gluers reads snappy, zstd and uncompressed Parquet: rewrite the file with one of those")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Row {
        timestamp: String,
        demand_gw: f64,
        holiday: Option<bool>,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                timestamp: "2014-01-01T00:00".into(),
                demand_gw: 3.9,
                holiday: Some(true),
            },
            Row {
                timestamp: "2014-01-01T00:30".into(),
                demand_gw: 4.1,
                holiday: None,
            },
        ]
    }

    #[test]
    fn round_trip() {
        let bytes = write(&rows(), "x.parquet").unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(read::<Row>(bytes, "x.parquet").unwrap(), rows());
    }

    #[test]
    fn garbage_names_the_file() {
        let err = read::<Row>(b"timestamp,demand_gw\n".to_vec(), "data/in.parquet").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("data/in.parquet: file: not a readable Parquet file"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_row_and_column() {
        #[derive(serde::Serialize)]
        struct Text {
            timestamp: String,
            demand_gw: String,
        }
        let bytes = write(
            &[Text {
                timestamp: "a".into(),
                demand_gw: "high".into(),
            }],
            "x.parquet",
        )
        .unwrap();
        let err = read::<Row>(bytes, "data/x.parquet")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("data/x.parquet: row 1, column \"demand_gw\": "),
            "{err}"
        );
    }

    #[test]
    fn missing_column_is_named() {
        #[derive(serde::Serialize)]
        struct Short {
            timestamp: String,
        }
        let bytes = write(
            &[Short {
                timestamp: "a".into(),
            }],
            "x.parquet",
        )
        .unwrap();
        let err = read::<Row>(bytes, "x.parquet").unwrap_err().to_string();
        assert!(err.contains("column \"demand_gw\""), "{err}");
        assert!(err.contains("its columns: timestamp"), "{err}");
    }

    #[test]
    fn empty_table_is_refused_clearly() {
        let err = write::<Row>(&[], "x.parquet").unwrap_err().to_string();
        assert!(err.contains("empty table"), "{err}");
    }

    #[test]
    fn annotation_parsing() {
        assert_eq!(
            annotated_column("Error: x (data_type: \"Utf8\", field: \"$.y\")").as_deref(),
            Some("y")
        );
        assert_eq!(annotated_column("Error: x (field: \"$\")"), None);
        assert_eq!(annotated_column("Error: x"), None);
    }
}
