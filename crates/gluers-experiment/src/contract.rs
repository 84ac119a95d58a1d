//! The metric contract as the engine applies it: which direction of a
//! metric is better, which hard constraints a kept run must meet, which
//! metric the goal names, and what a run's metrics must contain.
//!
//! A metric's direction and constraints come, each on its own, from the
//! first of:
//!
//! 1. what is declared: `MetricDoc::lower_is_better()` and friends in a
//!    gluers project (`--describe --format json`), or `init --direction` /
//!    `--constraint` (Gluepy projects, whose docs are free text);
//! 2. the doc's words: "lower/smaller is better", "higher/larger is
//!    better", "closer to X is better", "must be X", "must be at least X",
//!    "must be at most X" (a metric that must equal X and states no
//!    direction is better closer to X);
//! 3. lower is better, no constraint.

use gluers_formats::contract::{Constraint, Direction};

use crate::metrics::Metrics;
use crate::state::MetricDoc;

/// Where a direction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Declared by the project or at init.
    Declared,
    /// Read from the doc's words.
    Doc,
    /// Implied by a must-equal constraint.
    Constraint,
    /// Neither: lower is better.
    Default,
}

impl Source {
    /// How `status` says it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::Doc => "from its doc",
            Self::Constraint => "from its constraint",
            Self::Default => "default",
        }
    }
}

/// The direction of `name`, and where it came from.
pub(crate) fn direction(docs: &[MetricDoc], name: &str) -> (Direction, Source) {
    let Some(doc) = docs.iter().find(|d| d.name == name) else {
        return (Direction::Lower, Source::Default);
    };
    if let Some(d) = doc.direction {
        return (d, Source::Declared);
    }
    if let Some(d) = direction_in_text(&doc.doc) {
        return (d, Source::Doc);
    }
    let eq = constraints(docs, name)
        .into_iter()
        .find(|c| c.op == gluers_formats::ConstraintOp::Eq);
    match eq {
        Some(c) => (Direction::Target(c.value), Source::Constraint),
        None => (Direction::Lower, Source::Default),
    }
}

/// The hard constraints of `name`: the declared ones, else those its doc
/// states.
pub(crate) fn constraints(docs: &[MetricDoc], name: &str) -> Vec<Constraint> {
    match docs.iter().find(|d| d.name == name) {
        Some(d) if !d.constraints.is_empty() => d.constraints.clone(),
        Some(d) => constraints_in_text(&d.doc),
        None => Vec::new(),
    }
}

/// Whether `new` beats `best` on `primary`, in its direction. A run
/// without the primary metric never does; a best without it always loses.
pub(crate) fn is_better(new: &Metrics, best: &Metrics, primary: &str, docs: &[MetricDoc]) -> bool {
    let Some(now) = new.get(primary) else {
        return false;
    };
    let Some(old) = best.get(primary) else {
        return true;
    };
    direction(docs, primary)
        .0
        .is_better(now.as_f64(), old.as_f64())
}

/// `better`, `worse` or `same` for `value` against `reference`.
pub(crate) fn judgement(
    docs: &[MetricDoc],
    name: &str,
    value: f64,
    reference: f64,
) -> &'static str {
    let (d, _) = direction(docs, name);
    if d.is_better(value, reference) {
        "better"
    } else if d.is_better(reference, value) {
        "worse"
    } else {
        "same"
    }
}

/// The first broken hard constraint of `metrics`: metric, value, constraint.
pub(crate) fn broken(
    metrics: &Metrics,
    docs: &[MetricDoc],
) -> Option<(String, String, Constraint)> {
    metrics.0.iter().find_map(|m| {
        constraints(docs, &m.name)
            .into_iter()
            .find(|c| !c.holds(m.as_f64()))
            .map(|c| (m.name.clone(), m.value.to_string(), c))
    })
}

/// Declared metrics (every documented one) that `metrics` lacks.
pub(crate) fn missing(metrics: &Metrics, docs: &[MetricDoc]) -> Vec<String> {
    docs.iter()
        .filter(|d| metrics.get(&d.name).is_none())
        .map(|d| d.name.clone())
        .collect()
}

/// Logged metrics that no doc declares (none when nothing is declared).
pub(crate) fn undeclared(metrics: &Metrics, docs: &[MetricDoc]) -> Vec<String> {
    if docs.is_empty() {
        return Vec::new();
    }
    metrics
        .0
        .iter()
        .filter(|m| !docs.iter().any(|d| d.name == m.name))
        .map(|m| m.name.clone())
        .collect()
}

