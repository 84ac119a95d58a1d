//! Metrics logged by evaluation tasks: the metrics block and `metrics.json`.
//!
//! The block is the protocol agents and tools grep for, exactly as Gluepy
//! prints it:
//!
//! ```text
//! === GLUEPY METRICS ===
//! metric:forecast_mape=12.5
//! metric:forecast_bias=-0.03
//! === END METRICS ===
//! ```
//!
//! Metrics must be finite: logging NaN or an infinity is an error that fails
//! the evaluation task, so a broken model shows up as a failed run rather
//! than as invalid JSON or a silently missing number.

use crate::python_float;

/// The first line of the metrics block.
pub const BLOCK_START: &str = "=== GLUEPY METRICS ===";
/// The last line of the metrics block.
pub const BLOCK_END: &str = "=== END METRICS ===";
/// The file in the run folder that holds the metrics.
pub const METRICS_FILE: &str = "metrics.json";

/// Why a metric was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    /// NaN or an infinity.
    #[error("metric '{key}' is {value}: metrics must be finite numbers; check the evaluation for a division by zero or empty data")]
    NotFinite {
        /// The metric's key.
        key: String,
        /// The value, as Python prints it.
        value: String,
    },
    /// A key that would break the block, the log or the TSV.
    #[error("metric key {key:?} is not allowed: use letters, digits, '_', '-', '.' or '/'")]
    BadKey {
        /// The refused key.
        key: String,
    },
}

/// Why `metrics.json` text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetricsFileError {
    /// The text is not a JSON object.
    #[error("not a JSON object of metrics: {0}")]
    NotAnObject(#[source] serde_json::Error),
    /// A value is not a number.
    #[error("metric '{key}' is not a number")]
    NotANumber {
        /// The metric's key.
        key: String,
    },
}

/// Reads `metrics.json` text into its numbers as written, in file order
/// (an integer stays an integer: the experiment log shows values as the
/// evaluation wrote them).
pub fn numbers_from_json(
    text: &str,
) -> Result<Vec<(String, serde_json::Number)>, MetricsFileError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(MetricsFileError::NotAnObject)?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::Number(n) => Ok((k, n)),
            _ => Err(MetricsFileError::NotANumber { key: k }),
        })
        .collect()
}

/// A metric's value: an integer stays an integer in the block and in
/// `metrics.json` (`metric:rows=42`, as Gluepy prints a Python `int`), a
/// float is printed as Python prints it (`42.0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    /// A whole number, logged as one (`log_metric("rows", 42)`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
}

impl MetricValue {
    /// The value as a float (for comparisons and charts).
    pub fn as_f64(self) -> f64 {
        match self {
            MetricValue::Int(i) => i as f64,
            MetricValue::Float(f) => f,
        }
    }

    /// The value as Python prints it: `42` or `42.0`.
    pub fn python_repr(self) -> String {
        match self {
            MetricValue::Int(i) => i.to_string(),
            MetricValue::Float(f) => python_float(f),
        }
    }
}

impl From<f64> for MetricValue {
    fn from(v: f64) -> Self {
        MetricValue::Float(v)
    }
}

impl From<f32> for MetricValue {
    fn from(v: f32) -> Self {
        MetricValue::Float(f64::from(v))
    }
}

macro_rules! int_metric {
    ($($t:ty),*) => {$(
        impl From<$t> for MetricValue {
            fn from(v: $t) -> Self {
                MetricValue::Int(i64::from(v))
            }
        }
    )*};
}
int_metric!(i8, i16, i32, i64, u8, u16, u32);

impl From<usize> for MetricValue {
    fn from(v: usize) -> Self {
        i64::try_from(v).map_or(MetricValue::Float(v as f64), MetricValue::Int)
    }
}

/// Metrics in logging order; logging a key again replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    entries: Vec<(String, MetricValue)>,
}

