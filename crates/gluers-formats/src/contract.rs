//! A metric's contract, as data: which direction is better, and the hard
//! constraints a run must meet to be kept.
//!
//! The evaluation's metric docs say the same in words ("Lower is better.",
//! "Must be 1.0."); the contract lets tools read it without guessing. In the
//! `--describe --format json` document each metric carries it beside its
//! doc:
//!
//! ```json
//! { "name": "forecast_bias", "doc": "... Closer to 0.0 is better.",
//!   "direction": { "target": 0.0 }, "constraints": [] }
//! { "name": "row_count_match", "doc": "... Must be 1.0.",
//!   "direction": null, "constraints": [{ "op": "eq", "value": 1.0 }] }
//! ```
//!
//! `direction` is `"lower"`, `"higher"`, `{"target": X}` or `null` (not
//! declared); a constraint's `op` is `"eq"` (equal, within 1e-9 relative),
//! `"ge"` (at least) or `"le"` (at most).
//!
//! ```
//! use gluers_formats::contract::{Constraint, Direction};
//!
//! assert!(Direction::Lower.is_better(1.0, 2.0));
//! assert!(Direction::Target(0.0).is_better(-0.1, 0.2));
//! assert!(Constraint::eq(1.0).holds(1.0));
//! assert!(!Constraint::at_least(0.5).holds(0.4));
//! assert_eq!(serde_json::to_string(&Direction::Target(0.0)).unwrap(), r#"{"target":0.0}"#);
//! ```

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Which values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Direction {
    /// Smaller values are better (errors, losses, durations).
    Lower,
    /// Larger values are better (accuracy, recall).
    Higher,
    /// Values closer to this target are better (a bias, closer to 0.0).
    Target(f64),
}

impl Direction {
    /// Whether `new` is strictly better than `old` in this direction.
    pub fn is_better(self, new: f64, old: f64) -> bool {
        match self {
            Self::Lower => new < old,
            Self::Higher => new > old,
            Self::Target(t) => (new - t).abs() < (old - t).abs(),
        }
    }

    /// The direction in words: `lower is better`, `closer to 0.0 is better`.
    pub fn words(self) -> String {
        match self {
            Self::Lower => "lower is better".into(),
            Self::Higher => "higher is better".into(),
            Self::Target(t) => format!("closer to {} is better", number(t)),
        }
    }

    /// Parses `lower`, `higher` or `target:X` (the engine's command-line
    /// spelling).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "lower" => Ok(Self::Lower),
            "higher" => Ok(Self::Higher),
            other => match other.strip_prefix("target:") {
                Some(v) => finite(v).map(Self::Target),
                None => Err(format!(
                    "`{other}` is not a direction: give lower, higher or target:X (e.g. target:0.0)"
                )),
            },
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lower => f.write_str("lower"),
            Self::Higher => f.write_str("higher"),
            Self::Target(t) => write!(f, "target:{}", number(*t)),
        }
    }
}

impl Serialize for Direction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Lower => s.serialize_str("lower"),
            Self::Higher => s.serialize_str("higher"),
            Self::Target(t) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("target", t)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            Target { target: f64 },
        }
        match Repr::deserialize(d)? {
            Repr::Word(w) if w == "lower" => Ok(Self::Lower),
            Repr::Word(w) if w == "higher" => Ok(Self::Higher),
            Repr::Word(w) => Err(de::Error::custom(format!(
                "unknown direction `{w}`: expected \"lower\", \"higher\" or {{\"target\": X}}"
            ))),
            Repr::Target { target } if target.is_finite() => Ok(Self::Target(target)),
            Repr::Target { .. } => Err(de::Error::custom("a direction's target must be finite")),
        }
    }
}

/// The comparison of a [`Constraint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintOp {
    /// Must equal the value (within 1e-9, relative to the value's size).
    Eq,
    /// Must be at least the value.
    Ge,
    /// Must be at most the value.
    Le,
}

/// A hard constraint on a metric: a run that breaks it cannot be kept.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    /// The comparison.
    pub op: ConstraintOp,
    /// The value compared with.
    pub value: f64,
}

