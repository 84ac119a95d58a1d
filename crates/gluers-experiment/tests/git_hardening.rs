//! The repository and the caller's environment cannot make the engine's own
//! git calls run anything or look elsewhere (DESIGN.md, trust model,
//! property 6): hooks, clean/smudge filters from `.gitattributes` and
//! `info/attributes`, fsmonitor, `core.worktree`, `GIT_DIR` and friends.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Fixture;

/// Plain git in the fixture's repository with an explicit work tree (the
/// repository's `core.worktree` points nowhere in these tests), hooks off,
/// for the test's own reading.
fn read_git(fx: &Fixture, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg(format!("--work-tree={}", fx.root.display()))
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
        ])
        .args(args)
        .current_dir(&fx.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An executable hook `name` in `dir` that leaves `marks/hook-<name>`.
fn hook(dir: &Path, marks: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    let mark = marks.join(format!("hook-{name}"));
    std::fs::write(&p, format!("#!/bin/sh\ntouch '{}'\n", mark.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn marks(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "hooks")
        .collect();
    v.sort();
    v
}

#[test]
fn the_engine_runs_no_hook_filter_or_fsmonitor_of_the_repository() {
    let fx = Fixture::new();
    fx.init();
    let marks_dir = fx.tmp.path().join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let mark = |n: &str| marks_dir.join(n).display().to_string();

    // The agent arms the repository.
    for (k, v) in [
        (
            "filter.evil.clean",
            format!("sh -c 'touch {}; cat'", mark("clean")),
        ),
        (
            "filter.evil.smudge",
            format!("sh -c 'touch {}; cat'", mark("smudge")),
        ),
        (
            "filter.evil2.clean",
            format!("sh -c 'touch {}; cat'", mark("info-clean")),
        ),
        (
            "filter.evil2.smudge",
            format!("sh -c 'touch {}; cat'", mark("info-smudge")),
        ),
        ("filter.evil2.required", "true".into()),
        ("core.fsmonitor", format!("touch {}", mark("fsmonitor"))),
        ("gc.auto", "1".into()),
    ] {
        fx.git(&["config", k, &v]);
    }
    fx.write(".gitattributes", "* filter=evil\n");
    std::fs::write(fx.root.join(".git/info/attributes"), "*.py filter=evil2\n").unwrap();
    for name in [
        "pre-commit",
        "prepare-commit-msg",
        "commit-msg",
        "post-commit",
        "post-checkout",
        "post-rewrite",
        "reference-transaction",
        "pre-auto-gc",
    ] {
        hook(&fx.root.join(".git/hooks"), &marks_dir, name);
    }
    let elsewhere = marks_dir.join("hooks");
    hook(&elsewhere, &marks_dir, "post-commit");
    fx.git(&["config", "core.hooksPath", &elsewhere.display().to_string()]);
    // Last: plain git in the fixture helper no longer finds the work tree.
    fx.git(&["config", "core.worktree", "/nonexistent-worktree"]);

    // A run (add, commit, status, frozen check) and a discard (reset
    // --hard): none of it runs.
    fx.set_tasks(2.0, "");
    fx.engine(&["run", "-m", "armed repository"]).expect(0);
    assert_eq!(marks(&marks_dir), Vec::<String>::new());
    // Committed as written, by the engine's identity, in the real work tree.
    assert_eq!(
        read_git(&fx, &["show", "HEAD:proj/tasks.py"]),
        common::tasks_py(2.0, "").trim_end()
    );
    assert_eq!(
        read_git(&fx, &["show", "HEAD:proj/.gitattributes"]),
        "* filter=evil"
    );
    assert_eq!(
        read_git(&fx, &["log", "-1", "--format=%an <%ae>"]),
        "Test <test@example.invalid>"
    );
    fx.engine(&["discard"]).expect(0);
    assert_eq!(marks(&marks_dir), Vec::<String>::new());
    assert!(fx.read("tasks.py").contains("OFFSET = 5.0"));
    fx.engine(&["status"]).expect(0);
    fx.engine(&["verify"]).expect(0);
    assert_eq!(marks(&marks_dir), Vec::<String>::new());
}

#[test]
fn the_callers_git_environment_does_not_reach_the_engines_git() {
    let fx = Fixture::new();
    fx.init();
    let decoy = fx.tmp.path().join("decoy");
    std::fs::create_dir_all(&decoy).unwrap();
    let out = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&decoy)
        .output()
        .unwrap();
    assert!(out.status.success());
    let marks_dir = fx.tmp.path().join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let evil_hooks = marks_dir.join("hooks");
    hook(&evil_hooks, &marks_dir, "post-commit");
    hook(&evil_hooks, &marks_dir, "pre-commit");

    fx.set_tasks(2.0, "");
    let out = fx
        .engine_cmd(&["run", "-m", "hostile environment"])
        .env("GIT_DIR", decoy.join(".git"))
        .env("GIT_WORK_TREE", &decoy)
        .env("GIT_INDEX_FILE", decoy.join("index"))
        .env("GIT_OBJECT_DIRECTORY", "/nonexistent")
        .env("GIT_EXEC_PATH", "/nonexistent")
        .env(
            "GIT_CONFIG_PARAMETERS",
            format!("'core.hooksPath'='{}'", evil_hooks.display()),
        )
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "core.fsmonitor")
        .env(
            "GIT_CONFIG_VALUE_0",
            format!("touch {}", marks_dir.join("fsmonitor").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(marks(&marks_dir), Vec::<String>::new());
    assert_eq!(fx.git(&["log", "-1", "--format=%s"]), "hostile environment");
    assert!(!decoy.join("index").exists());
    let decoy_log = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .current_dir(&decoy)
        .output()
        .unwrap();
    assert!(!decoy_log.status.success(), "the decoy got a commit");
}
