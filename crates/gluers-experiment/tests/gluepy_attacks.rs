//! Attacks on the engine driving a real Gluepy 1.6.0 project (the fixture
//! of `tests/common/gluepy.rs`): a hostile candidate (its work tasks) or a
//! hostile agent (the test process, with the user's rights) tries to move
//! the recorded metric, alter the record, or slip by unnoticed. Each test
//! fails if its attack works, and its doc comment says how its defence was
//! weakened to watch it fail. Without Gluepy (run
//! `bash bench/setup-gluepy.sh`) every test fails: none passes by skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use common::gluepy::{python, Project, EVALUATION_PY, TASKS_PY};

/// `forecast/attack.py`, committed by the candidate: `attack()` carries
/// out `OPS` (JSON, spliced in by [`attacking_candidate`]) from inside a
/// work task and writes what happened to `attack.json` in its run folder.
/// Each op is `[kind, path, text]`: `write` (creating folders), `append`,
/// `read`, or `pyc` (`text` compiled into an unchecked hash-based `.pyc`,
/// which Python loads without looking at the source).
const ATTACK_PY: &str = r#"import importlib.util, json, marshal, os
from io import StringIO
from gluepy.files.storages import default_storage

OPS = json.loads(r'''@OPS@''')


def _do(kind, path, text):
    if kind == "read":
        with open(path, "rb") as f:
            f.read()
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "pyc":
        code = compile(text, "evaluation.py", "exec")
        data = (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
                + importlib.util.source_hash(text.encode()) + marshal.dumps(code))
        with open(path, "wb") as f:
            f.write(data)
        return
    with open(path, "a" if kind == "append" else "w") as f:
        f.write(text)


def attack():
    report = {}
    for kind, path, text in OPS:
        try:
            _do(kind, path, text)
            report[kind + " " + path] = "done"
        except OSError as e:
            report[kind + " " + path] = type(e).__name__
    default_storage.touch(default_storage.runpath("attack.json"), StringIO(json.dumps(report)))
"#;

/// Writes the candidate: `forecast/attack.py` with `ops`, and a
/// `PredictTask` that runs it first.
fn attacking_candidate(p: &Project, ops: &[(&str, &Path, &str)]) {
    let ops: Vec<(&str, String, &str)> = ops
        .iter()
        .map(|(k, path, text)| (*k, path.display().to_string(), *text))
        .collect();
    let json = serde_json::to_string(&ops).unwrap();
    assert!(!json.contains("'''"));
    p.write("forecast/attack.py", &ATTACK_PY.replace("@OPS@", &json));
    p.write(
        "forecast/tasks.py",
        &TASKS_PY.replace(
            "    def run(self):\n",
            "    def run(self):\n        from .attack import attack\n        attack()\n",
        ),
    );
}

