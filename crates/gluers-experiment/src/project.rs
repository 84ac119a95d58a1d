//! How the engine builds and runs a project: cargo builds, the project
//! binary's `--describe` output, and the commands for work tasks and the
//! sealed evaluator.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{ExperimentError, Result};

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

/// The `--describe --format json` document, read with the shared
/// [`gluers_formats::describe`] types.
pub(crate) use gluers_formats::describe::Describe;

/// Parses `--describe --format json` output of DAG `dag`.
pub(crate) fn parse_describe(bytes: &[u8], dag: &str) -> Result<Describe> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ExperimentError::Inspect(format!(
            "`dag {dag} --describe --format json` printed no UTF-8"
        ))
    })?;
    Describe::from_json(text).map_err(|e| {
        ExperimentError::Inspect(format!(
            "`dag {dag} --describe --format json` printed an unexpected document: {e}"
        ))
    })
}

/// The fields of a describe document that evaluation depends on
/// (evaluation tasks with their types, source files, metric docs and
/// contracts, in order, the evaluation-only data and the final test's): a
/// candidate's must equal the base's.
pub(crate) fn evaluation_part(d: &Describe) -> serde_json::Value {
    serde_json::json!({
        "eval_tasks": d.eval_tasks,
        "eval_data": d.eval_data,
        "final_test_data": d.final_test_data,
    })
}

/// What differs between two [`evaluation_part`]s, in words.
pub(crate) fn wiring_diff(base: &serde_json::Value, now: &serde_json::Value) -> String {
    let labels = |v: &serde_json::Value| -> Vec<String> {
        v["eval_tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (b, n) = (labels(base), labels(now));
    if b != n {
        format!("eval tasks [{}] became [{}]", b.join(", "), n.join(", "))
    } else if base["eval_data"] != now["eval_data"] {
        "the evaluation-only data changed".into()
    } else if base["final_test_data"] != now["final_test_data"] {
        "the final test's data changed".into()
    } else {
        "an evaluation task's type, metric docs or metric contracts changed".into()
    }
}

/// Folders of path dependencies outside the repository (cargo reads them
/// from where they are; builds need to read them).
pub(crate) fn external_path_deps(manifest_dir: &Path, repo_root: &Path) -> Vec<PathBuf> {
    let Ok(out) = Command::new(cargo_program())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(manifest_dir.join("Cargo.toml"))
        .current_dir(manifest_dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = v["packages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| p["source"].is_null())
                .filter_map(|p| p["manifest_path"].as_str())
                .filter_map(|m| Path::new(m).parent().map(Path::to_path_buf))
                .filter(|d| !d.starts_with(repo_root))
                .collect()
        })
        .unwrap_or_default();
    // A path dependency may inherit from its workspace's root manifest.
    let manifests: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| d.ancestors().skip(1).map(|a| a.join("Cargo.toml")))
        .filter(|m| m.is_file() && !m.starts_with(repo_root))
        .collect();
    dirs.extend(manifests);
    dirs.sort();
    dirs.dedup();
    dirs
}

/// What a command project's Python is, as resolved at init.
#[derive(Debug, Default)]
pub(crate) struct PythonTools {
    /// The interpreter's `sys.executable` (a venv's `bin/python` kept as
    /// is), when the command runs Python.
    pub exe: Option<PathBuf>,
    /// A folder of the engine's put first on `PATH`, holding a launcher
    /// named like the command's interpreter word that runs `exe`.
    pub tool_dir: Option<PathBuf>,
    /// The folders the interpreter loads from (prefixes, `sys.path`,
    /// `libpython`), which contained processes may read.
    pub reads: Vec<PathBuf>,
}

/// Resolves the interpreter of a command project once, with the user's
/// environment (so that shims, `PYENV_*` or `uv run` play no part later),
/// and prepares what contained processes need to run it. A command that is
/// not Python gets nothing (its programs come from the system folders).
pub(crate) fn python_tools(
    paths: &crate::state::StatePaths,
    interpreter: &str,
    project_dir: &Path,
) -> Result<PythonTools> {
    let Ok(exe) = crate::python::resolve_interpreter(interpreter, project_dir) else {
        return Ok(PythonTools::default());
    };
    let info = crate::pyenv::Interpreter::probe(&exe)?;
    let mut reads = vec![info.prefix.clone(), info.base_prefix.clone()];
    reads.extend(exe.parent().map(Path::to_path_buf));
    reads.extend(
        info.libpython
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf),
    );
    reads.extend(
        info.path
            .iter()
            .filter(|p| !p.starts_with(project_dir))
            .cloned(),
    );
    reads.retain(|p| p.is_absolute() && p.exists());
    reads.sort();
    reads.dedup();
    let word = interpreter.split_whitespace().next().unwrap_or("python3");
    let mut tool_dir = None;
    if !word.contains('/') {
        // A launcher rather than a link: a venv's python finds its
        // packages from the path it is started as.
        let dir = paths.dir.join("tools");
        crate::fsutil::fresh_private_dir(&dir)?;
        let script = format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            exe.display().to_string().replace('\'', "'\\''")
        );
        for name in [word, "python", "python3"] {
            let at = dir.join(name);
            if !at.exists() {
                std::fs::write(&at, &script).map_err(|e| ExperimentError::io("write", &at, e))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| ExperimentError::io("set permissions of", &at, e))?;
            }
        }
        tool_dir = Some(dir);
    }
    Ok(PythonTools {
        exe: Some(exe),
        tool_dir,
        reads,
    })
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
