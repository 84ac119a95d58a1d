//! The Rust toolchain and the cargo home the engine builds with.
//!
//! Candidate builds run `cargo` straight from the toolchain's sysroot (no
//! rustup proxy, no `PATH` lookup) with a cargo home the engine owns: its
//! `config.toml` is rewritten before every build, and its `registry` and
//! `git` folders link to the user's, which only the engine's own
//! `cargo fetch` (outside the sandbox, running no build script) writes; the
//! sandboxed build reads them and builds `--frozen` (offline, lock file as
//! committed). Configuration files in the folders above the export, which
//! cargo would also read, are recorded at init and must not change.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::process::{self, Exit};
use crate::state::StatePaths;

/// The toolchain a project builds with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Toolchain {
    /// `rustc --print sysroot`, as resolved in the project folder at init.
    pub sysroot: PathBuf,
}

impl Toolchain {
    /// Asks `rustc` (through the user's `PATH`, so that rustup and a
    /// `rust-toolchain` file pick it as for the user's own builds) where its
    /// sysroot is.
    pub fn resolve(project_dir: &Path) -> Result<Self> {
        let out = Command::new("rustc")
            .args(["--print", "sysroot"])
            .current_dir(project_dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ExperimentError::Spawn {
                program: "rustc".into(),
                source: e,
            })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || text.is_empty() {
            return Err(ExperimentError::Inspect(format!(
                "`rustc --print sysroot` failed in {}: {}",
                project_dir.display(),
                crate::git::first_lines(&out.stderr)
            )));
        }
        let sysroot = PathBuf::from(text);
        let toolchain = Self { sysroot };
        if !toolchain.cargo().is_file() {
            return Err(ExperimentError::Inspect(format!(
                "the toolchain at {} has no bin/cargo; install cargo for it",
                toolchain.sysroot.display()
            )));
        }
        Ok(toolchain)
    }

    /// The toolchain's cargo.
    pub fn cargo(&self) -> PathBuf {
        self.sysroot.join("bin/cargo")
    }

    /// The toolchain's binaries folder (first on the builds' `PATH`).
    pub fn bin_dir(&self) -> PathBuf {
        self.sysroot.join("bin")
    }
}

/// The user's cargo home: `$CARGO_HOME`, else `~/.cargo`.
pub(crate) fn user_cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The folders of the user's cargo home that builds read (registry and git
/// checkouts), as they are linked from the engine's cargo home.
pub(crate) fn shared_cache_dirs() -> Vec<PathBuf> {
    let Some(home) = user_cargo_home() else {
        return Vec::new();
    };
    ["registry", "git"]
        .iter()
        .map(|d| home.join(d))
        .filter(|p| p.is_dir())
        .collect()
}

const CONFIG: &str = "# Written by the gluers experiment engine before every build; edits are overwritten.\n[term]\ncolor = \"never\"\nprogress.when = \"never\"\n";

/// Creates (or repairs) the engine's cargo home: its own `config.toml`
/// (nothing else there is a configuration file), and links to the user's
/// registry and git caches.
pub(crate) fn prepare_home(paths: &StatePaths) -> Result<PathBuf> {
    let home = paths.cargo_home();
    crate::fsutil::ensure_private_dir(&home)?;
    // Created here: cargo would create it next to itself, in a folder the
    // sandboxed build may not write.
    crate::fsutil::ensure_private_dir(&paths.target())?;
    for stray in ["config", "credentials", "credentials.toml"] {
        let p = home.join(stray);
        if std::fs::symlink_metadata(&p).is_ok() {
            std::fs::remove_file(&p).map_err(|e| ExperimentError::io("remove", &p, e))?;
        }
    }
    // Rewritten whenever it is not the engine's, without a write per run.
    let config = home.join("config.toml");
    if std::fs::read(&config).ok().as_deref() != Some(CONFIG.as_bytes()) {
        crate::fsutil::atomic_replace(&config, CONFIG.as_bytes())?;
    }
    if let Some(user) = user_cargo_home() {
        for d in ["registry", "git"] {
            let link = home.join(d);
            let target = user.join(d);
            crate::fsutil::ensure_dir(&target)?;
            let ok = std::fs::read_link(&link).is_ok_and(|t| t == target);
            if !ok {
                let _ = std::fs::remove_file(&link);
                let _ = std::fs::remove_dir_all(&link);
                std::os::unix::fs::symlink(&target, &link)
                    .map_err(|e| ExperimentError::io("link", &link, e))?;
            }
        }
    }
    Ok(home)
}

