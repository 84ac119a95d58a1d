//! Tests of the Python inspection: the Gluepy probe against a fake Gluepy
//! and the real one, errors, settings, the interpreter prefix, and the
//! generic scan's guess.

use super::scan::*;
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
        e.contains("ModuleNotFoundError: No module named 'does_not_exist' (at shop/evalbase.py:2)"),
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
