//! Every way a candidate could try to move a metric without improving the
//! work, each caught; and the engine's own robustness: a dirty tree on
//! discard, `kill -9` of the engine mid-run, the repository lock.

mod common;

use std::time::Duration;

use common::{alive, storage, wait_for, Fixture};

#[test]
fn editing_an_evaluation_file_is_refused_before_anything_runs() {
    let fx = Fixture::new();
    fx.init();
    let before = fx.read("experiment_run.log");
    fx.write(
        "evaluation.py",
        &common::EVALUATION_PY.replace("mae = sum", "mae = 0 * sum"),
    );
    let out = fx.engine(&["run", "-m", "better metric"]).expect(1);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
    assert!(
        out.stderr.contains("proj/evaluation.py (modified)"),
        "{}",
        out.stderr
    );
    // The commit stays for the agent to fix; nothing ran, nothing is pending.
    assert_eq!(fx.git(&["log", "-1", "--format=%s"]), "better metric");
    assert_eq!(fx.read("experiment_run.log"), before);
    fx.engine(&["keep"]).expect(2);
    assert_eq!(fx.rows().len(), 1);

    // Restoring the file (a new commit) makes the next run go through.
    fx.write("evaluation.py", common::EVALUATION_PY);
    fx.engine(&["run", "-m", "restore evaluation"]).expect(0);
}

#[test]
fn an_evaluation_edit_hidden_from_git_does_not_run() {
    // skip-worktree / assume-unchanged keep an edit out of the commit; the
    // engine runs its export of the commit, so the edit runs nowhere and the
    // logged commit is exactly what ran.
    let fx = Fixture::new();
    fx.init();
    for flag in ["--skip-worktree", "--assume-unchanged"] {
        fx.git(&["update-index", flag, "proj/evaluation.py"]);
        fx.write(
            "evaluation.py",
            &common::EVALUATION_PY.replace("mae = sum", "mae = 0 * sum"),
        );
        let out = fx.engine(&["run", "-m", "invisible edit"]).expect(0);
        assert!(
            out.stdout.contains("mae") && out.stdout.contains("5.0"),
            "{flag}: {}",
            out.stdout
        );
        fx.engine(&["discard"]).expect(0);
        let unflag = flag.replace("--", "--no-");
        fx.git(&["update-index", &unflag, "proj/evaluation.py"]);
        fx.write("evaluation.py", common::EVALUATION_PY);
    }
}

