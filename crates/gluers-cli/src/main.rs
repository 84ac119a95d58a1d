//! The installed `gluers` binary: everything that must not be built from a
//! user's tree.
//!
//! * `gluers new NAME`: a new project that builds and runs at once.
//! * `gluers skill {claude,cursor,github,codex}`: agent instructions, in a
//!   gluers Rust project or a Gluepy one.
//! * `gluers experiment ...`: the experiment engine, on a gluers Rust project
//!   (the Cargo package at or above the current folder) or on any project
//!   run by a command (`--project-cmd "python manage.py"` for Gluepy).
//!
//! It links the experiment engine and the shared formats, never the runtime
//! library a project links: the judge is not built from the judged tree.

mod project;
mod scaffold;
mod skill;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gluers_experiment::{ExperimentCommand, ProjectSpec};
use gluers_formats::exit::ExitStatus;

use crate::project::Found;
use crate::skill::{install_skill, SkillProject, SkillTarget};

/// Data and ML pipelines in Rust, with an engine for autonomous experimentation.
#[derive(Debug, Parser)]
#[command(
    name = "gluers",
    version,
    disable_help_subcommand = true,
    after_help = "Inside a project, its own binary runs the pipelines: cargo manage --help"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a project that builds and runs at once (cargo manage dag sample).
    #[command(alias = "startproject")]
    New {
        /// The project's name: lowercase letters, digits, '_' and '-', starting with a letter.
        name: String,
        /// The folder to create the project in.
        #[arg(long, value_name = "DIR", default_value = ".")]
        path: PathBuf,
        /// Depend on a local gluers checkout (its crates/gluers folder) instead of crates.io.
        /// Default: the checkout this binary was built from, if it is still there.
        #[arg(long, value_name = "DIR")]
        gluers_path: Option<PathBuf>,
    },
    /// Write agent instructions (skill, references, /experiment command) for an AI coding
    /// tool, in a gluers project or a Gluepy project (one with manage.py).
    Skill {
        /// The tool: claude, cursor, github (Copilot) or codex (AGENTS.md).
        target: SkillTarget,
    },
    /// Let an AI agent improve a DAG's work tasks while evaluation stays frozen: on the
    /// gluers project at or above the current folder, or on a Gluepy project (--project-cmd).
    Experiment {
        /// The command that runs the project, e.g. "python manage.py" (stored at init;
        /// later commands reuse it). Default: $GLUERS_PROJECT_CMD, else the Cargo package
        /// at or above the current folder.
        #[arg(long, value_name = "CMD", env = "GLUERS_PROJECT_CMD", global = true)]
        project_cmd: Option<String>,
        /// The binary target that runs the DAGs, when the package has several (init).
        #[arg(
            long,
            value_name = "NAME",
            global = true,
            conflicts_with = "project_cmd"
        )]
        bin: Option<String>,
        /// Boxed: init's many flags make it the largest command by far.
        #[command(subcommand)]
        command: Box<ExperimentCommand>,
    },
}

/// A failure: a one-line message and how the process ends
/// ([`ExitStatus::Usage`] or [`ExitStatus::Failure`]).
struct Failure {
    message: String,
    status: ExitStatus,
}

impl Failure {
    fn usage(message: impl std::fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            status: ExitStatus::Usage,
        }
    }
}

fn main() -> ExitCode {
    // `gluers __sandbox POLICY -- PROGRAM ...`: the engine's Landlock
    // trampoline, before any argument parsing.
    if let Some(code) = gluers_experiment::dispatch() {
        return code;
    }
    ignore_file_size_signal();
    gluers_experiment::exit_quietly_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit()
            }
            eprintln!(
                "error: {}",
                gluers_formats::message::one_line_usage(&e.render().to_string())
            );
            return ExitStatus::Usage.into();
        }
    };
    let result = match cli.command {
        Command::New {
            name,
            path,
            gluers_path,
        } => new(name, path, gluers_path),
        Command::Skill { target } => skill(target),
        Command::Experiment {
            project_cmd,
            bin,
            command,
        } => experiment(project_cmd, bin, *command),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            // One line, and nothing from an argument or a file drives the terminal.
            eprintln!(
                "error: {}",
                gluers_formats::escape::escape_controls(&failure.message)
            );
            failure.status.into()
        }
    }
}

