//! A real Gluepy 1.6.0 project (`python manage.py`) in a temporary git
//! repository, for `tests/gluepy.rs` and `tests/gluepy_attacks.rs`.
//!
//! The Python with Gluepy is `$GLUEPY_PYTHON`, the workspace's `bench/.venv`
//! (made by `bench/setup-gluepy.sh`) or `/tmp/gluepy-venv`. Without one the
//! tests fail: they never pass by skipping.
//!
//! The project: `PredictTask` writes three predictions, each off by
//! `forecast.offset` of `configs/context.yaml` (5.0); `ComputeAccuracyTask`
//! (an `EvaluationTask`) logs `mae` against `data/truth.json`, an ignored
//! file that the tests declare evaluation-only (`--holdout`) and frozen.
//! The engine's state root (`GLUERS_STATE_DIR`) is `state/`, beside the
//! project folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::GIT_ENV;

/// The Python with Gluepy 1.6.0, or why there is none.
pub fn gluepy_python() -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates: Vec<PathBuf> = std::env::var_os("GLUEPY_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            workspace.join("bench/.venv/bin/python"),
            PathBuf::from("/tmp/gluepy-venv/bin/python"),
        ])
        .collect();
    for c in &candidates {
        let ok = Command::new(c)
            .args([
                "-c",
                "import importlib.metadata as m, sys; sys.exit(m.version('gluepy') != '1.6.0')",
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            // Absolute, but not resolved: a venv's python is a symlink whose
            // target does not see the venv's packages.
            return Ok(std::path::absolute(c).unwrap_or_else(|_| c.clone()));
        }
    }
    Err(format!("no Python with gluepy 1.6.0 among {candidates:?}"))
}

/// [`gluepy_python`], failing the test when there is none.
pub fn python() -> PathBuf {
    gluepy_python().unwrap_or_else(|why| {
        panic!("{why}: run `bash bench/setup-gluepy.sh` (or set GLUEPY_PYTHON)")
    })
}

pub const MANAGE_PY: &str = r#"import os


def main():
    os.environ.setdefault("GLUEPY_SETTINGS_MODULE", "configs.settings")
    from gluepy.commands import cli
    from gluepy.exec.boot import bootstrap
    bootstrap()
    cli()


if __name__ == "__main__":
    main()
"#;

pub const SETTINGS_PY: &str = r#"import os

BASE_DIR = os.path.dirname(os.path.dirname(__file__))
CONFIG_PATH = os.path.join(BASE_DIR, "configs")
INSTALLED_MODULES = ["forecast"]
STORAGE_BACKEND = "gluepy.files.storages.local.LocalStorage"
STORAGE_ROOT = os.path.join(BASE_DIR, "data")
DATA_BACKEND = "gluepy.files.data.PandasDataManager"
CONTEXT_BACKEND = "gluepy.conf.context.DefaultContextManager"
MLOPS_BACKEND = "gluepy.ops.backend.LoggingOpsBackend"
START_TASK = "gluepy.exec.tasks.BootstrapTask"
LOGGING = {"version": 1, "disable_existing_loggers": False}
"#;

pub const TASKS_PY: &str = r#"import json
from io import StringIO
from gluepy.conf import default_context
from gluepy.exec import Task
from gluepy.files.storages import default_storage


class PredictTask(Task):
    label = "predict"

    def run(self):
        offset = default_context.forecast.offset
        preds = [x + offset for x in [10.0, 20.0, 30.0]]
        default_storage.touch(default_storage.runpath("predictions.json"), StringIO(json.dumps(preds)))
"#;

pub const EVALUATION_PY: &str = r#"import json
from gluepy.exec import EvaluationTask
from gluepy.files.storages import default_storage
from gluepy.ops import default_mlops


class ComputeAccuracyTask(EvaluationTask):
    """Metrics:
    mae (float): mean absolute error. Lower is better.
    """

    label = "compute_accuracy"

    def run(self):
        truth = json.loads(default_storage.open("truth.json", mode="r"))
        preds = json.loads(default_storage.open(default_storage.runpath("predictions.json"), mode="r"))
        mae = sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
        default_mlops.log_metric("mae", mae)
"#;

pub const DAGS_PY: &str = r#"from gluepy.exec import DAG
from .tasks import PredictTask
from .evaluation import ComputeAccuracyTask


class ForecastDAG(DAG):
    label = "forecast"
    tasks = [PredictTask]
    eval_tasks = [ComputeAccuracyTask]
