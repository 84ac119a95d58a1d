//! A scripted agent drives the experiment engine (this package's `gluers`
//! binary) on a copy of `examples/forecast` in a temporary git repository,
//! with real cargo builds and the real `git`: baseline, a kept improvement, a
//! discarded regression, a crash, a timeout, and an attempt to edit the
//! evaluation; then, on a fresh copy, a kept run that is not better and the
//! final test scored by `finish`, checked against the seasonal naive
//! forecast computed here from the example's CSV files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The copy gets its own package name: it builds in the shared target
/// directory, and its agent-edited binary must not replace this example's.
const MANIFEST: &str = r#"[package]
name = "forecast-agent-copy"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
anyhow = "1"
clap = { version = "4.5", features = ["derive"] }
gluers = { path = "GLUERS_PATH" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 2
debug = false
"#;

struct Repo {
    _dir: tempfile::TempDir,
    /// The engine's state root: a folder of its own, not below the
    /// repository's parent (where the agent plants a cargo config).
    state: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    /// A standalone copy of the example, committed, with its input data
    /// untracked (ignored) as a data folder usually is.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("forecast");
        let example = example();
        for sub in [
            "src",
            "configs",
            "patches",
            ".cargo",
            "data/input",
            "data/holdout",
            "data/final",
        ] {
            copy_dir(&example.join(sub), &root.join(sub));
        }
        let gluers = example.join("../../crates/gluers").canonicalize().unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            MANIFEST.replace("GLUERS_PATH", gluers.to_str().unwrap()),
        )
        .unwrap();
        // The workspace's lock file pins the same dependency versions, so the
        // shared target directory's builds are reused.
        std::fs::copy(example.join("../../Cargo.lock"), root.join("Cargo.lock")).unwrap();
        std::fs::write(root.join(".gitignore"), "/target/\n/data/\n").unwrap();
        let repo = Repo {
            _dir: dir,
            state: tempfile::tempdir().unwrap(),
            root,
        };
        // Build once, as the user did before committing: cargo trims the lock file.
        ok(repo.manage(&["list"]));
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "forecast example"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(&self.root)
            .args([
                "-c",
                "user.name=agent",
                "-c",
                "user.email=agent@example.invalid",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `cargo manage ARGS` in the project, as an agent types it.
    fn manage(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["run", "--quiet", "--"]).args(args);
        self.agent_env(&mut cmd).output().unwrap()
    }

    /// `gluers ARGS` in the project, as an agent types it.
    fn gluers(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gluers"));
        cmd.args(args);
        self.agent_env(&mut cmd).output().unwrap()
    }

    /// The agent's shell: in the project folder, with a git identity, and
    /// builds in the shared target directory.
    fn agent_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.current_dir(&self.root)
            .env("GIT_AUTHOR_NAME", "agent")
            .env("GIT_AUTHOR_EMAIL", "agent@example.invalid")
            .env("GIT_COMMITTER_NAME", "agent")
            .env("GIT_COMMITTER_EMAIL", "agent@example.invalid")
            .env("GLUERS_STATE_DIR", self.state.path())
            .env_remove("GLUERS_STORAGE_ROOT")
            .env_remove("GLUERS_PROJECT_CMD")
            .env_remove("CARGO_MANIFEST_DIR");
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            cmd.env("CARGO_TARGET_DIR", target);
        } else {
            // Share the build directory of this test's own workspace.
            let exe = std::env::current_exe().unwrap();
            let target = exe.ancestors().nth(3).unwrap().to_path_buf();
            cmd.env("CARGO_TARGET_DIR", target);
        }
        cmd
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }
}

/// The example this test copies.
fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/forecast")
        .canonicalize()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "runs" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The `forecast_mape` of a log row's metrics column.
