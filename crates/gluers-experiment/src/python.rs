//! Inspecting Python projects with the project's own interpreter.
//!
//! * [`inspect_gluepy`]: which classes and files a Gluepy DAG evaluates
//!   with, asked of the project itself. The project's `manage.py` runs as
//!   `python manage.py dag LABEL` would (its settings module, Gluepy's
//!   `bootstrap()` importing `INSTALLED_MODULES`, Gluepy's DAG registry),
//!   with Gluepy's command line swapped for a probe that reads the registry
//!   (`python/gluepy_inspect.py`). An aliased import, an indirect subclass, a
//!   class made with `type(...)` or an `eval_tasks` built by a function are
//!   all seen, because Python resolved them.
//! * [`gluepy_settings`]: the same run, stopped before `bootstrap()`, for
//!   `STORAGE_ROOT` and `STORAGE_BACKEND`.
//! * [`scan`]: the fallback for command projects that are not Gluepy
//!   ([`crate::state::Flavor::Generic`]): a syntax scan of every `.py` file
//!   for classes deriving from something named `EvaluationTask`. It cannot
//!   follow aliases, helpers or dynamic classes; it is a hint, not a proof.
//!
//! [`resolve_interpreter`] and [`scan`] start the interpreter through `sh`
//! in the caller's environment (a prefix such as `uv run python` needs both),
//! with `-I -B`; the Gluepy inspection runs the resolved executable with
//! [`crate::pyenv::isolated_command`] (`-I -B`, empty environment but
//! `PATH`), so neither `PYTHON*` variables, `GLUEPY_*` variables, the user
//! site nor bytecode writes into the inspected folder play a part.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::pyenv::isolated_command;

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

/// Gluepy settings that matter to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GluepySettings {
    /// The settings module imported (`GLUEPY_SETTINGS_MODULE` as `manage.py`
    /// set it).
    pub module: String,
    /// Absolute `STORAGE_ROOT`.
    pub storage_root: Option<String>,
    /// `STORAGE_BACKEND`.
    pub storage_backend: Option<String>,
}

/// What a Gluepy DAG evaluates with, as the project's interpreter resolved
/// it. Project files are relative to the inspected folder, with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GluepyDag {
    /// The DAG label asked for.
    pub dag: String,
    /// `module.QualName` of the DAG class registered under that label.
    pub dag_class: String,
    /// The file defining the DAG class (its `eval_tasks` wiring), if it is in
    /// the project.
    pub wiring_file: Option<String>,
    /// Project files of the DAG class and of its bases up to Gluepy's `DAG`
    /// (a mixin or property building `eval_tasks` included).
    pub wiring_files: Vec<String>,
    /// One entry per item of the DAG's `eval_tasks`, in order.
    pub eval_tasks: Vec<EvalTaskClass>,
    /// Labels of the DAG's work `tasks`, in order.
    pub work_tasks: Vec<String>,
    /// Absolute files outside the project that define code of the evaluation
    /// (a base class from an installed package, say): they belong to the
    /// interpreter's environment, which [`crate::pyenv`] verifies.
    pub outside_project: Vec<String>,
    /// `module.QualName` of evaluation or wiring classes whose code has no
    /// file (made by `exec`, or in a C extension): nothing can freeze them.
    pub unlocated: Vec<String>,
    /// Metrics documented in the `Metrics:` section of the evaluation task
    /// classes' docstrings.
    #[serde(default)]
    pub metric_docs: Vec<TaskMetricDoc>,
    /// The project's Gluepy settings.
    pub settings: GluepySettings,
}

/// One evaluation task of a DAG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EvalTaskClass {
    /// The task label (`label`, else the lowercased class name, as Gluepy).
    pub label: String,
    /// The class's `__qualname__`.
    #[serde(rename = "class")]
    pub class_name: String,
    /// The class's `__module__`.
    pub module: String,
    /// The file defining the class, if it is in the project.
    pub source_file: Option<String>,
    /// Project files of every class in its MRO except Gluepy's `Task`,
    /// `EvaluationTask` and `object`, and of the methods those classes
    /// define; the class's own file first.
    pub mro_files: Vec<String>,
}

