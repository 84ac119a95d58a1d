//! How the engine starts a project's processes: contained (see
//! [`crate::contain`]), from an engine-owned export, with an environment
//! the engine chose. One place for the build, `--describe`, the work tasks
//! and the sealed evaluator, so that init and every run start them alike.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::contain::{self, Jail, Mode};
use crate::error::{ExperimentError, Result};
use crate::state::{Flavor, State, StatePaths, StoredProject};
use crate::toolchain::{self, Build, Toolchain};
use crate::{process, project};

/// Who a `dag` command runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The candidate (work tasks, `--describe`): the project's command.
    Candidate,
    /// The sealed evaluator: for Gluepy, the interpreter resolved at init,
    /// run isolated (`-I -B`).
    Evaluator,
}

/// What the engine knows about starting the project's processes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launcher<'a> {
    /// Sandboxed or not (`init --no-sandbox`).
    pub mode: Mode,
    /// How the project runs.
    pub project: &'a StoredProject,
    /// The engine's folders.
    pub paths: &'a StatePaths,
    /// Interpreter launchers put first on `PATH` (command projects).
    pub tool_dir: Option<&'a Path>,
    /// The interpreter resolved at init (command projects running Python).
    pub python: Option<&'a Path>,
    /// Folders outside the repository every process may read (path
    /// dependencies, the interpreter's prefixes).
    pub external_read: &'a [PathBuf],
    /// Paths no jail may read even where a readable folder holds them: the
    /// sealed data as the candidate's export holds it when the repository
    /// tracks it.
    pub hidden: &'a [PathBuf],
}

impl<'a> Launcher<'a> {
    /// The launcher of an open experiment.
    pub fn of(state: &'a State, paths: &'a StatePaths) -> Self {
        Self {
            mode: Mode::of(state.sandboxed),
            project: &state.project,
            paths,
            tool_dir: state.tool_dir.as_deref(),
            python: state.python.as_deref(),
            external_read: &state.external_read,
            hidden: &[],
        }
    }