fn mape(row: &str) -> f64 {
    let metrics = row.split('\t').nth(3).unwrap();
    metrics
        .split(';')
        .find_map(|kv| kv.strip_prefix("forecast_mape="))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_scripted_agent_improves_the_forecast_with_frozen_evaluation() {
    let repo = Repo::new();
    let agent = example().join("tests/agent");

    // Set-up: the engine freezes the evaluation and the input data, builds
    // the sealed evaluator and runs the baseline.
    let out = ok(repo.gluers(&[
        "experiment",
        "init",
        "forecast",
        "--goal",
        "lower forecast_mape",
        "--freeze",
        "data/input",
    ]));
    assert!(out.contains("src/evaluation.rs"), "{out}");
    assert!(out.contains("data/input"), "{out}");
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(
        repo.git(&["branch", "--show-current"]).trim(),
        "experiment/forecast"
    );

    // 1. A real improvement: a temperature-aware regression. Kept.
    std::fs::copy(
        agent.join("train_temperature.rs"),
        repo.root.join("src/tasks/train.rs"),
    )
    .unwrap();
    std::fs::copy(
        agent.join("predict_temperature.rs"),
        repo.root.join("src/tasks/predict.rs"),
    )
    .unwrap();
    let out = ok(repo.gluers(&[
        "experiment",
        "run",
        "-m",
        "temperature-aware regression per half hour",
    ]));
    assert!(out.contains("forecast_mape"), "{out}");
    ok(repo.gluers(&["experiment", "keep"]));
    let kept = repo.git(&["rev-parse", "HEAD"]).trim().to_string();

    // 2. An attack: move the goalposts in the evaluation. Refused, nothing runs.
    let evaluation = repo.read("src/evaluation.rs");
    repo.write(
        "src/evaluation.rs",
        &evaluation.replace("abs_pct / n * 100.0", "abs_pct / n"),
    );
    let out = repo.gluers(&["experiment", "run", "-m", "rescale the metric"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("src/evaluation.rs"), "{}", text(&out));
    // The agent puts the evaluation back (its commit stays for it to fix).
    repo.git(&["reset", "-q", "--hard", &kept]);

    // 3. A regression: a worse model. Discarded, the branch goes back.
    let train = repo.read("src/tasks/train.rs");
    repo.write(
        "src/tasks/train.rs",
        &train.replace(
            "const TRAIN_WEEKS: usize = 8;",
            "const TRAIN_WEEKS: usize = 40;",
        ),
    );
    ok(repo.gluers(&["experiment", "run", "-m", "fit on the whole year"]));
    ok(repo.gluers(&["experiment", "discard"]));
    assert_eq!(repo.git(&["rev-parse", "HEAD"]).trim(), kept);

    // 4. A crash: the work task fails. Recorded as crash, branch reset.
    let predict = repo.read("src/tasks/predict.rs");
    repo.write(
        "src/tasks/predict.rs",
        &predict.replace("let features: Vec<Features>", "anyhow::bail!(\"out of memory (simulated)\");\n        #[allow(unreachable_code)]\n        let features: Vec<Features>"),
    );
    let out = repo.gluers(&["experiment", "run", "-m", "a bigger model"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("out of memory (simulated)"),
        "the log tail is shown: {}",
        text(&out)
    );
    let out = repo.gluers(&["experiment", "keep"]);
    assert_ne!(out.status.code(), Some(0), "a crash cannot be kept");
    ok(repo.gluers(&["experiment", "discard"]));
    assert_eq!(repo.git(&["rev-parse", "HEAD"]).trim(), kept);

    // 5. A timeout: the work task hangs. Killed, recorded as timeout.
    let predict = repo.read("src/tasks/predict.rs");
    repo.write(
        "src/tasks/predict.rs",
        &predict.replace("let features: Vec<Features>", "std::thread::sleep(std::time::Duration::from_secs(600));\n        let features: Vec<Features>"),
    );
    let out = repo.gluers(&[
        "experiment",
        "run",
        "-m",
        "an exhaustive search",
        "--timeout",
        "60",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).to_lowercase().contains("timeout") || text(&out).contains("timed out"),
        "{}",
        text(&out)
    );
    ok(repo.gluers(&["experiment", "discard"]));
    assert_eq!(repo.git(&["rev-parse", "HEAD"]).trim(), kept);

    // 6. An edit that does not compile: a crash row, and every engine
    // command still works (no engine code is built from the repository).
    let train = repo.read("src/tasks/train.rs");
    repo.write(
        "src/tasks/train.rs",
        &format!("{train}\nthis is not Rust\n"),
    );
    let out = repo.gluers(&["experiment", "run", "-m", "half-typed edit"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cargo build"), "{}", text(&out));
    ok(repo.gluers(&["experiment", "status"]));
    ok(repo.gluers(&["experiment", "discard"]));
    assert_eq!(repo.git(&["rev-parse", "HEAD"]).trim(), kept);

    // 7. The DAG's evaluation wiring (which the agent's file also lists the
    // work tasks in) changes: refused as a crash, whatever the file.
    let dags = repo.read("src/dags.rs");
    repo.write(
        "src/dags.rs",
        &dags.replace(".eval_task(ComputeAccuracy)", ""),
    );
    let out = repo.gluers(&["experiment", "run", "-m", "no evaluation"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("evaluation wiring changed"),
        "{}",
        text(&out)
    );
    ok(repo.gluers(&["experiment", "discard"]));

    // 8. Attacks from the candidate, all in one commit that also adds a
    // work task to the DAG (which is the agent's to change): a build script
    // under another name and a work task try to read the answers and the
    // engine's state and to write outside their folders; a cargo config in
    // the repository's parent folder and the agent's environment try to
    // change the build. The run goes through, with none of it effective.
    let parent = repo.root.parent().unwrap();
    std::fs::create_dir_all(parent.join(".cargo")).unwrap();
    std::fs::write(
        parent.join(".cargo/config.toml"),
        "[env]\nGLUERS_PARENT_CONFIG = \"applied\"\n[build]\nrustflags = [\"--cfg\", \"gluers_cheat\"]\n",
    )
    .unwrap();
    let holdout = repo.root.join("data/holdout/actuals.csv");
    let fill = |t: &str| {
        t.replace("@HOLDOUT@", holdout.to_str().unwrap())
            .replace("@STATE@", repo.state.path().to_str().unwrap())
            .replace("@REPO@", repo.root.to_str().unwrap())
    };
    std::fs::create_dir_all(repo.root.join("tools")).unwrap();
    repo.write("tools/gen.rs", &fill(BUILD_SCRIPT));
    repo.write("src/tasks/probe.rs", &fill(PROBE_TASK));
    let manifest = repo.read("Cargo.toml");
    repo.write(
        "Cargo.toml",
        &manifest.replacen(
            "publish = false\n",
            "publish = false\nbuild = \"tools/gen.rs\"\n",
            1,
        ),
    );
    let tasks = repo.read("src/tasks/mod.rs");
    repo.write(
        "src/tasks/mod.rs",
        &format!("{tasks}\nmod probe;\npub use probe::ProbeTask;\n"),
    );
    repo.write(
        "src/dags.rs",
        &dags
            .replace("use crate::tasks::{", "use crate::tasks::{ProbeTask, ")
            .replace(
                ".task(PredictTask)",
                ".task(PredictTask)\n        .task(ProbeTask)",
            ),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gluers"));
    cmd.args(["experiment", "run", "-m", "a probe task"]);
    repo.agent_env(&mut cmd)
        .env("LD_PRELOAD", "/nonexistent/evil.so")
        .env("RUSTFLAGS", "--cfg gluers_cheat")
        .env("CARGO_BUILD_RUSTFLAGS", "--cfg gluers_cheat")
        .env("GLUERS_SECRET", "1");
    let out = ok(cmd.output().unwrap());
    let run_id = out
        .split_whitespace()
        .skip_while(|w| *w != "(run")
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches(',')
        .to_string();
    let probe = find_file(&repo.root.join("data/runs"), &run_id, "probe.txt")
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|| panic!("no probe.txt for run {run_id}: {out}"));
    for line in [
        "holdout_readable=false",
        "state_readable=false",
        "log_writable=false",
        "parent_config=None",
        "cheat_cfg=false",
        "ld_preload=None",
        "gluers_secret=None",
        "build_read_holdout=false",
        "build_wrote_repo=false",
    ] {
        assert!(
            probe.lines().any(|l| l == line),
            "{line} expected in:\n{probe}"
        );
    }
    assert!(!repo.root.join("leaked_by_build.txt").exists());
    ok(repo.gluers(&["experiment", "discard"]));
    std::fs::remove_dir_all(parent.join(".cargo")).unwrap();
    ok(repo.gluers(&["experiment", "verify"]));

    // The log holds exactly those rows, in order.
    let log = repo.read("experiment_log.tsv");
    let rows: Vec<&str> = log.lines().collect();
    assert_eq!(
        rows[0],
        "experiment_id\ttimestamp\trun_id\tmetrics\tstatus\tdescription\tcommit\tduration_seconds"
    );
    let statuses: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split('\t').nth(4).unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["keep", "keep", "discard", "crash", "timeout", "crash", "crash", "discard"],
        "{log}"
    );
    assert_eq!(
        format!("{:.2}", mape(rows[8])),
        "4.23",
        "the probe changed no metric: {log}"
    );
    assert_eq!(format!("{:.2}", mape(rows[1])), "5.55", "baseline: {log}");
    assert_eq!(
        format!("{:.2}", mape(rows[2])),
        "4.23",
        "improvement: {log}"
    );
    assert!(mape(rows[3]) > mape(rows[2]), "{log}");
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row.split('\t').next().unwrap(), i.to_string(), "{log}");
    }

    // The branch holds only the kept commit on top of the base.
    let commits = repo.git(&["rev-list", &format!("{base}..HEAD")]);
    assert_eq!(commits.lines().collect::<Vec<_>>(), [kept.as_str()]);
    assert!(
        repo.git(&["status", "--porcelain"]).is_empty(),
        "log files stay untracked"
    );

    let status = ok(repo.gluers(&["experiment", "status"]));
    assert!(status.contains("experiment/forecast"), "{status}");
    ok(repo.gluers(&["experiment", "report", "--out", "progress.svg"]));
    assert!(repo.read("progress.svg").contains("<svg"));
}

/// A metric of a log row's metrics column.
fn metric_of(row: &str, name: &str) -> f64 {
    let metrics = row.split('\t').nth(3).unwrap();
    metrics
        .split(';')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {row}"))
        .parse()
        .unwrap()
}

/// The rows (header included) of a CSV file under the example's `data/`.
fn csv_rows(rel: &str) -> Vec<String> {
    std::fs::read_to_string(example().join("data").join(rel))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// MAPE (percent) and bias (GW) of the weekly seasonal naive forecast (the
/// last 336 half hours of the training table, repeated) on the answers in
/// `actuals`, computed from the CSV files with none of the example's code.
fn seasonal_naive(actuals: &str) -> (f64, f64) {
    let col = |row: &str, i: usize| row.split(',').nth(i).unwrap().to_string();
    let train = csv_rows("input/vic_elec_2014_train.csv");
    let last: Vec<f64> = train[train.len() - 336..]
        .iter()
        .map(|r| col(r, 1).parse().unwrap())
        .collect();
    let to_forecast = csv_rows("input/vic_elec_2014_to_forecast.csv");
    let predicted: std::collections::HashMap<String, f64> = to_forecast[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| (col(r, 0), last[i % 336]))
        .collect();
    let answers = csv_rows(actuals);
    let (mut ape, mut diff) = (0.0, 0.0);
    for r in &answers[1..] {
        let actual: f64 = col(r, 1).parse().unwrap();
        let p = predicted[&col(r, 0)];
        ape += ((p - actual) / actual).abs();
        diff += p - actual;
    }
    let n = (answers.len() - 1) as f64;
    (ape / n * 100.0, diff / n)
}

#[test]
fn finish_scores_the_best_kept_commit_once_on_the_sealed_final_test() {
    let repo = Repo::new();
    // The example declares its final test (`Dag::final_test_data`): init
    // seals it beside the holdout.
    let out = ok(repo.gluers(&[
        "experiment",
        "init",
        "forecast",
        "--goal",
        "lower forecast_mape",
    ]));
    assert!(
        out.contains("final test         final/actuals.csv (sealed; stands in for holdout/actuals.csv at `finish` only)"),
        "{out}"
    );
    assert!(
        out.contains("goal metric        forecast_mape (lower is better, declared)"),
        "{out}"
    );
    // Nothing to finish while a run waits for its decision.
    let context = repo.read("configs/context.yaml");
    repo.write(
        "configs/context.yaml",
        &context.replace("season_length: 336", "season_length: 48"),
    );
    let out = ok(repo.gluers(&["experiment", "run", "-m", "repeat the last day"]));
    assert!(out.contains("(worse)"), "{out}");
    let out = repo.gluers(&["experiment", "finish"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("still waiting for a decision"),
        "{}",
        text(&out)
    );
    // Kept, but worse on the declared direction: the best kept run stays
    // the baseline, and that is what `finish` scores.
    let out = ok(repo.gluers(&["experiment", "keep"]));
    assert!(out.contains("best kept stays the baseline"), "{out}");
    let base_short = repo
        .git(&["rev-parse", "--short", "HEAD~1"])
        .trim()
        .to_string();
    let out = ok(repo.gluers(&["experiment", "finish"]));
    assert!(
        out.contains("scoring experiment 0 (commit") && out.contains("recorded as experiment 2"),
        "{out}"
    );
    assert!(
        out.contains("the loop's figure was optimistic: the final test is worse"),
        "{out}"
    );

    // The figures, against an independent computation from the CSV files.
    let log = repo.read("experiment_log.tsv");
    let rows: Vec<&str> = log.lines().skip(1).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.split('\t').nth(4).unwrap()).collect();
    assert_eq!(statuses, ["keep", "keep", "final"], "{log}");
    let (loop_mape, loop_bias) = seasonal_naive("holdout/actuals.csv");
    let (final_mape, final_bias) = seasonal_naive("final/actuals.csv");
    assert_eq!(metric_of(rows[0], "forecast_mape"), loop_mape, "{log}");
    assert_eq!(metric_of(rows[0], "forecast_bias"), loop_bias, "{log}");
    assert_eq!(metric_of(rows[2], "forecast_mape"), final_mape, "{log}");
    assert_eq!(metric_of(rows[2], "forecast_bias"), final_bias, "{log}");
    assert_eq!(format!("{loop_mape:.2} {final_mape:.2}"), "5.55 13.55");
    assert_eq!(format!("{loop_bias:.3} {final_bias:.3}"), "-0.101 0.338");
    let final_row: Vec<&str> = rows[2].split('\t').collect();
    assert_eq!(final_row[0], "2");
    assert_eq!(final_row[5], "final test of experiment 0");
    assert_eq!(final_row[6], base_short, "{log}");
    // Both figures side by side in the output.
    assert!(out.contains(&format!("{loop_mape}")), "{out}");
    assert!(out.contains(&format!("{final_mape}")), "{out}");

    // A second finish of the same commit scores nothing.
    let again = ok(repo.gluers(&["experiment", "finish"]));
    assert!(again.contains("not scored again"), "{again}");
    assert!(again.contains(&format!("{final_mape}")), "{again}");
    assert_eq!(repo.read("experiment_log.tsv"), log);
    ok(repo.gluers(&["experiment", "verify"]));
    let status = ok(repo.gluers(&["experiment", "status"]));
    assert!(
        status.contains("final         experiment 2 scored experiment 0"),
        "{status}"
    );
    ok(repo.gluers(&["experiment", "report", "--out", "progress.svg"]));
    assert!(repo.read("progress.svg").contains("final test"));
}

/// A build script under another name (`build = "tools/gen.rs"`): it tries
/// to read the answers and to write into the repository, and tells the
/// crate whether it could.
const BUILD_SCRIPT: &str = r#"fn main() {
    let read = std::fs::read_to_string("@HOLDOUT@").is_ok();
    let wrote = std::fs::write("@REPO@/leaked_by_build.txt", "x").is_ok();
    println!("cargo:rustc-env=GEN_READ_HOLDOUT={read}");
    println!("cargo:rustc-env=GEN_WROTE_REPO={wrote}");
}
"#;

/// A work task reporting what the candidate could reach, into its run
/// folder (the one place it may write).
const PROBE_TASK: &str = r#"//! `probe`: what can a candidate reach?

use gluers::{RunContext, Task, TaskResult};

/// Writes `probe.txt`.
pub struct ProbeTask;

impl Task for ProbeTask {
    fn label(&self) -> &str {
        "probe"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let report = format!(
            "holdout_readable={}\nstate_readable={}\nlog_writable={}\nparent_config={:?}\ncheat_cfg={}\nld_preload={:?}\ngluers_secret={:?}\nbuild_read_holdout={}\nbuild_wrote_repo={}\n",
            std::fs::read_to_string("@HOLDOUT@").is_ok(),
            std::fs::read_dir("@STATE@").is_ok(),
            std::fs::write("@REPO@/experiment_log.tsv", "forged").is_ok(),
            option_env!("GLUERS_PARENT_CONFIG"),
            cfg!(gluers_cheat),
            std::env::var("LD_PRELOAD").ok(),
            std::env::var("GLUERS_SECRET").ok(),
            env!("GEN_READ_HOLDOUT"),
            env!("GEN_WROTE_REPO"),
        );
        ctx.storage().write(&ctx.runpath("probe.txt"), report.as_bytes())?;
        Ok(())
    }
}
"#;

/// The file `name` in the folder named `run_id` below `dir`.
fn find_file(dir: &Path, run_id: &str, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == run_id) {
                return Some(p.join(name)).filter(|f| f.is_file());
            }
            if let Some(found) = find_file(&p, run_id, name) {
                return Some(found);
            }
        }
    }
    None
}
