//! `dag LABEL --describe` and `list`: what a project's DAGs contain.

use std::path::{Path, PathBuf};

use gluers_formats::describe::{Describe, DescribedEvalTask, DescribedMetric, DescribedTask};

use crate::dag::Dag;
use crate::registry::Registry;

/// Output formats of `--describe`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DescribeFormat {
    /// Text for people.
    #[default]
    Text,
    /// JSON for tools (the experiment engine reads it): a
    /// [`gluers_formats::Describe`] document.
    Json,
}

/// Describes `dag`: its tasks, evaluation tasks and their metric docs.
///
/// `package_dir` is the folder of the project's `Cargo.toml`; JSON output
/// names source files relative to it.
pub fn describe(dag: &Dag, package_dir: &Path, format: DescribeFormat) -> String {
    match format {
        DescribeFormat::Text => describe_text(dag),
        DescribeFormat::Json => describe_json(dag, package_dir),
    }
}

fn describe_text(dag: &Dag) -> String {
    let mut out = format!("DAG {}\n", dag.label());
    if let Some(about) = dag.description() {
        out.push_str(&format!("  {about}\n"));
    }
    out.push_str("\nwork tasks:\n");
    for (i, entry) in dag.work_entries().iter().enumerate() {
        out.push_str(&format!("  {}. {}\n", i + 1, entry.task.label()));
    }
    let eval_data = dag.eval_data_paths();
    if !eval_data.is_empty() {
        out.push_str("\nevaluation data (storage paths only evaluation may read):\n");
        for path in &eval_data {
            out.push_str(&format!("  {path}\n"));
        }
    }
    let final_data = dag.final_test_data_paths();
    if !final_data.is_empty() {
        out.push_str(
            "\nfinal test data (sealed; scored once by `gluers experiment finish`, never in the loop):\n",
        );
        for path in &final_data {
            out.push_str(&format!("  {path}\n"));
        }
    }
    if !dag.has_eval_tasks() {
        out.push_str("\nno evaluation tasks: runs of this DAG log no metrics\n");
        return out;
    }
    out.push_str("\nevaluation tasks:\n");
    for (label, docs) in dag.metric_docs() {
        out.push_str(&format!("  {label}\n"));
        if docs.is_empty() {
            out.push_str("    (its metrics are not documented)\n");
        }
        for doc in &docs {
            out.push_str(&format!("    {}\n", doc.name));
            for line in wrap(doc.doc, 70) {
                out.push_str(&format!("        {line}\n"));
            }
            let mut contract: Vec<String> = doc.direction.iter().map(|d| d.words()).collect();
            contract.extend(doc.constraints.iter().map(|c| c.words()));
            if !contract.is_empty() {
                out.push_str(&format!("        [declared: {}]\n", contract.join("; ")));
            }
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn describe_json(dag: &Dag, package_dir: &Path) -> String {
    describe_document(dag, package_dir).to_json()
}

/// The `--describe --format json` document of `dag`; source files are named
/// relative to `package_dir` (the folder of the project's `Cargo.toml`).
pub fn describe_document(dag: &Dag, package_dir: &Path) -> Describe {
    let tasks = dag
        .work_entries()
        .iter()
        .map(|e| DescribedTask {
            label: e.task.label().to_string(),
            type_name: e.type_name.to_string(),
        })
        .collect();
    let eval_tasks = dag
        .eval_entries()
        .iter()
        .map(|e| DescribedEvalTask {
            label: e.task.label().to_string(),
            type_name: e.type_name.to_string(),
            source_file: source_of_type(e.type_name, package_dir).map(|p| rel(&p, package_dir)),
            metrics: e
                .task
                .metrics()
                .iter()
                .map(|m| DescribedMetric {
                    name: m.name.to_string(),
                    doc: m.doc.to_string(),
                    direction: m.direction,
                    constraints: m.constraints.clone(),
                })
                .collect(),
        })
        .collect();
    let eval_wiring_file = dag
        .eval_wiring()
        .and_then(|loc| locate_compiled_path(loc.file(), package_dir))
        .map(|p| rel(&p, package_dir));
    Describe {
        dag: dag.label().to_string(),
        tasks,
        eval_tasks,
        eval_wiring_file,
        eval_data: dag.eval_data_paths(),
        final_test_data: dag.final_test_data_paths(),
    }
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The source file that defines a type, from its module path: for
/// `krate::a::b::Type` the first of `src/a/b.rs`, `src/a/b/mod.rs`, then
/// the parents (`src/a.rs`, …), then `src/main.rs` / `src/lib.rs`.
pub fn source_of_type(type_name: &str, package_dir: &Path) -> Option<PathBuf> {
    // Generic parameters are not part of the module path.
    let path = type_name.split('<').next()?;
    let mut segments: Vec<&str> = path.split("::").collect();
    segments.pop(); // the type itself
    if segments.is_empty() {
        return None;
    }
    segments.remove(0); // the crate
    let src = package_dir.join("src");
    while !segments.is_empty() {
        let joined = segments.join("/");
        for candidate in [
            src.join(format!("{joined}.rs")),
            src.join(&joined).join("mod.rs"),
        ] {
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        segments.pop();
    }
    ["main.rs", "lib.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.is_file())
}

/// Maps a path as rustc saw it (relative to the workspace or the package,
/// or absolute) to a file under `package_dir`.
fn locate_compiled_path(file: &str, package_dir: &Path) -> Option<PathBuf> {
    let path = Path::new(file);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let parts: Vec<_> = path.components().collect();
    (0..parts.len())
        .map(|skip| package_dir.join(parts[skip..].iter().collect::<PathBuf>()))
        .find(|p| p.is_file())
}

/// `list`: every DAG with its tasks.
pub fn list(registry: &Registry) -> String {
    let mut out = String::new();
    for dag in registry.dags() {
        out.push_str(dag.label());
        if let Some(about) = dag.description() {
            out.push_str(&format!("  ({about})"));
        }
        out.push('\n');
        out.push_str(&format!(
            "  tasks: {}\n",
            dag.task_labels().collect::<Vec<_>>().join(", ")
        ));
        let evals: Vec<_> = dag.eval_task_labels().collect();
        out.push_str(&format!(
            "  eval tasks: {}\n",
            if evals.is_empty() {
                "none".to_string()
            } else {
                evals.join(", ")
            }
        ));
    }
    if out.is_empty() {
        out.push_str("no DAGs registered\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvaluationTask, MetricDoc, RunContext, Task, TaskResult};

    struct Fit;
    impl Task for Fit {
        fn label(&self) -> &str {
            "fit"
        }
        fn run(&self, _: &mut RunContext) -> TaskResult {
            Ok(())
        }
    }

    struct Score;
    impl EvaluationTask for Score {
        fn label(&self) -> &str {
            "score"
        }
        fn metrics(&self) -> Vec<MetricDoc> {
            vec![
                MetricDoc::new("mae", "Mean absolute error. Lower is better.").lower_is_better(),
                MetricDoc::new("complete", "1.0 when every row is scored. Must be 1.0.")
                    .must_equal(1.0),
                MetricDoc::new("note", "Undeclared."),
            ]
        }
        fn run(&self, _: &mut RunContext) -> TaskResult {
            Ok(())
        }
    }

    fn dag() -> Dag {
        Dag::new("demo")
            .task(Fit)
            .eval_task(Score)
            .eval_data("holdout/actuals.csv")
            .eval_data("./labels/")
            .final_test_data("final//actuals.csv")
    }

    #[test]
    fn json_lists_tasks_eval_tasks_wiring_and_eval_data() {
        let package = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = describe(&dag(), package, DescribeFormat::Json);
        let doc = Describe::from_json(&text).unwrap();
        assert_eq!(doc.dag, "demo");
        assert_eq!(doc.tasks[0].label, "fit");
        assert_eq!(doc.tasks[0].type_name, "gluers::describe::tests::Fit");
        assert_eq!(doc.eval_tasks[0].metrics[0].name, "mae");
        assert_eq!(
            doc.eval_tasks[0].source_file.as_deref(),
            Some("src/describe.rs")
        );
        assert_eq!(doc.eval_wiring_file.as_deref(), Some("src/describe.rs"));
        assert_eq!(doc.eval_data, ["holdout/actuals.csv", "labels"]);
        assert_eq!(doc.final_test_data, ["final/actuals.csv"]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["eval_data"],
            serde_json::json!(["holdout/actuals.csv", "labels"])
        );
        let metrics = &value["eval_tasks"][0]["metrics"];
        assert_eq!(metrics[0]["direction"], "lower");
        assert_eq!(metrics[0]["constraints"], serde_json::json!([]));
        assert_eq!(metrics[1]["direction"], serde_json::Value::Null);
        assert_eq!(
            metrics[1]["constraints"],
            serde_json::json!([{"op": "eq", "value": 1.0}])
        );
        assert_eq!(metrics[2]["direction"], serde_json::Value::Null);
        assert_eq!(
            value["final_test_data"],
            serde_json::json!(["final/actuals.csv"])
        );
    }

    #[test]
    fn text_shows_declared_contracts_and_final_test_data() {
        let text = describe(&dag(), Path::new("."), DescribeFormat::Text);
        assert!(text.contains("[declared: lower is better]"), "{text}");
        assert!(text.contains("[declared: must be 1.0]"), "{text}");
        assert!(
            text.contains("final test data (sealed; scored once by `gluers experiment finish`, never in the loop):\n  final/actuals.csv\n"),
            "{text}"
        );
        assert_eq!(text.matches("[declared").count(), 2, "{text}");
    }

    #[test]
    fn text_lists_eval_data_only_when_declared() {
        let text = describe(&dag(), Path::new("."), DescribeFormat::Text);
        assert!(
            text.contains(
                "\nevaluation data (storage paths only evaluation may read):\n  holdout/actuals.csv\n  labels\n"
            ),
            "{text}"
        );
        let plain = describe(
            &Dag::new("demo").task(Fit).eval_task(Score),
            Path::new("."),
            DescribeFormat::Text,
        );
        assert!(!plain.contains("evaluation data"), "{plain}");
        let json = describe(&Dag::new("demo"), Path::new("."), DescribeFormat::Json);
        assert!(json.contains("\"eval_data\": []"), "{json}");
    }
}
