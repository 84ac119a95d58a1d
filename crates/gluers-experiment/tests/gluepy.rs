//! The engine on a real Gluepy 1.6.0 project (`python manage.py`), when a
//! Python with Gluepy is available: `$GLUEPY_PYTHON`, the workspace's
//! `bench/.venv` (made by `bench/setup-gluepy.sh`) or `/tmp/gluepy-venv`.
//! Without one the test fails (`.ci/run` installs it): it never passes by
//! skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::GIT_ENV;

fn gluepy_python() -> Result<PathBuf, String> {
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

const MANAGE_PY: &str = r#"import os


def main():
    os.environ.setdefault("GLUEPY_SETTINGS_MODULE", "configs.settings")
    from gluepy.commands import cli
    from gluepy.exec.boot import bootstrap
    bootstrap()
    cli()


if __name__ == "__main__":
    main()
"#;

const SETTINGS_PY: &str = r#"import os

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

const TASKS_PY: &str = r#"import json
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

const EVALUATION_PY: &str = r#"import json
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

const DAGS_PY: &str = r#"from gluepy.exec import DAG
from .tasks import PredictTask
from .evaluation import ComputeAccuracyTask


class ForecastDAG(DAG):
    label = "forecast"
    tasks = [PredictTask]
    eval_tasks = [ComputeAccuracyTask]
"#;

struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    cmd: String,
}

impl Project {
    fn new(python: &Path) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("gluepy-project");
        let files = [
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
        ];
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let p = Self {
            _tmp: tmp,
            cmd: format!("{} manage.py", python.display()),
            root,
        };
        p.git(&["init", "--quiet", "-b", "main"]);
        p.git(&["add", "-A"]);
        p.git(&["commit", "--quiet", "-m", "gluepy project"]);
        p
    }

    fn git(&self, args: &[&str]) -> String {
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

    fn engine(&self, args: &[&str], code: i32) -> (String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_gluers-experiment"))
            .args(args)
            .current_dir(&self.root)
            .envs(GIT_ENV)
            .env("GLUERS_STATE_DIR", self.root.with_file_name("state"))
            .env_remove("GLUEPY_SETTINGS_MODULE")
            .output()
            .unwrap();
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

    fn rows(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.root.join("experiment_log.tsv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }
}

#[test]
fn the_engine_drives_a_real_gluepy_project() {
    let python = gluepy_python().unwrap_or_else(|why| {
        panic!("{why}: run `bash bench/setup-gluepy.sh` (or set GLUEPY_PYTHON)")
    });
    let p = Project::new(&python);
    let (out, _) = p.engine(
        &[
            "--project-cmd",
            &p.cmd,
            "init",
            "forecast",
            "--goal",
            "lower mae",
            "--holdout",
            "data/truth.json",
            "--freeze",
            "data/truth.json",
        ],
        0,
    );
    for frozen in [
        "forecast/evaluation.py",
        "forecast/dags.py",
        "data/truth.json",
        "pyproject.toml",
    ] {
        assert!(
            out.contains(frozen),
            "{frozen} missing from the frozen set:\n{out}"
        );
    }
    assert_eq!(p.rows()[0][3], "mae=5.0");
    assert_eq!(p.rows()[0][4], "keep");

    // Gluepy's run folder holds the candidate's context and the sealed metrics.
    let run_id = p.rows()[0][2].clone();
    let runs = p.root.join("data/runs");
    let folder = find_dir(&runs, &run_id).expect("run folder");
    assert!(folder.join("context.yaml").is_file());
    assert!(folder.join("metrics.json").is_file());

    // A configuration change is fair game.
    std::fs::write(
        p.root.join("configs/context.yaml"),
        "forecast:\n  offset: 2.0\n",
    )
    .unwrap();
    let (out, _) = p.engine(&["run", "-m", "offset 2"], 0);
    assert!(out.contains("vs baseline -3"), "{out}");
    p.engine(&["keep"], 0);
    assert_eq!(p.rows()[1][3], "mae=2.0");

    // The evaluation is not.
    std::fs::write(
        p.root.join("forecast/evaluation.py"),
        EVALUATION_PY.replace("log_metric(\"mae\", mae)", "log_metric(\"mae\", 0.0)"),
    )
    .unwrap();
    let (_, err) = p.engine(&["run", "-m", "cheat"], 1);
    assert!(err.contains("forecast/evaluation.py (modified)"), "{err}");
    p.git(&["reset", "--quiet", "--hard", "HEAD~1"]);

    // A work task logging a fake metric changes nothing: it runs --skip-eval
    // and the sealed evaluator writes metrics.json.
    std::fs::write(
        p.root.join("forecast/tasks.py"),
        TASKS_PY.replace(
            "default_storage.touch(",
            "from gluepy.ops import default_mlops\n        default_mlops.log_metric(\"mae\", 0.0)\n        print(\"metric:mae=0.0\")\n        default_storage.touch(",
        ),
    )
    .unwrap();
    p.engine(&["run", "-m", "fake metric"], 0);
    p.engine(&["discard"], 0);
    let rows = p.rows();
    assert_eq!(rows[2][3], "mae=2.0");
    assert_eq!(rows[2][4], "discard");
}

fn find_dir(dir: &Path, name: &str) -> Option<PathBuf> {
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