"#;

/// The project's files: path, text.
pub fn default_files() -> Vec<(String, String)> {
    [
        ("manage.py", MANAGE_PY.to_string()),
        ("configs/settings.py", SETTINGS_PY.to_string()),
        (
            "configs/context.yaml",
            "forecast:\n  offset: 5.0\n".to_string(),
        ),
        ("forecast/__init__.py", String::new()),
        ("forecast/tasks.py", TASKS_PY.to_string()),
        ("forecast/evaluation.py", EVALUATION_PY.to_string()),
        ("forecast/dags.py", DAGS_PY.to_string()),
        (".gitignore", "data/\n__pycache__/\n".to_string()),
        ("data/truth.json", "[10.0, 20.0, 30.0]".to_string()),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .collect()
}

pub struct Project {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub cmd: String,
}

impl Project {
    /// The project, run by `python manage.py`.
    pub fn new(python: &Path) -> Self {
        Self::custom(&format!("{} manage.py", python.display()), &[])
    }

    /// The project run by `cmd`, with `changes` to its files (a text
    /// replaces or adds the file, `None` leaves it out), committed on `main`.
    pub fn custom(cmd: &str, changes: &[(&str, Option<&str>)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("gluepy-project");
        let mut files = default_files();
        for (rel, text) in changes {
            files.retain(|(r, _)| r != rel);
            if let Some(text) = text {
                files.push((rel.to_string(), text.to_string()));
            }
        }
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let p = Self {
            _tmp: tmp,
            cmd: cmd.to_string(),
            root,
        };
        p.git(&["init", "--quiet", "-b", "main"]);
        p.git(&["add", "-A"]);
        p.git(&["commit", "--quiet", "-m", "gluepy project"]);
        p
    }

    pub fn git(&self, args: &[&str]) -> String {
        let o = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .envs(GIT_ENV)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// The engine with `args`, whatever its exit status.
    pub fn engine_output(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gluers-experiment"))
            .args(args)
            .current_dir(&self.root)
            .envs(GIT_ENV)
            .env("GLUERS_STATE_DIR", self.state_root())
            .env_remove("GLUEPY_SETTINGS_MODULE")
            .output()
            .unwrap()
    }

    /// The engine with `args`, which must exit with `code`: stdout, stderr.
    pub fn engine(&self, args: &[&str], code: i32) -> (String, String) {
        let o = self.engine_output(args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert_eq!(
            o.status.code(),
            Some(code),
            "--- stdout\n{out}\n--- stderr\n{err}"
        );
        (out, err)
    }

    /// `init forecast` with `data/truth.json` evaluation-only and frozen,
    /// plus `extra` arguments; init's stdout.
    pub fn init(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "--project-cmd",
            &self.cmd,
            "init",
            "forecast",
            "--goal",
            "lower mae",
            "--holdout",
            "data/truth.json",
            "--freeze",
            "data/truth.json",
        ];
        args.extend(extra);
        self.engine(&args, 0).0
    }

    /// Writes `text` to `rel` in the work tree.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The rows of the project's `experiment_log.tsv`.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.root.join("experiment_log.tsv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// The engine's state root (`GLUERS_STATE_DIR`).
    pub fn state_root(&self) -> PathBuf {
        self.root.with_file_name("state")
    }

    /// The engine's folder of the experiment on the current branch
    /// (`<state>/repos/*/experiments/<branch>`).
    pub fn exp_dir(&self) -> PathBuf {
        let branch = self.git(&["symbolic-ref", "--short", "HEAD"]);
        let repos = self.state_root().join("repos");
        let repo = std::fs::read_dir(&repos)
            .unwrap()
            .next()
            .expect("a repository folder in the state root")
            .unwrap()
            .path();
        let dir = repo.join("experiments").join(branch.replace('/', "_2F"));
        assert!(dir.is_dir(), "no experiment folder {}", dir.display());
        dir
    }

    /// The run folder of the run with this id, under the storage root.
    pub fn run_folder(&self, run_id: &str) -> PathBuf {
        find_dir(&self.root.join("data/runs"), run_id)
            .unwrap_or_else(|| panic!("no run folder for run {run_id}"))
    }
}

pub fn find_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == name) {
                return Some(p);
            }
            if let Some(found) = find_dir(&p, name) {
                return Some(found);
            }
        }
    }
    None
}