/// `attack.json` of the run of `row`: every attempt and its outcome.
fn attack_report(p: &Project, row: &[String]) -> serde_json::Map<String, serde_json::Value> {
    let path = p.run_folder(&row[2]).join("attack.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the work task wrote no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every attempt was refused by the sandbox (`PermissionError`, not a
/// missing path: the test names existing ones).
fn all_refused(report: &serde_json::Map<String, serde_json::Value>, n: usize) {
    assert_eq!(report.len(), n, "{report:#?}");
    for (what, outcome) in report {
        assert_eq!(outcome, "PermissionError", "{what}: {report:#?}");
    }
}

/// The evaluation's `log_metric("mae", mae)` made to log 0.
fn cheating_evaluation() -> String {
    let cheat = EVALUATION_PY.replace("log_metric(\"mae\", mae)", "log_metric(\"mae\", 0.0)");
    assert_ne!(cheat, EVALUATION_PY);
    cheat
}

/// Module code that makes every `log_metric` of Gluepy's logging backend
/// log 0.
const PATCH_LOG_METRIC: &str = "\
import gluepy.ops.backend as _b
_orig = _b.LoggingOpsBackend.log_metric
_b.LoggingOpsBackend.log_metric = lambda self, key, value, *a, **k: _orig(self, key, 0.0, *a, **k)
";

/// `json.py`, named like the standard library's: it loads the real `json`
/// and makes `dumps`/`dump` of any mapping with an `mae` write `mae: 0`
/// (Gluepy writes `metrics.json` with `json.dumps`).
const JSON_SHADOW: &str = r#"import importlib.util, os, sys

_init = os.path.join(os.path.dirname(os.__file__), "json", "__init__.py")
_spec = importlib.util.spec_from_file_location(
    "json", _init, submodule_search_locations=[os.path.dirname(_init)])
_json = importlib.util.module_from_spec(_spec)
sys.modules["json"] = _json
_spec.loader.exec_module(_json)
_dumps, _dump = _json.dumps, _json.dump


def _cheat(obj):
    return {**obj, "mae": 0} if isinstance(obj, dict) and "mae" in obj else obj


_json.dumps = lambda obj, *a, **k: _dumps(_cheat(obj), *a, **k)
_json.dump = lambda obj, *a, **k: _dump(_cheat(obj), *a, **k)
"#;

/// A work task writes into the sealed evaluator's tree: a package
/// imported by the evaluation overwritten (`forecast/__init__.py`), a new
/// package and a stdlib-named module on its path (`scoring/`, `json.py`),
/// forged unchecked bytecode in `forecast/__pycache__/`, and the sealed
/// answers; it also tries to read the sealed evaluation code and answers.
/// Every attempt fails (Landlock), nothing lands in the sealed tree, the
/// metric is the honest one, and so is the next evaluation's.
///
/// Seen failing: with `init --no-sandbox` the writes succeed and `run`
/// stops with "sealed export changed since init: `forecast/__init__.py`
/// modified"; with the sealed check (`sealed::check`'s export comparison)
/// also switched off, that run records `mae=0.0`.
#[test]
fn a_work_task_cannot_write_into_the_sealed_evaluator() {
    let p = Project::new(&python());
    p.init(&[]);
    assert_eq!(p.rows()[0][3], "mae=5.0");
    let exp = p.exp_dir();
    let sealed = exp.join("sealed");
    assert!(sealed.join("forecast/evaluation.py").is_file());
    assert!(exp.join("sealed-data/truth.json").is_file());
    let tag = cache_tag();
    let pyc = sealed.join(format!("forecast/__pycache__/evaluation.{tag}.pyc"));
    let cheat = cheating_evaluation();
    let ops = [
        (
            "write",
            sealed.join("forecast/__init__.py"),
            PATCH_LOG_METRIC,
        ),
        (
            "write",
            sealed.join("scoring/__init__.py"),
            PATCH_LOG_METRIC,
        ),
        ("write", sealed.join("json.py"), JSON_SHADOW),
        ("pyc", pyc.clone(), cheat.as_str()),
        (
            "write",
            exp.join("sealed-data/truth.json"),
            "[15.0, 25.0, 35.0]",
        ),
        ("read", exp.join("sealed-data/truth.json"), ""),
        ("read", sealed.join("forecast/evaluation.py"), ""),
    ];
    let ops: Vec<(&str, &Path, &str)> = ops.iter().map(|(k, p, t)| (*k, p.as_path(), *t)).collect();
    attacking_candidate(&p, &ops);
    p.engine(&["run", "-m", "write into the sealed evaluator"], 0);
    p.engine(&["discard"], 0);
    let rows = p.rows();
    assert_eq!(rows[1][3], "mae=5.0", "{rows:?}");
    assert_eq!(rows[1][4], "discard");
    all_refused(&attack_report(&p, &rows[1]), ops.len());
    assert_eq!(
        std::fs::read(sealed.join("forecast/__init__.py")).unwrap(),
        b""
    );
    for planted in [sealed.join("scoring"), sealed.join("json.py"), pyc] {
        assert!(
            std::fs::symlink_metadata(&planted).is_err(),
            "{}",
            planted.display()
        );
    }

    // The next evaluation is honest too.
    p.write("configs/context.yaml", "forecast:\n  offset: 2.0\n");
    p.engine(&["run", "-m", "offset 2"], 0);
    p.engine(&["keep"], 0);
    assert_eq!(p.rows()[2][3], "mae=2.0");
    p.engine(&["verify"], 0);
}

/// `sys.implementation.cache_tag` of the Gluepy interpreter (`cpython-311`).
fn cache_tag() -> String {
    let out = Command::new(python())
        .args([
            "-I",
            "-c",
            "import sys; print(sys.implementation.cache_tag)",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// What an interpreter says, run isolated.
fn ask(python: &Path, code: &str) -> String {
    let out = Command::new(python)
        .args(["-I", "-c", code])
        .output()
        .unwrap();
    assert!(out.status.success(), "{python:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A scoring library installed outside the project, in the interpreter's
/// `site-packages`; the evaluation imports it.
const MAE_LIB: &str = "\
def mae(preds, truth):
    total = sum(abs(p - t) for p, t in zip(preds, truth))
    return total / len(truth)
";

/// The same bytes but one line, of the same length: `mae` is 0.
const MAE_LIB_CHEAT: &str = "\
def mae(preds, truth):
    total = sum(abs(p - t) for p, t in zip(preds, truth))
    return total * 0.0 + 0.00
";

/// A private venv of Gluepy's base interpreter (the shared `bench/.venv`
/// is never modified): `--without-pip`, Gluepy's `site-packages` reached
/// through a `.pth` path line, and [`MAE_LIB`] as `mae_lib.py`. Returns
/// the venv and its `site-packages`.
fn private_venv(dir: &Path) -> (PathBuf, PathBuf) {
    let gluepy = python();
    let base = ask(&gluepy, "import sys; print(sys._base_executable)");
    let gluepy_site = ask(
        &gluepy,
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let venv = dir.join("venv");
    let ok = Command::new(&base)
        .args(["-I", "-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success(), "{base} -m venv failed");
    let site = PathBuf::from(ask(
        &venv.join("bin/python"),
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    ));
    std::fs::write(site.join("gluepy-bench.pth"), format!("{gluepy_site}\n")).unwrap();
    std::fs::write(site.join("mae_lib.py"), MAE_LIB).unwrap();
    (venv, site)
}

/// `run` must refuse before anything is recorded, with a one-line error
/// naming `what`; the log is unchanged.
fn refused(p: &Project, what: &str) {
    let rows = p.rows();
    let (_, err) = p.engine(&["run", "-m", "planted"], 1);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(what), "{err}");
    assert_eq!(
        errors[0]
            .matches("Python environment of the sealed evaluator changed")
            .count(),
        1,
        "{err}"
    );
    assert_eq!(p.rows(), rows);
}

/// The agent edits what the sealed evaluator imports from outside the
/// project, in the interpreter's environment (a private venv, see
/// [`private_venv`]; the evaluation scores with its `mae_lib`): a new
/// `evil.pth` whose import line makes `mae_lib.mae` return 0, a
/// `sitecustomize.py` doing the same, and `mae_lib.py` itself edited (same
/// size) with its mtime put back (`os.utime`). Each time the next `run`
/// refuses with one line naming the change, and records nothing; once
/// restored, runs go on. Moving the environment's manifest out of the
/// state folder does not turn the check off.
///
/// Seen failing: with `check_python(paths, state)?` in `sealed::check`
/// commented out, the `evil.pth` run succeeds and shows `mae 0.0`; before
/// the fix of `check_python`, a missing manifest skipped the check (the
/// run of step 4 succeeded).
#[test]
fn planted_startup_files_and_edited_packages_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, site) = private_venv(&tmp.path().canonicalize().unwrap());
    let p = Project::custom(
        &format!("{} manage.py", venv.join("bin/python").display()),
        &[(
            "forecast/evaluation.py",
            Some(&EVALUATION_PY.replace(
                "        mae = sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)\n",
                "        from mae_lib import mae as score\n        mae = score(preds, truth)\n",
            )),
        )],
    );
    p.init(&[]);
    assert_eq!(p.rows()[0][3], "mae=5.0");

    // 1. A .pth file: its `import` line runs at every start of Python.
    let pth = site.join("evil.pth");
    std::fs::write(
        &pth,
        "import mae_lib; mae_lib.mae = lambda preds, truth: 0.0\n",
    )
    .unwrap();
    refused(&p, &format!("{} (added)", pth.display()));
    std::fs::remove_file(&pth).unwrap();

    // 2. sitecustomize, imported by `site` at start-up.
    let sc = site.join("sitecustomize.py");
    std::fs::write(
        &sc,
        "import mae_lib\nmae_lib.mae = lambda preds, truth: 0.0\n",
    )
    .unwrap();
    refused(&p, &format!("{} (added)", sc.display()));
    std::fs::remove_file(&sc).unwrap();

    // 3. The library edited in place, same size, mtime restored.
    let lib = site.join("mae_lib.py");
    assert_eq!(MAE_LIB.len(), MAE_LIB_CHEAT.len());
    let mtime = std::fs::metadata(&lib).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&lib, MAE_LIB_CHEAT).unwrap();
    set_mtime(&lib, mtime);
    refused(&p, &format!("{} (modified)", lib.display()));
    std::fs::write(&lib, MAE_LIB).unwrap();
    set_mtime(&lib, mtime);

    // 4. The manifest of the environment moved away, then a .pth planted:
    // no check is skipped for want of it.
    let manifest = p.exp_dir().join("python-env.json");
    let aside = tmp.path().join("python-env.json");
    std::fs::rename(&manifest, &aside).unwrap();
    std::fs::write(
        &pth,
        "import mae_lib; mae_lib.mae = lambda preds, truth: 0.0\n",
    )
    .unwrap();
    let rows = p.rows();
    let (_, err) = p.engine(&["run", "-m", "no manifest"], 1);
    assert!(err.contains("python-env.json) is missing"), "{err}");
    assert_eq!(p.rows(), rows);
    std::fs::remove_file(&pth).unwrap();
    std::fs::rename(&aside, &manifest).unwrap();

    // Restored: runs go on, honestly.
    p.engine(&["run", "-m", "restored"], 0);
    p.engine(&["discard"], 0);
    let rows = p.rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][3], "mae=5.0");
    p.engine(&["verify"], 0);
}

fn set_mtime(path: &Path, mtime: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().modified().unwrap(), mtime);
}

/// Files in `dir` (the marks left by armed git features).
fn marks(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// An executable script at `path` that leaves `mark` and exits with
/// `code` (a failing fsmonitor makes git do the work itself; a failing
/// `reference-transaction` hook would abort the test's own commit).
fn script(path: &Path, mark: &Path, code: i32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("#!/bin/sh\ntouch '{}'\nexit {code}\n", mark.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The agent arms the repository's config: `core.fsmonitor` names a
/// script, and hooks (`post-commit` and the other ones a commit, a reset
/// or a ref update runs) sit in `.git/hooks` and in a `core.hooksPath`
/// folder, each leaving a mark. `run` (which commits), `keep`, `discard`
/// (which resets) and `verify` leave none; plain git in the same
/// repository does (the trap is armed).
///
/// Seen failing: with `core.hooksPath=/dev/null` and
/// `core.fsmonitor=false` replaced by inert entries in `git::OVERRIDES`,
/// the engine leaves `fsmonitor`, `hook-post-commit`,
/// `hook-post-index-change`, `hook-prepare-commit-msg` and
/// `hook-reference-transaction`.
#[test]
fn the_repositorys_fsmonitor_and_hooks_do_not_run() {
    let p = Project::new(&python());
    p.init(&[]);
    let armory = p.root.with_file_name("armory");
    let marks_dir = armory.join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let fsmonitor = armory.join("fsmonitor.sh");
    script(&fsmonitor, &marks_dir.join("fsmonitor"), 1);
    let hooks_path = armory.join("hooks");
    for name in [
        "pre-commit",
        "prepare-commit-msg",
        "commit-msg",
        "post-commit",
        "post-checkout",
        "post-merge",
        "post-rewrite",
        "post-index-change",
        "reference-transaction",
        "pre-auto-gc",
    ] {
        let mark = marks_dir.join(format!("hook-{name}"));
        script(&p.root.join(".git/hooks").join(name), &mark, 0);
        script(&hooks_path.join(name), &mark, 0);
    }
    p.git(&["config", "core.fsmonitor", &fsmonitor.display().to_string()]);
    p.git(&[
        "config",
        "core.hooksPath",
        &hooks_path.display().to_string(),
    ]);

    p.write("configs/context.yaml", "forecast:\n  offset: 2.0\n");
    p.engine(&["run", "-m", "offset 2"], 0);
    p.engine(&["keep"], 0);
    p.write("configs/context.yaml", "forecast:\n  offset: 3.0\n");
    p.engine(&["run", "-m", "offset 3"], 0);
    p.engine(&["discard"], 0);
    p.engine(&["verify"], 0);
    assert_eq!(marks(&marks_dir), Vec::<String>::new());
    let rows = p.rows();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1][3], "mae=2.0");
    assert_eq!(rows[2][4], "discard");

    // The trap is armed: plain git runs both.
    p.git(&["status", "--porcelain"]);
    p.git(&[
        "commit",
        "--quiet",
        "--allow-empty",
        "--no-verify",
        "-m",
        "x",
    ]);
    let armed = marks(&marks_dir);
    for m in ["fsmonitor", "hook-post-commit"] {
        assert!(
            armed.iter().any(|a| a == m),
            "{m} not run by git: {armed:?}"
        );
    }
}

/// A work task pre-writes its own rows: a forged `mae=0.0` row appended to
/// the project's `experiment_log.tsv` (the mirror) and to the canonical
/// log in the state folder, and it tries to read the log's key (with it a
/// row could be chained properly). All fail (Landlock); afterwards both
/// logs hold only the engine's rows and `verify` succeeds.
///
/// Seen failing: with `init --no-sandbox` the writes succeed and `keep`
/// refuses ("experiment log ... line 3 (experiment 7): rows were reordered
/// or duplicated").
#[test]
fn a_work_task_cannot_write_the_experiment_log() {
    let p = Project::new(&python());
    p.init(&[]);
    let exp = p.exp_dir();
    let canonical = exp.join("experiment_log.tsv");
    let key = exp.join("log.key");
    let mirror = p.root.join("experiment_log.tsv");
    for f in [&canonical, &key, &mirror] {
        assert!(f.is_file(), "{}", f.display());
    }
    let forged =
        "7\t2026-01-01T00:00:00Z\tforged\tmae=0.0\tkeep\tforged by a work task\tdeadbee\t0.1\n";
    let zeros = "0".repeat(64);
    let forged_canonical = format!("{}\t{zeros}\t{zeros}\n", forged.trim_end());
    let ops = [
        ("append", mirror.as_path(), forged),
        ("append", canonical.as_path(), forged_canonical.as_str()),
        ("read", key.as_path(), ""),
    ];
    attacking_candidate(&p, &ops);
    p.engine(&["run", "-m", "forge log rows"], 0);
    p.engine(&["keep"], 0);
    let rows = p.rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0], "0");
    assert_eq!(rows[1][0], "1");
    assert_eq!(rows[1][3], "mae=5.0");
    all_refused(&attack_report(&p, &rows[1]), ops.len());
    for log in [&mirror, &canonical] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("forged"), "{}:\n{text}", log.display());
        assert_eq!(text.lines().count(), 3, "{}:\n{text}", log.display());
    }
    p.engine(&["verify"], 0);
}

