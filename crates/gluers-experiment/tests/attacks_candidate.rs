//! End-to-end attacks by the candidate (the work task code an agent
//! commits, DESIGN.md "Trust model of the experiment engine", properties 2
//! to 5) through the real engine binary on the fake Python project. Each
//! test fails if its attack works: a recorded metric moves, the record is
//! altered, or the attempt goes unnoticed.
//!
//! The attacks run in `tasks.py` (`Fixture::set_tasks`); what each attempt
//! gave is written to `attack.json` in the run folder (`common::ATTEMPT_PY`).
//! The honest prediction is off by `OFFSET`, so an honest run records
//! `mae=|OFFSET|` and a successful forgery `mae=0.0`.

mod common;

use std::path::PathBuf;

use common::{
    alive, attack_results, py_str, storage, task_code, Fixture, ATTEMPT_PY, EVALUATION_PY,
};

/// The perfect predictions (`data/truth.json`).
const PERFECT: &str = "[10.0, 20.0, 30.0]";

/// Panics unless every attempt in `names` was denied.
fn all_denied(fx: &Fixture, names: &[&str]) {
    let results = attack_results(fx);
    eprintln!("attempts: {results:#?}");
    for name in names {
        let got = results
            .get(*name)
            .unwrap_or_else(|| panic!("attempt `{name}` was not made: {results:#?}"));
        assert!(
            got.starts_with("denied"),
            "the candidate could `{name}`: {results:#?}"
        );
    }
}

/// Reads the answers.
///
/// Defence: Landlock (trust property 3/4): the work tasks read the storage
/// root only *around* the sealed `truth.json`, and neither the engine's
/// sealed snapshot (`sealed-data/`) nor the evaluator's folder (`eval/`,
/// which holds a copy of the answers after every evaluation) is in their
/// jail. Fails with `init --no-sandbox` (every read succeeds, mae=0).
#[test]
fn a_work_task_cannot_read_the_answers() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let exp = fx.exp_dir();
    let targets: Vec<(&str, PathBuf)> = vec![
        ("read the original", storage(&fx, "truth.json")),
        (
            "read the sealed snapshot",
            exp.join("sealed-data/truth.json"),
        ),
        ("read the evaluator's copy", exp.join("eval/truth.json")),
    ];
    for (what, p) in &targets {
        assert!(
            p.is_file(),
            "{what}: {} is not there to attack",
            p.display()
        );
    }
    let list = targets
        .iter()
        .map(|(n, p)| format!("({}, {})", py_str(n), py_str(p.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(", ");
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"{ATTEMPT_PY}
for name, path in [{list}]:
    truth = attempt(name, lambda path=path: json.load(open(path)))
    if truth is not None:
        preds = truth
save_results()"#
        )),
    );
    fx.engine(&["run", "-m", "read the answers"]).expect(0);
    assert_eq!(
        fx.pending_metrics(),
        "mae=3.0;n=3",
        "the metric moved: the work task read the answers ({:#?})",
        attack_results(&fx)
    );
    all_denied(&fx, &targets.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[1][3], "mae=3.0;n=3");
}

/// Reads and writes the engine's state: the log key, the state, a forged
/// row in the canonical log and in the project's mirror, the sealed
/// evaluator's `evaluation.py` replaced by one that scores 0, timestamps put
/// back with `os.utime`.
///
/// Defence: Landlock (property 3/7): the state folder and the work tree are
/// outside the work tasks' jail; the sealed export is hashed before every
/// evaluation (property 5). `os.utime` itself is not controlled by Landlock
/// (documented); it only touches the mtime of files whose bytes did not
/// change. Fails with `init --no-sandbox` (the reads and writes succeed).
#[test]
fn a_work_task_cannot_read_or_write_engine_state() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let exp = fx.exp_dir();
    let key = exp.join("log.key");
    let state = exp.join("state.json");
    let canonical = exp.join("experiment_log.tsv");
    let mirror = fx.proj.join("experiment_log.tsv");
    let sealed_eval = exp.join("sealed/proj/evaluation.py");
    let watched = [&key, &canonical, &mirror, &sealed_eval];
    let before: Vec<Vec<u8>> = watched.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let forged_eval = EVALUATION_PY.replace("mae = sum", "mae = 0 * sum");
    let row = "9\t2026-01-01T00:00:00Z\tforged\tmae=0.0;n=3\tkeep\tforged\tdeadbee\t0.01";
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"{ATTEMPT_PY}
paths = [{key}, {state}, {canonical}, {mirror}, {sealed_eval}]
stats = {{}}
for p in paths:
    try:
        stats[p] = os.stat(p)
    except OSError:
        pass
