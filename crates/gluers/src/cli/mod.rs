//! The command line of a project binary (`cargo manage ...`).

pub mod dag;
pub mod logging;
pub mod tools;

use clap::{Parser, Subcommand};

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
    /// Write agent instructions (skill, references, /experiment command) for an AI coding tool.
    Skill {
        /// The tool: claude, cursor, github (Copilot) or codex (AGENTS.md).
        target: crate::skill::SkillTarget,
    },
    /// Let an AI agent improve a DAG's work tasks while evaluation stays frozen.
    #[command(subcommand)]
    Experiment(gluers_experiment::ExperimentCommand),
    /// Add a module (a DAG, a task, its config) to this project and wire it into main.rs.
    Startmodule {
        /// The module's name: lowercase letters, digits and '_'.
        name: String,
    },
}
