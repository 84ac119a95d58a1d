//! End-to-end attacks on batches of candidates (`queue`, `run --queued
//! --jobs N`): a candidate against its sibling running beside it, a queued
//! commit that changes the frozen evaluation, and a kill -9 of the engine
//! mid-batch. Each test fails if its attack works.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{alive, py_str, storage, task_code, wait_for, Fixture, ATTEMPT_PY};

/// The batch's pending runs in the state: (metrics or outcome, run folder).
fn batch(fx: &Fixture) -> Vec<(String, PathBuf)> {
    let state = fx.state();
    state["batch"]
        .as_array()
        .unwrap_or_else(|| panic!("no batch in the state: {state}"))
        .iter()
        .map(|b| {
            let run = &b["run"];
            let metrics = run["metrics"].as_array().cloned().unwrap_or_default();
            let shown = if metrics.is_empty() {
                run["outcome"].as_str().unwrap_or("?").to_string()
            } else {
                metrics
                    .iter()
                    .map(|m| format!("{}={}", m["name"].as_str().unwrap_or("?"), m["value"]))
                    .collect::<Vec<_>>()
                    .join(";")
            };
            let folder = run["run_folder"].as_str().unwrap_or_default();
            (shown, storage(fx, folder))
        })
        .collect()
}

/// Python: waits up to 20 s for `cond()`.
const WAIT_PY: &str = r#"def wait(cond):
    end = time.time() + 20
    while time.time() < end and not cond():
        time.sleep(0.05)
    return cond()
"#;