def append(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")
def overwrite(path, text):
    with open(path, "w") as f:
        f.write(text)
attempt("read log.key", lambda: open({key}).read())
attempt("read state.json", lambda: open({state}).read())
attempt("append to the canonical log", lambda: append({canonical}, {row} + "\t" + "0" * 64 + "\t" + "0" * 64))
attempt("append to the project's log", lambda: append({mirror}, {row}))
attempt("overwrite the sealed evaluation.py", lambda: overwrite({sealed_eval}, {forged_eval}))
for p, st in stats.items():
    attempt("utime " + p, lambda p=p, st=st: os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns)))
save_results()"#,
            key = py_str(key.to_string_lossy()),
            state = py_str(state.to_string_lossy()),
            canonical = py_str(canonical.to_string_lossy()),
            mirror = py_str(mirror.to_string_lossy()),
            sealed_eval = py_str(sealed_eval.to_string_lossy()),
            row = py_str(row),
            forged_eval = py_str(&forged_eval),
        )),
    );
    fx.engine(&["run", "-m", "tamper with the engine"])
        .expect(0);
    assert_eq!(
        fx.pending_metrics(),
        "mae=3.0;n=3",
        "the metric moved: {:#?}",
        attack_results(&fx)
    );
    all_denied(
        &fx,
        &[
            "read log.key",
            "read state.json",
            "append to the canonical log",
            "append to the project's log",
            "overwrite the sealed evaluation.py",
        ],
    );
    for (p, b) in watched.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            b,
            "{} changed during the run",
            p.display()
        );
    }
    fx.engine(&["verify"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    // The next run is evaluated by the intact evaluator.
    fx.set_tasks(2.0, "");
    fx.engine(&["run", "-m", "honest"]).expect(0);
    assert_eq!(fx.pending_metrics(), "mae=2.0;n=3");
    fx.engine(&["keep"]).expect(0);
    let out = fx.engine(&["verify"]).expect(0);
    assert!(out.stdout.contains("3 rows"), "{}", out.stdout);
    let rows = fx.rows();
    assert_eq!(rows[1][3], "mae=3.0;n=3");
    assert_eq!(rows[2][3], "mae=2.0;n=3");
}

/// A daemon that survives the work tasks: a `setsid` process and a double
/// fork (`fork`, `setsid`, `fork`) wait until the work task has exited, then
/// until the evaluator's folder for the run appears, and keep writing
/// perfect predictions into it and into the run folder (and a fake
/// `metrics.json`) for 5 s.
///
/// Defence: the engine is child subreaper and kills every descendant right
/// after the work tasks, before the evaluator's folder is filled (property
/// 3); Landlock keeps the evaluator's folder out of reach in any case.
/// Fails with the `reap` after the work tasks removed from `runner.rs` (the
/// daemons are alive when `run` returns; with `--no-sandbox` too, the
/// metric moves).
#[test]
fn daemons_started_by_a_work_task_die_with_it() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let exp = fx.exp_dir();
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"import textwrap
DAEMON = textwrap.dedent(r'''
import json, os, sys, time
run_dir, eval_dir, tag, task = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(os.path.join(run_dir, tag + ".pid"), "w") as f:
    f.write(str(os.getpid()))
def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def put(path, data):
    try:
        tmp = path + "." + tag + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass
while alive(task):
    time.sleep(0.001)
end = time.time() + 5
while time.time() < end:
    if os.path.isdir(eval_dir):
        put(os.path.join(eval_dir, "predictions.json"), {PERFECT})
        put(os.path.join(run_dir, "predictions.json"), {PERFECT})
        put(os.path.join(run_dir, "metrics.json"), {{"mae": 0.0, "n": 3}})
    time.sleep(0.001)
''')
task = str(os.getpid())
eval_dir = os.path.join({exp}, "eval", os.path.relpath(run_dir, root))
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", sys.executable, "-c", DAEMON, run_dir, eval_dir, "setsid", task], **quiet)
child = os.fork()
if child == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", DAEMON, run_dir, eval_dir, "fork", task])
    finally:
        os._exit(0)
os.waitpid(child, 0)
deadline = time.time() + 10
while not all(os.path.exists(os.path.join(run_dir, t + ".pid")) for t in ("setsid", "fork")):
    if time.time() > deadline:
        raise SystemExit("the daemons did not start")
    time.sleep(0.01)"#,
            exp = py_str(exp.to_string_lossy()),
        )),
    );
    fx.engine(&["run", "-m", "leave daemons behind"]).expect(0);
    let run_dir = fx.pending_run_dir();
    for tag in ["setsid", "fork"] {
        let pid: u32 = std::fs::read_to_string(run_dir.join(format!("{tag}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            !alive(pid),
            "the {tag} daemon {pid} outlived the run (alive when `run` returned)"
        );
    }
    assert_eq!(fx.pending_metrics(), "mae=3.0;n=3", "the metric moved");
    // Nothing rewrites the user's copy of the metrics afterwards.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(copy["mae"], 3.0, "metrics.json rewritten after the run");
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[1][3], "mae=3.0;n=3");
}

