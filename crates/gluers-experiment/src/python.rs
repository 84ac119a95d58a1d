//! Inspecting Python projects with the project's own interpreter.
//!
//! Two questions need Python itself rather than a text search:
//!
//! * which files define `EvaluationTask` subclasses (directly or through
//!   intermediate classes) and which file wires a DAG's `eval_tasks`: answered
//!   by parsing every `.py` file of the project with the `ast` module;
//! * where a Gluepy project stores its runs: answered by importing its
//!   settings module (`GLUEPY_SETTINGS_MODULE`, else the default `manage.py`
//!   sets) and reading `STORAGE_ROOT` and `STORAGE_BACKEND`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{ExperimentError, Result};

/// The inspection script. `scan ROOT [PRUNE...]` prints the classes of every
/// Python file under ROOT; `settings` prints the Gluepy settings.
const SCRIPT: &str = r#"
import ast, importlib, json, os, sys, tokenize

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

def settings_module():
    name = os.environ.get("GLUEPY_SETTINGS_MODULE")
    if name:
        return name
    try:
        with tokenize.open("manage.py") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "setdefault" and len(node.args) == 2
                    and all(isinstance(a, ast.Constant) for a in node.args)
                    and node.args[0].value == "GLUEPY_SETTINGS_MODULE"):
                return node.args[1].value
    except (OSError, SyntaxError):
        pass
    return "configs.settings"

def settings():
    sys.path.insert(0, os.getcwd())
    name = settings_module()
    m = importlib.import_module(name)
    root = getattr(m, "STORAGE_ROOT", None)
    print(json.dumps({"module": name,
                      "storage_root": os.path.abspath(str(root)) if root is not None else None,
                      "storage_backend": getattr(m, "STORAGE_BACKEND", None)}))

if sys.argv[1] == "scan":
    scan(sys.argv[2], sys.argv[3:])
else:
    settings()
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

/// The result of a scan.
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
    /// `EvaluationTask`, by class name) and the wiring of `dag`.
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

/// Gluepy settings that matter to the engine.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GluepySettings {
    /// The settings module imported.
    pub module: String,
    /// Absolute `STORAGE_ROOT`.
    pub storage_root: Option<String>,
    /// `STORAGE_BACKEND`.
    pub storage_backend: Option<String>,
}

/// The part of a project command that starts Python: everything before the
/// last `*.py` word (`python manage.py` → `python`, `uv run python manage.py`
/// → `uv run python`), or `python3` when that is empty.
pub(crate) fn interpreter(cmd: &str) -> String {
    let mut cut = None;
    let mut offset = 0;
    for word in cmd.split_whitespace() {
        let start = cmd[offset..].find(word).map_or(offset, |i| offset + i);
        offset = start + word.len();
        if word.trim_matches(['"', '\'']).ends_with(".py") {
            cut = Some(start);
        }
    }
    let prefix = cut.map_or("", |c| cmd[..c].trim());
    if prefix.is_empty() {
        "python3".into()
    } else {
        prefix.to_string()
    }
}

fn run_script(interpreter: &str, cwd: &Path, args: &[&str]) -> Result<String> {
    let shell = format!("{interpreter} \"$@\"");
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
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(ExperimentError::Inspect(format!(
            "`{interpreter}` failed in {} ({}): {}; check that the project command's Python works there",
            cwd.display(),
            out.status,
            last.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Parses every Python file under `root` (skipping hidden folders, virtual
/// environments and `prune`).
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

/// Imports the Gluepy settings of the project in `dir`.
pub(crate) fn gluepy_settings(interpreter: &str, dir: &Path) -> Result<GluepySettings> {
    let text = run_script(interpreter, dir, &["settings"])?;
    serde_json::from_str(&text).map_err(|e| {
        ExperimentError::Inspect(format!("unexpected output of the settings probe: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_is_the_prefix_before_the_script() {
        assert_eq!(interpreter("python manage.py"), "python");
        assert_eq!(interpreter("uv run python manage.py"), "uv run python");
        assert_eq!(interpreter("/v/bin/python3 ./manage.py"), "/v/bin/python3");
        assert_eq!(interpreter("./manage.py"), "python3");
        assert_eq!(interpreter("./run.sh"), "python3");
    }

    fn class(name: &str, bases: &[&str], label: Option<&str>, eval_tasks: bool) -> PyClass {
        PyClass {
            name: name.into(),
            bases: bases.iter().map(|s| s.to_string()).collect(),
            label: label.map(Into::into),
            eval_tasks,
        }
    }

    #[test]
    fn eval_sources_follow_subclass_chains_and_labels() {
        let scan = Scan {
            files: vec![
                PyFile {
                    path: "a/eval.py".into(),
                    classes: vec![class("Base", &["EvaluationTask"], None, false)],
                },
                PyFile {
                    path: "b/more.py".into(),
                    classes: vec![class("Acc", &["Base"], Some("acc"), false)],
                },
                PyFile {
                    path: "a/dags.py".into(),
                    classes: vec![class("ForecastDAG", &["DAG"], Some("forecast"), true)],
                },
                PyFile {
                    path: "c/dags.py".into(),
                    classes: vec![class("Other", &["DAG"], Some("other"), true)],
                },
            ],
            errors: vec![],
        };
        let s = scan.eval_sources("forecast");
        let files: Vec<&str> = s.eval_files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(files, ["a/eval.py", "b/more.py"]);
        assert_eq!(s.wiring_files, ["a/dags.py"]);
        assert_eq!(scan.eval_sources("unknown").wiring_files.len(), 2);
    }
}
