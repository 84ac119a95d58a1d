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