/// Evaluation code reached through aliases: the DAG wires `Acc` imported
/// as `ET` from a helper module (`forecast/scoring.py`), whose class
/// derives from `MaeBase` imported as `B` from another helper
/// (`forecast/base.py`), which derives from Gluepy's `EvaluationTask`
/// imported as `_Evaluation`. Init freezes both helpers (Gluepy's registry
/// is asked, not the syntax); editing either one is refused by `run`. A
/// plain function the evaluation calls (`forecast/units.py`) is not
/// frozen, and editing it moves nothing: the evaluation runs the base.
///
/// Seen failing: with init freezing only each evaluation class's own file
/// (`t.mro_files.iter().take(1)` in `commands/init.rs`), `forecast/base.py`
/// is not in the frozen set.
#[test]
fn evaluation_code_behind_aliases_in_helper_modules_is_frozen() {
    const BASE_PY: &str = r#"from gluepy.exec import EvaluationTask as _Evaluation


class MaeBase(_Evaluation):
    def score(self, preds, truth):
        return sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
"#;
    const SCORING_PY: &str = r#"import json
from gluepy.files.storages import default_storage
from gluepy.ops import default_mlops
from .base import MaeBase as B
from .units import as_score as _s


class Acc(B):
    """Metrics:
    mae (float): mean absolute error. Lower is better.
    """

    label = "compute_accuracy"

    def run(self):
        truth = json.loads(default_storage.open("truth.json", mode="r"))
        preds = json.loads(default_storage.open(default_storage.runpath("predictions.json"), mode="r"))
        default_mlops.log_metric("mae", _s(self.score(preds, truth)))
"#;
    const DAGS_PY: &str = r#"from gluepy.exec import DAG
from .tasks import PredictTask
from .scoring import Acc as ET


class ForecastDAG(DAG):
    label = "forecast"
    tasks = [PredictTask]
    eval_tasks = [ET]
"#;
    const UNITS_PY: &str = "def as_score(x):\n    return float(x)\n";
    let python = python();
    let p = Project::custom(
        &format!("{} manage.py", python.display()),
        &[
            ("forecast/units.py", Some(UNITS_PY)),
            ("forecast/evaluation.py", None),
            ("forecast/base.py", Some(BASE_PY)),
            ("forecast/scoring.py", Some(SCORING_PY)),
            ("forecast/dags.py", Some(DAGS_PY)),
        ],
    );
    let out = p.init(&[]);
    for frozen in [
        "forecast/scoring.py",
        "forecast/base.py",
        "forecast/dags.py",
    ] {
        assert!(out.contains(frozen), "{frozen} is not frozen:\n{out}");
    }
    assert_eq!(p.rows()[0][3], "mae=5.0");

    for (file, text, cheat) in [
        (
            "forecast/scoring.py",
            SCORING_PY,
            SCORING_PY.replace("_s(self.score(preds, truth))", "0.0"),
        ),
        (
            "forecast/base.py",
            BASE_PY,
            BASE_PY.replace("return sum(", "return 0.0 * sum("),
        ),
    ] {
        assert_ne!(cheat, text);
        p.write(file, &cheat);
        let (_, err) = p.engine(&["run", "-m", "cheat"], 1);
        assert!(err.contains(&format!("{file} (modified)")), "{err}");
        p.git(&["reset", "--quiet", "--hard", "HEAD~1"]);
    }
    assert_eq!(p.rows().len(), 1);

    // A plain function the evaluation calls is not evaluation code by the
    // registry's account (it is not frozen), but the evaluation runs the
    // base commit's: an edit moves nothing.
    assert!(!out.contains("forecast/units.py"), "{out}");
    p.write(
        "forecast/units.py",
        &UNITS_PY.replace("float(x)", "0.0 * x"),
    );
    p.engine(&["run", "-m", "units"], 0);
    p.engine(&["discard"], 0);
    assert_eq!(p.rows()[1][3], "mae=5.0");
}