impl Constraint {
    /// Must equal `value`.
    pub const fn eq(value: f64) -> Self {
        Self {
            op: ConstraintOp::Eq,
            value,
        }
    }

    /// Must be at least `value`.
    pub const fn at_least(value: f64) -> Self {
        Self {
            op: ConstraintOp::Ge,
            value,
        }
    }

    /// Must be at most `value`.
    pub const fn at_most(value: f64) -> Self {
        Self {
            op: ConstraintOp::Le,
            value,
        }
    }

    /// Whether `x` meets the constraint (a non-finite `x` never does).
    pub fn holds(&self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        match self.op {
            ConstraintOp::Eq => (x - self.value).abs() <= 1e-9 * self.value.abs().max(1.0),
            ConstraintOp::Ge => x >= self.value,
            ConstraintOp::Le => x <= self.value,
        }
    }

    /// The constraint in words: `must be 1.0`, `must be at least 0.5`.
    pub fn words(&self) -> String {
        let v = number(self.value);
        match self.op {
            ConstraintOp::Eq => format!("must be {v}"),
            ConstraintOp::Ge => format!("must be at least {v}"),
            ConstraintOp::Le => format!("must be at most {v}"),
        }
    }

    /// Parses `eq:X`, `ge:X` or `le:X` (the engine's command-line spelling).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not a constraint: give eq:X, ge:X or le:X (e.g. eq:1.0)");
        let (op, value) = text.split_once(':').ok_or_else(bad)?;
        let op = match op {
            "eq" => ConstraintOp::Eq,
            "ge" => ConstraintOp::Ge,
            "le" => ConstraintOp::Le,
            _ => return Err(bad()),
        };
        Ok(Self {
            op,
            value: finite(value)?,
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            ConstraintOp::Eq => "eq",
            ConstraintOp::Ge => "ge",
            ConstraintOp::Le => "le",
        };
        write!(f, "{op}:{}", number(self.value))
    }
}

fn finite(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{text}` is not a finite number")),
    }
}

/// A value as Python prints it (`1.0`, `0.5`).
fn number(v: f64) -> String {
    crate::python_float(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_compare_and_round_trip() {
        assert!(Direction::Higher.is_better(2.0, 1.0));
        assert!(!Direction::Lower.is_better(1.0, 1.0));
        assert!(Direction::Target(1.0).is_better(0.9, 1.2));
        for (d, json) in [
            (Direction::Lower, r#""lower""#),
            (Direction::Higher, r#""higher""#),
            (Direction::Target(-0.5), r#"{"target":-0.5}"#),
        ] {
            assert_eq!(serde_json::to_string(&d).unwrap(), json);
            assert_eq!(serde_json::from_str::<Direction>(json).unwrap(), d);
            assert_eq!(Direction::parse(&d.to_string()).unwrap(), d);
        }
        assert!(serde_json::from_str::<Direction>(r#""sideways""#).is_err());
        assert!(Direction::parse("target:nan").is_err());
        assert!(Direction::parse("up")
            .unwrap_err()
            .contains("lower, higher"));
        assert_eq!(Direction::Target(0.0).words(), "closer to 0.0 is better");
    }

    #[test]
    fn constraints_hold_parse_and_round_trip() {
        assert!(Constraint::eq(1.0).holds(1.0 + 1e-12));
        assert!(!Constraint::eq(1.0).holds(0.0));
        assert!(Constraint::at_most(3.0).holds(3.0));
        assert!(!Constraint::at_least(0.0).holds(f64::NAN));
        let c = Constraint::parse("ge:0.5").unwrap();
        assert_eq!(c, Constraint::at_least(0.5));
        assert_eq!(c.to_string(), "ge:0.5");
        assert_eq!(
            serde_json::to_string(&Constraint::eq(1.0)).unwrap(),
            r#"{"op":"eq","value":1.0}"#
        );
        assert!(Constraint::parse("gt:1").is_err());
        assert!(Constraint::parse("eq:x").is_err());
        assert_eq!(Constraint::eq(1.0).words(), "must be 1.0");
    }
}
