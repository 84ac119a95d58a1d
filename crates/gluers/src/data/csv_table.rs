//! CSV encoding of typed rows.

use super::DataError;

pub(super) fn read<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    shown: &str,
) -> Result<Vec<T>, DataError> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format_error(shown, &e, None))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.deserialize::<T>() {
        rows.push(record.map_err(|e| format_error(shown, &e, Some(&headers)))?);
    }
    Ok(rows)
}

pub(super) fn write<T: serde::Serialize>(rows: &[T], shown: &str) -> Result<Vec<u8>, DataError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for (i, row) in rows.iter().enumerate() {
        writer.serialize(row).map_err(|e| DataError::Format {
            path: shown.to_string(),
            location: format!("row {}", i + 1),
            message: e.to_string(),
        })?;
    }
    writer.into_inner().map_err(|e| DataError::Format {
        path: shown.to_string(),
        location: "end".into(),
        message: e.to_string(),
    })
}

fn format_error(shown: &str, e: &csv::Error, headers: Option<&csv::StringRecord>) -> DataError {
    let line = e.position().map(|p| p.line());
    let column = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err
            .field()
            .and_then(|f| headers.and_then(|h| h.get(f as usize)).map(str::to_string)),
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
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Row {
        timestamp: String,
        demand_gw: f64,
    }

    #[test]
    fn round_trip() {
        let rows = vec![Row {
            timestamp: "2014-01-01T00:00".into(),
            demand_gw: 3.9,
        }];
        let bytes = write(&rows, "x.csv").unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "timestamp,demand_gw\n2014-01-01T00:00,3.9\n"
        );
        assert_eq!(read::<Row>(&bytes, "x.csv").unwrap(), rows);
    }

    #[test]
    fn bad_value_names_file_line_and_column() {
        let text = b"timestamp,demand_gw\na,1.0\nb,oops\n";
        let err = read::<Row>(text, "data/in.csv").unwrap_err().to_string();
        assert!(
            err.starts_with("data/in.csv: line 3, column \"demand_gw\""),
            "{err}"
        );
    }
}
