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
//! * [`scan()`]: the fallback for command projects that are not Gluepy
//!   ([`crate::state::Flavor::Generic`]): a syntax scan of every `.py` file
//!   for classes deriving from something named `EvaluationTask`. It cannot
//!   follow aliases, helpers or dynamic classes; it is a hint, not a proof.
//!
//! [`resolve_interpreter`] and [`scan()`] start the interpreter through `sh`
//! in the caller's environment (a prefix such as `uv run python` needs both),
//! with `-I -B`; the Gluepy inspection runs the resolved executable with
//! [`crate::pyenv::isolated_command`] (`-I -B`, empty environment but
//! `PATH`), so neither `PYTHON*` variables, `GLUEPY_*` variables, the user
//! site nor bytecode writes into the inspected folder play a part.
//!
//! This file holds the Gluepy inspection and the interpreter's resolution;
//! the generic ast scan is in [`mod@scan`].

mod scan;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::pyenv::isolated_command;

pub(crate) use scan::scan;

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
const GLUEPY_INSPECT: &str = include_str!("gluepy_inspect.py");

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
