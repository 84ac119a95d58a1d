//! The `dag LABEL --describe --format json` document: what a DAG contains,
//! as a project binary reports it to tools.
//!
//! The experiment engine reads it to freeze the evaluation (the source files
//! of the evaluation task types and the file that wires them into the DAG)
//! and to seal the evaluation-only data:
//!
//! ```json
//! {
//!   "dag": "forecast",
//!   "tasks": [{ "label": "prepare_data", "type": "forecast::tasks::prepare::PrepareDataTask" }],
//!   "eval_tasks": [{
//!     "label": "compute_accuracy",
//!     "type": "forecast::evaluation::ComputeAccuracy",
//!     "source_file": "src/evaluation.rs",
//!     "metrics": [
//!       { "name": "forecast_mape", "doc": "... Lower is better.",
//!         "direction": "lower", "constraints": [] },
//!       { "name": "forecast_bias", "doc": "... Closer to 0.0 is better.",
//!         "direction": { "target": 0.0 }, "constraints": [] }
//!     ]
//!   }],
//!   "eval_wiring_file": "src/dags.rs",
//!   "eval_data": ["holdout/actuals.csv"],
//!   "final_test_data": ["final/actuals.csv"]
//! }
//! ```
//!
//! Source files are relative to the project's package folder (the folder of
//! its `Cargo.toml`); `eval_data` and `final_test_data` paths are storage
//! paths, relative to the storage root. A metric's `direction` and
//! `constraints` are its contract ([`crate::contract`]): `"lower"`,
//! `"higher"`, `{"target": X}` or `null`; constraints `{"op": "eq" | "ge" |
//! "le", "value": X}`. Reading is lenient: a field a producer leaves out
//! takes its empty value, so documents written before a field existed still
//! read.

use serde::{Deserialize, Serialize};

use crate::contract::{Constraint, Direction};

/// The `--describe --format json` document of one DAG.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Describe {
    /// The DAG's label.
    pub dag: String,
    /// The work tasks, in order.
    #[serde(default)]
    pub tasks: Vec<DescribedTask>,
    /// The evaluation tasks, in order.
    #[serde(default)]
    pub eval_tasks: Vec<DescribedEvalTask>,
    /// The file that wires the evaluation tasks into the DAG (where
    /// `Dag::eval_task` is called), relative to the package folder; `null`
    /// when the DAG has no evaluation tasks or the file is not found.
    #[serde(default)]
    pub eval_wiring_file: Option<String>,
    /// Files and folders only evaluation may read (`Dag::eval_data`), as
    /// storage paths relative to the storage root, in declaration order.
    #[serde(default)]
    pub eval_data: Vec<String>,
    /// The final test's answers (`Dag::final_test_data`): storage paths
    /// sealed like `eval_data`, never scored in the experiment loop, scored
    /// once by `gluers experiment finish` in place of the `eval_data` path
    /// with the same file name.
    #[serde(default)]
    pub final_test_data: Vec<String>,
}

/// A work task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribedTask {
    /// The task's label.
    pub label: String,
    /// The task's Rust type path, e.g. `forecast::tasks::train::TrainModelTask`.
    #[serde(rename = "type", default)]
    pub type_name: String,
}

/// An evaluation task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DescribedEvalTask {
    /// The task's label.
    pub label: String,
    /// The task's Rust type path.
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The source file that defines the type, relative to the package
    /// folder; `null` when it is not found.
    #[serde(default)]
    pub source_file: Option<String>,
    /// The metrics the task logs, with their documentation.
    #[serde(default)]
    pub metrics: Vec<DescribedMetric>,
}

/// A documented metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DescribedMetric {
    /// The metric's key.
    pub name: String,
    /// What it measures and which direction is better.
    #[serde(default)]
    pub doc: String,
    /// Which direction is better, when declared (`null` otherwise).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Hard constraints a kept run must meet.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

impl Describe {
    /// The document as pretty-printed JSON (two-space indent) with a
    /// trailing newline, as `--describe --format json` prints it.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a document of strings and lists always serialises");
        text.push('\n');
        text
    }

    /// Reads a document.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_documented_shape_and_reads_it_back() {
        let doc = Describe {
            dag: "forecast".into(),
            tasks: vec![DescribedTask {
                label: "prepare".into(),
                type_name: "f::Prepare".into(),
            }],
            eval_tasks: vec![DescribedEvalTask {
                label: "score".into(),
                type_name: "f::evaluation::Score".into(),
                source_file: Some("src/evaluation.rs".into()),
                metrics: vec![DescribedMetric {
                    name: "mape".into(),
                    doc: "Lower is better.".into(),
                    direction: Some(Direction::Target(0.0)),
                    constraints: vec![Constraint::at_least(0.0)],
                }],
            }],
            eval_wiring_file: Some("src/dags.rs".into()),
            eval_data: vec!["holdout/actuals.csv".into()],
            final_test_data: vec!["final/actuals.csv".into()],
        };
        let text = doc.to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "dag",
                "tasks",
                "eval_tasks",
                "eval_wiring_file",
                "eval_data",
                "final_test_data"
            ]
        );
        assert_eq!(
            value["eval_tasks"][0]["metrics"][0]["direction"],
            serde_json::json!({"target": 0.0})
        );
        assert_eq!(
            value["eval_tasks"][0]["metrics"][0]["constraints"],
            serde_json::json!([{"op": "ge", "value": 0.0}])
        );
        assert_eq!(value["final_test_data"][0], "final/actuals.csv");
        assert_eq!(value["tasks"][0]["type"], "f::Prepare");
        assert_eq!(value["eval_tasks"][0]["metrics"][0]["name"], "mape");
        assert_eq!(value["eval_data"][0], "holdout/actuals.csv");
        assert!(text.ends_with("}\n"));
        assert_eq!(Describe::from_json(&text).unwrap(), doc);
    }

    #[test]
    fn metrics_without_a_contract_still_read() {
        let doc = Describe::from_json(
            r#"{"dag": "d", "eval_tasks": [{"label": "e", "metrics": [{"name": "m", "doc": "x"}]}]}"#,
        )
        .unwrap();
        let m = &doc.eval_tasks[0].metrics[0];
        assert_eq!((m.direction, m.constraints.len()), (None, 0));
    }

    #[test]
    fn older_documents_without_eval_data_still_read() {
        let doc = Describe::from_json(
            r#"{"dag": "d", "eval_tasks": [{"label": "e", "source_file": null}]}"#,
        )
        .unwrap();
        assert!(doc.eval_data.is_empty() && doc.tasks.is_empty());
        assert!(doc.final_test_data.is_empty());
        assert_eq!(doc.eval_tasks[0].label, "e");
        assert_eq!(doc.eval_wiring_file, None);
    }
}
