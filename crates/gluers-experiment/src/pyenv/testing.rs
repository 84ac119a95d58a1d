//! Test helpers shared with `python.rs`: the interpreters tests run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A missing tool fails the test (it never passes by skipping); the
/// message says how to install it.
pub(crate) fn missing(what: &str) -> ! {
    panic!("this test needs {what}; `.ci/run` installs it")
}

/// A Python 3 with the `venv` module: `sys.executable` of `python3`.
pub(crate) fn python3() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-I",
            "-c",
            "import sys, venv; sys.stdout.write(sys.executable)",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        _ => missing("python3 (with the venv module) on PATH"),
    }
}

/// The Python with Gluepy 1.6.0: `$GLUEPY_PYTHON`, else the workspace's
/// `bench/.venv` (made by `bench/setup-gluepy.sh`). Absolute but not
/// resolved: a venv's python is a symlink whose target does not see the
/// venv's packages.
pub(crate) fn gluepy_python() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidate = std::env::var_os("GLUEPY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("bench/.venv/bin/python"));
    let ok = Command::new(&candidate)
        .args([
            "-I",
            "-c",
            "import importlib.metadata as m, sys; sys.exit(m.version('gluepy') != '1.6.0')",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        std::path::absolute(&candidate).unwrap_or(candidate)
    } else {
        missing(&format!(
            "Gluepy 1.6.0 at {} (run bench/setup-gluepy.sh)",
            candidate.display()
        ))
    }
}
