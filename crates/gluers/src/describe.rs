//! `dag LABEL --describe` and `list`: what a project's DAGs contain.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::dag::Dag;
use crate::registry::Registry;

/// Output formats of `--describe`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DescribeFormat {
    /// Text for people.
    #[default]
    Text,
    /// JSON for tools (the experiment engine reads it).
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
    let tasks: Vec<_> = dag
        .work_entries()
        .iter()
        .map(|e| json!({ "label": e.task.label(), "type": e.type_name }))
        .collect();
    let eval_tasks: Vec<_> = dag
        .eval_entries()
        .iter()
        .map(|e| {
            let metrics: Vec<_> = e
                .task
                .metrics()
                .iter()
                .map(|m| json!({ "name": m.name, "doc": m.doc }))
                .collect();
            json!({
                "label": e.task.label(),
                "type": e.type_name,
                "source_file": source_of_type(e.type_name, package_dir).map(|p| rel(&p, package_dir)),
                "metrics": metrics,
            })
        })
        .collect();
    let wiring = dag
        .eval_wiring()
        .and_then(|loc| locate_compiled_path(loc.file(), package_dir))
        .map(|p| rel(&p, package_dir));
    let value = json!({
        "dag": dag.label(),
        "tasks": tasks,
        "eval_tasks": eval_tasks,
        "eval_wiring_file": wiring,
    });
    let mut s = serde_json::to_string_pretty(&value).expect("json serialises");
    s.push('\n');
    s
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
