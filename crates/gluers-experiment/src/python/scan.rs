//! The generic fallback for command projects that are not Gluepy: a syntax
//! (`ast`) scan of every `.py` file for its classes, and the guess of the
//! evaluation classes and the wiring of a DAG it allows.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{ExperimentError, Result};

use super::last_line;

/// The syntax scan of the generic fallback: `scan ROOT [PRUNE...]` prints the
/// classes of every Python file under ROOT.
const SCRIPT: &str = r#"
import ast, json, os, sys, tokenize

def name_of(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return name_of(node.value)
    if isinstance(node, ast.Call):
        return name_of(node.func)
    return None

def class_info(node):
    label, eval_tasks = None, False
    for stmt in node.body:
        targets, value = [], None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for t in targets:
            if isinstance(t, ast.Name) and t.id == "label" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                label = value.value
            if isinstance(t, ast.Name) and t.id == "eval_tasks":
                eval_tasks = True
    return {"name": node.name, "bases": [b for b in map(name_of, node.bases) if b],
            "label": label, "eval_tasks": eval_tasks}

def scan(root, prune):
    prune = {os.path.realpath(p) for p in prune}
    files, errors = [], []
    for d, dirs, names in os.walk(root):
        keep = []
        for x in sorted(dirs):
            full = os.path.join(d, x)
            if x.startswith(".") or x in ("__pycache__", "node_modules", "site-packages"):
                continue
            if os.path.realpath(full) in prune or os.path.exists(os.path.join(full, "pyvenv.cfg")):
                continue
            keep.append(x)
        dirs[:] = keep
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            path = os.path.join(d, n)
            rel = os.path.relpath(path, root)
            try:
                with tokenize.open(path) as f:
                    tree = ast.parse(f.read(), filename=rel)
            except (SyntaxError, UnicodeDecodeError, OSError, ValueError) as e:
                errors.append({"path": rel, "error": str(e)})
                continue
            classes = [class_info(n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
            if classes:
                files.append({"path": rel, "classes": classes})
    print(json.dumps({"files": files, "errors": errors}))

scan(sys.argv[2], sys.argv[3:])
"#;

/// One class found by the scan.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PyClass {
    /// Class name.
    pub name: String,
    /// The last segment of each base class expression.
    pub bases: Vec<String>,
    /// A literal `label = "..."` in the class body.
    pub label: Option<String>,
    /// Whether the class body assigns `eval_tasks`.
    pub eval_tasks: bool,
}

/// One Python file with classes.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PyFile {
    /// Path relative to the scanned root.
    pub path: String,
    /// Its classes (nested ones included).
    pub classes: Vec<PyClass>,
}

/// A file that could not be parsed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PyError {
    /// Path relative to the scanned root.
    pub path: String,
    /// The parser's message.
    pub error: String,
}

/// The result of a scan (generic fallback).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Scan {
    /// Files defining classes.
    pub files: Vec<PyFile>,
    /// Files that did not parse.
    pub errors: Vec<PyError>,
}

/// What the evaluation of one DAG is made of, in Python terms.
#[derive(Debug, Default)]
pub(crate) struct EvalSources {
    /// Files defining `EvaluationTask` subclasses, with the class names.
    pub eval_files: Vec<(String, Vec<String>)>,
    /// Files wiring `eval_tasks` (for the DAG's label when found).
    pub wiring_files: Vec<String>,
}

impl Scan {
    /// Finds the evaluation classes (transitive subclasses of
    /// `EvaluationTask`, by class name only) and the wiring of `dag`: the
    /// generic fallback's best guess.
    pub fn eval_sources(&self, dag: &str) -> EvalSources {
        let mut eval_names: BTreeSet<String> = BTreeSet::from(["EvaluationTask".to_string()]);
        loop {
            let before = eval_names.len();
            for c in self.files.iter().flat_map(|f| &f.classes) {
                if c.bases.iter().any(|b| eval_names.contains(b)) {
                    eval_names.insert(c.name.clone());
                }
            }
            if eval_names.len() == before {
                break;
            }
        }
        let mut out = EvalSources::default();
        for f in &self.files {
            let names: Vec<String> = f
                .classes
                .iter()
                .filter(|c| c.bases.iter().any(|b| eval_names.contains(b)))
                .map(|c| c.name.clone())
                .collect();
            if !names.is_empty() {
                out.eval_files.push((f.path.clone(), names));
            }
        }
        let label_of = |c: &PyClass| c.label.clone().unwrap_or_else(|| c.name.to_lowercase());
        let wiring = |exact: bool| -> Vec<String> {
            self.files
                .iter()
                .filter(|f| {
                    f.classes
                        .iter()
                        .any(|c| c.eval_tasks && (!exact || label_of(c) == dag))
                })
                .map(|f| f.path.clone())
                .collect()
        };
        out.wiring_files = wiring(true);
        if out.wiring_files.is_empty() {
            out.wiring_files = wiring(false);
        }
        out
    }
}

/// Runs the scan script with the interpreter prefix through `sh` (a prefix
/// may be several words), still isolated from `PYTHON*` variables and the
/// user site, and without bytecode writes.
fn run_script(interpreter: &str, cwd: &Path, args: &[&str]) -> Result<String> {
    let shell = format!("{interpreter} -I -B \"$@\"");
    let out = Command::new("sh")
        .arg("-c")
        .arg(&shell)
        .arg("sh")
        .arg("-c")
        .arg(SCRIPT)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ExperimentError::Spawn {
            program: "sh".into(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(ExperimentError::Inspect(format!(
            "`{interpreter}` failed in {} ({}): {}; check that the project command's Python works there",
            cwd.display(),
            out.status,
            last_line(&out.stderr).unwrap_or("no message")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The generic fallback ([`crate::state::Flavor::Generic`] projects only):
/// parses every Python file under `root` (skipping hidden folders, virtual
/// environments and `prune`) and lists its classes, for
/// [`Scan::eval_sources`]. A Gluepy project is inspected with
/// [`inspect_gluepy`](super::inspect_gluepy) instead.
pub(crate) fn scan(interpreter: &str, root: &Path, prune: &[&Path]) -> Result<Scan> {
    let root_s = root.to_string_lossy();
    let mut args = vec!["scan", root_s.as_ref()];
    let prune_s: Vec<String> = prune
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(prune_s.iter().map(String::as_str));
    let text = run_script(interpreter, root, &args)?;
    serde_json::from_str(&text)
        .map_err(|e| ExperimentError::Inspect(format!("unexpected output of the Python scan: {e}")))
}