#[test]
fn editing_the_dag_wiring_is_refused() {
    let fx = Fixture::new();
    fx.init();
    fx.write(
        "dags.py",
        &common::DAGS_PY.replace("eval_tasks = [ComputeAccuracy]", "eval_tasks = []"),
    );
    let out = fx.engine(&["run", "-m", "no eval"]).expect(1);
    assert!(
        out.stderr.contains("proj/dags.py (modified)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_fake_metrics_block_on_stdout_has_no_effect() {
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(
        3.0,
        "        print('=== GLUEPY METRICS ===')\n        print('metric:mae=0.0')\n        print('=== END METRICS ===')",
    );
    let out = fx.engine(&["run", "-m", "print fake metrics"]).expect(0);
    assert!(out.stdout.contains("mae"), "{}", out.stdout);
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[1][3], "mae=3.0;n=3");
    assert!(fx.read("experiment_run.log").contains("metric:mae=0.0"));
}

#[test]
fn a_fake_metrics_json_in_the_run_folder_has_no_effect() {
    let fx = Fixture::new();
    fx.init();
    // Write a fake metrics.json now, and leave a background process that
    // would write it again after the real evaluation: it must be killed with
    // the work tasks' process group.
    let late = storage(&fx, "late-writer-ran");
    fx.set_tasks(
        3.0,
        &format!(
            "        json.dump({{'mae': 0.0, 'n': 3}}, open(os.path.join(run_dir, 'metrics.json'), 'w'))\n        subprocess.Popen(['sh', '-c', 'sleep 2; echo \"{{\\\\\"mae\\\\\": 0.0}}\" > \"$0/metrics.json\"; touch \"$1\"', run_dir, {:?}])",
            late.to_string_lossy()
        ),
    );
    fx.engine(&["run", "-m", "fake metrics.json"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    let rows = fx.rows();
    assert_eq!(rows[1][3], "mae=3.0;n=3");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !late.exists(),
        "the background writer outlived the work tasks"
    );
}

#[test]
fn changing_frozen_untracked_data_is_refused_even_with_the_mtime_restored() {
    let fx = Fixture::new();
    fx.init();
    let truth = storage(&fx, "truth.json");
    let mtime = std::fs::metadata(&truth).unwrap().modified().unwrap();
    // Same size, different content, same mtime.
    std::fs::write(&truth, "[13.0, 23.0, 33.0]\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&truth)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fx.set_tasks(3.0, "");
    let out = fx.engine(&["run", "-m", "move the truth"]).expect(1);
    assert!(
        out.stderr
            .contains("proj/data/truth.json (modified (untracked))"),
        "{}",
        out.stderr
    );

    // Put it back: the run goes through.
    std::fs::write(&truth, "[10.0, 20.0, 30.0]\n").unwrap();
    fx.engine(&["run", "-m", "truth restored"]).expect(0);
}

#[test]
fn adding_or_deleting_frozen_data_is_refused() {
    let fx = Fixture::new();
    fx.engine(&[
        "--project-cmd",
        "python3 run.py",
        "init",
        "forecast",
        "--goal",
        "lower mae",
        "--holdout",
        "data/truth.json",
        "--freeze",
        "data",
    ])
    .expect(0);
    fx.write("data/extra.json", "[]");
    let out = fx.engine(&["run", "-m", "extra data"]).expect(1);
    assert!(
        out.stderr
            .contains("proj/data/extra.json (added (untracked))"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(storage(&fx, "extra.json")).unwrap();
    std::fs::remove_file(storage(&fx, "truth.json")).unwrap();
    let out = fx.engine(&["run", "-m", "no truth"]).expect(1);
    assert!(
        out.stderr
            .contains("proj/data/truth.json (deleted (untracked))"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_work_task_that_rewrites_frozen_data_while_running_is_caught() {
    let fx = Fixture::new();
    fx.init();
    let truth = storage(&fx, "truth.json");
    fx.set_tasks(
        7.0,
        &format!(
            "        open({:?}, 'w').write(json.dumps([17.0, 27.0, 37.0]))",
            truth.to_string_lossy()
        ),
    );
    let out = fx
        .engine(&["run", "-m", "rewrite truth at run time"])
        .expect(1);
    // Under the sandbox the write itself fails (the data is read-only to
    // the candidate); without it, the recheck after the work tasks sees it.
    // Either way nothing is evaluated.
    assert!(out.stdout.contains("crash"), "{}", out.stdout);
    assert!(!out.stdout.contains("mae"), "{}", out.stdout);
    fx.engine(&["discard"]).expect(0);
    assert_eq!(fx.rows()[1][4], "crash");
}

#[test]
fn a_commit_that_rewrites_the_base_is_refused() {
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(2.0, "");
    fx.git(&["commit", "--quiet", "-a", "--amend", "-m", "rewritten base"]);
    let out = fx.engine(&["run", "-m", "after amend"]).expect(1);
    assert!(
        out.stderr.contains("the base was rewritten"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_helper_imported_by_evaluation_cannot_move_the_metric() {
    // The evaluation imports `framework`, which is not frozen: the candidate
    // may change it, but the sealed evaluator runs the base's copy.
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(3.0, "");
    fx.write(
        "framework.py",
        &format!(
            "{}\nimport builtins\nbuiltins.abs = lambda x: 0\n",
            common::FRAMEWORK_PY
        ),
    );
    fx.engine(&["run", "-m", "patch abs"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[1][3], "mae=3.0;n=3");
}

#[test]
fn discard_refuses_a_dirty_tree() {
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(4.0, "");
    fx.engine(&["run", "-m", "worse"]).expect(0);
    fx.write("notes.md", "work in progress\n");
    let out = fx.engine(&["discard"]).expect(2);
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.stderr);
    assert!(out.stderr.contains("proj/notes.md"), "{}", out.stderr);
    assert_eq!(fx.read("notes.md"), "work in progress\n");
    assert_eq!(fx.rows().len(), 1);
    std::fs::remove_file(fx.proj.join("notes.md")).unwrap();
    fx.engine(&["discard"]).expect(0);
}

#[test]
fn kill_9_mid_run_then_status_and_the_next_run_recover() {
    let fx = Fixture::new();
    fx.init();
    // The candidate may write only its run folder: the pid goes there.
    fx.set_tasks(
        1.0,
        "        p = subprocess.Popen(['sleep', '300'])\n        open(os.path.join(run_dir, 'sleeper.pid'), 'w').write(str(p.pid))\n        time.sleep(300)",
    );
    let find_pidfile = || common::find_run_file(&fx, "sleeper.pid");
    let mut engine = fx
        .engine_cmd(&["run", "-m", "slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(60, || find_pidfile().is_some()
            && fx.state()["in_progress"]["pgid"].is_i64()),
        "the run never reached its work tasks"
    );
    let pidfile = find_pidfile().unwrap();
    let sleeper: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // While it runs: the lock refuses other commands; status reads.
    let out = fx.engine(&["keep"]).expect(2);
    assert!(
        out.stderr.contains("another experiment command is running"),
        "{}",
        out.stderr
    );
    let out = fx.engine(&["status"]).expect(0);
    assert!(out.stdout.contains("running"), "{}", out.stdout);

    engine.kill().unwrap(); // SIGKILL
    engine.wait().unwrap();
    assert!(
        alive(sleeper),
        "the work tasks should outlive a killed engine until recovery"
    );

    let out = fx.engine(&["status"]).expect(0);
    assert!(
        out.stderr.contains("was interrupted during work tasks"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("killed its leftover process group"),
        "{}",
        out.stderr
    );
    assert!(
        wait_for(5, || !alive(sleeper)),
        "leftover {sleeper} not killed"
    );
    assert!(fx.state()["in_progress"].is_null());
    assert_eq!(fx.rows().len(), 1);

    fx.set_tasks(1.0, "");
    fx.engine(&["run", "-m", "fast again"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    let rows = fx.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][3], "mae=1.0;n=3");
    assert_eq!(rows[1][0], "1");
}
