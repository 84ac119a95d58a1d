//! The experiment loop end to end on a fake project: init and baseline, kept
//! improvements, discarded regressions, crashes, timeouts, exact log rows and
//! the preconditions of each command.

mod common;

use common::{alive, storage, wait_for, Fixture};

#[test]
fn init_creates_branch_frozen_set_and_baseline_row() {
    let fx = Fixture::new();
    let base = fx.head_short();
    let out = fx.init();
    assert_eq!(
        fx.git(&["symbolic-ref", "--short", "HEAD"]),
        "experiment/forecast"
    );
    for frozen in ["proj/evaluation.py", "proj/dags.py", "truth.json"] {
        assert!(
            out.stdout.contains(frozen),
            "{frozen} not in the frozen set:\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("proj/tasks.py"), "{}", out.stdout);
    assert!(out.stdout.contains("mae"), "{}", out.stdout);

    let rows = fx.rows();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r[0], "0");
    assert!(
        r[1].ends_with('Z') && r[1].contains('T'),
        "timestamp {}",
        r[1]
    );
    assert!(uuid::Uuid::parse_str(&r[2]).is_ok(), "run id {}", r[2]);
    assert_eq!(r[3], "mae=5.0;n=3");
    assert_eq!(r[4], "keep");
    assert_eq!(r[5], "baseline");
    assert_eq!(r[6], base);
    let secs: f64 = r[7].parse().unwrap();
    assert!(
        secs > 0.0 && r[7].split('.').nth(1).map(str::len) == Some(2),
        "duration {}",
        r[7]
    );

    // The run folder is where the engine said, with the sealed metrics.
    let run_folder = fx.state()["baseline"].clone();
    assert!(run_folder.is_array());
    let found = walk_metrics(&storage(&fx, "runs"));
    assert_eq!(found.len(), 1);
    assert!(found[0].to_string_lossy().contains(&r[2]));

    // The engine's files stay untracked and the tree is clean.
    assert_eq!(fx.git(&["status", "--porcelain"]), "");
    let exclude = std::fs::read_to_string(fx.root.join(".git/info/exclude")).unwrap();
    assert!(exclude.contains("/proj/experiment_log.tsv"), "{exclude}");
    assert!(exclude.contains("/proj/experiment_run.log"), "{exclude}");

    // A second init on the same DAG gets a suffixed branch.
    let out = fx.init();
    assert!(
        out.stdout.contains("experiment/forecast-2"),
        "{}",
        out.stdout
    );
    assert_eq!(
        fx.git(&["symbolic-ref", "--short", "HEAD"]),
        "experiment/forecast-2"
    );
}

fn walk_metrics(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_metrics(&p));
            } else if p.file_name().is_some_and(|n| n == "metrics.json") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn keep_an_improvement_then_discard_a_regression() {
    let fx = Fixture::new();
    fx.init();
    // Something untracked and ignored that must survive everything.
    fx.write("data/notes.txt", "mine\n");

    fx.set_tasks(2.0, "");
    let out = fx
        .engine(&["run", "-m", "smaller\toffset\nand a \\ backslash"])
        .expect(0);
    assert!(out.stdout.contains("experiment 1: ok"), "{}", out.stdout);
    assert!(
        out.stdout.contains("vs baseline -3 (-60.00%)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gluers experiment keep"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gluers experiment discard"),
        "{}",
        out.stdout
    );
    let improved = fx.head_short();
    assert_eq!(
        fx.git(&["log", "-1", "--format=%B"]),
        "smaller\toffset\nand a \\ backslash"
    );

    fx.engine(&["keep"]).expect(0);
    // Nothing pending any more.
    let out = fx.engine(&["keep"]).expect(2);
    assert!(
        out.stderr.contains("no run waiting for a decision"),
        "{}",
        out.stderr
    );

    fx.set_tasks(4.0, "");
    fx.write("helper.py", "X = 1\n");
    let out = fx.engine(&["run", "-m", "bigger offset"]).expect(0);
    assert!(
        out.stdout.contains("vs best kept (#1) +2 (+100.00%)"),
        "{}",
        out.stdout
    );
    let out = fx.engine(&["discard"]).expect(0);
    assert!(
        out.stdout.contains("bigger offset"),
        "dropped commits listed: {}",
        out.stdout
    );

    // Back at the kept commit, nothing else lost.
    assert_eq!(fx.head_short(), improved);
    assert!(fx.read("tasks.py").contains("OFFSET = 2.0"));
    assert!(!fx.proj.join("helper.py").exists());
    assert_eq!(fx.read("data/notes.txt"), "mine\n");
    assert_eq!(fx.git(&["status", "--porcelain"]), "");

    let rows = fx.rows();
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["0", "1", "2"]);
    assert_eq!(rows[1][3], "mae=2.0;n=3");
    assert_eq!(rows[1][4], "keep");
    assert_eq!(rows[1][5], "smaller\\toffset\\nand a \\\\ backslash");
    assert_eq!(rows[1][6], improved);
    assert_eq!(rows[2][3], "mae=4.0;n=3");
    assert_eq!(rows[2][4], "discard");
    assert_eq!(rows[2][5], "bigger offset");
    assert_ne!(rows[1][2], rows[2][2]);

    // status, log and report.
    let out = fx.engine(&["status"]).expect(0);
    assert!(out.stdout.contains("experiment/forecast"), "{}", out.stdout);
    assert!(
        out.stdout.contains("best kept     mae=2.0  n=3"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("proj/evaluation.py"), "{}", out.stdout);
    assert!(out.stdout.contains("pending       none"), "{}", out.stdout);
    let out = fx.engine(&["log"]).expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("id  timestamp"), "{}", out.stdout);
    let col = lines[0].find("status").unwrap();
    assert!(lines
        .iter()
        .skip(1)
        .all(|l| l[col..].starts_with("keep") || l[col..].starts_with("discard")));
    let svg = fx.tmp.path().join("chart.svg");
    let out = fx
        .engine(&["report", "--out", svg.to_str().unwrap()])
        .expect(0);
    assert!(out.stdout.contains("mae"), "{}", out.stdout);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let png = fx.tmp.path().join("chart.png");
    fx.engine(&["report", "--metric", "n", "--out", png.to_str().unwrap()])
        .expect(0);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let out = fx
        .engine(&["report", "--metric", "nope", "--out", png.to_str().unwrap()])
        .expect(2);
    assert!(out.stderr.contains("known: mae, n"), "{}", out.stderr);

    // The canonical log survives `git clean -fdx` and is restored.
    fx.git(&["clean", "-fdxq"]);
    let out = fx.engine(&["log"]).expect(0);
    assert!(out.stdout.contains("bigger offset"), "{}", out.stdout);
    fx.engine(&["status"]).expect(0);
    assert_eq!(fx.rows().len(), 3);
}