/// The metric the goal names: `explicit` (`--metric`) when given, else the
/// first of `known` that the goal contains as a whole word (or is). Errors
/// are one line.
pub(crate) fn primary_metric(
    goal: &str,
    explicit: Option<&str>,
    known: &[String],
    what: &str,
) -> Result<String, String> {
    let list = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    if let Some(m) = explicit {
        return if known.iter().any(|k| k == m) {
            Ok(m.to_string())
        } else {
            Err(format!(
                "--metric {m}: not one of the {what} ({list}); name one of them"
            ))
        };
    }
    known
        .iter()
        .filter_map(|k| word_position(goal, k).map(|at| (at, k)))
        .min_by_key(|(at, k)| (*at, std::cmp::Reverse(k.len())))
        .map(|(_, k)| k.clone())
        .ok_or_else(|| {
            format!(
                "the goal `{goal}` names none of the {what} ({list}); name the metric to improve in it (e.g. --goal \"lower {}\") or pass --metric NAME",
                known.first().map_or("METRIC", String::as_str)
            )
        })
}

/// Where `word` occurs in `text` with no name character (letter, digit,
/// `_`, `.`, `-`) on either side.
fn word_position(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '-';
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let end = at + word.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        // A sentence's full stop right after the name still ends it.
        let after_ok = match after {
            None => true,
            Some('.') => text[end + 1..].chars().next().is_none_or(|c| !name_char(c)),
            Some(c) => !name_char(c),
        };
        if before.is_none_or(|c| !name_char(c)) && after_ok {
            return Some(at);
        }
        from = at + word.len().max(1);
    }
    None
}

/// The direction a doc states in words, if any (the earliest phrase wins).
pub(crate) fn direction_in_text(doc: &str) -> Option<Direction> {
    let text = normalize(doc);
    let mut found: Vec<(usize, Direction)> = Vec::new();
    for phrase in ["closer to ", "close to ", "closest to "] {
        let mut from = 0;
        while let Some(i) = text[from..].find(phrase) {
            let at = from + i;
            let rest = &text[at + phrase.len()..];
            if let Some(v) = leading_number(rest) {
                if rest.contains("better") || rest.contains("best") {
                    found.push((at, Direction::Target(v)));
                }
            }
            from = at + phrase.len();
        }
    }
    let words: [(&str, Direction); 12] = [
        ("lower is better", Direction::Lower),
        ("smaller is better", Direction::Lower),
        ("less is better", Direction::Lower),
        ("fewer is better", Direction::Lower),
        ("lower values are better", Direction::Lower),
        ("minimi", Direction::Lower),
        ("higher is better", Direction::Higher),
        ("larger is better", Direction::Higher),
        ("greater is better", Direction::Higher),
        ("more is better", Direction::Higher),
        ("higher values are better", Direction::Higher),
        ("maximi", Direction::Higher),
    ];
    for (phrase, d) in words {
        if let Some(at) = text.find(phrase) {
            found.push((at, d));
        }
    }
    found.into_iter().min_by_key(|(at, _)| *at).map(|(_, d)| d)
}

