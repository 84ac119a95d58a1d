//! A fake project for end-to-end tests of the engine, in a temporary git
//! repository, and helpers to drive the `gluers-experiment` binary.
//!
//! The project lives in `proj/` and speaks the gluers `dag` protocol with
//! Python scripts:
//! `python3 run.py dag forecast --skip-eval --retry FOLDER` writes
//! `predictions.json` (three numbers, each off by `OFFSET`) to the run folder;
//! `python3 run.py dag forecast --eval-only --retry FOLDER` compares them with
//! `data/truth.json` (an ignored, frozen data file) and writes `metrics.json`
//! with `mae` (= |OFFSET|) and `n`. The evaluation class derives from
//! `EvaluationTask`, so the engine's Python scan freezes `evaluation.py`, and
//! `dags.py` wires it.

#![allow(dead_code)]

pub mod gluepy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const RUN_PY: &str = r#"import os, sys
args = sys.argv[1:]
if len(args) < 2 or args[0] != "dag" or "--retry" not in args:
    print("usage: run.py dag LABEL [--skip-eval|--eval-only] --retry FOLDER", file=sys.stderr)
    sys.exit(2)
if args[1] != "forecast":
    print("unknown DAG " + args[1], file=sys.stderr)
    sys.exit(2)
folder = args[args.index("--retry") + 1]
root = os.environ.get("GLUERS_STORAGE_ROOT") or os.path.join(os.getcwd(), "data")
run_dir = os.path.join(root, folder)
os.makedirs(run_dir, exist_ok=True)
if "--eval-only" in args:
    from evaluation import ComputeAccuracy
    ComputeAccuracy().run(root, run_dir)
else:
    from tasks import Predict
    Predict().run(root, run_dir)
"#;

pub const FRAMEWORK_PY: &str = r#"class Task:
    label = None

    def run(self, root, run_dir):
        raise NotImplementedError


class EvaluationTask(Task):
    pass


class DAG:
    tasks = []
    eval_tasks = []
"#;

pub const EVALUATION_PY: &str = r#"import json, os
from framework import EvaluationTask


class ComputeAccuracy(EvaluationTask):
    """Metrics:
    mae: mean absolute error of the predictions. Lower is better.
    n: number of points compared.
    """

    label = "compute_accuracy"

    def run(self, root, run_dir):
        with open(os.path.join(root, "truth.json")) as f:
            truth = json.load(f)
        with open(os.path.join(run_dir, "predictions.json")) as f:
            preds = json.load(f)
        mae = sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
        with open(os.path.join(run_dir, "metrics.json"), "w") as f:
            json.dump({"mae": mae, "n": len(truth)}, f, indent=2)
        print("evaluated", mae)
"#;

pub const DAGS_PY: &str = r#"from framework import DAG
from tasks import Predict
from evaluation import ComputeAccuracy


class ForecastDAG(DAG):
    label = "forecast"
    tasks = [Predict]
    eval_tasks = [ComputeAccuracy]
"#;

/// `tasks.py` predicting with `offset`, with `extra` Python lines (indented
/// 8 spaces) run inside the task before it writes its predictions.
pub fn tasks_py(offset: f64, extra: &str) -> String {
    format!(
        r#"import json, os, subprocess, sys, time
from framework import Task

OFFSET = {offset:?}


class Predict(Task):
    label = "predict"

    def run(self, root, run_dir):
        preds = [x + OFFSET for x in [10.0, 20.0, 30.0]]
{extra}
        with open(os.path.join(run_dir, "predictions.json"), "w") as f:
            json.dump(preds, f)
        print("work done", OFFSET)
"#
    )
}

/// The result of one engine invocation.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A temporary repository holding the fake project.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub proj: PathBuf,
}

pub const GIT_ENV: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Test"),
    ("GIT_AUTHOR_EMAIL", "test@example.invalid"),
    ("GIT_COMMITTER_NAME", "Test"),
    ("GIT_COMMITTER_EMAIL", "test@example.invalid"),
];