/// The engine's caller has a hostile environment; the work task dumps what
/// it gets.
///
/// Defence: every project process gets an allow-listed environment
/// (`env_clear` in `contain::command` / `sandbox::sandboxed_command`,
/// property 3). `LD_PRELOAD` names the C library itself, which is harmless
/// to the engine and git but would show up if passed on. Fails with the
/// `env_clear()` of `sandboxed_command` removed.
#[test]
fn the_callers_environment_does_not_reach_the_work_tasks() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    // A library every process here loads anyway.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let empty = fx.tmp.path().join("empty.so");
            std::fs::write(&empty, "").unwrap();
            empty.to_string_lossy().into_owned()
        });
    let hostile: Vec<(&str, String)> = vec![
        ("GLUERS_SECRET", "x-evil".into()),
        ("CARGO_HOME", "/tmp/evil".into()),
        ("RUSTFLAGS", "-Cevil".into()),
        ("PYTHONPATH", "/tmp/evil".into()),
        ("PYTHONSTARTUP", "/tmp/evil.py".into()),
        ("PYTHONHOME", "/tmp/evil".into()),
        ("BASH_ENV", "/tmp/evil.sh".into()),
        ("ENV", "/tmp/evil.sh".into()),
        ("LD_PRELOAD", libc.clone()),
        ("LD_LIBRARY_PATH", "/tmp/evil".into()),
    ];
    fx.set_tasks(
        3.0,
        &task_code(
            "with open(os.path.join(run_dir, 'env.json'), 'w') as f:\n    json.dump(dict(os.environ), f)",
        ),
    );
    let mut cmd = fx.engine_cmd(&["run", "-m", "dump the environment"]);
    for (k, v) in &hostile {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the run failed: did the hostile environment (PYTHONHOME...) reach the work task?\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let env: std::collections::BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(fx.pending_run_dir().join("env.json")).unwrap(),
    )
    .unwrap();
    for (k, _) in &hostile {
        assert!(!env.contains_key(*k), "{k} reached the work task: {env:#?}");
    }
    for (k, v) in &env {
        assert!(
            !v.contains("evil") && !v.contains(&libc) && !k.starts_with("GIT_"),
            "{k}={v} reached the work task: {env:#?}"
        );
    }
    assert_eq!(fx.pending_metrics(), "mae=3.0;n=3");
}

/// The agent writes `cheat.py` (perfect predictions) into the work tree,
/// ignored by `.gitignore` so it is never committed, and the task imports
/// it: first plainly, then from the work tree's folder put on `sys.path`.
///
/// Defence: what runs is the engine's export of the commit (property 2),
/// and the work tree is outside the work tasks' jail (property 3). The run
/// crashes with `ModuleNotFoundError`. Fails with `init --no-sandbox` (the
/// second import reads the work tree: mae=0).
#[test]
fn uncommitted_ignored_code_does_not_run() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    fx.write(".gitignore", "data/\n__pycache__/\ncheat.py\n");
    fx.write("cheat.py", &format!("PREDS = {PERFECT}\n"));
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"try:
    import cheat
except ImportError:
    sys.path.insert(0, {proj})
    import cheat