/// The hard constraints a doc states in words: "must be X", "must equal
/// X", "must be at least X" / "at most X", "must be >= X" / "<= X".
pub(crate) fn constraints_in_text(doc: &str) -> Vec<Constraint> {
    let text = normalize(doc);
    let mut out = Vec::new();
    for phrase in ["must be ", "must equal ", "should be "] {
        let mut from = 0;
        while let Some(i) = text[from..].find(phrase) {
            let at = from + i + phrase.len();
            let rest = text[at..].trim_start_matches("exactly ");
            let c = if let Some(r) = rest
                .strip_prefix("at least ")
                .or_else(|| rest.strip_prefix(">= "))
                .or_else(|| rest.strip_prefix(">="))
            {
                leading_number(r).map(Constraint::at_least)
            } else if let Some(r) = rest
                .strip_prefix("at most ")
                .or_else(|| rest.strip_prefix("<= "))
                .or_else(|| rest.strip_prefix("<="))
            {
                leading_number(r).map(Constraint::at_most)
            } else if phrase == "should be " {
                None
            } else {
                leading_number(rest).map(Constraint::eq)
            };
            if let Some(c) = c {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            from = at;
        }
    }
    out
}

/// Lowercase, with runs of whitespace as one space.
fn normalize(doc: &str) -> String {
    doc.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The number at the start of `text` (`1.0`, `-0.5`, `+2`), without the
/// punctuation that ends a sentence.
fn leading_number(text: &str) -> Option<f64> {
    let token = text.split_whitespace().next()?;
    let token = token.trim_end_matches([',', ';', ':', ')', '.', '"', '\'']);
    token.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, text: &str) -> MetricDoc {
        MetricDoc {
            name: name.into(),
            doc: text.into(),
            direction: None,
            constraints: Vec::new(),
        }
    }

    #[test]
    fn directions_come_from_declarations_then_words_then_lower() {
        let mut declared = doc("acc", "Lower is better.");
        declared.direction = Some(Direction::Higher);
        let docs = [
            declared,
            doc(
                "mape",
                "Mean absolute percentage error. Lower is better; 0 is perfect.",
            ),
            doc("bias", "Systematic error.\n Closer to 0.0 is better."),
            doc(
                "recall",
                "Share found. Higher is better, judge after precision.",
            ),
            doc(
                "rows",
                "1.0 if the counts match, 0.0 otherwise. Must be 1.0.",
            ),
            doc("n", "How many."),
        ];
        let d = |n: &str| direction(&docs, n);
        assert_eq!(d("acc"), (Direction::Higher, Source::Declared));
        assert_eq!(d("mape"), (Direction::Lower, Source::Doc));
        assert_eq!(d("bias"), (Direction::Target(0.0), Source::Doc));
        assert_eq!(d("recall"), (Direction::Higher, Source::Doc));
        assert_eq!(d("rows"), (Direction::Target(1.0), Source::Constraint));
        assert_eq!(d("n"), (Direction::Lower, Source::Default));
        assert_eq!(d("unknown"), (Direction::Lower, Source::Default));
    }

    #[test]
    fn constraints_in_words() {
        assert_eq!(constraints_in_text("Must be 1.0."), [Constraint::eq(1.0)]);
        assert_eq!(
            constraints_in_text("It must be at least 0.5 and must be at most 2."),
            [Constraint::at_least(0.5), Constraint::at_most(2.0)]
        );
        assert_eq!(constraints_in_text("must equal -1"), [Constraint::eq(-1.0)]);
        assert!(constraints_in_text("Must be positive.").is_empty());
        assert!(constraints_in_text("Lower is better.").is_empty());
    }

    #[test]
    fn the_goal_must_name_a_known_metric() {
        let known = ["forecast_mape".to_string(), "forecast_bias".to_string()];
        let p = |goal: &str| primary_metric(goal, None, &known, "DAG's metrics");
        assert_eq!(p("lower forecast_mape").unwrap(), "forecast_mape");
        assert_eq!(p("forecast_bias").unwrap(), "forecast_bias");
        assert_eq!(
            p("get forecast_bias near 0, then forecast_mape.").unwrap(),
            "forecast_bias"
        );
        let err = p("improve the forecast_mape_x").unwrap_err();
        assert!(err.contains("names none of the DAG's metrics (forecast_mape, forecast_bias)"));
        assert!(!err.contains('\n'));
        assert_eq!(
            primary_metric("anything", Some("forecast_bias"), &known, "m").unwrap(),
            "forecast_bias"
        );
        assert!(primary_metric("x", Some("nope"), &known, "m")
            .unwrap_err()
            .starts_with("--metric nope"));
    }

    #[test]
    fn runs_are_judged_by_the_primary_metrics_direction() {
        let m = |v: &str| Metrics::parse(v).unwrap();
        let mut docs = vec![doc("bias", "Closer to 0.0 is better."), doc("mae", "x")];
        assert!(is_better(
            &m(r#"{"mae": 3, "bias": -0.1}"#),
            &m(r#"{"mae": 1, "bias": 0.2}"#),
            "bias",
            &docs
        ));
        assert!(is_better(
            &m(r#"{"mae": 1}"#),
            &m(r#"{"mae": 2}"#),
            "mae",
            &docs
        ));
        docs[1].direction = Some(Direction::Higher);
        assert!(!is_better(
            &m(r#"{"mae": 1}"#),
            &m(r#"{"mae": 2}"#),
            "mae",
            &docs
        ));
        assert!(!is_better(
            &m(r#"{"bias": 0}"#),
            &m(r#"{"mae": 2}"#),
            "mae",
            &docs
        ));
        docs[1].constraints = vec![Constraint::eq(3.0)];
        assert_eq!(
            broken(&m(r#"{"mae": 2}"#), &docs).map(|(n, v, _)| (n, v)),
            Some(("mae".into(), "2".into()))
        );
        assert_eq!(missing(&m(r#"{"mae": 2}"#), &docs), ["bias"]);
        assert_eq!(undeclared(&m(r#"{"mae": 2, "x": 1}"#), &docs), ["x"]);
        assert!(undeclared(&m(r#"{"x": 1}"#), &[]).is_empty());
    }
}