/// A metric documented by an evaluation task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskMetricDoc {
    /// The evaluation task's label.
    pub task: String,
    /// The metric key.
    pub name: String,
    /// Its description.
    pub doc: String,
}

/// The probe that answers [`inspect_gluepy`] and [`gluepy_settings`].
const GLUEPY_INSPECT: &str = include_str!("python/gluepy_inspect.py");

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

/// The executable behind an interpreter command prefix (`python`,
/// `.venv/bin/python`, `uv run python`): its `sys.executable`, absolute.
///
/// This is the one call that goes through `sh` with the caller's
/// environment, since a prefix such as `uv run python` needs both; every
/// later call runs that executable directly and isolated. A venv's
/// `bin/python` stays as it is (not resolved to its symlink target, which
/// would not see the venv's packages).
pub(crate) fn resolve_interpreter(prefix: &str, cwd: &Path) -> Result<PathBuf> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{prefix} -I -B -c 'import sys; sys.stdout.write(sys.executable)'"
        ))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ExperimentError::Spawn {
            program: "sh".into(),
            source: e,
        })?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || exe.is_empty() {
        return Err(ExperimentError::Inspect(format!(
            "cannot run the Python interpreter `{prefix}` in {} ({}): {}; check the project command",
            cwd.display(),
            out.status,
            last_line(&out.stderr).unwrap_or("it printed no sys.executable")
        )));
    }
    Ok(PathBuf::from(exe))
}

/// Asks the Gluepy project in `project` (the engine passes an export of the
/// base commit) what DAG `dag` evaluates with, by running its `manage.py`
/// under `python` isolated, with `project` as the working directory and
/// first on `sys.path`.
///
/// Errors (`ExperimentError::Inspect`, one line): the interpreter is
/// missing, gluepy is not importable, importing the project fails (the
/// exception's line, with the project file and line it came from), or no DAG
/// is registered under `dag` (the registered labels listed).
pub(crate) fn inspect_gluepy(python: &Path, project: &Path, dag: &str) -> Result<GluepyDag> {
    run_probe(python, project, &["dag", dag])
}

/// The Gluepy settings of the project in `dir`, as its `manage.py` selects
/// them, read by the interpreter that `prefix` starts (see
/// [`resolve_interpreter`]) run isolated.
pub(crate) fn gluepy_settings(prefix: &str, dir: &Path) -> Result<GluepySettings> {
    #[derive(Deserialize)]
    struct Answer {
        settings: GluepySettings,
    }
    let python = resolve_interpreter(prefix, dir)?;
    run_probe::<Answer>(&python, dir, &["settings"]).map(|a| a.settings)
}

/// The probe's answer: `{"ok": ...}` or `{"error": "one line"}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply<T> {
    Ok(T),
    Error(String),
}