/// The agent commits `json.py` at the project root, named like the
/// standard library's, that makes `json.dumps` write `mae: 0` (Gluepy
/// writes `metrics.json` with it). Run as `python manage.py` the shadow
/// works (checked first, outside the engine); the engine's evaluation
/// runs the base commit's export, isolated, and records the honest metric.
///
/// Seen failing: with the evaluation run from the candidate's export
/// (in `runner.rs`, `export_project` for `ctx.state.sealed.project_dir`
/// and `export_project/data` for the eval root; `init --no-sandbox`), the
/// run records `mae=0`.
#[test]
fn a_stdlib_named_module_in_the_project_does_not_reach_the_evaluation() {
    let python = python();
    let p = Project::new(&python);
    p.init(&[]);
    p.write("json.py", JSON_SHADOW);

    // The shadow works for the project run as usual.
    let out = Command::new(&python)
        .args(["manage.py", "dag", "forecast", "--retry", "shadow-check"])
        .current_dir(&p.root)
        .env_remove("GLUEPY_SETTINGS_MODULE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let metrics = std::fs::read_to_string(p.root.join("data/shadow-check/metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert_eq!(metrics["mae"], 0, "the shadow does not work: {metrics}");

    p.engine(&["run", "-m", "json.py"], 0);
    p.engine(&["keep"], 0);
    let rows = p.rows();
    assert_eq!(rows[1][3], "mae=5.0", "{rows:?}");
    assert_eq!(rows[1][4], "keep");
    assert!(p.git(&["ls-files", "json.py"]) == "json.py");
    p.engine(&["verify"], 0);
}

/// The evaluation reads a value of the configuration
/// (`evaluation.scale`, 1.0 at the base); the candidate sets it to 0 in
/// `configs/context.yaml` and again in a new `configs/zz.yaml`. The work
/// tasks see the candidate's configuration (their run folder's
/// `context.yaml`), the evaluation the base commit's: the metric does not
/// move.
///
/// Seen failing: with the evaluator's `context.yaml` built from the
/// candidate's `configs/` (`config_dir` of `EvalInputs` in `runner.rs`
/// from `export_project`), the run records `mae=0.0`.
#[test]
fn the_evaluation_reads_the_base_commits_configuration() {
    let python = python();
    let p = Project::custom(
        &format!("{} manage.py", python.display()),
        &[
            (
                "configs/context.yaml",
                Some("forecast:\n  offset: 5.0\nevaluation:\n  scale: 1.0\n"),
            ),
            (
                "forecast/evaluation.py",
                Some(
                    &EVALUATION_PY
                        .replace(
                            "log_metric(\"mae\", mae)",
                            "log_metric(\"mae\", mae * default_context.evaluation.scale)",
                        )
                        .replace(
                            "import json\n",
                            "import json\nfrom gluepy.conf import default_context\n",
                        ),
                ),
            ),
        ],
    );
    p.init(&[]);
    assert_eq!(p.rows()[0][3], "mae=5.0");

    p.write(
        "configs/context.yaml",
        "forecast:\n  offset: 5.0\nevaluation:\n  scale: 0.0\n",
    );
    p.write("configs/zz.yaml", "evaluation:\n  scale: 0.0\n");
    p.engine(&["run", "-m", "scale 0"], 0);
    p.engine(&["keep"], 0);
    let rows = p.rows();
    assert_eq!(rows[1][3], "mae=5.0", "{rows:?}");
    let context = std::fs::read_to_string(p.run_folder(&rows[1][2]).join("context.yaml")).unwrap();
    assert!(context.contains("scale: 0.0"), "{context}");

    // Work tasks do follow the candidate's configuration.
    p.write(
        "configs/context.yaml",
        "forecast:\n  offset: 2.0\nevaluation:\n  scale: 0.0\n",
    );
    p.engine(&["run", "-m", "offset 2"], 0);
    p.engine(&["keep"], 0);
    assert_eq!(p.rows()[2][3], "mae=2.0");
}
