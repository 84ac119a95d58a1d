//! End-to-end attacks by the agent itself (DESIGN.md "Trust model of the
//! experiment engine", properties 5 to 7): the test process acts as the
//! agent with a shell between engine commands, or while one runs. Each
//! test fails if its attack works: a recorded metric moves, the record is
//! altered, or the tampering goes unnoticed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{storage, wait_for, Fixture, EVALUATION_PY};

/// `evaluation.py` scoring every prediction perfectly, the same size as
/// the original (`abs(p - t)` becomes `abs(t - t)`).
fn forged_evaluation() -> String {
    let forged = EVALUATION_PY.replace("abs(p - t)", "abs(t - t)");
    assert_ne!(forged, EVALUATION_PY);
    assert_eq!(forged.len(), EVALUATION_PY.len());
    forged
}

/// Writes `text` to `path` keeping its modification time.
fn write_keeping_mtime(path: &Path, text: &str) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, text).unwrap();
    set_mtime(path, mtime);
}

fn set_mtime(path: &Path, mtime: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// Git replace refs make the forged evaluation look like the original:
/// first a replaced blob, then a replaced commit.
///
/// Defence: the frozen set is checked on the bytes of the engine's export,
/// written from the commit's real blobs, and every engine git call runs
/// with `GIT_NO_REPLACE_OBJECTS=1` and `core.useReplaceRefs=false`
/// (property 6). Fails with both removed from `git/hardening.rs` (the export then
/// holds the replacement's bytes, the run goes through).
#[test]
fn replace_refs_do_not_hide_an_evaluation_edit() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let kept = fx.git(&["rev-parse", "HEAD"]);
    let original_blob = fx.git(&["rev-parse", "HEAD:proj/evaluation.py"]);
    fx.write("evaluation.py", &forged_evaluation());
    fx.set_tasks(3.0, "");
    fx.git(&["commit", "--quiet", "-am", "forged evaluation"]);
    let forged_blob = fx.git(&["rev-parse", "HEAD:proj/evaluation.py"]);
    let forged_commit = fx.git(&["rev-parse", "HEAD"]);

    fx.git(&["replace", &forged_blob, &original_blob]);
    // Git is fooled: the commit shows the original and the tree is clean.
    assert_eq!(
        fx.git(&["show", "HEAD:proj/evaluation.py"]),
        EVALUATION_PY.trim_end()
    );
    assert_eq!(fx.git(&["status", "--porcelain"]), "");
    let out = fx.engine(&["run", "-m", "replaced blob"]).expect(1);
    assert!(out.stdout.contains("running HEAD"), "{}", out.stdout);
    assert!(
        out.stderr.contains("proj/evaluation.py (modified)"),
        "a replaced blob hid the edit:\n{}\n{}",
        out.stdout,
        out.stderr
    );

    // The whole commit replaced by the last kept one (the work tree and
    // the index keep the forged files, so the engine has nothing to
    // commit).
    fx.git(&["replace", "-d", &forged_blob]);
    fx.git(&["replace", &forged_commit, &kept]);
    assert_eq!(fx.git(&["rev-parse", "HEAD"]), forged_commit);
    assert_eq!(
        fx.git(&["show", "HEAD:proj/evaluation.py"]),
        EVALUATION_PY.trim_end()
    );
    let out = fx.engine(&["run", "-m", "replaced commit"]).expect(1);
    assert!(out.stdout.contains("running HEAD"), "{}", out.stdout);
    assert!(
        out.stderr.contains("proj/evaluation.py (modified)"),
        "a replaced commit hid the edit:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(fx.rows().len(), 1, "a row was recorded");
}

/// The repository tells git to trust only sizes (`core.checkStat=minimal`,
/// `core.trustctime=false`, `core.ignoreStat=true`), then the frozen data
/// and the evaluation code are edited in place, same size, with their
/// modification times put back.
///
/// Defence: frozen files are hashed in-process; the engine's stat cache
/// includes the change time, which cannot be set back; its git calls
/// override the stat settings (property 6). Fails with the change time
/// left out of `fsutil::Stamp` (the data edit is then not seen).
#[test]
fn git_stat_settings_do_not_hide_an_edit_with_the_mtime_restored() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    // One run first, so that the engine's stat cache vouches for the data.
    fx.set_tasks(3.0, "");
    fx.engine(&["run", "-m", "honest"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    for (k, v) in [
        ("core.checkStat", "minimal"),
        ("core.trustctime", "false"),
        ("core.ignoreStat", "true"),
    ] {
        fx.git(&["config", k, v]);
    }
    // Re-adding under ignoreStat marks the index entries assume-unchanged.
    fx.git(&["update-index", "--really-refresh"]);

    let truth = storage(&fx, "truth.json");
    let original = std::fs::read_to_string(&truth).unwrap();
    write_keeping_mtime(&truth, "[13.0, 23.0, 33.0]\n");
    let out = fx.engine(&["run", "-m", "answers moved"]).expect(1);
    assert!(
        out.stderr
            .contains("proj/data/truth.json (modified (untracked))"),
        "the data edit went unnoticed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    write_keeping_mtime(&truth, &original);

    let eval = fx.proj.join("evaluation.py");
    write_keeping_mtime(&eval, &forged_evaluation());
    let out = fx.engine(&["run", "-m", "evaluation edited"]);
    if out.code == 0 {
        // Git did not see the edit: it was not committed, and what ran is
        // the commit.
        assert_eq!(fx.pending_metrics(), "mae=3.0;n=3", "{out:?}");
        assert_eq!(
            fx.git(&["show", "HEAD:proj/evaluation.py"]),
            EVALUATION_PY.trim_end()
        );
    } else {
        assert!(
            out.stderr.contains("proj/evaluation.py (modified)"),
            "{out:?}"
        );
    }
    assert_eq!(fx.rows().len(), 2, "a row was recorded");
}

/// Plain git in the fixture's repository with everything the armed config
/// could run switched off, for the test's own reading.
fn read_git(fx: &Fixture, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .current_dir(&fx.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    out.stdout
}

/// A script `name` in `dir` that leaves `marks/<name>` and then behaves as
/// `cat` (a filter) or succeeds (a hook).
fn marker(dir: &Path, marks: &Path, name: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ntouch '{}'\nexec cat 2>/dev/null\n",
            marks.join(name).display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

fn marks(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What `git_hardening.rs` does not arm: signing (`commit.gpgSign` with a
/// `gpg.program`), `core.attributesFile` and an `include.path` in the
/// repository's config, a `core.hooksPath` folder with every hook
/// (`post-checkout` during `discard`'s reset, `post-index-change`,
/// `reference-transaction`, ...), config-based hooks (`hook.*.command`),
/// a long-running `filter.*.process`, and line-ending conversion
/// (`core.autocrlf`, `core.eol`) on a file with CRLF endings.
///
/// Defence: the `-c` overrides and `--no-gpg-sign` of every engine git call
/// (property 6). Fails with `core.hooksPath=/dev/null` removed from
/// `git/hardening.rs` (hooks run), or `core.autocrlf=false` removed (the committed
/// bytes are converted).
#[test]
fn repository_config_runs_nothing_and_converts_nothing() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let marks_dir = fx.tmp.path().join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let bin = fx.tmp.path().join("bin");
    let hooks = fx.tmp.path().join("hooks");
    for hook in [
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
        "fsmonitor-watchman",
    ] {
        marker(&hooks, &marks_dir, hook);
    }
    let attributes = fx.tmp.path().join("attributes");
    std::fs::write(&attributes, "* filter=evil3\n*.py filter=evil4\n").unwrap();
    let include = fx.tmp.path().join("included.config");
    std::fs::write(
        &include,
        format!(
            "[core]\n\tfsmonitor = {}\n[filter \"evil5\"]\n\tclean = {}\n",
            marker(&bin, &marks_dir, "included-fsmonitor"),
            marker(&bin, &marks_dir, "included-clean"),
        ),
    )
    .unwrap();
    let config: Vec<(&str, String)> = vec![
        ("commit.gpgSign", "true".into()),
        ("gpg.program", marker(&bin, &marks_dir, "gpg")),
        ("core.attributesFile", attributes.display().to_string()),
        ("filter.evil3.clean", marker(&bin, &marks_dir, "clean3")),
        ("filter.evil3.smudge", marker(&bin, &marks_dir, "smudge3")),
        ("filter.evil4.process", marker(&bin, &marks_dir, "process4")),
        ("filter.evil4.required", "true".into()),
        ("include.path", include.display().to_string()),
        ("core.hooksPath", hooks.display().to_string()),
        ("hook.evil.command", marker(&bin, &marks_dir, "config-hook")),
        ("hook.evil.event", "post-commit".into()),
        ("core.autocrlf", "true".into()),
        ("core.eol", "crlf".into()),
        ("core.safecrlf", "true".into()),
        ("core.pager", marker(&bin, &marks_dir, "pager")),
        ("core.sshCommand", marker(&bin, &marks_dir, "ssh")),
        ("diff.external", marker(&bin, &marks_dir, "diff")),
    ];
    for (k, v) in &config {
        fx.git(&["config", "--add", k, v]);
    }
    assert!(
        marks(&marks_dir).is_empty(),
        "arming ran something: {:?}",
        marks(&marks_dir)
    );

    // The agent's change, with CRLF line endings.
    let crlf = common::tasks_py(2.0, "").replace('\n', "\r\n");
    fx.write("tasks.py", &crlf);
    fx.engine(&["run", "-m", "armed repository"]).expect(0);
    assert_eq!(
        marks(&marks_dir),
        Vec::<String>::new(),
        "the engine's run ran the repository's programs"
    );
    assert_eq!(fx.pending_metrics(), "mae=2.0;n=3");
    assert_eq!(
        String::from_utf8(read_git(&fx, &["cat-file", "blob", "HEAD:proj/tasks.py"])).unwrap(),
        crlf,
        "the committed bytes are not the work tree's"
    );
    let sig = read_git(&fx, &["cat-file", "commit", "HEAD"]);
    assert!(
        !String::from_utf8_lossy(&sig).contains("gpgsig"),
        "the engine's commit is signed"
    );

    // discard: reset --hard (post-checkout, post-index-change, ...).
    fx.engine(&["discard"]).expect(0);
    assert_eq!(
        marks(&marks_dir),
        Vec::<String>::new(),
        "the engine's discard ran the repository's programs"
    );
    assert!(fx.read("tasks.py").contains("OFFSET = 5.0"));
    fx.write("tasks.py", &crlf);
    fx.engine(&["run", "-m", "again"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    fx.engine(&["status"]).expect(0);
    fx.engine(&["log"]).expect(0);
    fx.engine(&["verify"]).expect(0);
    assert_eq!(
        marks(&marks_dir),
        Vec::<String>::new(),
        "an engine command ran the repository's programs"
    );
}

/// An edit of the state's JSON.
type StateEdit = fn(&mut serde_json::Value);

/// Reads the state, applies `edit`, writes it back (as an agent with a
/// text editor would).
fn edit_state(fx: &Fixture, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = fx.exp_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut state);
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
}

/// A fixture with the baseline (mae 5) and a kept run (mae 2).
fn two_rows() -> Fixture {
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(2.0, "");
    fx.engine(&["run", "-m", "smaller offset"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    fx
}

/// Hand edits of `state.json` (without the log key): a better baseline or
/// best kept run, the sandbox switched off, the sealed data unsealed, and
/// the pending run's metrics, which `keep` would chain into the log.
///
/// Defence: the state carries a keyed hash under the log's key; every
/// command and `verify` refuse a state that does not match it (property
/// 7). Fails without that check (`Ctx::open` not calling
/// `State::check_mac`): the edits are taken at face value and `keep`
/// writes the forged metric into the chained log.
#[test]
fn hand_edits_of_the_state_are_refused() {
    if !common::prerequisites() {
        return;
    }
    let fx = two_rows();
    let path = fx.exp_dir().join("state.json");
    let good = std::fs::read(&path).unwrap();
    let edits: [(&str, StateEdit); 4] = [
        ("baseline", |s| s["baseline"][0]["value"] = 50.0.into()),
        ("best_kept", |s| s["best_kept"][0]["value"] = 99.0.into()),
        ("sandboxed", |s| s["sandboxed"] = false.into()),
        ("eval_data", |s| s["eval_data"] = serde_json::json!([])),
    ];
    for (what, edit) in edits {
        edit_state(&fx, edit);
        for args in [&["status"][..], &["verify"], &["log"]] {
            let out = fx.engine(args).expect(1);
            assert!(
                out.stderr.contains("state.json") && out.stderr.contains("edited"),
                "{what} edited by hand, `{}` did not say so:\n{}\n{}",
                args[0],
                out.stdout,
                out.stderr
            );
        }
        fx.set_tasks(1.0, "");
        let head = fx.head_short();
        let out = fx.engine(&["run", "-m", "after a state edit"]).expect(1);
        assert!(out.stderr.contains("state.json"), "{what}: {out:?}");
        assert_eq!(fx.head_short(), head, "{what}: run committed");
        std::fs::write(&path, &good).unwrap();
        fx.engine(&["status"]).expect(0);
    }
    fx.git(&["checkout", "--quiet", "--", "."]);

    // The pending run's metrics, forged before `keep`.
    fx.set_tasks(4.0, "");
    fx.engine(&["run", "-m", "worse"]).expect(0);
    assert_eq!(fx.pending_metrics(), "mae=4.0;n=3");
    let pending = std::fs::read(&path).unwrap();
    edit_state(&fx, |s| s["pending"]["metrics"][0]["value"] = 0.0.into());
    let out = fx.engine(&["keep"]).expect(1);
    assert!(out.stderr.contains("state.json"), "{out:?}");
    assert_eq!(fx.rows().len(), 2, "keep recorded the forged metric");
    std::fs::write(&path, &pending).unwrap();
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[2][3], "mae=4.0;n=3");
    fx.engine(&["verify"]).expect(0);
}

/// The last canonical row removed (and the project's copy's): `verify`
/// names it; also when the state's chain head is moved back to the row
/// before (which needs no key).
///
/// Defence: the state records the chain head; the state itself is keyed
/// (property 7). The first half fails without `log_head` in
/// `verify_chain`, the second without the state's keyed hash.
#[test]
fn removing_the_last_canonical_row_is_evident() {
    if !common::prerequisites() {
        return;
    }
    let fx = two_rows();
    let canonical = fx.exp_dir().join("experiment_log.tsv");
    let mirror = fx.proj.join("experiment_log.tsv");
    let drop_last = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(p, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
        lines[lines.len() - 2].to_string()
    };
    let new_last = drop_last(&canonical);
    drop_last(&mirror);
    let out = fx.engine(&["verify"]).expect(1);
    assert!(out.stderr.contains("experiment_log.tsv"), "{}", out.stderr);
    fx.engine(&["status"]).expect(1);

    // Cover it up: the state's chain head now names the remaining last row.
    let head = new_last.rsplit('\t').next().unwrap().to_string();
    edit_state(&fx, |s| {
        s["log_head"] = head.clone().into();
        s["next_id"] = 1.into();
        s["kept_experiment"] = 0.into();
    });
    let out = fx.engine(&["verify"]).expect(1);
    assert!(
        out.stderr.contains("state.json") || out.stderr.contains("experiment_log.tsv"),
        "a removed row went unnoticed: {}",
        out.stderr
    );
    fx.engine(&["status"]).expect(1);
}

/// An evaluation that takes two seconds, reading the answers after one.
const SLOW_EVALUATION_PY: &str = r#"import json, os, time
from framework import EvaluationTask


class ComputeAccuracy(EvaluationTask):
    """Metrics:
    mae: mean absolute error of the predictions. Lower is better.
    n: number of points compared.
    """

    label = "compute_accuracy"

    def run(self, root, run_dir):
        time.sleep(1.0)
        with open(os.path.join(root, "truth.json")) as f:
            truth = json.load(f)
        time.sleep(1.0)
        with open(os.path.join(run_dir, "predictions.json")) as f:
            preds = json.load(f)
        mae = sum(abs(p - t) for p, t in zip(preds, truth)) / len(truth)
        with open(os.path.join(run_dir, "metrics.json"), "w") as f:
            json.dump({"mae": mae, "n": len(truth)}, f, indent=2)
"#;

/// While the sealed evaluation runs, the agent swaps the frozen answers
/// (`data/truth.json`) and the engine's sealed snapshot of them for the
/// candidate's predictions, and restores both (bytes and mtime) after the
/// evaluator has read them.
///
/// Defence: the evaluator reads a copy of the sealed snapshot made into its
/// own folder before it starts, after the snapshot was checked by its
/// bytes (properties 4 and 5). Fails with `evaluator::prepare` linking the
/// live data instead of copying the snapshot (and `init --no-sandbox`, so
/// that the evaluator may follow the link).
#[test]
fn answers_swapped_during_the_evaluation_do_not_count() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::with_files(&[("evaluation.py", SLOW_EVALUATION_PY)]);
    fx.init();
    assert_eq!(fx.rows()[0][3], "mae=5.0;n=3");
    fx.set_tasks(3.0, "");
    let engine = fx
        .engine_cmd(&["run", "-m", "swap the answers"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(30, || fx.state()["in_progress"]["phase"]
            == "sealed evaluation"),
        "the run never reached its evaluation"
    );
    let answers = [
        storage(&fx, "truth.json"),
        fx.exp_dir().join("sealed-data/truth.json"),
    ];
    let saved: Vec<(String, SystemTime)> = answers
        .iter()
        .map(|p| {
            (
                std::fs::read_to_string(p).unwrap(),
                std::fs::metadata(p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    for p in &answers {
        // The candidate predicts these: a perfect score if they counted.
        std::fs::write(p, "[13.0, 23.0, 33.0]\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(1500));
    for (p, (text, mtime)) in answers.iter().zip(&saved) {
        std::fs::write(p, text).unwrap();
        set_mtime(p, *mtime);
    }
    let out = engine.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert_eq!(
            fx.pending_metrics(),
            "mae=3.0;n=3",
            "the swapped answers were evaluated:\n{stdout}\n{stderr}"
        );
        fx.engine(&["keep"]).expect(0);
        assert_eq!(fx.rows()[1][3], "mae=3.0;n=3");
    } else {
        assert!(
            stdout.contains("crash") || stderr.contains("changed"),
            "{stdout}\n{stderr}"
        );
        assert!(!stdout.contains("mae=0"), "{stdout}");
    }
}
