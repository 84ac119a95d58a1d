//! The experiment log is tamper-evident: `verify` checks the engine's hash
//! chain and the project's copy, and every other command refuses a broken
//! chain, naming the row (DESIGN.md, trust model, property 7).

mod common;

use std::path::PathBuf;

use common::Fixture;

/// The engine's canonical log of the fixture's experiment.
fn canonical(fx: &Fixture) -> PathBuf {
    fx.exp_dir().join("experiment_log.tsv")
}

/// Rewrites column `col` of line `line` (0 = header) of the file at `path`.
fn edit_column(path: &std::path::Path, line: usize, col: usize, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cols: Vec<&str> = lines[line].split('\t').collect();
    cols[col] = value;
    lines[line] = cols.join("\t");
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A fixture with an experiment of two rows: the baseline (line 2) and a
/// kept run (line 3).
fn two_rows() -> Fixture {
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(2.0, "");
    fx.engine(&["run", "-m", "smaller offset"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    fx
}

#[test]
fn verify_accepts_the_engines_log_and_names_a_hand_edited_row() {
    let fx = two_rows();
    let out = fx.engine(&["verify"]).expect(0);
    let line = out.stdout.trim();
    assert!(line.starts_with("log ok: 2 rows, chain head "), "{line}");
    assert_eq!(
        line.len(),
        "log ok: 2 rows, chain head ".len() + 12,
        "{line}"
    );
    // The canonical log has the seed's columns and the chain's two; the
    // project's copy only the seed's (Fixture::rows checks them).
    let text = std::fs::read_to_string(canonical(&fx)).unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .ends_with("\tprev_hash\trow_hash"));
    assert_eq!(fx.rows().len(), 2);

    // A better metric for experiment 1, written by hand.
    edit_column(&canonical(&fx), 2, 3, "mae=0.0;n=3");
    let out = fx.engine(&["verify"]).expect(1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("line 3 (experiment 1): the row was edited"),
        "{}",
        out.stderr
    );

    // Every command refuses it, naming the row, before changing anything.
    let head = fx.head_short();
    for args in [
        &["status"][..],
        &["run", "-m", "more"],
        &["keep"],
        &["discard"],
        &["log"],
    ] {
        if args[0] == "run" {
            fx.set_tasks(1.0, "");
        }
        let out = fx.engine(args).expect(1);
        assert!(
            out.stderr.contains("line 3 (experiment 1)") && out.stderr.contains("edited"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        fx.head_short(),
        head,
        "run committed despite the broken log"
    );
}

#[test]
fn a_removed_row_is_named() {
    let fx = two_rows();
    fx.set_tasks(3.0, "");
    fx.engine(&["run", "-m", "another"]).expect(0);
    fx.engine(&["discard"]).expect(0);
    let path = canonical(&fx);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = [lines[0], lines[1], lines[3]].to_vec();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let out = fx.engine(&["status"]).expect(1);
    assert!(
        out.stderr
            .contains("line 3 (experiment 2): a row before it was removed"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hand_edited_project_copy_is_reported_then_rewritten() {
    let fx = two_rows();
    let mirror = fx.proj.join("experiment_log.tsv");
    let good = std::fs::read_to_string(&mirror).unwrap();
    edit_column(&mirror, 2, 3, "mae=0.0;n=3");

    let out = fx.engine(&["verify"]).expect(1);
    assert!(
        out.stderr
            .contains("experiment_log.tsv line 3: it differs from the engine's log"),
        "{}",
        out.stderr
    );
    // verify changed nothing.
    assert_ne!(std::fs::read_to_string(&mirror).unwrap(), good);

    // The engine's log is intact, so commands go on and restore the copy.
    let out = fx.engine(&["status"]).expect(0);
    assert!(
        out.stderr.contains("edited outside the engine; rewritten"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&mirror).unwrap(), good);
    fx.engine(&["verify"]).expect(0);
}

#[test]
fn a_missing_key_refuses_the_log() {
    let fx = two_rows();
    std::fs::remove_file(canonical(&fx).with_file_name("log.key")).unwrap();
    let out = fx.engine(&["verify"]).expect(1);
    assert!(out.stderr.contains("log.key"), "{}", out.stderr);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
    fx.engine(&["status"]).expect(1);
}