impl Fixture {
    /// A committed fake project with `data/truth.json` (ignored).
    pub fn new() -> Self {
        Self::with_files(&[])
    }

    /// [`Fixture::new`] with `files` (project-relative path, text) added or
    /// replaced before the first commit: a variant of the fake project.
    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().unwrap().join("repo");
        let proj = root.join("proj");
        std::fs::create_dir_all(proj.join("data")).unwrap();
        let fx = Self { tmp, root, proj };
        fx.git(&["init", "--quiet", "-b", "main"]);
        fx.write(".gitignore", "data/\n__pycache__/\n");
        fx.write("run.py", RUN_PY);
        fx.write("framework.py", FRAMEWORK_PY);
        fx.write("evaluation.py", EVALUATION_PY);
        fx.write("dags.py", DAGS_PY);
        fx.write("tasks.py", &tasks_py(5.0, ""));
        fx.write("data/truth.json", "[10.0, 20.0, 30.0]\n");
        for (rel, text) in files {
            fx.write(rel, text);
        }
        fx.git(&["add", "-A"]);
        fx.git(&["commit", "--quiet", "-m", "fake forecast project"]);
        fx
    }

    /// Writes a file relative to the project folder.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.proj.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Reads a file relative to the project folder.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.proj.join(rel)).unwrap_or_default()
    }

    /// Runs git in the repository; panics on failure; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let o = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .envs(GIT_ENV)
            .output()
            .expect("git");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// The engine command, not started.
    pub fn engine_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gluers-experiment"));
        c.args(args)
            .current_dir(&self.proj)
            .envs(GIT_ENV)
            .env("GLUERS_STATE_DIR", self.state_root())
            .env_remove("GLUERS_STORAGE_ROOT");
        c
    }

    /// Runs the engine.
    pub fn engine(&self, args: &[&str]) -> Out {
        Out::from(self.engine_cmd(args).output().expect("engine"))
    }

    /// `init forecast` with the fake project's command, freezing the truth.
    pub fn init(&self) -> Out {
        self.init_with(&[])
    }

    /// [`Fixture::init`] with `extra` arguments to `init` (such as
    /// `--no-sandbox`, to see an attack test fail without the sandbox).
    pub fn init_with(&self, extra: &[&str]) -> Out {
        let mut args = vec![
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "lower mae",
            "--holdout",
            "data/truth.json",
            "--freeze",
            "data/truth.json",
        ];
        args.extend_from_slice(extra);
        self.engine(&args).expect(0)
    }

    /// Replaces tasks.py (offset and extra code).
    pub fn set_tasks(&self, offset: f64, extra: &str) {
        self.write("tasks.py", &tasks_py(offset, extra));
    }

    /// The rows of proj/experiment_log.tsv, split into columns (header
    /// excluded, after checking it).
    pub fn rows(&self) -> Vec<Vec<String>> {
        let text = self.read("experiment_log.tsv");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("experiment_id\ttimestamp\trun_id\tmetrics\tstatus\tdescription\tcommit\tduration_seconds")
        );
        lines
            .map(|l| {
                let cols: Vec<String> = l.split('\t').map(str::to_string).collect();
                assert_eq!(cols.len(), 8, "torn or malformed row: {l:?}");
                cols
            })
            .collect()
    }

    /// HEAD's short hash.
    pub fn head_short(&self) -> String {
        self.git(&["rev-parse", "--short", "HEAD"])
    }

    /// The engine's state root of this fixture (outside the repository).
    pub fn state_root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// The engine's folder for the experiment of the current branch.
    pub fn exp_dir(&self) -> PathBuf {
        let branch = self.git(&["symbolic-ref", "--short", "HEAD"]);
        let repos = self.state_root().join("repos");
        let repo = std::fs::read_dir(&repos)
            .ok()
            .and_then(|mut it| it.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
            .unwrap_or(repos);
        repo.join("experiments").join(branch.replace('/', "_2F"))
    }

    /// The pending run's folder (absolute), from the engine's state.
    pub fn pending_run_dir(&self) -> PathBuf {
        let state = self.state();
        let folder = state["pending"]["run_folder"]
            .as_str()
            .unwrap_or_else(|| panic!("no pending run in the state: {state}"));
        self.proj.join("data").join(folder)
    }

    /// The pending run's metrics as the engine recorded them (`mae=3.0;n=3`
    /// in the log's format), or its outcome when it has none.
    pub fn pending_metrics(&self) -> String {
        let p = self.state()["pending"].clone();
        let metrics = p["metrics"].as_array().cloned().unwrap_or_default();
        if metrics.is_empty() {
            return p["outcome"]
                .as_str()
                .unwrap_or("no pending run")
                .to_string();
        }
        metrics
            .iter()
            .map(|m| format!("{}={}", m["name"].as_str().unwrap_or("?"), m["value"]))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The engine state of the current branch, as JSON.
    pub fn state(&self) -> serde_json::Value {
        let p = self.exp_dir().join("state.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|_| "null".into())).unwrap()
    }
}

/// Whether process `pid` is alive (zombies count as dead).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s[s.rfind(')').unwrap() + 1..].trim_start();
            !state.starts_with('Z')
        }
        Err(_) => false,
    }
}

