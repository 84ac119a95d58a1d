//! `gluers new` and `gluers experiment` given bad input: one `error: ` line
//! on stderr, a non-zero exit, no panic, and nothing left behind (a refused
//! `gluers new` creates no folder). The project binary's corpus is in
//! `tests/fixture/tests/bad_input.rs`.

use std::path::Path;
use std::process::Command;

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    /// What the folder holds before (created by the case).
    setup: fn(&Path),
    says: &'static str,
}

fn none(_: &Path) {}

const CASES: &[Case] = &[
    Case {
        name: "a name with punctuation",
        args: &["new", "bad name!"],
        setup: none,
        says: "bad name!",
    },
    Case {
        name: "a name starting with a digit",
        args: &["new", "1project"],
        setup: none,
        says: "1project",
    },
    Case {
        name: "an empty name",
        args: &["new", ""],
        setup: none,
        says: "name",
    },
    Case {
        name: "a keyword",
        args: &["new", "fn"],
        setup: none,
        says: "fn",
    },
    Case {
        name: "a control character in the name",
        args: &["new", "a\u{1b}[31mb"],
        setup: none,
        says: "31mb",
    },
    Case {
        name: "the folder exists",
        args: &["new", "taken"],
        setup: |d| std::fs::create_dir(d.join("taken")).unwrap(),
        says: "taken",
    },
    Case {
        name: "a file is in the way",
        args: &["new", "taken"],
        setup: |d| std::fs::write(d.join("taken"), "x").unwrap(),
        says: "taken",
    },
    Case {
        name: "a missing gluers path",
        args: &["new", "p", "--gluers-path", "/nonexistent/gluers"],
        setup: none,
        says: "/nonexistent/gluers",
    },
    Case {
        name: "a gluers path without Cargo.toml",
        args: &["new", "p", "--gluers-path", "."],
        setup: none,
        says: "Cargo.toml",
    },
    Case {
        name: "no name",
        args: &["new"],
        setup: none,
        says: "<NAME>",
    },
    Case {
        name: "an unknown subcommand",
        args: &["frobnicate"],
        setup: none,
        says: "frobnicate",
    },
    Case {
        name: "an unknown skill target",
        args: &["skill", "emacs"],
        setup: none,
        says: "emacs",
    },
    Case {
        name: "experiment outside a repository",
        args: &["experiment", "status"],
        setup: none,
        says: "git",
    },
    Case {
        name: "experiment agent without a command",
        args: &["experiment", "agent"],
        setup: none,
        says: "CMD",
    },
];

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let mut failures = Vec::new();
    for case in CASES {
        let tmp = tempfile::tempdir().unwrap();
        (case.setup)(tmp.path());
        let before: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_gluers"))
            .args(case.args)
            .current_dir(tmp.path())
            .env_remove("GLUERS_PROJECT_CMD")
            .env("GLUERS_STATE_DIR", tmp.path().join(".state"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let after: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let mut wrong = Vec::new();
        if !matches!(out.status.code(), Some(1..=2)) {
            wrong.push(format!("exit {:?}", out.status.code()));
        }
        if lines.len() != 1 || !lines[0].starts_with("error: ") {
            wrong.push(format!("{} lines", lines.len()));
        }
        if !stderr.contains(case.says) {
            wrong.push(format!("does not mention `{}`", case.says));
        }
        if stderr.contains("panicked") || stderr.chars().any(|c| c.is_control() && c != '\n') {
            wrong.push("a panic or raw control characters".into());
        }
        if after
            .iter()
            .any(|p| !before.contains(p) && !p.ends_with(".state"))
        {
            wrong.push(format!("left {after:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n    {}",
                case.name,
                wrong.join(", "),
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
