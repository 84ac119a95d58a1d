//! How the engine builds and runs a project: cargo builds, the project
//! binary's `--describe` output, and the commands for work tasks and the
//! sealed evaluator.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Deserialize;

use crate::error::{ExperimentError, Result};
use crate::process::{self, Exit, RUN_MARKER_ENV};
use crate::state::{State, StoredProject};

/// The environment variable giving a gluers project its storage root.
pub(crate) const STORAGE_ENV: &str = "GLUERS_STORAGE_ROOT";

/// The cargo to use: the one that started us (`$CARGO`) or `cargo` on PATH.
pub(crate) fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What `cargo metadata` says about where a package builds.
#[derive(Debug, Deserialize)]
pub(crate) struct CargoLayout {
    /// The target directory cargo uses for this package.
    pub target_directory: PathBuf,
    /// The workspace root.
    pub workspace_root: PathBuf,
}

/// Asks cargo where `manifest_dir` builds.
pub(crate) fn cargo_layout(manifest_dir: &Path) -> Result<CargoLayout> {
    let out = Command::new(cargo_program())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest_dir.join("Cargo.toml"))
        .current_dir(manifest_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ExperimentError::Spawn {
            program: "cargo".into(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(ExperimentError::Inspect(format!(
            "`cargo metadata` failed in {}: {}",
            manifest_dir.display(),
            crate::git::first_lines(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| ExperimentError::Inspect(format!("unexpected `cargo metadata` output: {e}")))
}

/// Brings `Cargo.lock` up to date with the manifests (as the next build
/// would), so that the change is committed with the candidate instead of
/// dirtying the tree after the run. Failures are left for the build to
/// report.
pub(crate) fn refresh_lockfile(manifest_dir: &Path) {
    let _ = Command::new(cargo_program())
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(manifest_dir.join("Cargo.toml"))
        .current_dir(manifest_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// How a build ended.
#[derive(Debug)]
pub(crate) enum Build {
    /// The executable that was produced.
    Built(PathBuf),
    /// The build failed; the reason is in the run log.
    Failed(String),
    /// The deadline passed.
    TimedOut,
}

/// One cargo build of binary `bin` of the package in `manifest_dir`.
pub(crate) struct CargoBuild<'a> {
    /// The package directory.
    pub manifest_dir: &'a Path,
    /// The binary target.
    pub bin: &'a str,
    /// Overrides the target directory (the sealed build shares the
    /// candidate's so that dependencies are reused).
    pub target_dir: Option<&'a Path>,
    /// Where cargo's JSON messages are written.
    pub messages: &'a Path,
    /// The engine's run id, set in the environment so that a build left
    /// behind by a killed engine can be recognised and stopped.
    pub run_id: Option<&'a str>,
}

impl CargoBuild<'_> {
    /// Runs `cargo build --message-format=json-render-diagnostics`, with
    /// diagnostics in `log`, and finds the executable in the messages.
    pub fn run(
        &self,
        log: &File,
        deadline: Instant,
        on_spawn: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<Build> {
        let mut cmd = Command::new(cargo_program());
        cmd.args([
            "build",
            "--message-format=json-render-diagnostics",
            "--bin",
            self.bin,
            "--manifest-path",
        ])
        .arg(self.manifest_dir.join("Cargo.toml"))
        .current_dir(self.manifest_dir);
        if let Some(t) = self.target_dir {
            cmd.env("CARGO_TARGET_DIR", t);
        }
        if let Some(id) = self.run_id {
            cmd.env(RUN_MARKER_ENV, id);
        }
        let messages = File::create(self.messages)
            .map_err(|e| ExperimentError::io("create", self.messages, e))?;
        match process::run_in_group(cmd, "cargo", log, Some(messages), deadline, on_spawn)? {
            Exit::TimedOut => return Ok(Build::TimedOut),
            Exit::Finished(s) if !s.success() => {
                return Ok(Build::Failed(format!("`cargo build` failed ({s})")));
            }
            Exit::Finished(_) => {}
        }
        let text = crate::fsutil::read_to_string(self.messages)?;
        // One line per crate of the build graph; only an artifact line naming
        // the binary can be the one, so the others are not parsed.
        let candidates = text
            .lines()
            .filter(|l| l.contains("compiler-artifact") && l.contains(self.bin));
        for line in candidates {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != self.bin {
                continue;
            }
            let is_bin = msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if let (true, Some(exe)) = (is_bin, msg["executable"].as_str()) {
                return Ok(Build::Built(PathBuf::from(exe)));
            }
        }
        Ok(Build::Failed(format!(
            "`cargo build` reported no executable for binary `{}`",
            self.bin
        )))
    }
}

/// An evaluation task as `dag LABEL --describe --format json` reports it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DescribedEvalTask {
    /// Task label.
    pub label: String,
    /// Source file relative to the package root.
    #[serde(default)]
    pub source_file: Option<String>,
    /// Documented metrics.
    #[serde(default)]
    pub metrics: Vec<DescribedMetric>,
}

/// A documented metric.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DescribedMetric {
    /// Metric key.
    pub name: String,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
}

/// The `--describe --format json` document.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Describe {
    /// The evaluation tasks.
    #[serde(default)]
    pub eval_tasks: Vec<DescribedEvalTask>,
    /// The file wiring `eval_tasks`, relative to the package root.
    #[serde(default)]
    pub eval_wiring_file: Option<String>,
}

/// Runs `<exe> dag DAG --describe --format json` in `cwd`.
pub(crate) fn describe(exe: &Path, cwd: &Path, dag: &str, storage_root: &Path) -> Result<Describe> {
    let out = Command::new(exe)
        .args(["dag", dag, "--describe", "--format", "json"])
        .current_dir(cwd)
        .env(STORAGE_ENV, storage_root)
        .env("CARGO_MANIFEST_DIR", cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ExperimentError::Spawn {
            program: exe.display().to_string(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(ExperimentError::Inspect(format!(
            "`{} dag {dag} --describe --format json` failed ({}): {}",
            exe.display(),
            out.status,
            crate::git::first_lines(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        ExperimentError::Inspect(format!(
            "`dag {dag} --describe --format json` printed invalid JSON: {e}"
        ))
    })
}

/// The two halves of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The candidate's bootstrap and work tasks.
    Work,
    /// The sealed evaluator's evaluation tasks.
    Eval,
}

/// The command running one phase on `run_folder`.
///
/// `candidate_exe` is the candidate's freshly built executable (Rust
/// projects); the sealed evaluator always comes from the state.
pub(crate) fn phase_command(
    state: &State,
    phase: Phase,
    project_dir: &Path,
    candidate_exe: Option<&Path>,
    run_folder: &str,
    run_id: &str,
) -> Result<Command> {
    let flag = match phase {
        Phase::Work => "--skip-eval",
        Phase::Eval => "--eval-only",
    };
    let cwd = match phase {
        Phase::Work => project_dir.to_path_buf(),
        Phase::Eval => state.sealed.project_dir.clone(),
    };
    let args = ["dag", state.dag.as_str(), flag, "--retry", run_folder];
    let mut cmd = match &state.project {
        StoredProject::Cargo { .. } => {
            let exe = match phase {
                Phase::Work => candidate_exe.map(Path::to_path_buf),
                Phase::Eval => state.sealed.executable.clone(),
            }
            .ok_or_else(|| {
                ExperimentError::Sealed(
                    "no executable recorded; run `experiment init` again".into(),
                )
            })?;
            let mut c = Command::new(exe);
            c.args(args).env("CARGO_MANIFEST_DIR", &cwd);
            c
        }
        StoredProject::Command { cmd, .. } => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{cmd} \"$@\""))
                .arg("sh")
                .args(args);
            c
        }
    };
    cmd.current_dir(&cwd)
        .env(STORAGE_ENV, &state.storage_root)
        .env(RUN_MARKER_ENV, run_id)
        .env("PYTHONUNBUFFERED", "1");
    Ok(cmd)
}

/// A shell-like rendering of a command for the run log.
pub(crate) fn display_command(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.contains([' ', '"', '\'', '$']) {
            format!("'{}'", a.replace('\'', "'\\''"))
        } else {
            a.into_owned()
        }
    }));
    parts.join(" ")
}