/// The environment of every cargo the engine starts.
pub(crate) fn cargo_env(
    paths: &StatePaths,
    toolchain: &Toolchain,
    tmp: &Path,
) -> Vec<(OsString, OsString)> {
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        toolchain.bin_dir().display()
    );
    vec![
        ("PATH".into(), path.into()),
        ("HOME".into(), tmp.into()),
        ("TMPDIR".into(), tmp.into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("CARGO_HOME".into(), paths.cargo_home().into()),
        ("CARGO_TARGET_DIR".into(), paths.target().into()),
        ("RUSTC".into(), toolchain.bin_dir().join("rustc").into()),
        ("CARGO_TERM_COLOR".into(), "never".into()),
    ]
}

/// Downloads (and unpacks) the dependencies of the lock file at
/// `manifest_dir`, outside the sandbox: `cargo fetch` runs no build script or
/// other code of the project. Failures are left for the build to report.
pub(crate) fn fetch(
    paths: &StatePaths,
    toolchain: &Toolchain,
    manifest_dir: &Path,
    log: &File,
) -> Result<()> {
    let tmp = paths.tmp();
    crate::fsutil::ensure_private_dir(&tmp)?;
    let mut cmd = Command::new(toolchain.cargo());
    cmd.args(["fetch", "--locked", "--manifest-path"])
        .arg(manifest_dir.join("Cargo.toml"))
        .current_dir(manifest_dir)
        .env_clear()
        .envs(cargo_env(paths, toolchain, &tmp));
    let far = Instant::now() + std::time::Duration::from_secs(3600);
    let _ = process::run_in_group(cmd, "cargo fetch", log, None, far, &mut |_| Ok(()))?;
    Ok(())
}

/// `.cargo/config` and `.cargo/config.toml` files that cargo would read in
/// the folders above `dir` (it reads every ancestor's), with their hashes.
pub(crate) fn ancestor_configs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for a in dir.ancestors().skip(1) {
        for name in ["config", "config.toml"] {
            let p = a.join(".cargo").join(name);
            if p.is_file() {
                let hash = crate::hashing::hash_file(&p).unwrap_or_else(|_| "unreadable".into());
                out.push((p, hash));
            }
        }
    }
    out
}

/// Checks that the configuration above `dir` is what init recorded.
pub(crate) fn check_ancestor_configs(dir: &Path, recorded: &[(PathBuf, String)]) -> Result<()> {
    let now = ancestor_configs(dir);
    if now != recorded {
        let changed: Vec<String> = now
            .iter()
            .filter(|c| !recorded.contains(c))
            .chain(recorded.iter().filter(|c| !now.contains(c)))
            .map(|(p, _)| p.display().to_string())
            .collect();
        return Err(ExperimentError::Sandbox(format!(
            "cargo configuration above the engine's build folder changed since init: {}; restore it (cargo would read it in every build)",
            changed.join(", ")
        )));
    }
    Ok(())
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

/// Finds the executable of binary `bin` in cargo's JSON messages.
pub(crate) fn executable_from_messages(text: &str, bin: &str) -> Option<PathBuf> {
    let candidates = text
        .lines()
        .filter(|l| l.contains("compiler-artifact") && l.contains(bin));
    for line in candidates {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != bin {
            continue;
        }
        let is_bin = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "bin"));
        if let (true, Some(exe)) = (is_bin, msg["executable"].as_str()) {
            return Some(PathBuf::from(exe));
        }
    }
    None
}

/// The arguments of the candidate's (or sealed) build.
pub(crate) fn build_args(manifest_dir: &Path, bin: &str) -> Vec<OsString> {
    vec![
        "build".into(),
        "--frozen".into(),
        "--message-format=json-render-diagnostics".into(),
        "--bin".into(),
        bin.into(),
        "--manifest-path".into(),
        manifest_dir.join("Cargo.toml").into(),
    ]
}

/// Runs a prepared build command (sandboxed by the caller), with cargo's
/// JSON messages in `messages` and diagnostics in `log`.
pub(crate) fn run_build(
    cmd: Command,
    bin: &str,
    messages: &Path,
    log: &File,
    deadline: Instant,
    on_spawn: &mut dyn FnMut(i32) -> Result<()>,
) -> Result<Build> {
    let out = File::create(messages).map_err(|e| ExperimentError::io("create", messages, e))?;
    match process::run_in_group(cmd, "cargo build", log, Some(out), deadline, on_spawn)? {
        Exit::TimedOut => return Ok(Build::TimedOut),
        Exit::Finished(s) if !s.success() => {
            return Ok(Build::Failed(format!("`cargo build` failed ({s})")));
        }
        Exit::Finished(_) => {}
    }
    let text = crate::fsutil::read_to_string(messages)?;
    Ok(match executable_from_messages(&text, bin) {
        Some(exe) => Build::Built(exe),
        None => Build::Failed(format!(
            "`cargo build` reported no executable for binary `{bin}`"
        )),
    })
}