preds = cheat.PREDS"#,
            proj = py_str(fx.proj.to_string_lossy()),
        )),
    );
    let out = fx.engine(&["run", "-m", "import an ignored module"]);
    let tree = fx.git(&["ls-tree", "--name-only", "HEAD", "proj/"]);
    assert!(!tree.contains("cheat.py"), "cheat.py was committed: {tree}");
    assert!(tree.contains(".gitignore"), "{tree}");
    if out.code == 0 {
        assert_eq!(
            fx.pending_metrics(),
            "mae=3.0;n=3",
            "the ignored module ran: {}",
            out.stdout
        );
    } else {
        assert!(out.stdout.contains("crash"), "{out:?}");
        assert!(
            fx.read("experiment_run.log")
                .contains("ModuleNotFoundError: No module named 'cheat'"),
            "{}",
            fx.read("experiment_run.log")
        );
    }
}

/// The evaluation of this fixture variant multiplies the error by
/// `evaluation.scale` from the run folder's `context.yaml`.
const SCALED_EVALUATION_PY: &str = r#"import json, os
from framework import EvaluationTask


def scale_of(path):
    section, scale = None, None
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith(" "):
                section = line.split(":")[0].strip()
            elif section == "evaluation" and line.strip().startswith("scale:"):
                scale = float(line.split(":", 1)[1])
    if scale is None:
        raise SystemExit("no evaluation.scale in " + path)
    return scale


class ComputeAccuracy(EvaluationTask):
    """Metrics:
    mae: mean absolute error of the predictions, times evaluation.scale. Lower is better.
    n: number of points compared.
    """

    label = "compute_accuracy"

    def run(self, root, run_dir):
        scale = scale_of(os.path.join(run_dir, "context.yaml"))
        with open(os.path.join(root, "truth.json")) as f:
            truth = json.load(f)
        with open(os.path.join(run_dir, "predictions.json")) as f:
            preds = json.load(f)
        mae = scale * sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
        with open(os.path.join(run_dir, "metrics.json"), "w") as f:
            json.dump({"mae": mae, "n": len(truth)}, f, indent=2)
"#;

/// The candidate sets `evaluation.scale` to 0 in its `configs/*.yaml` (an
/// edit and a new file that sorts last) and writes its own `context.yaml`
/// into its run folder.
///
/// Defence: the evaluator's `context.yaml` is merged from the *base*
/// commit's `configs/*.yaml` (the sealed export), and the candidate's
/// `context.yaml` is never copied to the evaluator (property 5). Fails with
/// `runner.rs` giving the evaluator the candidate export's `configs/`.
#[test]
fn the_evaluation_config_comes_from_the_base() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::with_files(&[
        ("evaluation.py", SCALED_EVALUATION_PY),
        ("configs/eval.yaml", "evaluation:\n  scale: 1.0\n"),
    ]);
    let out = fx.init();
    assert!(out.stdout.contains("mae"), "{}", out.stdout);
    assert_eq!(fx.rows()[0][3], "mae=5.0;n=3");
    fx.write("configs/eval.yaml", "evaluation:\n  scale: 0.0\n");
    fx.write("configs/zz-override.yaml", "evaluation:\n  scale: 0.0\n");
    fx.set_tasks(
        3.0,
        &task_code(
            "with open(os.path.join(run_dir, 'context.yaml'), 'w') as f:\n    f.write('evaluation:\\n  scale: 0.0\\n')",
        ),
    );
    fx.engine(&["run", "-m", "scale the metric away"]).expect(0);
    assert_eq!(
        fx.pending_metrics(),
        "mae=3.0;n=3",
        "the candidate's configuration reached the evaluator"
    );
    // The candidate's own run sees its configuration (it is free to tune
    // its work tasks with it): the edit was committed, not refused.
    assert!(fx
        .git(&["show", "HEAD:proj/configs/eval.yaml"])
        .contains("scale: 0.0"));
}