/// A candidate attacks its sibling while both run (`--jobs 2`): reads the
/// sibling's export and run folder, writes its predictions and plants a
/// file in its run folder, writes its private tmp, kills it, and reads the
/// sealed answers. The test tells the attacker where the sibling's run
/// folder is and its pid (through the attacker's tmp), since it cannot
/// find them itself: a run folder made after a candidate's jail is not in
/// it.
///
/// Defence: each candidate runs in its own slot (export, tmp, target,
/// evaluator folder under the engine's private state) in its own Landlock
/// jail, which writes only its own run folder and tmp, reads neither the
/// state folder nor the answers, and scopes signals to itself (property
/// 3/4).
#[test]
fn a_candidate_cannot_reach_its_sibling_in_a_parallel_batch() {
    assert!(common::prerequisites());
    let fx = Fixture::new();
    fx.init();
    let exp = fx.exp_dir();
    let exports = [exp.join("export/proj"), exp.join("slots/1/export/proj")];
    let tmps = [exp.join("tmp"), exp.join("slots/1/tmp")];
    let sealed = exp.join("sealed-data/truth.json");
    // The attacker, first in the queue.
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"{ATTEMPT_PY}{WAIT_PY}
open(os.path.join(run_dir, "attacker"), "w").write("")
exports = [{e0}, {e1}]
tmps = [{t0}, {t1}]
mine = 0 if os.path.realpath(os.getcwd()) == os.path.realpath(exports[0]) else 1
told = os.path.join(tmps[mine], "sibling.txt")
wait(lambda: os.path.exists(told))
sib, pid = open(told).read().split("\n")[:2]
attempt("read the sibling's export", lambda: open(os.path.join(exports[1 - mine], "tasks.py")).read())
attempt("read the sibling's run folder", lambda: open(os.path.join(sib, "pid")).read())
attempt("write the sibling's predictions", lambda: open(os.path.join(sib, "predictions.json"), "w").write("[10.0, 20.0, 30.0]"))
attempt("plant a file in the sibling's run folder", lambda: open(os.path.join(sib, "planted"), "w").write("x"))
attempt("write the sibling's tmp", lambda: open(os.path.join(tmps[1 - mine], "planted"), "w").write("x"))
attempt("kill the sibling", lambda: os.kill(int(pid), 9))
attempt("read the sealed answers", lambda: open({sealed}).read())
save_results()"#,
            e0 = py_str(exports[0].to_string_lossy()),
            e1 = py_str(exports[1].to_string_lossy()),
            t0 = py_str(tmps[0].to_string_lossy()),
            t1 = py_str(tmps[1].to_string_lossy()),
            sealed = py_str(sealed.to_string_lossy()),
        )),
    );
    fx.engine(&["queue", "-m", "attacker"]).expect(0);
    // The sibling: honest, alive until the attacker is done.
    fx.set_tasks(
        2.0,
        &task_code(&format!(
            r#"{WAIT_PY}
open(os.path.join(run_dir, "pid"), "w").write(str(os.getpid()))
wait(lambda: os.path.exists(os.path.join(tempfile.gettempdir(), "done")))"#
        )),
    );
    fx.write(
        "tasks.py",
        &fx.read("tasks.py")
            .replace("import json", "import tempfile, json"),
    );
    fx.engine(&["queue", "-m", "sibling"]).expect(0);
    let engine = fx
        .engine_cmd(&["run", "--queued", "--jobs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both run: tell the attacker where its sibling is.
    let with =
        |name: &str| common::find_run_file(&fx, name).map(|p| p.parent().unwrap().to_path_buf());
    assert!(wait_for(30, || with("pid").is_some() && with("attacker").is_some()));
    let (sib, attacker) = (with("pid").unwrap(), with("attacker").unwrap());
    let pid = std::fs::read_to_string(sib.join("pid")).unwrap();
    for t in &tmps {
        std::fs::write(t.join("sibling.txt"), format!("{}\n{pid}\n", sib.display())).unwrap();
    }
    assert!(wait_for(30, || attacker.join("attack.json").exists()));
    for t in &tmps {
        std::fs::write(t.join("done"), "").unwrap();
    }
    let out = engine.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let runs = batch(&fx);
    assert_eq!(runs[0].0, "mae=3.0;n=3");
    assert_eq!(runs[1].0, "mae=2.0;n=3", "the sibling's metric moved");
    let text = std::fs::read_to_string(runs[0].1.join("attack.json")).unwrap();
    let results: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    eprintln!("attempts: {results:#?}");
    assert_eq!(results.len(), 7, "{results:#?}");
    for (name, got) in &results {
        assert!(
            got.starts_with("denied") && !got.contains("FileNotFoundError"),
            "the candidate could `{name}` (or the target was missing): {results:#?}"
        );
    }
    assert!(!runs[1].1.join("planted").exists());
    fx.engine(&["discard", "1"]).expect(0);
    fx.engine(&["discard", "2"]).expect(0);
    fx.engine(&["verify"]).expect(0);
}

/// A queued candidate changes the frozen evaluation to score itself 0.
///
/// Defence: every candidate of a batch gets the single run's frozen check
/// (property 2); the refusal becomes that candidate's crash row with the
/// reason, its siblings are evaluated as usual, and a crash cannot be kept.
#[test]
fn a_queued_commit_that_changes_the_frozen_evaluation_gets_a_crash_row() {
    assert!(common::prerequisites());
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(1.0, "");
    fx.engine(&["queue", "-m", "honest one"]).expect(0);
    fx.write(
        "evaluation.py",
        &common::EVALUATION_PY.replace("mae = sum(", "mae = 0 * sum("),
    );
    fx.engine(&["queue", "-m", "score zero"]).expect(0);
    fx.set_tasks(2.0, "");
    fx.engine(&["queue", "-m", "honest two"]).expect(0);
    let out = fx.engine(&["run", "--queued", "--jobs", "2"]).expect(1);
    assert!(out.stdout.contains("frozen"), "{}", out.stdout);
    let runs = batch(&fx);
    let shown: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(shown, ["mae=1.0;n=3", "crash", "mae=2.0;n=3"]);
    let keep = fx.engine(&["keep", "2"]).expect(2);
    assert!(keep.stderr.contains("cannot be kept"), "{}", keep.stderr);
    fx.engine(&["discard", "2"]).expect(0);
    fx.engine(&["keep", "1"]).expect(0);
    fx.engine(&["discard", "3"]).expect(0);
    let statuses: Vec<(String, String)> = fx
        .rows()
        .iter()
        .map(|r| (r[3].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        statuses[1..],
        [
            ("mae=1.0;n=3".to_string(), "keep".to_string()),
            (String::new(), "crash".to_string()),
            ("mae=2.0;n=3".to_string(), "discard".to_string()),
        ]
    );
    // The frozen evaluation is the base's again in the work tree.
    assert!(!fx.read("evaluation.py").contains("0 * sum("));
}

/// The engine is killed (-9) while two candidates run.
///
/// Defence: nothing of a batch reaches the log or the state's pending runs
/// until every candidate is done (one atomic state write); the workers die
/// with the engine (parent-death signal); the next command kills the
/// candidates' leftover process groups from the slots' progress records
/// and says so; the queue is kept, so the batch runs again (property 7).
#[test]
fn a_killed_engine_mid_batch_leaves_no_half_rows_and_the_queue_runs_again() {
    assert!(common::prerequisites());
    let fx = Fixture::new();
    fx.init();
    let hold = storage(&fx, "hold");
    std::fs::write(&hold, "").unwrap();
    for offset in [1.0, 2.0] {
        fx.set_tasks(
            offset,
            &task_code(
                r#"while os.path.exists(os.path.join(root, "hold")):
    time.sleep(0.05)"#,
            ),
        );
        fx.engine(&["queue", "-m", &format!("offset {offset}")])
            .expect(0);
    }
    let mut engine = fx
        .engine_cmd(&["run", "--queued", "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let exp = fx.exp_dir();
    let progress = [exp.join("progress.json"), exp.join("slots/1/progress.json")];
    let pgid = |p: &PathBuf| -> Option<u32> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
        (v["phase"] == "work tasks")
            .then(|| v["pgid"].as_u64())??
            .try_into()
            .ok()
    };
    assert!(
        wait_for(30, || progress.iter().all(|p| pgid(p).is_some())),
        "the two candidates did not start"
    );
    let groups: Vec<u32> = progress.iter().filter_map(pgid).collect();
    engine.kill().unwrap();
    engine.wait().unwrap();

    // Nothing logged, the chain intact, before any recovery.
    fx.engine(&["verify"]).expect(0);
    assert_eq!(fx.rows().len(), 1);
    let status = fx.engine(&["status"]).expect(0);
    assert!(
        status.stderr.contains("batch of experiments 1..2")
            && status.stderr.contains("interrupted"),
        "{}",
        status.stderr
    );
    for g in &groups {
        assert!(
            wait_for(10, || !alive(*g)),
            "candidate group {g} outlived the engine"
        );
    }
    assert!(fx.state()["batch"].is_null());
    assert_eq!(fx.state()["queue"].as_array().map(Vec::len), Some(2));

    std::fs::remove_file(&hold).unwrap();
    fx.engine(&["run", "--queued", "--jobs", "2"]).expect(0);
    fx.engine(&["discard", "2"]).expect(0);
    fx.engine(&["keep", "1"]).expect(0);
    let rows = fx.rows();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[1][3].as_str(), rows[1][4].as_str()),
        ("mae=1.0;n=3", "keep")
    );
    assert_eq!(
        (rows[2][3].as_str(), rows[2][4].as_str()),
        ("mae=2.0;n=3", "discard")
    );
    fx.engine(&["verify"]).expect(0);
}