impl Metrics {
    /// No metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `key = value` (a float or an integer), refusing non-finite
    /// values and unsafe keys.
    pub fn record(&mut self, key: &str, value: impl Into<MetricValue>) -> Result<(), MetricError> {
        let value = value.into();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        {
            return Err(MetricError::BadKey {
                key: key.to_string(),
            });
        }
        if !value.as_f64().is_finite() {
            return Err(MetricError::NotFinite {
                key: key.to_string(),
                value: value.python_repr(),
            });
        }
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
        Ok(())
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The metrics in logging order, as floats.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_f64()))
    }

    /// The metrics in logging order, integers kept.
    pub fn values(&self) -> impl Iterator<Item = (&str, MetricValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The metrics block, with a trailing newline.
    pub fn block(&self) -> String {
        let mut out = String::with_capacity(64 + 32 * self.entries.len());
        out.push_str(BLOCK_START);
        out.push('\n');
        for (k, v) in &self.entries {
            out.push_str("metric:");
            out.push_str(k);
            out.push('=');
            out.push_str(&v.python_repr());
            out.push('\n');
        }
        out.push_str(BLOCK_END);
        out.push('\n');
        out
    }

    /// `metrics.json`: a JSON object in logging order, indented by two
    /// spaces, with no trailing newline (Gluepy's exact bytes).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str("  ");
            out.push_str(&serde_json::to_string(k).expect("a string serialises"));
            out.push_str(": ");
            out.push_str(&v.python_repr());
        }
        if !self.entries.is_empty() {
            out.push('\n');
        }
        out.push('}');
        out
    }

    /// Reads `metrics.json` text: a JSON object of numbers, kept in file
    /// order. Integers (which Gluepy writes for `int` metrics) stay integers.
    pub fn from_json(text: &str) -> Result<Self, MetricsFileError> {
        let entries = numbers_from_json(text)?
            .into_iter()
            .map(|(k, n)| {
                let v = match n.as_i64() {
                    Some(i) => MetricValue::Int(i),
                    None => MetricValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                };
                (k, v)
            })
            .collect();
        Ok(Metrics { entries })
    }

    /// The value of `key`, if logged.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_as_gluepy_prints_an_int() {
        let mut m = Metrics::new();
        m.record("rows", 42).unwrap();
        m.record("share", 42.0).unwrap();
        assert_eq!(
            m.block(),
            "=== GLUEPY METRICS ===\nmetric:rows=42\nmetric:share=42.0\n=== END METRICS ===\n"
        );
        assert_eq!(m.to_json(), "{\n  \"rows\": 42,\n  \"share\": 42.0\n}");
        assert_eq!(Metrics::from_json(&m.to_json()).unwrap(), m);
        assert_eq!(m.get("rows"), Some(42.0));
    }

    #[test]
    fn block_and_json_keep_logging_order() {
        let mut m = Metrics::new();
        m.record("forecast_mape", 12.5).unwrap();
        m.record("forecast_bias", -0.03).unwrap();
        m.record("forecast_mape", 11.0).unwrap();
        assert_eq!(
            m.block(),
            "=== GLUEPY METRICS ===\nmetric:forecast_mape=11.0\nmetric:forecast_bias=-0.03\n=== END METRICS ===\n"
        );
        let json = m.to_json();
        assert_eq!(
            json,
            "{\n  \"forecast_mape\": 11.0,\n  \"forecast_bias\": -0.03\n}"
        );
        assert_eq!(Metrics::from_json(&json).unwrap(), m);
    }

    #[test]
    fn parsing_round_trips_python_floats_exactly() {
        // The shortest repr that Python wrote must read back to the same double.
        let m =
            Metrics::from_json("{\"a\": 14.111569944278905, \"b\": 0.30000000000000004}").unwrap();
        assert_eq!(python_float(m.get("a").unwrap()), "14.111569944278905");
        assert_eq!(python_float(m.get("b").unwrap()), "0.30000000000000004");
    }

    #[test]
    fn non_finite_and_bad_keys_are_refused() {
        let mut m = Metrics::new();
        assert!(matches!(
            m.record("x", f64::NAN),
            Err(MetricError::NotFinite { .. })
        ));
        assert!(matches!(
            m.record("x", f64::INFINITY),
            Err(MetricError::NotFinite { .. })
        ));
        assert!(matches!(
            m.record("a=b", 1.0),
            Err(MetricError::BadKey { .. })
        ));
        assert!(matches!(
            m.record("a\tb", 1.0),
            Err(MetricError::BadKey { .. })
        ));
        assert!(m.is_empty());
    }

    #[test]
    fn malformed_files_are_typed_errors() {
        assert!(matches!(
            Metrics::from_json("[1]"),
            Err(MetricsFileError::NotAnObject(_))
        ));
        let err = Metrics::from_json("{\"a\": \"x\"}").unwrap_err();
        assert_eq!(err.to_string(), "metric 'a' is not a number");
        assert_eq!(
            Metrics::from_json("{\"n\": 42}").unwrap().get("n"),
            Some(42.0)
        );
    }
}
