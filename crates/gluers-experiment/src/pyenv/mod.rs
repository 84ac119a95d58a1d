//! The Python interpreter the sealed evaluator imports from, and how to run
//! it isolated.
//!
//! The sealed evaluator of a Gluepy project runs the base commit's code, but
//! with an interpreter and packages that live outside the repository (a
//! venv, a pyenv or system Python). The agent can edit those files as well as
//! the project's: a line in `pandas/core/frame.py`, a planted
//! `sitecustomize.py`, a new `.pth` file, a module named like a stdlib one.
//! So, at `init`, [`Manifest::record`] asks the interpreter (isolated) for
//! its executable, prefixes and `sys.path`, and records every file under
//! those folders (stat and blake3 hash) and every folder's entry names;
//! before each evaluation [`Manifest::verify`] re-stats everything, re-hashes
//! what changed, and reports any new, removed or edited file.
//!
//! Why a stat cache is enough: an edit changes a file's ctime, and ctime
//! cannot be set back from user space (an `mtime` restored with `touch -r`
//! still leaves a new ctime), so an unchanged stat means unchanged bytes. A
//! changed stat only triggers a re-hash; the verdict is the hash.
//!
//! [`isolated_command`] and [`manage_py_command`] build the command lines
//! the engine runs Python with.
//!
//! # Gluepy's `manage.py` under `-I`
//!
//! What the sealed evaluator needs, checked on Gluepy 1.6.0:
//!
//! * `python -I -B manage.py dag LABEL ...` fails with `ModuleNotFoundError:
//!   No module named 'configs'`: `-I` keeps the script's folder off
//!   `sys.path`, so neither the settings module nor `INSTALLED_MODULES` can
//!   be imported. [`manage_py_command`] puts the project folder first on
//!   `sys.path` and runs `manage.py` as `__main__` (exit codes, `sys.argv`
//!   and tracebacks as with `python manage.py`).
//! * `GLUEPY_SETTINGS_MODULE`: `manage.py` sets it with `setdefault`, which
//!   `-I` does not affect (it ignores `PYTHON*` variables only). The cleared
//!   environment drops a value the user exported, so the settings are
//!   `manage.py`'s default, as the inspection in `python.rs` saw them.
//! * `STORAGE_ROOT` derived from `__file__` is absolute and inside the folder
//!   run from (the export), so the evaluator reads and writes there;
//!   `--retry FOLDER` is relative to it, `--local-patch` to the working
//!   directory.
//! * No `HOME`, `LANG` or `TMPDIR`: Python runs in UTF-8 mode; Gluepy,
//!   pandas and numpy import and run (`tempfile` falls back to `/tmp`).
//! * `-B`: no `__pycache__` appears in the export.
//!
//! This file holds the command lines and the [`Interpreter`] probe; the
//! manifest's record and verify are in [`manifest`], the walk of `sys.path`
//! at init in [`walk`].

mod manifest;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod walk;

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

pub(crate) use manifest::Manifest;

/// `PATH` when the engine itself has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A command running `python -I -B ARGS...` with an empty environment but
/// `PATH`, and stdin closed.
///
/// `-I` ignores every `PYTHON*` variable (no `PYTHONPATH`, `PYTHONHOME`,
/// `PYTHONSTARTUP`, `PYTHONINSPECT`), leaves the user site out of `sys.path`
/// and does not put the script's folder or the working directory on it;
/// `-B` writes no bytecode next to the sources (the evaluated folder stays
/// as exported). The empty environment drops `LD_PRELOAD`, `GLUEPY_*`
/// and the like; `PATH` stays so that a tool the evaluation spawns is found
/// as in the user's shell. Without `LANG` or `LC_*`, Python ≥ 3.7 coerces the
/// C locale to UTF-8.
pub(crate) fn isolated_command<I, S>(python: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(python);
    cmd.arg("-I")
        .arg("-B")
        .args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .stdin(Stdio::null());
    cmd
}

/// Runs `manage.py` as `python manage.py ARGS...` would, from `project_dir`
/// first on `sys.path`: `-I` keeps the script's folder off `sys.path`, so a
/// plain `python -I manage.py dag ...` fails with `ModuleNotFoundError: No
/// module named 'configs'` (the settings module that `manage.py` selects).
pub(crate) const MANAGE_PY_LAUNCHER: &str = "\
import os, runpy, sys
project = sys.argv[1]
sys.argv = sys.argv[2:]
sys.path.insert(0, project)
runpy.run_path(os.path.join(project, sys.argv[0]), run_name='__main__')
";

/// The sealed evaluator's command for a Gluepy project: `python -I -B`
/// running `project_dir/manage.py` with `args` (e.g. `dag LABEL --eval-only
/// --retry FOLDER`), with `project_dir` as the working directory and first on
/// `sys.path` (see [`MANAGE_PY_LAUNCHER`]). `manage.py` sets
/// `GLUEPY_SETTINGS_MODULE` itself, and settings that derive `STORAGE_ROOT`
/// from `__file__` get the absolute folder.
pub(crate) fn manage_py_command<I, S>(python: &Path, project_dir: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = isolated_command(python, ["-c", MANAGE_PY_LAUNCHER]);
    cmd.arg(project_dir)
        .arg("manage.py")
        .args(args)
        .current_dir(project_dir);
    cmd
}

/// What the interpreter says about itself when run isolated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Interpreter {
    /// `sys.executable`.
    pub executable: PathBuf,
    /// `sys.prefix` (the venv, if any).
    pub prefix: PathBuf,
    /// `sys.base_prefix` (the installation behind a venv).
    pub base_prefix: PathBuf,
    /// `sys.path` under `-I` (no script folder, no user site).
    pub path: Vec<PathBuf>,
    /// `sys.version`.
    pub version: String,
    /// The shared `libpython` the executable loads, when built shared.
    pub libpython: Option<PathBuf>,
}

const PROBE: &str = "\
import json, os, sys, sysconfig
v = sysconfig.get_config_var
lib = v('INSTSONAME') or v('LDLIBRARY')
json.dump({'executable': sys.executable, 'prefix': sys.prefix,
           'base_prefix': sys.base_prefix, 'path': sys.path, 'version': sys.version,
           'libpython': os.path.join(v('LIBDIR'), lib) if v('Py_ENABLE_SHARED') and v('LIBDIR') and lib else None},
          sys.stdout)
";

impl Interpreter {
    /// Asks `python`, run isolated from `/`.
    pub fn probe(python: &Path) -> Result<Self> {
        let out = isolated_command(python, ["-c", PROBE])
            .current_dir("/")
            .output()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    ExperimentError::Inspect(format!(
                        "Python interpreter {} not found; point the project command at an installed Python",
                        python.display()
                    ))
                } else {
                    ExperimentError::Spawn {
                        program: python.display().to_string(),
                        source: e,
                    }
                }
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(ExperimentError::Inspect(format!(
                "{} failed to describe itself ({}): {}",
                python.display(),
                out.status,
                err.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no message")
                    .trim()
            )));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            ExperimentError::Inspect(format!(
                "unexpected answer from {} about its paths: {e}",
                python.display()
            ))
        })
    }
}