#[test]
fn run_with_a_clean_tree_uses_head_and_a_pending_run_blocks_the_next() {
    let fx = Fixture::new();
    fx.init();
    let head = fx.head_short();
    let out = fx.engine(&["run", "-m", "same again"]).expect(0);
    assert!(out.stdout.contains("running HEAD"), "{}", out.stdout);
    assert_eq!(fx.head_short(), head);
    let out = fx.engine(&["run", "-m", "another"]).expect(2);
    assert!(
        out.stderr.contains("still waiting for a decision"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("keep") && out.stderr.contains("discard"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_crash_shows_the_log_tail_and_is_recorded_as_crash() {
    let fx = Fixture::new();
    fx.init();
    let kept = fx.head_short();
    fx.set_tasks(
        1.0,
        "        print('about to fail', flush=True)\n        raise RuntimeError('boom in predict')",
    );
    let out = fx.engine(&["run", "-m", "broken"]).expect(1);
    assert!(out.stdout.contains("experiment 1: crash"), "{}", out.stdout);
    assert!(out.stdout.contains("last 50 lines"), "{}", out.stdout);
    assert!(
        out.stdout.contains("RuntimeError: boom in predict"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("about to fail"), "{}", out.stdout);

    let out = fx.engine(&["keep"]).expect(2);
    assert!(out.stderr.contains("cannot be kept"), "{}", out.stderr);
    fx.engine(&["discard"]).expect(0);
    assert_eq!(fx.head_short(), kept);
    let rows = fx.rows();
    assert_eq!(rows[1][4], "crash");
    assert_eq!(rows[1][3], "");
    assert_eq!(rows[1][5], "broken");
}

#[test]
fn missing_metrics_is_a_crash() {
    let fx = Fixture::new();
    fx.init();
    // The predictions go missing: the sealed evaluation fails.
    fx.set_tasks(1.0, "        return");
    let out = fx.engine(&["run", "-m", "no predictions"]).expect(1);
    assert!(out.stdout.contains("crash"), "{}", out.stdout);
    assert!(
        out.stdout.contains("sealed evaluation failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let fx = Fixture::new();
    fx.init();
    // The candidate may write only its run folder: the pid goes there.
    fx.set_tasks(
        1.0,
        "        p = subprocess.Popen(['sleep', '300'])\n        open(os.path.join(run_dir, 'sleeper.pid'), 'w').write(str(p.pid))\n        time.sleep(300)",
    );
    let start = std::time::Instant::now();
    let out = fx
        .engine(&["run", "-m", "slow", "--timeout", "3"])
        .expect(1);
    assert!(start.elapsed().as_secs() < 60);
    assert!(
        out.stdout.contains("experiment 1: timeout"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("process group was killed"),
        "{}",
        out.stdout
    );
    let pidfile = common::find_run_file(&fx, "sleeper.pid").expect("the sleeper's pid file");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(5, || !alive(pid)),
        "the sleep child {pid} survived the timeout"
    );
    fx.engine(&["discard"]).expect(0);
    assert_eq!(fx.rows()[1][4], "timeout");
}

#[test]
fn init_preconditions_are_one_line_errors_with_exit_2() {
    // Not a repository.
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gluers-experiment"))
        .args([
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "x",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not inside a git repository"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A dirty tree.
    let fx = Fixture::new();
    fx.write("tasks.py", "changed\n");
    let out = fx
        .engine(&[
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "x",
        ])
        .expect(2);
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.stderr);
    assert!(out.stderr.contains("proj/tasks.py"), "{}", out.stderr);
    assert_eq!(fx.git(&["symbolic-ref", "--short", "HEAD"]), "main");

    // Later commands outside an experiment.
    fx.git(&["checkout", "--quiet", "--", "."]);
    let out = fx.engine(&["run", "-m", "x"]).expect(2);
    assert!(
        out.stderr.contains("no experiment on branch `main`"),
        "{}",
        out.stderr
    );

    // A freeze path that does not exist.
    let out = fx
        .engine(&[
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "x",
            "--freeze",
            "nope",
        ])
        .expect(2);
    assert!(out.stderr.contains("--freeze nope"), "{}", out.stderr);
}

#[test]
fn a_failing_baseline_rolls_init_back() {
    let fx = Fixture::new();
    fx.set_tasks(1.0, "        raise SystemExit(3)");
    fx.git(&["commit", "--quiet", "-am", "broken project"]);
    let out = fx
        .engine(&[
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "x",
        ])
        .expect(1);
    assert!(
        out.stderr.contains("baseline run ended with crash"),
        "{}",
        out.stderr
    );
    assert_eq!(fx.git(&["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(fx.git(&["branch", "--list", "experiment/*"]), "");
}

#[test]
fn run_commits_only_source_not_charts_or_large_files() {
    let fx = Fixture::new();
    fx.init();
    // A chart written into the project is the engine's output.
    fx.engine(&["report", "--out", "progress.svg"]).expect(0);
    fx.set_tasks(4.0, "");
    fx.engine(&["run", "-m", "offset 4"]).expect(0);
    let tracked = fx.git(&["ls-files"]);
    assert!(!tracked.contains("progress.svg"), "{tracked}");
    assert!(!tracked.contains("experiment_log.tsv"), "{tracked}");
    fx.engine(&["keep"]).expect(0);

    // A file over the size limit is refused before anything is committed.
    let head = fx.head_short();
    std::fs::write(fx.proj.join("model.bin"), vec![7u8; 11 << 20]).unwrap();
    fx.set_tasks(3.0, "");
    let out = fx.engine(&["run", "-m", "with a model file"]).expect(2);
    assert!(
        out.stderr.contains("proj/model.bin") && out.stderr.contains("MiB limit"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(fx.head_short(), head, "nothing was committed");
}

#[test]
fn an_unsandboxed_experiment_says_so_in_status_the_run_log_and_the_chart() {
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
        "--no-sandbox",
    ])
    .expect(0);
    let status = fx.engine(&["status"]).expect(0).stdout;
    assert!(status.contains("unsandboxed"), "{status}");
    assert!(fx.read("experiment_run.log").contains("(unsandboxed)"));
    fx.engine(&["report", "--out", "chart.svg"]).expect(0);
    assert!(fx.read("chart.svg").contains("unsandboxed"));
}