fn run_probe<T: DeserializeOwned>(python: &Path, project: &Path, args: &[&str]) -> Result<T> {
    let project_arg =
        std::path::absolute(project).map_err(|e| ExperimentError::io("resolve", project, e))?;
    let out = isolated_command(python, ["-c", GLUEPY_INSPECT])
        .arg(&project_arg)
        .args(args)
        .current_dir(project)
        .output()
        .map_err(|e| missing_interpreter(python, e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reply = stdout.lines().rev().find(|l| !l.trim().is_empty());
    match reply.map(serde_json::from_str::<Reply<T>>) {
        Some(Ok(Reply::Ok(v))) => Ok(v),
        Some(Ok(Reply::Error(e))) => Err(ExperimentError::Inspect(format!(
            "{e} ({} in {})",
            python.display(),
            project.display()
        ))),
        Some(Err(e)) if out.status.success() => Err(ExperimentError::Inspect(format!(
            "unexpected answer from the Gluepy probe ({e}); this is a bug of the engine"
        ))),
        _ => Err(ExperimentError::Inspect(format!(
            "`{}` failed in {} ({}): {}",
            python.display(),
            project.display(),
            out.status,
            last_line(&out.stderr).unwrap_or("no message")
        ))),
    }
}

/// A spawn error, said plainly when the interpreter does not exist.
fn missing_interpreter(python: &Path, e: std::io::Error) -> ExperimentError {
    if e.kind() == std::io::ErrorKind::NotFound {
        ExperimentError::Inspect(format!(
            "Python interpreter {} not found; point the project command at an installed Python",
            python.display()
        ))
    } else {
        ExperimentError::Spawn {
            program: python.display().to_string(),
            source: e,
        }
    }
}

/// The last non-empty line of a child's stderr (a Python traceback ends
/// with the exception's line).
fn last_line(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
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
/// [`inspect_gluepy`] instead.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyenv::testing;

    /// A Gluepy-like package written for these tests (the names the probe
    /// relies on, none of Gluepy's code), so they run without Gluepy.
    const FAKE_GLUEPY: &[(&str, &str)] = &[
        ("gluepy/__init__.py", ""),
        (
            "gluepy/conf/__init__.py",
            "import importlib, os\n\
             class _Settings:\n\
             \x20   def __getattr__(self, name):\n\
             \x20       return getattr(importlib.import_module(os.environ['GLUEPY_SETTINGS_MODULE']), name)\n\
             default_settings = _Settings()\n",
        ),
        (
            "gluepy/exec/__init__.py",
            "from .dags import DAG\nfrom .tasks import Task, EvaluationTask\n",
        ),
        (
            "gluepy/exec/tasks.py",
            "REGISTRY = {}\n\
             class Task:\n\
             \x20   label = None\n\
             \x20   def __init_subclass__(cls, **kw):\n\
             \x20       super().__init_subclass__(**kw)\n\
             \x20       REGISTRY[cls.label or cls.__name__.lower()] = cls\n\
             class EvaluationTask(Task):\n\
             \x20   pass\n",
        ),
        (
            "gluepy/exec/dags.py",
            "REGISTRY = {}\n\
             class DAG:\n\
             \x20   label = None\n\
             \x20   tasks = []\n\
             \x20   eval_tasks = []\n\
             \x20   def __init_subclass__(cls, **kw):\n\
             \x20       super().__init_subclass__(**kw)\n\
             \x20       REGISTRY[cls.label or cls.__name__.lower()] = cls\n",
        ),
        (
            "gluepy/exec/boot.py",
            "import importlib\n\
             from gluepy.conf import default_settings\n\
             def bootstrap():\n\
             \x20   for m in default_settings.INSTALLED_MODULES:\n\
             \x20       for sub in ('tasks', 'dags'):\n\
             \x20           try:\n\
             \x20               importlib.import_module(m + '.' + sub)\n\
             \x20           except ModuleNotFoundError as e:\n\
             \x20               if e.name != m + '.' + sub:\n\
             \x20                   raise\n",
        ),
        (
            "gluepy/commands/__init__.py",
            "def cli():\n    raise SystemExit('the real command line ran')\n",
        ),
    ];

    const MANAGE_PY: &str = "import os, sys\n\n\n\
        def main():\n\
        \x20   os.environ.setdefault('GLUEPY_SETTINGS_MODULE', 'configs.settings')\n\
        \x20   from gluepy.exec.boot import bootstrap\n\
        \x20   from gluepy.commands import cli\n\
        \x20   bootstrap()\n\
        \x20   cli()\n\n\n\
        if __name__ == '__main__':\n\
        \x20   sys.exit(main())\n";

    const SETTINGS_PY: &str = "import os\n\
        BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n\
        CONFIG_PATH = os.path.join(BASE_DIR, 'configs')\n\
        INSTALLED_MODULES = ['shop']\n\
        STORAGE_BACKEND = 'gluepy.files.storages.local.LocalStorage'\n\
        STORAGE_ROOT = os.path.join(BASE_DIR, 'data')\n\
        DATA_BACKEND = 'gluepy.files.data.PandasDataManager'\n\
        CONTEXT_BACKEND = 'gluepy.conf.context.DefaultContextManager'\n\
        MLOPS_BACKEND = 'gluepy.ops.backend.LoggingOpsBackend'\n\
        START_TASK = 'gluepy.exec.tasks.BootstrapTask'\n\
        LOGGING = {'version': 1, 'disable_existing_loggers': False}\n";

    /// A project that hides its evaluation from a syntax scan: the base class
    /// imported under an alias in a helper module, a class made with
    /// `type(...)` whose `run` lives in yet another module, and `eval_tasks`
    /// built by a function in a wiring module.
    const SHOP: &[(&str, &str)] = &[
        ("configs/context.yaml", "shop:\n  n: 3\n"),
        ("shop/__init__.py", ""),
        (
            "shop/tasks.py",
            "from gluepy.exec import Task\n\
             print('metric:noise=1')\n\
             class Prepare(Task):\n\
             \x20   label = 'prepare'\n\
             \x20   def run(self):\n\
             \x20       pass\n",
        ),
        (
            "shop/evalbase.py",
            "from gluepy.exec.tasks import EvaluationTask as ET\n\
             class ScoreBase(ET):\n\
             \x20   def score(self):\n\
             \x20       return 1.0\n",
        ),
        (
            "shop/evaluation.py",
            "from .evalbase import ScoreBase\n\
             class Accuracy(ScoreBase):\n\
             \x20   \"\"\"Scores the shop.\n\n\
             \x20   Metrics:\n\
             \x20       accuracy (float): share of right answers.\n\
             \x20           Higher is better.\n\
             \x20       n_rows (int): rows scored.\n\
             \x20   \"\"\"\n\
             \x20   label = 'accuracy'\n\
             \x20   def run(self):\n\
             \x20       from gluepy.ops import default_mlops\n\
             \x20       default_mlops.log_metric('accuracy', self.score())\n",
        ),
        (
            "shop/helpers.py",
            "def run_bias(self):\n\
             \x20   from gluepy.ops import default_mlops\n\
             \x20   default_mlops.log_metric('bias', 0.5)\n",
        ),
        (
            "shop/dynamic.py",
            "from gluepy import exec as gx\n\
             from .helpers import run_bias\n\
             Bias = type('Bias', (gx.EvaluationTask,), {'label': 'bias', 'run': run_bias})\n",
        ),
        (
            "shop/wiring.py",
            "def evaluation():\n\
             \x20   from .evaluation import Accuracy\n\
             \x20   from .dynamic import Bias\n\
             \x20   return [Accuracy, Bias]\n",
        ),
        (
            "shop/dags.py",
            "from gluepy.exec import DAG\n\
             from .tasks import Prepare\n\
             from .wiring import evaluation\n\
             class ShopDAG(DAG):\n\
             \x20   label = 'shop'\n\
             \x20   tasks = [Prepare]\n\
             \x20   eval_tasks = evaluation()\n\
             class Other(DAG):\n\
             \x20   tasks = [Prepare]\n",
        ),
    ];

    fn project(with_fake_gluepy: bool, extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("project");
        let base = [
            ("manage.py", MANAGE_PY),
            ("configs/settings.py", SETTINGS_PY),
        ];
        let fake = if with_fake_gluepy { FAKE_GLUEPY } else { &[] };
        for (rel, text) in base.iter().chain(SHOP).chain(fake).chain(extra) {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        (tmp, root)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn check_shop(d: &GluepyDag, root: &Path) {
        assert_eq!(d.dag, "shop");
        assert_eq!(d.dag_class, "shop.dags.ShopDAG");
        assert_eq!(d.wiring_file.as_deref(), Some("shop/dags.py"));
        assert_eq!(d.wiring_files, ["shop/dags.py"]);
        assert_eq!(d.work_tasks, ["prepare"]);
        let accuracy = &d.eval_tasks[0];
        assert_eq!(
            (
                accuracy.label.as_str(),
                accuracy.class_name.as_str(),
                accuracy.module.as_str()
            ),
            ("accuracy", "Accuracy", "shop.evaluation")
        );
        assert_eq!(accuracy.source_file.as_deref(), Some("shop/evaluation.py"));
        assert_eq!(
            accuracy.mro_files,
            strings(&["shop/evaluation.py", "shop/evalbase.py"])
        );
        let bias = &d.eval_tasks[1];
        assert_eq!(
            (bias.label.as_str(), bias.module.as_str()),
            ("bias", "shop.dynamic")
        );
        assert_eq!(bias.source_file.as_deref(), Some("shop/dynamic.py"));
        assert_eq!(
            bias.mro_files,
            strings(&["shop/dynamic.py", "shop/helpers.py"])
        );
        assert_eq!(d.eval_tasks.len(), 2);
        assert!(d.unlocated.is_empty(), "{:?}", d.unlocated);
        let docs: Vec<(&str, &str, &str)> = d
            .metric_docs
            .iter()
            .map(|m| (m.task.as_str(), m.name.as_str(), m.doc.as_str()))
            .collect();
        assert_eq!(
            docs,
            [
                (
                    "accuracy",
                    "accuracy",
                    "share of right answers. Higher is better."
                ),
                ("accuracy", "n_rows", "rows scored.")
            ]
        );
        assert_eq!(d.settings.module, "configs.settings");
        let data = root.join("data");
        assert_eq!(d.settings.storage_root.as_deref(), data.to_str());
    }

    #[test]
    fn the_registry_is_asked_not_the_syntax() {
        let python = testing::python3();
        let (_tmp, root) = project(true, &[]);
        let d = inspect_gluepy(&python, &root, "shop").unwrap();
        check_shop(&d, &root);
        // Nothing the project printed was taken for the answer, and -B left
        // no bytecode behind.
        assert!(!root.join("shop/__pycache__").exists());
        // The syntax scan of the generic fallback misses both classes.
        let scan = scan(python.to_str().unwrap(), &root, &[]).unwrap();
        let sources = scan.eval_sources("shop");
        let found: Vec<&str> = sources.eval_files.iter().map(|(f, _)| f.as_str()).collect();
        assert!(!found.contains(&"shop/evaluation.py") && !found.contains(&"shop/dynamic.py"));
    }

    #[test]
    fn instances_and_mixins_are_resolved_and_outside_files_reported() {
        let python = testing::python3();
        let extra = [(
            "shop/dags.py",
            "import json\n\
             from gluepy.exec import DAG\n\
             from .evaluation import Accuracy\n\
             class Mixin(json.JSONEncoder):\n\
             \x20   pass\n\
             class Mixed(Accuracy, Mixin):\n\
             \x20   label = 'mixed'\n\
             class Inst(DAG):\n\
             \x20   eval_tasks = [Mixed()]\n",
        )];
        let (_tmp, root) = project(true, &extra);
        let d = inspect_gluepy(&python, &root, "inst").unwrap();
        assert_eq!(d.eval_tasks[0].label, "mixed");
        assert_eq!(
            d.eval_tasks[0].mro_files,
            strings(&["shop/dags.py", "shop/evaluation.py", "shop/evalbase.py"])
        );
        assert_eq!(d.outside_project.len(), 1, "{:?}", d.outside_project);
        assert!(d.outside_project[0].ends_with("json/encoder.py"));
        assert!(d.work_tasks.is_empty());
    }

    #[test]
    fn errors_are_one_line() {
        let python = testing::python3();
        let (_tmp, root) = project(true, &[]);
        let e = inspect_gluepy(&python, &root, "nope")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("DAG `nope` is not registered by the project (registered: other, shop)"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");

        let (_tmp2, broken) = project(
            true,
            &[("shop/evalbase.py", "import json\nimport does_not_exist\n")],
        );
        let e = inspect_gluepy(&python, &broken, "shop")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "ModuleNotFoundError: No module named 'does_not_exist' (at shop/evalbase.py:2)"
            ),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");

        let (_tmp3, syntax) = project(true, &[("shop/wiring.py", "def evaluation(:\n")]);
        let e = inspect_gluepy(&python, &syntax, "shop")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SyntaxError") && e.contains("shop/wiring.py:1"),
            "{e}"
        );

        let e = inspect_gluepy(Path::new("/nonexistent/python3"), &root, "shop")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Python interpreter /nonexistent/python3 not found"),
            "{e}"
        );

        let e = resolve_interpreter("/nonexistent/python3", &root)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot run the Python interpreter"), "{e}");
        assert!(!e.contains('\n'), "{e}");

        std::fs::remove_file(root.join("manage.py")).unwrap();
        let e = inspect_gluepy(&python, &root, "shop")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no manage.py in"), "{e}");
    }

    #[test]
    fn settings_come_from_manage_py_without_importing_the_project() {
        let python = testing::python3();
        let (_tmp, root) = project(
            true,
            &[("shop/tasks.py", "raise RuntimeError('imported')\n")],
        );
        let s = gluepy_settings(python.to_str().unwrap(), &root).unwrap();
        assert_eq!(s.module, "configs.settings");
        assert_eq!(s.storage_root.as_deref(), root.join("data").to_str());
        assert_eq!(
            s.storage_backend.as_deref(),
            Some("gluepy.files.storages.local.LocalStorage")
        );
    }

    /// The same project on the real Gluepy 1.6.0.
    #[test]
    fn real_gluepy_finds_aliased_indirect_dynamic_and_function_built_eval_tasks() {
        let python = testing::gluepy_python();
        let (_tmp, root) = project(false, &[]);
        let d = inspect_gluepy(&python, &root, "shop").unwrap();
        check_shop(&d, &root);
        let e = inspect_gluepy(&python, &root, "nope")
            .unwrap_err()
            .to_string();
        assert!(e.contains("(registered: other, shop)"), "{e}");
        let exe = resolve_interpreter(python.to_str().unwrap(), &root).unwrap();
        assert_eq!(inspect_gluepy(&exe, &root, "shop").unwrap(), d);
    }

    /// What the sealed evaluator runs: plain `python -I -B manage.py` loses
    /// the project folder from `sys.path`; the launcher puts it back.
    #[test]
    fn real_gluepy_manage_py_runs_isolated_through_the_launcher() {
        let python = testing::gluepy_python();
        let (_tmp, root) = project(false, &[]);
        let plain = crate::pyenv::isolated_command(&python, ["manage.py", "dag", "shop"])
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(!plain.status.success());
        let err = String::from_utf8_lossy(&plain.stderr);
        assert!(err.contains("No module named 'configs'"), "{err}");

        let run = |args: &[&str]| {
            let o = crate::pyenv::manage_py_command(&python, &root, args)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            assert!(
                o.status.success(),
                "{out}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            out
        };
        let work = run(&["dag", "shop", "--skip-eval", "--retry", "runs/t1"]);
        assert!(!work.contains("=== GLUEPY METRICS ==="), "{work}");
        let eval = run(&["dag", "shop", "--eval-only", "--retry", "runs/t1"]);
        assert!(
            eval.contains("=== GLUEPY METRICS ===\nmetric:accuracy=1.0\nmetric:bias=0.5\n"),
            "{eval}"
        );
        assert!(root.join("data/runs/t1/metrics.json").is_file());
        assert!(!root.join("shop/__pycache__").exists());
    }

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
