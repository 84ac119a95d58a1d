//! The standalone `gluers` binary.

use assert_cmd::Command;
use predicates::prelude::*;

fn gluers() -> Command {
    Command::cargo_bin("gluers").unwrap()
}

#[test]
fn new_creates_a_project_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    gluers()
        .args(["new", "demand_model", "--path", path])
        .assert()
        .success()
        .stdout(predicate::str::contains("cargo manage dag sample"));
    let project = dir.path().join("demand_model");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/main.rs",
        "configs/context.yaml",
        ".gitignore",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("path = "),
        "a gluers built from a checkout depends on it: {manifest}"
    );
    gluers()
        .args(["startproject", "demand_model", "--path", path])
        .assert()
        .code(2)
        .stderr(
            predicate::str::starts_with("error: ").and(predicate::str::contains("demand_model")),
        );
}

#[test]
fn new_under_a_file_size_limit_fails_with_a_line_and_leaves_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("projects/here");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 0 && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("gluers"))
        .args(["new", "demo", "--path", target.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), None, "killed by a signal: {out:?}");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot write"), "{err}");
    // Rolled back: not even the folders it created on the way.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_names_are_usage_errors_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = gluers()
        .args(["new", "fn", "--path", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn experiment_outside_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = gluers()
        .current_dir(dir.path())
        .args([
            "experiment",
            "--project-cmd",
            "python manage.py",
            "init",
            "forecast",
            "--goal",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
}

/// Runs `gluers ARGS` in `dir`; returns (stdout, stderr, exit code).
fn run_in(dir: &std::path::Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = gluers()
        .current_dir(dir)
        .env_remove("GLUERS_PROJECT_CMD")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn skill_works_in_a_rust_project_and_in_a_gluepy_project() {
    let dir = tempfile::tempdir().unwrap();
    let rust = dir.path().join("demand");
    write(&rust.join("Cargo.toml"), "[package]\nname = \"demand\"\n");
    write(&rust.join("src/main.rs"), "fn main() {}\n");
    // From a subfolder: the files go to the package folder.
    let (out, err, code) = run_in(&rust.join("src"), &["skill", "claude"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("SKILL.md"), "{out}");
    let skill = std::fs::read_to_string(rust.join(".claude/skills/gluers/SKILL.md")).unwrap();
    assert!(skill.contains("# gluers in demand"), "{skill}");
    assert!(
        skill.contains("`gluers experiment init DAG --goal"),
        "{skill}"
    );
    assert!(!skill.contains("cargo manage experiment"));

    let gluepy = dir.path().join("shop");
    write(&gluepy.join("manage.py"), "");
    let (out, err, code) = run_in(&gluepy, &["skill", "cursor"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "wrote     .cursor/skills/gluers/SKILL.md\nwrote     .cursor/skills/gluers/references/experiments.md\nwrote     .cursor/commands/experiment.md\n"
    );
    let command = std::fs::read_to_string(gluepy.join(".cursor/commands/experiment.md")).unwrap();
    assert!(
        command.contains("`gluers experiment --project-cmd \"python manage.py\" init <dag_label>"),
        "{command}"
    );

    let nowhere = dir.path().join("empty");
    std::fs::create_dir(&nowhere).unwrap();
    let (_, err, code) = run_in(&nowhere, &["skill", "github"]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1 && err.contains("manage.py"),
        "{err}"
    );
}

#[test]
fn experiment_init_finds_the_package_and_its_one_binary_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    // No package at all.
    let (_, err, code) = run_in(dir.path(), &["experiment", "init", "d", "--goal", "x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines().count() == 1 && err.contains("Cargo.toml"),
        "{err}"
    );

    // A Gluepy project without --project-cmd: the hint names it.
    write(&dir.path().join("shop/manage.py"), "");
    let (_, err, code) = run_in(
        &dir.path().join("shop"),
        &["experiment", "init", "d", "--goal", "x"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--project-cmd \"python manage.py\""), "{err}");

    // Two binaries and no --bin.
    let two = dir.path().join("two");
    write(
        &two.join("Cargo.toml"),
        "[package]\nname = \"two\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[[bin]]\nname = \"other\"\npath = \"src/other.rs\"\n",
    );
    write(&two.join("src/main.rs"), "fn main() {}\n");
    write(&two.join("src/other.rs"), "fn main() {}\n");
    let (_, err, code) = run_in(&two, &["experiment", "init", "d", "--goal", "x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines().count() == 1 && err.contains("(") && err.contains("--bin NAME"),
        "{err}"
    );
    let (_, err, code) = run_in(
        &two,
        &["experiment", "--bin", "nope", "init", "d", "--goal", "x"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no binary `nope`"), "{err}");
    // With --bin the project is resolved and the engine takes over: outside a
    // git repository it refuses, on one line.
    let (_, err, code) = run_in(
        &two,
        &["experiment", "--bin", "other", "init", "d", "--goal", "x"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1 && !err.contains("--bin"),
        "{err}"
    );
}

#[test]
fn experiment_commands_after_init_need_no_project() {
    let dir = tempfile::tempdir().unwrap();
    let (_, err, code) = run_in(dir.path(), &["experiment", "status"]);
    assert_ne!(code, Some(0));
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1 && !err.contains("Cargo.toml"),
        "{err}"
    );
}
