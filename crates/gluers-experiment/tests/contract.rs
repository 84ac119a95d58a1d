//! The metric contract and the final test on the fake project: declared
//! directions decide the best kept run, a broken hard constraint cannot be
//! kept, a declared metric the evaluation does not log crashes the run, the
//! goal must name a metric, and `finish` scores the best kept commit once
//! on a sealed final test that work tasks cannot read.

mod common;

use common::{attack_results, prerequisites, py_str, task_code, Fixture, ATTEMPT_PY};

/// An evaluation whose metrics depend on the predictions: `mae` only when
/// there are some, `n` = how many, `note` when the task left `note.txt`.
const EVALUATION_PY: &str = r#"import json, os
from framework import EvaluationTask


class ComputeAccuracy(EvaluationTask):
    """Metrics:
    mae: mean absolute error. Lower is better.
    n: number of predictions. Must be 3.
    """

    label = "compute_accuracy"

    def run(self, root, run_dir):
        with open(os.path.join(root, "truth.json")) as f:
            truth = json.load(f)
        with open(os.path.join(run_dir, "predictions.json")) as f:
            preds = json.load(f)
        metrics = {}
        if preds:
            metrics["mae"] = sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
        metrics["n"] = len(preds)
        if os.path.exists(os.path.join(run_dir, "note.txt")):
            metrics["note"] = 1.0
        with open(os.path.join(run_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
"#;

fn contract_fixture() -> Fixture {
    Fixture::with_files(&[("evaluation.py", EVALUATION_PY)])
}

fn init(fx: &Fixture, extra: &[&str]) -> common::Out {
    let mut args = vec![
        "--project-cmd",
        "python3 run.py",
        "init",
        "forecast",
        "--holdout",
        "data/truth.json",
    ];
    args.extend_from_slice(extra);
    fx.engine(&args)
}

#[test]
fn declared_directions_and_constraints_decide_best_keep_and_crash() {
    prerequisites();
    let fx = contract_fixture();
    // The doc says lower; the declaration (as for a Gluepy project) wins.
    let out = init(
        &fx,
        &[
            "--goal",
            "raise mae (a test of declarations)",
            "--direction",
            "mae=higher",
            "--constraint",
            "n=eq:3",
        ],
    )
    .expect(0);
    assert!(
        out.stdout
            .contains("goal metric        mae (higher is better, declared)"),
        "{}",
        out.stdout
    );
    let status = fx.engine(&["status"]).expect(0).stdout;
    assert!(
        status.contains("[closer to 3.0 is better (from its constraint); must be 3.0 (hard constraint: keep refuses otherwise)]"),
        "{status}"
    );

    // Lower mae is worse here: kept, but the best kept stays the baseline.
    fx.set_tasks(2.0, "");
    let out = fx.engine(&["run", "-m", "offset 2"]).expect(0);
    assert!(
        out.stdout.contains("-3 (-60.00%) (worse)"),
        "{}",
        out.stdout
    );
    let out = fx.engine(&["keep"]).expect(0);
    assert!(
        out.stdout.contains("best kept stays the baseline"),
        "{}",
        out.stdout
    );
    assert_eq!(fx.state()["best_experiment"], 0);
    fx.set_tasks(7.0, "");
    fx.engine(&["run", "-m", "offset 7"]).expect(0);
    let out = fx.engine(&["keep"]).expect(0);
    assert!(
        out.stdout.contains("best kept is now experiment 2"),
        "{}",
        out.stdout
    );
    assert_eq!(fx.state()["best_experiment"], 2);

    // A broken hard constraint: said after the run, refused by keep (one
    // line, exit 2), recorded by discard.
    fx.set_tasks(7.0, "        preds = preds[:2]");
    let out = fx.engine(&["run", "-m", "two predictions"]).expect(0);
    assert!(
        out.stdout
            .contains("n=2 breaks its hard constraint (must be 3.0)"),
        "{}",
        out.stdout
    );
    let out = fx.engine(&["keep"]).expect(2);
    assert!(
        out.stderr.contains(
            "experiment 3 breaks a hard constraint (n=2, must be 3.0), so it cannot be kept"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    fx.engine(&["discard"]).expect(0);

    // A metric no declaration names: a warning, the run goes on.
    fx.set_tasks(
        7.0,
        "        open(os.path.join(run_dir, \"note.txt\"), \"w\").write(\"x\")",
    );
    let out = fx.engine(&["run", "-m", "a note"]).expect(0);
    assert!(
        out.stderr
            .contains("warning: the evaluation logged metric(s) no doc declares: note"),
        "{}",
        out.stderr
    );
    fx.engine(&["discard"]).expect(0);

    // A declared metric the evaluation does not log: the run is a crash.
    fx.set_tasks(7.0, "        preds = []");
    let out = fx.engine(&["run", "-m", "no predictions"]).expect(1);
    assert!(
        out.stdout
            .contains("the evaluation did not log declared metric(s) mae (it logged n=0)"),
        "{}",
        out.stdout
    );
    fx.engine(&["discard"]).expect(0);
    let statuses: Vec<String> = fx.rows().iter().map(|r| r[4].clone()).collect();
    assert_eq!(
        statuses,
        ["keep", "keep", "keep", "discard", "discard", "crash"]
    );
    fx.engine(&["verify"]).expect(0);
    // The chart is of the goal's metric.
    let out = fx.engine(&["report", "--out", "chart.svg"]).expect(0);
    assert!(
        out.stdout.contains("(mae, 6 experiment(s))"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_goal_must_name_a_metric_and_bad_flags_are_one_line() {
    prerequisites();
    let fx = contract_fixture();
    // Declared metrics: checked once the project's are known, and init
    // rolls back (the error line and the roll-back note).
    let out = init(&fx, &["--goal", "improve it", "--direction", "mae=lower"]).expect(2);
    assert!(
        out.stderr.contains(
            "the goal `improve it` names none of the DAG's declared metrics (mae); name the metric to improve in it"
        ),
        "{}",
        out.stderr
    );
    let lines: Vec<&str> = out.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with("note: init rolled back"),
        "{}",
        out.stderr
    );
    assert_eq!(fx.git(&["symbolic-ref", "--short", "HEAD"]), "main");
    for (flag, value, says) in [
        (
            "--direction",
            "mae=up",
            "--direction mae=up: `up` is not a direction",
        ),
        (
            "--constraint",
            "n=gt:3",
            "--constraint n=gt:3: `gt:3` is not a constraint",
        ),
        (
            "--direction",
            "lower",
            "--direction lower: expected NAME=SPEC",
        ),
        (
            "--final-test",
            "../elsewhere.json",
            "--final-test ../elsewhere.json: not under the storage root",
        ),
    ] {
        let out = init(&fx, &["--goal", "lower mae", flag, value]).expect(2);
        assert!(out.stderr.contains(says), "{flag} {value}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    // Nothing declared: the goal names a metric the baseline logs, else
    // init rolls back.
    let out = init(&fx, &["--goal", "x"]).expect(2);
    assert!(
        out.stderr.contains(
            "names none of the metrics the baseline logged (the DAG declares none) (mae, n)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(fx.git(&["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(fx.git(&["branch", "--list", "experiment/*"]), "");
    // --metric names it when the goal is free text.
    init(&fx, &["--goal", "better forecasts", "--metric", "n"]).expect(0);
    let status = fx.engine(&["status"]).expect(0).stdout;
    assert!(
        status.contains("goal metric   n (lower is better, default)"),
        "{status}"
    );

    // A state written by another engine version: one clear line.
    let path = fx.exp_dir().join("state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"version\": 3", "\"version\": 2", 1)).unwrap();
    let out = fx.engine(&["status"]).expect(2);
    assert!(
        out.stderr
            .contains("is of format version 2, and this gluers reads version 3"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}

#[test]
fn finish_scores_the_best_kept_commit_once_on_a_final_test_no_candidate_reads() {
    prerequisites();
    // Without a final test there is nothing to finish.
    let plain = Fixture::new();
    plain.init();
    let out = plain.engine(&["finish"]).expect(2);
    assert!(
        out.stderr.contains("this experiment has no final test"),
        "{}",
        out.stderr
    );

    let fx = Fixture::with_files(&[("data/final/truth.json", "[11.0, 21.0, 31.0]\n")]);
    let out = fx
        .engine(&[
            "--project-cmd",
            "python3 run.py",
            "init",
            "forecast",
            "--goal",
            "lower mae",
            "--holdout",
            "data/truth.json",
            "--final-test",
            "data/final/truth.json",
        ])
        .expect(0);
    assert!(
        out.stdout
            .contains("final test         final/truth.json (sealed; stands in for truth.json at `finish` only)"),
        "{}",
        out.stdout
    );
    // A work task tries to read the final answers: the original and the
    // engine's snapshot.
    let original = fx.proj.join("data/final/truth.json");
    let snapshot = fx.exp_dir().join("sealed-final/final/truth.json");
    assert!(snapshot.is_file());
    let attack = format!(
        "{ATTEMPT_PY}attempt(\"original\", lambda: open({}).read())\nattempt(\"snapshot\", lambda: open({}).read())\nsave_results()\n",
        py_str(original.to_str().unwrap()),
        py_str(snapshot.to_str().unwrap())
    );
    fx.set_tasks(2.0, &task_code(&attack));
    fx.engine(&["run", "-m", "offset 2, and a peek"]).expect(0);
    let results = attack_results(&fx);
    for what in ["original", "snapshot"] {
        assert!(results[what].starts_with("denied"), "{what}: {results:?}");
    }
    // The loop scores the holdout only.
    assert_eq!(fx.pending_metrics(), "mae=2.0;n=3");
    let out = fx.engine(&["finish"]).expect(2);
    assert!(
        out.stderr.contains("still waiting for a decision"),
        "{}",
        out.stderr
    );
    fx.engine(&["keep"]).expect(0);
    let kept = fx.head_short();

    let out = fx.engine(&["finish"]).expect(0);
    assert!(
        out.stdout.contains("scoring experiment 1 (commit"),
        "{}",
        out.stdout
    );
    let table = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("mae "))
        .unwrap_or_else(|| panic!("no mae line: {}", out.stdout));
    let cols: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(cols[..3], ["mae", "2.0", "1.0"], "{}", out.stdout);
    assert!(
        out.stdout
            .contains("goal metric mae (lower is better): loop 2.0 vs final 1.0: the final test is better than the loop's figure"),
        "{}",
        out.stdout
    );
    let rows = fx.rows();
    assert_eq!(rows.len(), 3);
    let r = &rows[2];
    assert_eq!(
        (
            r[0].as_str(),
            r[3].as_str(),
            r[4].as_str(),
            r[5].as_str(),
            r[6].as_str()
        ),
        (
            "2",
            "mae=1.0;n=3",
            "final",
            "final test of experiment 1",
            kept.as_str()
        )
    );

    // Once per commit.
    let log = fx.read("experiment_log.tsv");
    let out = fx.engine(&["finish"]).expect(0);
    assert!(out.stdout.contains("not scored again"), "{}", out.stdout);
    assert_eq!(fx.read("experiment_log.tsv"), log);
    fx.engine(&["verify"]).expect(0);
    assert!(fx.engine(&["log"]).expect(0).stdout.contains("final"));
    fx.engine(&["report", "--out", "chart.svg"]).expect(0);
    assert!(fx.read("chart.svg").contains("final test 1"));

    // The loop goes on; a new best gets its own look, said and recorded.
    fx.set_tasks(1.0, "");
    fx.engine(&["run", "-m", "offset 1"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    let out = fx.engine(&["finish"]).expect(0);
    assert!(
        out.stdout
            .contains("note: the final test already scored experiment 1"),
        "{}",
        out.stdout
    );
    let rows = fx.rows();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (rows[4][3].as_str(), rows[4][4].as_str()),
        ("mae=0.0;n=3", "final")
    );
    fx.engine(&["verify"]).expect(0);
}