/// Waits up to `secs` for `cond`.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cond()
}

/// A path inside the fixture's storage root.
pub fn storage(fx: &Fixture, rel: &str) -> PathBuf {
    fx.proj.join("data").join(rel)
}

/// True when `p` exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The first file named `name` in any run folder of the fixture (the
/// candidate may write only its run folder).
pub fn find_run_file(fx: &Fixture, name: &str) -> Option<PathBuf> {
    let mut stack = vec![storage(fx, "runs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                return Some(p);
            }
        }
    }
    None
}

/// Checks the prerequisites of end-to-end attack tests (python3,
/// Landlock): a missing one fails the test; it never passes by skipping.
pub fn prerequisites() -> bool {
    let missing = |what: String| -> bool { panic!("this test needs {what}") };
    let python = Command::new("python3").arg("-c").arg("pass").output();
    if !python.is_ok_and(|o| o.status.success()) {
        return missing("python3 does not run".into());
    }
    if let Err(why) = gluers_experiment::sandbox::landlock_available() {
        return missing(format!("no Landlock: {why}"));
    }
    true
}

/// `code` (Python written from column 0) indented to run inside the fake
/// task's `run(self, root, run_dir)`, for [`Fixture::set_tasks`].
pub fn task_code(code: &str) -> String {
    code.lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("        {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Python for [`task_code`]: `attempt(name, fn)` runs `fn()` and records
/// `ok` or `denied: <error>` under `name`; `save_results()` writes them to
/// `attack.json` in the run folder ([`attack_results`] reads them).
pub const ATTEMPT_PY: &str = r#"results = {}
def attempt(name, fn):
    try:
        value = fn()
    except Exception as e:
        results[name] = "denied: %s: %s" % (type(e).__name__, e)
        return None
    results[name] = "ok"
    return value
def save_results():
    with open(os.path.join(run_dir, "attack.json"), "w") as f:
        json.dump(results, f, indent=1)
"#;

/// What the task's `attempt`s gave (see [`ATTEMPT_PY`]), from the pending
/// run's folder.
pub fn attack_results(fx: &Fixture) -> std::collections::BTreeMap<String, String> {
    let p = fx.pending_run_dir().join("attack.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("the attack wrote no {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// A Python string literal for `s` (paths, code).
pub fn py_str(s: impl AsRef<str>) -> String {
    serde_json::to_string(s.as_ref()).unwrap()
}