/// A file-size limit (`ulimit -f`) must fail a write with an error (EFBIG)
/// that is reported and rolled back, not kill the process silently with
/// SIGXFSZ. A handler that only sets a flag does that without `unsafe`, and
/// unlike an ignored signal it is reset for the programs the engine starts.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
}

/// `gluers new`.
fn new(name: String, dir: PathBuf, gluers_path: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let options = scaffold::NewProjectOptions {
        name,
        dir,
        gluers_path: gluers_path.or_else(own_checkout),
    };
    let dir = scaffold::new_project(&options).map_err(|e| Failure {
        status: if matches!(e, scaffold::ScaffoldError::Io { .. }) {
            ExitStatus::Failure
        } else {
            ExitStatus::Usage
        },
        message: e.to_string(),
    })?;
    println!("created {}", dir.display());
    println!("next: cd {} && cargo manage dag sample", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `gluers skill TARGET`, in the project at or above the current folder.
fn skill(target: SkillTarget) -> Result<ExitCode, Failure> {
    let cwd = current_dir()?;
    let project = match project::find(&cwd).map_err(Failure::usage)? {
        Found::Rust { dir, name } => SkillProject::rust(dir, name),
        Found::Gluepy { dir, name } => SkillProject::gluepy(dir, name),
    };
    let report = install_skill(target, &project).map_err(Failure::usage)?;
    let shown = |path: &Path| {
        let full = project.dir.join(path);
        full.strip_prefix(&cwd)
            .map(Path::to_path_buf)
            .unwrap_or(full)
    };
    for path in &report.written {
        println!("wrote     {}", shown(path).display());
    }
    for path in &report.unchanged {
        println!("unchanged {}", shown(path).display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `gluers experiment ...`: hands the command to the engine with the
/// project it needs. `init` stores the project; later commands find the
/// experiment from the current folder's repository and reuse it.
fn experiment(
    project_cmd: Option<String>,
    bin: Option<String>,
    command: ExperimentCommand,
) -> Result<ExitCode, Failure> {
    let project = match project_cmd {
        Some(cmd) => Some(ProjectSpec::Command {
            cmd,
            dir: current_dir()?,
        }),
        None if matches!(command, ExperimentCommand::Init { .. }) => {
            Some(cargo_project(&current_dir()?, bin.as_deref())?)
        }
        None => None,
    };
    gluers_experiment::execute(command, project).map_err(|e| Failure {
        message: e.to_string(),
        status: ExitStatus::from_code(e.exit_code().into()),
    })
}

/// The gluers Rust project at or above `cwd`, as the engine runs it: its
/// package folder and the binary target that runs its DAGs.
fn cargo_project(cwd: &Path, bin: Option<&str>) -> Result<ProjectSpec, Failure> {
    let (manifest_dir, _) = project::find_package(cwd).map_err(Failure::usage)?;
    let (package, bins) = project::binaries(&manifest_dir).map_err(Failure::usage)?;
    let bin = project::pick_binary(&package, &manifest_dir, bins, bin).map_err(Failure::usage)?;
    Ok(ProjectSpec::Cargo { manifest_dir, bin })
}

fn current_dir() -> Result<PathBuf, Failure> {
    std::env::current_dir().map_err(|e| Failure {
        message: format!("cannot read the current folder: {e}"),
        status: ExitStatus::Failure,
    })
}

/// The runtime crate of the gluers checkout this binary was built from
/// (`crates/gluers` beside `crates/gluers-cli`), when it is still on disk: a
/// project created by a `gluers` built from a checkout depends on that
/// checkout rather than on a registry version.
fn own_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gluers");
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.join("Cargo.toml").is_file().then_some(dir)
}
