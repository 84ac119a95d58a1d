//! `gluers-experiment`: the experiment engine on its own, for any project run
//! by a command (`gluers experiment` and `cargo manage experiment` are the
//! same engine).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gluers_experiment::{execute, ExperimentCommand, ProjectSpec};

/// Autonomous experiments with frozen, sealed evaluation.
#[derive(Debug, Parser)]
#[command(name = "gluers-experiment", version)]
struct Cli {
    /// The project's run command (e.g. "python manage.py"); needed by init,
    /// stored for later commands.
    #[arg(long, global = true, value_name = "CMD")]
    project_cmd: Option<String>,
    /// The project directory (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    project_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: ExperimentCommand,
}

fn main() -> ExitCode {
    if let Some(code) = gluers_experiment::dispatch() {
        return code;
    }
    gluers_experiment::exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let project = match cli.project_cmd {
        Some(cmd) => {
            let dir = match cli.project_dir {
                Some(d) => d,
                None => match std::env::current_dir() {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("error: cannot read the current directory: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            Some(ProjectSpec::Command { cmd, dir })
        }
        None => None,
    };
    match execute(cli.command, project) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
