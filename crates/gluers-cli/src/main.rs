//! The `gluers` binary: what needs no project of its own.
//!
//! `gluers new PROJECT` creates a project; `gluers experiment ...` drives the
//! experiment engine on any project, a Gluepy one included
//! (`--project-cmd "python manage.py"`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Data and ML pipelines in Rust, with an engine for autonomous experimentation.
#[derive(Debug, Parser)]
#[command(
    name = "gluers",
    version,
    disable_help_subcommand = true,
    after_help = "Inside a project, its own binary has more commands: cargo manage --help"
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
    /// Drive an experiment on any project that speaks the dag protocol (gluers or Gluepy).
    Experiment {
        /// The command that runs the project, e.g. "python manage.py" (stored at init;
        /// later commands reuse it). Default: $GLUERS_PROJECT_CMD.
        #[arg(long, value_name = "CMD", env = "GLUERS_PROJECT_CMD", global = true)]
        project_cmd: Option<String>,
        #[command(subcommand)]
        command: gluers_experiment::ExperimentCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New {
            name,
            path,
            gluers_path,
        } => {
            let options = gluers::scaffold::NewProjectOptions {
                name: name.clone(),
                dir: path,
                gluers_path: gluers_path.or_else(own_checkout),
            };
            gluers::scaffold::new_project(&options)
                .map(|dir| {
                    println!("created {}", dir.display());
                    println!("next: cd {} && cargo manage dag sample", dir.display());
                    ExitCode::SUCCESS
                })
                .map_err(|e| (e.to_string(), 2))
        }
        Command::Experiment {
            project_cmd,
            command,
        } => {
            let project = match project_cmd {
                Some(cmd) => match std::env::current_dir() {
                    Ok(dir) => Some(gluers_experiment::ProjectSpec::Command { cmd, dir }),
                    Err(e) => return fail(&format!("cannot read the current folder: {e}"), 1),
                },
                None => None,
            };
            gluers::cli::tools::experiment(command, project)
        }
    };
    match result {
        Ok(code) => code,
        Err((message, code)) => fail(&message, code),
    }
}

/// The gluers sources this binary was built from, when they are still on
/// disk: a project created by a `gluers` built from a checkout depends on
/// that checkout rather than on a registry version.
fn own_checkout() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.join("Cargo.toml").is_file().then_some(dir)
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {}", message.replace('\n', " "));
    ExitCode::from(code)
}
