//! End to end: a project made by `gluers new` builds and runs as it is, and
//! a module added by the project binary's `startmodule` builds and runs too.
//!
//! The generated crate depends on this checkout's `crates/gluers` (the
//! default of a `gluers` built from a checkout) and is
//! built into the same target directory as this test ($CARGO_TARGET_DIR when
//! set, else the one this test binary lives in), with this workspace's
//! `Cargo.lock` as its starting lock file, so that its registry dependencies
//! are the ones already built and only the generated crate (and, once per
//! change to gluers, gluers itself) compiles.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const PROJECT: &str = "scaffold-e2e";
const MODULE: &str = "weather-feed";

/// The workspace root of this checkout.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory to build the generated project in.
fn target_dir(project: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // This test binary lives in <target>/[<triple>/]debug/deps/; cargo marks
    // <target> with a CACHEDIR.TAG.
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| project.join("target"))
}

fn cargo(project: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir(project))
        .env_remove("CARGO_BUILD_TARGET_DIR");
    clean_env(&mut cmd);
    cmd
}

/// Removes the settings overrides a developer may have exported.
fn clean_env(cmd: &mut Command) {
    for var in ["GLUERS_SETTINGS", "GLUERS_STORAGE_ROOT", "GLUERS_LOG_LEVEL"] {
        cmd.env_remove(var);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the project; returns its executable. Fails on any error or on a
/// warning in the generated code.
fn build(project: &Path) -> PathBuf {
    let started = Instant::now();
    let out = cargo(project)
        .args(["build", "--message-format=json"])
        .output()
        .expect("cargo runs");
    let mut executable = None;
    let mut diagnostics = Vec::new();
    let mut compiled = Vec::new();
    for line in text(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = msg["target"]["name"].as_str() == Some(PROJECT);
        if msg["reason"] == "compiler-artifact" && msg["fresh"] == false {
            compiled.push(
                msg["target"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match msg["reason"].as_str() {
            Some("compiler-artifact") if ours => {
                if let Some(exe) = msg["executable"].as_str() {
                    executable = Some(PathBuf::from(exe));
                }
            }
            Some("compiler-message") if ours => {
                let level = msg["message"]["level"].as_str().unwrap_or_default();
                if level != "note" && level != "help" {
                    diagnostics.push(
                        msg["message"]["rendered"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    assert!(
        out.status.success(),
        "cargo build failed in {}:\n{}\n{}",
        project.display(),
        diagnostics.join("\n"),
        text(&out.stderr)
    );
    assert!(
        diagnostics.is_empty(),
        "the generated code has warnings:\n{}",
        diagnostics.join("\n")
    );
    eprintln!(
        "cargo build of the generated project: {:.1?}, compiled: {}",
        started.elapsed(),
        compiled.join(" ")
    );
    executable.expect("cargo build reports the project's executable")
}

fn run(project: &Path, exe: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let mut cmd = Command::new(exe);
    cmd.current_dir(project).args(args);
    clean_env(&mut cmd);
    let out = cmd.output().expect("the project binary runs");
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!("{args:?}: {:.1?}", started.elapsed());
    out
}

/// The run folders under `data/runs`, as paths.
fn run_folders(project: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if depth == 3 {
                    out.push(path);
                } else {
                    walk(&path, depth + 1, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&project.join("data/runs"), 0, &mut out);
    out
}

#[test]
fn a_new_project_builds_runs_and_grows_a_module() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gluers"))
        .args(["new", PROJECT, "--path"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "gluers new: {}", text(&out.stderr));
    let project = tmp.path().join(PROJECT);
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let runtime = std::fs::canonicalize(workspace().join("crates/gluers")).unwrap();
    assert!(
        manifest.contains(&format!("gluers = {{ path = \"{}\" }}", runtime.display())),
        "the project depends on this checkout's runtime crate: {manifest}"
    );
    // Start from this workspace's lock: the same dependency versions, already built.
    let lock = workspace().join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, project.join("Cargo.lock")).unwrap();
    }

    let exe = build(&project);
    let out = run(&project, &exe, &["dag", "sample"]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "=== GLUEPY METRICS ===")
        .unwrap_or_else(|| panic!("no metrics block in:\n{stdout}"));
    assert_eq!(lines.len(), start + 4, "{stdout}");
    for (line, key) in lines[start + 1..start + 3].iter().zip(["mae", "rmse"]) {
        let value = line
            .strip_prefix(&format!("metric:{key}="))
            .unwrap_or_else(|| panic!("expected metric:{key}=..., got {line:?}"));
        let value: f64 = value.parse().unwrap();
        assert!(value.is_finite() && value > 0.0, "{line}");
    }
    assert_eq!(lines[start + 3], "=== END METRICS ===");
    let folders = run_folders(&project);
    assert_eq!(folders.len(), 1, "{folders:?}");
    for file in [
        "context.yaml",
        "train.csv",
        "holdout.csv",
        "forecast.csv",
        "metrics.json",
    ] {
        assert!(
            folders[0].join(file).is_file(),
            "{file} missing in {}",
            folders[0].display()
        );
    }

    // The project's own example test passes: `cargo test` runs more than 0.
    let out = cargo(&project).args(["test"]).output().unwrap();
    let tests = text(&out.stdout);
    assert!(
        out.status.success() && tests.contains("test result: ok. 1 passed"),
        "cargo test of the new project:\n{tests}\n{}",
        text(&out.stderr)
    );

    // The cargo alias the project ships runs the same binary.
    let started = Instant::now();
    let out = cargo(&project)
        .args(["manage", "dag", "sample", "--describe"])
        .output()
        .unwrap();
    let describe = text(&out.stdout);
    assert!(
        out.status.success(),
        "cargo manage failed: {}",
        text(&out.stderr)
    );
    eprintln!(
        "cargo manage dag sample --describe: {:.1?}",
        started.elapsed()
    );
    assert!(
        describe.contains("score_forecast") && describe.contains("rmse"),
        "{describe}"
    );

    let out = run(&project, &exe, &["startmodule", MODULE]);
    let written = text(&out.stdout);
    assert_eq!(
        written,
        "created src/weather_feed/mod.rs\ncreated src/weather_feed/tasks.rs\ncreated src/weather_feed/evaluation.rs\ncreated configs/weather-feed.yaml\nupdated src/main.rs\nrun it: cargo manage dag weather-feed\n"
    );
    let exe = build(&project);
    let out = run(&project, &exe, &["dag", MODULE]);
    // The new module comes with an evaluation task, so its DAG logs a metric.
    assert!(
        text(&out.stdout).contains("metric:weather_feed_mean_value="),
        "{}",
        text(&out.stdout)
    );
    let folders = run_folders(&project);
    assert!(
        folders
            .iter()
            .any(|f| f.join("weather_feed_prepared.csv").is_file()),
        "no run folder has weather_feed_prepared.csv: {folders:?}"
    );

    let list = text(&run(&project, &exe, &["list"]).stdout);
    for expected in [
        "sample",
        "make_series",
        "fit_trend",
        "score_forecast",
        MODULE,
        "weather_feed_prepare",
        "weather_feed_score",
    ] {
        assert!(list.contains(expected), "`list` lacks {expected}:\n{list}");
    }
}
