//! Metrics as the sealed evaluator writes them: reading `metrics.json`,
//! formatting `k=v;k=v`, and comparing runs.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One metric value, kept as the JSON number the evaluator wrote so that it
/// prints the same way (`12.5`, `1.0`, `42`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Metric {
    /// The metric key.
    pub name: String,
    /// Its value.
    pub value: serde_json::Number,
}

impl Metric {
    /// The value as a float.
    pub fn as_f64(&self) -> f64 {
        self.value.as_f64().unwrap_or(f64::NAN)
    }
}

/// An ordered set of metrics (in the order the evaluation logged them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Metrics(pub Vec<Metric>);

impl Metrics {
    /// Parses the contents of a `metrics.json` (read by the shared
    /// [`gluers_formats::metrics`] reader; values kept as written).
    pub fn parse(text: &str) -> Result<Self, String> {
        let numbers =
            gluers_formats::metrics::numbers_from_json(text).map_err(|e| e.to_string())?;
        if numbers.is_empty() {
            return Err("it holds no metric".into());
        }
        Ok(Self(
            numbers
                .into_iter()
                .map(|(name, value)| Metric { name, value })
                .collect(),
        ))
    }

    /// Looks a metric up by name.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.0.iter().find(|m| m.name == name)
    }

    /// The log's metrics column: `k=v;k=v` in logged order.
    pub fn to_log_field(&self) -> String {
        self.0
            .iter()
            .map(|m| format!("{}={}", m.name, m.value))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Parses the log's metrics column back (unparsable values are skipped).
    pub fn from_log_field(field: &str) -> Self {
        let mut out = Vec::new();
        for pair in field.split(';').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                if let Ok(serde_json::Value::Number(n)) = serde_json::from_str(v) {
                    out.push(Metric {
                        name: k.to_string(),
                        value: n,
                    });
                }
            }
        }
        Self(out)
    }

    /// Space-separated `k=v` pairs for one-line displays.
    pub fn inline(&self) -> String {
        if self.0.is_empty() {
            return "(none)".into();
        }
        self.0
            .iter()
            .map(|m| format!("{}={}", m.name, m.value))
            .collect::<Vec<_>>()
            .join("  ")
    }
}

/// Formats `value` compared with `reference`: the signed difference and, when
/// meaningful, the relative change, e.g. `-1.3 (-10.40%)`.
pub(crate) fn delta(value: f64, reference: f64) -> String {
    let d = value - reference;
    let mut s = String::new();
    let _ = write!(s, "{}", signed(d));
    if reference != 0.0 && reference.is_finite() && d.is_finite() {
        let _ = write!(s, " ({:+.2}%)", d / reference.abs() * 100.0);
    }
    s
}

/// A float with an explicit sign and at most 6 significant decimals.
fn signed(x: f64) -> String {
    if x == 0.0 {
        return "±0".into();
    }
    let mut s = format!("{x:+.6}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_text() {
        let m = Metrics::parse(r#"{"z": 12.5, "a": 1.0, "n": 42}"#).unwrap();
        assert_eq!(m.to_log_field(), "z=12.5;a=1.0;n=42");
        assert_eq!(Metrics::from_log_field(&m.to_log_field()), m);
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        assert!(Metrics::parse("[1]").is_err());
        assert!(Metrics::parse(r#"{"a": "x"}"#).is_err());
        assert!(Metrics::parse("{}").is_err());
        assert!(Metrics::parse("not json").is_err());
    }

    #[test]
    fn delta_formats() {
        assert_eq!(delta(11.2, 12.5), "-1.3 (-10.40%)");
        assert_eq!(delta(1.0, 1.0), "±0 (+0.00%)");
        assert_eq!(delta(0.5, 0.0), "+0.5");
    }
}
