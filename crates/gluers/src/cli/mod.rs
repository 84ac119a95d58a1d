//! The command line of a project binary (`cargo manage ...`).

pub mod dag;
pub mod logging;

use clap::{Parser, Subcommand};

pub use dag::DagArgs;

/// Flags every command accepts.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct GlobalArgs {
    /// Log more (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log only warnings and errors, and show no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The built-in commands of a project binary.
#[derive(Debug, Parser)]
#[command(
    about = "Runs this project's DAGs, compares runs, and drives experiments.",
    long_about = None,
    after_help = "Run `<command> --help` for a command's options. Settings: configs/settings.toml (or $GLUERS_SETTINGS).",
    disable_help_subcommand = true,
)]
pub struct ProjectCli {
    #[command(flatten)]
    pub global: GlobalArgs,
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
}
