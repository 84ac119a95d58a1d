//! The engine on a real Gluepy 1.6.0 project (`python manage.py`), when a
//! Python with Gluepy is available: `$GLUEPY_PYTHON`, the workspace's
//! `bench/.venv` (made by `bench/setup-gluepy.sh`) or `/tmp/gluepy-venv`.
//! Without one the test fails (`.ci/run` installs it): it never passes by
//! skipping.

mod common;

use std::process::Command;

use common::gluepy::{find_dir, python, Project, EVALUATION_PY, TASKS_PY};

#[test]
fn the_engine_drives_a_real_gluepy_project() {
    let python = python();
    let p = Project::new(&python);
    let out = p.init(&[]);
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
    // The agent is told the edit reaches the work tasks only.
    assert!(
        out.contains("configs/context.yaml change(s) the work tasks' configuration only"),
        "{out}"
    );
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

/// Supervised mode on a real Gluepy project: the scripted agent changes the
/// configuration and keeps it through the supervisor, and cannot edit the
/// evaluation module or read the answers from its sandbox.
#[test]
fn a_supervised_agent_improves_a_gluepy_project() {
    let python = python();
    let p = Project::new(&python);
    p.init(&[]);
    let script = p._tmp.path().join("agent.sh");
    std::fs::write(
        &script,
        r##"set -u
printf 'forecast:\n  offset: 2.0\n' > configs/context.yaml
"$ENGINE" run -m "offset 2" > "$OUT/run.txt" 2>&1 && "$ENGINE" keep >> "$OUT/run.txt" 2>&1
if echo "# forged" >> forecast/evaluation.py; then echo edited > "$OUT/evaluation"; fi
if cat data/truth.json; then echo read > "$OUT/answers"; fi
"##,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gluers-experiment"))
        .args(["agent", "--", "sh"])
        .arg(&script)
        .current_dir(&p.root)
        .envs(common::GIT_ENV)
        .env("GLUERS_STATE_DIR", p.state_root())
        .env("ENGINE", env!("CARGO_BIN_EXE_gluers-experiment"))
        .env("OUT", &p.root)
        .env_remove("GLUEPY_SETTINGS_MODULE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run = std::fs::read_to_string(p.root.join("run.txt")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{run}");
    assert!(
        stdout.contains("1 experiment(s) recorded: 1 kept"),
        "{stdout}\n{run}"
    );
    assert_eq!(p.rows()[1][3], "mae=2.0");
    assert!(
        !p.root.join("evaluation").exists(),
        "the agent edited the evaluation"
    );
    assert!(
        !p.root.join("answers").exists(),
        "the agent read the answers"
    );
    p.engine(&["verify"], 0);
}

#[test]
fn a_gluepy_project_gets_directions_at_init_and_a_final_test() {
    let python = python();
    let p = Project::custom(
        &format!("{} manage.py", python.display()),
        &[("data/final/truth.json", Some("[12.0, 22.0, 32.0]"))],
    );
    // Gluepy's docs are free text: the direction, a hard constraint and
    // the final test come with init.
    let out = p.init(&[
        "--direction",
        "mae=lower",
        "--constraint",
        "mae=le:6",
        "--final-test",
        "data/final/truth.json",
    ]);
    assert!(
        out.contains("goal metric        mae (lower is better, declared)"),
        "{out}"
    );
    assert!(
        out.contains("final test         final/truth.json (sealed; stands in for truth.json"),
        "{out}"
    );
    // A run over the constraint cannot be kept.
    std::fs::write(
        p.root.join("configs/context.yaml"),
        "forecast:\n  offset: 7.0\n",
    )
    .unwrap();
    let (out, _) = p.engine(&["run", "-m", "offset 7"], 0);
    assert!(
        out.contains("mae=7.0 breaks its hard constraint (must be at most 6.0)"),
        "{out}"
    );
    let (_, err) = p.engine(&["keep"], 2);
    assert!(err.contains("breaks a hard constraint"), "{err}");
    p.engine(&["discard"], 0);
    std::fs::write(
        p.root.join("configs/context.yaml"),
        "forecast:\n  offset: 2.0\n",
    )
    .unwrap();
    p.engine(&["run", "-m", "offset 2"], 0);
    p.engine(&["keep"], 0);
    // finish: the same sealed Gluepy evaluator, the final test's answers
    // in place of the holdout's: predictions 12, 22, 32 are exact there.
    let (out, _) = p.engine(&["finish"], 0);
    assert!(out.contains("scoring experiment 2"), "{out}");
    let rows = p.rows();
    let last = rows.last().unwrap();
    assert_eq!(
        (last[3].as_str(), last[4].as_str()),
        ("mae=0.0", "final"),
        "{rows:?}"
    );
    assert_eq!(rows[2][3], "mae=2.0", "the loop scored the holdout");
    p.engine(&["verify"], 0);
}

/// A batch on a real Gluepy project: three configuration candidates, two at
/// a time. Gluepy's sealed evaluator keeps its storage folder inside the
/// sealed export, so the siblings' evaluations take turns there while
/// their work tasks run side by side; every row gets its own metric.
#[test]
fn a_batch_on_a_real_gluepy_project_scores_each_candidate() {
    let python = python();
    let p = Project::new(&python);
    p.init(&[]);
    for offset in ["2.0", "3.0", "4.0"] {
        std::fs::write(
            p.root.join("configs/context.yaml"),
            format!("forecast:\n  offset: {offset}\n"),
        )
        .unwrap();
        p.engine(&["queue", "-m", &format!("offset {offset}")], 0);
    }
    p.engine(&["run", "--queued", "--jobs", "2"], 0);
    p.engine(&["discard", "3"], 0);
    p.engine(&["keep", "1"], 0);
    p.engine(&["discard", "2"], 0);
    let got: Vec<(String, String)> = p.rows()[1..]
        .iter()
        .map(|r| (r[3].clone(), r[4].clone()))
        .collect();
    let want = [
        ("mae=2.0", "keep"),
        ("mae=3.0", "discard"),
        ("mae=4.0", "discard"),
    ];
    assert_eq!(got, want.map(|(m, s)| (m.to_string(), s.to_string())));
    p.engine(&["verify"], 0);
}