/// The work task leaves `predictions.json` as a link to the answers: an
/// absolute symlink to the sealed snapshot, a relative one that would
/// resolve to the answers inside the evaluator's folder, and hard links to
/// the sealed snapshot and to the original.
///
/// Defence: only regular files are copied to the evaluator, opened with
/// `O_NOFOLLOW` (property 5), so a symlink arrives as nothing (the
/// evaluation crashes); Landlock refuses a hard link to a file outside the
/// jail (property 3). Fails with `copy_tree_filtered` following links
/// (`std::fs::metadata`, no `O_NOFOLLOW`) for the symlinks, and with
/// `init --no-sandbox` for the hard links.
#[test]
fn links_in_the_run_folder_do_not_reach_the_answers() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let sealed = fx.exp_dir().join("sealed-data/truth.json");
    let original = storage(&fx, "truth.json");
    let attacks = [
        (
            "absolute symlink to the sealed snapshot",
            format!("os.symlink({}, target)", py_str(sealed.to_string_lossy())),
        ),
        (
            "relative symlink to the answers beside the run folders",
            // runs/Y/M/D/<id>/ -> the storage root (the evaluator's too).
            "os.symlink('../../../../../truth.json', target)".to_string(),
        ),
        (
            "hard link to the sealed snapshot",
            format!("os.link({}, target)", py_str(sealed.to_string_lossy())),
        ),
        (
            "hard link to the original",
            format!("os.link({}, target)", py_str(original.to_string_lossy())),
        ),
    ];
    for (i, (what, link)) in attacks.iter().enumerate() {
        // If the link cannot be made, the task writes honest predictions.
        fx.set_tasks(
            3.0,
            &task_code(&format!(
                r#"{ATTEMPT_PY}
target = os.path.join(run_dir, "predictions.json")
attempt("link", lambda: {link})
save_results()
if results["link"] == "ok":
    return"#
            )),
        );
        let out = fx.engine(&["run", "-m", what]);
        let results = attack_results_or_empty(&fx);
        if out.code == 0 {
            assert_eq!(
                fx.pending_metrics(),
                "mae=3.0;n=3",
                "{what}: the evaluator read the answers through the link ({results:?})"
            );
        } else {
            assert!(out.stdout.contains("crash"), "{what}: {out:?}");
            assert!(
                out.stdout.contains("sealed evaluation failed")
                    || out.stdout.contains("predictions.json"),
                "{what}: {out:?}"
            );
        }
        if what.starts_with("hard") {
            assert!(
                results.get("link").is_some_and(|r| r.starts_with("denied")),
                "{what} was made: {results:?}"
            );
        }
        fx.engine(&["discard"]).expect(0);
        assert_eq!(fx.rows().len(), i + 2);
        assert_ne!(fx.rows()[i + 1][3], "mae=0.0;n=3", "{what}");
    }
}

/// `attack.json` of the pending run, or nothing when the task wrote none
/// (it returned early).
fn attack_results_or_empty(fx: &Fixture) -> std::collections::BTreeMap<String, String> {
    let p = fx.pending_run_dir().join("attack.json");
    std::fs::read_to_string(p)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default()
}

/// A work task starts a `setsid` child and a double-forked grandchild, then
/// hangs: the run times out.
///
/// Defence: at the timeout the engine kills the work tasks' process group
/// and then every descendant, which it is subreaper of (property 3). Fails
/// with the `reap` after the work tasks removed from `runner.rs` (the
/// `setsid` children are in other process groups).
#[test]
fn a_timeout_kills_children_in_other_sessions() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(
        1.0,
        &task_code(
            r#"quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
p = subprocess.Popen(["setsid", "sleep", "300"], **quiet)
with open(os.path.join(run_dir, "setsid.pid"), "w") as f:
    f.write(str(p.pid))
child = os.fork()
if child == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            with open(os.path.join(run_dir, "fork.pid"), "w") as f:
                f.write(str(os.getpid()))
            os.execv("/bin/sleep", ["sleep", "300"])
    finally:
        os._exit(0)
os.waitpid(child, 0)
while not os.path.exists(os.path.join(run_dir, "fork.pid")):
    time.sleep(0.01)
time.sleep(300)"#,
        ),
    );
    let start = std::time::Instant::now();
    let out = fx
        .engine(&["run", "-m", "hang", "--timeout", "3"])
        .expect(1);
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
    assert!(out.stdout.contains("timeout"), "{}", out.stdout);
    let run_dir = fx.pending_run_dir();
    for tag in ["setsid", "fork"] {
        let pid: u32 = std::fs::read_to_string(run_dir.join(format!("{tag}.pid")))
            .unwrap_or_else(|e| panic!("{tag}.pid: {e}"))
            .trim()
            .parse()
            .unwrap();
        assert!(
            !alive(pid),
            "the {tag} child {pid} survived the timeout (alive when `run` returned)"
        );
    }
    fx.engine(&["discard"]).expect(0);
    assert_eq!(fx.rows()[1][4], "timeout");
}