    /// The environment of a project process: nothing inherited; the
    /// storage root, a private home and tmp, and (for runs) the run marker
    /// that lets a later command recognise what a killed engine left.
    pub fn env(
        &self,
        storage_root: &Path,
        tmp: &Path,
        run_id: Option<&str>,
    ) -> Vec<(OsString, OsString)> {
        let mut path = String::new();
        if let Some(t) = self.tool_dir {
            path.push_str(&t.to_string_lossy());
            path.push(':');
        }
        path.push_str("/usr/local/bin:/usr/bin:/bin");
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), path.into()),
            ("HOME".into(), tmp.into()),
            ("TMPDIR".into(), tmp.into()),
            ("LANG".into(), "C.UTF-8".into()),
            (project::STORAGE_ENV.into(), storage_root.into()),
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        if let Some(id) = run_id {
            env.push((process::RUN_MARKER_ENV.into(), id.into()));
        }
        env
    }

    /// The folders every project process may read besides its own.
    fn common_read(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.external_read
            .iter()
            .cloned()
            .chain(self.tool_dir.map(Path::to_path_buf))
    }

    /// A jail reading `read` (plus the common folders) and writing `write`.
    pub fn jail(
        &self,
        read: impl IntoIterator<Item = PathBuf>,
        write: impl IntoIterator<Item = PathBuf>,
    ) -> Jail {
        let read: Vec<PathBuf> = read.into_iter().chain(self.common_read()).collect();
        let list = read
            .iter()
            .flat_map(|p| crate::contain::folders_toward(p, self.hidden))
            .collect();
        let read = read
            .iter()
            .flat_map(|p| crate::contain::paths_around(p, self.hidden));
        Jail {
            list,
            ..Jail::default().read(read).write(write)
        }
    }

    /// `dag ARGS...` of the project in `project_dir`, run by `exe` (Rust)
    /// or the project's command.
    pub fn dag(
        &self,
        role: Role,
        exe: Option<&Path>,
        project_dir: &Path,
        args: &[&str],
        env: &[(OsString, OsString)],
        jail: &Jail,
    ) -> Result<Command> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Ok(match (self.project, role, self.python) {
            (StoredProject::Cargo { .. }, _, _) => {
                let exe = exe.ok_or_else(|| {
                    ExperimentError::Sealed(
                        "no executable recorded; run `experiment init` again".into(),
                    )
                })?;
                let mut env = env.to_vec();
                env.push(("CARGO_MANIFEST_DIR".into(), project_dir.into()));
                contain::command(self.mode, jail, exe, &args, &env, project_dir)
            }
            (
                StoredProject::Command {
                    flavor: Flavor::Gluepy,
                    ..
                },
                Role::Evaluator,
                Some(python),
            ) => {
                let launcher = crate::pyenv::manage_py_command(python, project_dir, &args);
                let full: Vec<OsString> = launcher.get_args().map(OsString::from).collect();
                contain::command(self.mode, jail, python, &full, env, project_dir)
            }
            (
                StoredProject::Command {
                    flavor: Flavor::Gluepy,
                    ..
                },
                Role::Evaluator,
                None,
            ) => {
                // Never the project's shell command for the evaluator.
                return Err(ExperimentError::Sealed(
                    "no Python interpreter recorded for the sealed evaluator; start a new experiment with `experiment init`".into(),
                ));
            }
            (StoredProject::Command { cmd, .. }, _, _) => {
                let mut full: Vec<OsString> =
                    vec!["-c".into(), format!("{cmd} \"$@\"").into(), "sh".into()];
                full.extend(args);
                contain::command(
                    self.mode,
                    jail,
                    Path::new("/bin/sh"),
                    &full,
                    env,
                    project_dir,
                )
            }
        })
    }

    /// Builds binary `bin` of the package at `manifest_dir` (inside
    /// `export_root`), contained: it reads the toolchain, the export, the
    /// registry and path dependencies, and writes only the target folder,
    /// the engine's cargo home and tmp.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &self,
        toolchain: &Toolchain,
        export_root: &Path,
        manifest_dir: &Path,
        bin: &str,
        log: &File,
        deadline: Instant,
        on_spawn: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<Build> {
        let paths = self.paths;
        let tmp = paths.tmp();
        let mut read = vec![toolchain.sysroot.clone(), export_root.to_path_buf()];
        read.extend(toolchain::shared_cache_dirs());
        let jail = self.jail(read, [paths.target(), paths.cargo_home(), tmp.clone()]);
        let cmd = contain::command(
            self.mode,
            &jail,
            &toolchain.cargo(),
            &toolchain::build_args(manifest_dir, bin),
            &toolchain::cargo_env(paths, toolchain, &tmp),
            manifest_dir,
        );
        let built =
            toolchain::run_build(cmd, bin, &paths.build_messages(), log, deadline, on_spawn);
        process::kill_descendants();
        built
    }

    /// `dag DAG --describe --format json` of `exe` in `project_dir`.
    pub fn describe(&self, exe: &Path, project_dir: &Path, dag: &str) -> Result<project::Describe> {
        let tmp = self.paths.tmp();
        let read = [project_dir.to_path_buf()]
            .into_iter()
            .chain(exe.parent().map(Path::to_path_buf));
        let jail = self.jail(read, [tmp.clone()]);
        let env = self.env(&tmp, &tmp, None);
        let out = self
            .dag(
                Role::Candidate,
                Some(exe),
                project_dir,
                &["dag", dag, "--describe", "--format", "json"],
                &env,
                &jail,
            )?
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ExperimentError::Spawn {
                program: exe.display().to_string(),
                source: e,
            })?;
        process::kill_descendants();
        if !out.status.success() {
            return Err(ExperimentError::Inspect(format!(
                "`dag {dag} --describe --format json` failed ({}): {}",
                out.status,
                crate::git::first_lines(&out.stderr)
            )));
        }
        project::parse_describe(&out.stdout, dag)
    }
}
