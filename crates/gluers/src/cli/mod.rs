//! The command line of a project binary (`cargo manage ...`).

#[cfg(feature = "airflow")]
pub mod airflow;
pub mod dag;
pub mod logging;
pub mod tools;
#[cfg(feature = "worker")]
pub mod worker;

use clap::{Parser, Subcommand};

#[cfg(feature = "airflow")]
pub use airflow::AirflowArgs;
pub use dag::DagArgs;

/// Flags every command accepts.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct GlobalArgs {
    /// Log more (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, display_order = 100)]
    pub verbose: u8,
    /// Log only warnings and errors, and show no progress.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        display_order = 101
    )]
    pub quiet: bool,
}

/// The built-in commands of a project binary.
#[derive(Debug, Parser)]
#[command(
    about = "Runs this project's DAGs, compares and describes their runs.",
    long_about = None,
    after_help = "Run `<command> --help` for a command's options. Settings: configs/settings.toml (or $GLUERS_SETTINGS).\n\nExperiments and agent skills: the installed `gluers` binary (gluers --help).",
    disable_help_subcommand = true,
)]
pub struct ProjectCli {
    /// Flags every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: BuiltinCommand,
}

/// A built-in command.
#[derive(Debug, Subcommand)]
pub enum BuiltinCommand {
    /// Run a DAG, or compare or describe its runs.
    Dag(DagArgs),
    /// List the registered DAGs and their tasks.
    List,
    /// Generate Airflow DAG files from this project's DAGs.
    #[cfg(feature = "airflow")]
    Airflow(AirflowArgs),
    /// Add a module (a DAG, a task, its config) to this project and wire it into main.rs.
    Startmodule {
        /// The module's name: lowercase letters, digits, '_' and '-', starting with a letter.
        name: String,
    },
    /// Run the DAGs Celery clients send (`gluepy.run_dag` over Redis).
    #[cfg(feature = "worker")]
    Worker(worker::WorkerArgs),
    /// Moved to the installed binary: `gluers experiment ...` (says so and exits 2).
    #[command(hide = true, disable_help_flag = true)]
    Experiment {
        /// Whatever followed `experiment`.
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Moved to the installed binary: `gluers skill ...` (says so and exits 2).
    #[command(hide = true, disable_help_flag = true)]
    Skill {
        /// Whatever followed `skill`.
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}
