//! The `experiment` subcommands, as parsed by clap.

use std::path::PathBuf;

/// Autonomous experiments on a DAG: the agent changes work tasks, the engine
/// runs them against a sealed, frozen evaluation and keeps the record.
#[derive(Debug, Clone, clap::Subcommand, serde::Serialize, serde::Deserialize)]
pub enum ExperimentCommand {
    /// Start an experiment on DAG: new branch, frozen set, sealed evaluator,
    /// baseline run and experiment_log.tsv.
    Init {
        /// The DAG to improve.
        dag: String,
        /// What to improve, in words (recorded in the state).
        #[arg(long)]
        goal: String,
        /// Also freeze this file or folder, relative to the current
        /// directory (tracked or not, e.g. a data folder); repeatable.
        #[arg(long = "freeze", value_name = "PATH")]
        freeze: Vec<PathBuf>,
        /// Default time limit of a run, in seconds (build, work tasks and
        /// evaluation together).
        #[arg(long, value_name = "SECONDS", default_value_t = 600,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// Evaluation-only data (holdout answers, labels): a file or folder
        /// under the storage root, sealed at init so that work tasks cannot
        /// read it; repeatable. Adds to what the DAG declares with
        /// `Dag::eval_data`.
        #[arg(long = "holdout", value_name = "PATH")]
        holdout: Vec<PathBuf>,
        /// Leave a default frozen path (build, CI or container files) out of
        /// the frozen set; the evaluation code stays frozen; repeatable.
        #[arg(long = "unfreeze", value_name = "PATH")]
        unfreeze: Vec<PathBuf>,
        /// Run candidates without the Landlock sandbox (where the kernel has
        /// none); every row then says `unsandboxed`.
        #[arg(long)]
        no_sandbox: bool,
        /// The metric to improve (default: the first declared metric the
        /// goal names as a word; one must be named).
        #[arg(long, value_name = "NAME")]
        metric: Option<String>,
        /// Which direction of a metric is better, overriding its
        /// declaration (Gluepy projects, whose docs are free text):
        /// NAME=lower, NAME=higher or NAME=target:X; repeatable.
        #[arg(long = "direction", value_name = "NAME=DIR")]
        direction: Vec<String>,
        /// A hard constraint a kept run must meet: NAME=eq:X, NAME=ge:X or
        /// NAME=le:X; adds to the declared ones; repeatable.
        #[arg(long = "constraint", value_name = "NAME=OP:X")]
        constraint: Vec<String>,
        /// The answers of a final test, sealed like --holdout but never
        /// scored in the loop: `finish` scores the best kept commit on them
        /// once, in place of the evaluation-only path with the same file
        /// name (or the only one); PATH=REPLACED names that path;
        /// repeatable. Adds to what the DAG declares with
        /// `Dag::final_test_data`.
        #[arg(long = "final-test", value_name = "PATH")]
        final_test: Vec<String>,
    },
    /// Commit pending changes, check the frozen set, run the work tasks and
    /// the sealed evaluation, and print the metrics; with --queued, evaluate
    /// the queued candidates instead, --jobs at a time.
    Run {
        /// What changed (the commit message and the log's description).
        #[arg(
            short = 'm',
            long = "message",
            value_name = "TEXT",
            required_unless_present = "queued",
            conflicts_with = "queued"
        )]
        message: Option<String>,
        /// Time limit of this run in seconds (default: the one given at init).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        /// Evaluate the queue (`experiment queue`): each candidate in its
        /// own export, build, run folder and sealed evaluation, one pending
        /// run per candidate, numbered in queue order.
        #[arg(long)]
        queued: bool,
        /// How many queued candidates to evaluate at the same time.
        #[arg(long, value_name = "N", default_value_t = 1, requires = "queued",
              value_parser = clap::value_parser!(u64).range(1..=64))]
        jobs: u64,
    },
    /// Queue a candidate for `run --queued`: commit the work tree's changes
    /// as one (the work tree then returns to the last kept commit, ready for
    /// the next idea), or queue an existing commit REV that descends from
    /// the last kept commit.
    Queue {
        /// An existing candidate commit (default: commit the work tree).
        #[arg(value_name = "REV")]
        rev: Option<String>,
        /// What the candidate changes (default for REV: its subject).
        #[arg(short = 'm', long = "message", value_name = "TEXT")]
        message: Option<String>,
    },
    /// Keep the last run, or run ID of a batch: log it and continue from
    /// its commit.
    Keep {
        /// The experiment to keep (a batch's row; default: the only one
        /// waiting).
        #[arg(value_name = "ID")]
        id: Option<u64>,
    },
    /// Discard the last run, or run ID of a batch (or record its
    /// crash/timeout): log it and reset the branch to the last kept commit.
    Discard {
        /// The experiment to discard (a batch's row; default: the only one
        /// waiting).
        #[arg(value_name = "ID")]
        id: Option<u64>,
    },
    /// Show the experiment: branch, base, frozen set, baseline and best kept
    /// metrics, pending decision.
    Status,
    /// Show experiment_log.tsv as a table.
    Log,
    /// Check the experiment log: the hash chain of the engine's copy, and
    /// that the project's experiment_log.tsv matches it; exit 1 naming the
    /// first bad row.
    Verify,
    /// Run an AI agent (or any command) supervised: the agent runs in a
    /// sandbox where it can change the work tree but not the frozen files,
    /// `.git`, the sealed data or the engine's state, and its `experiment`
    /// commands reach this supervisor over a private socket, which does the
    /// git work, the runs and the records. Prints the session's summary
    /// when the agent exits. Needs Landlock and root (PID and mount
    /// namespaces).
    #[command(after_help = "Example: gluers experiment agent -- claude \"/experiment forecast\"")]
    Agent {
        /// Also let the agent write here (its own configuration and cache
        /// folders, e.g. ~/.claude); repeatable. The work tree, a private
        /// tmp and the usual agents' own files that exist (~/.claude,
        /// ~/.claude.json, ~/.codex) are writable anyway.
        #[arg(long = "allow-write", value_name = "PATH")]
        allow_write: Vec<PathBuf>,
        /// The agent's command and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<String>,
    },
    /// Score the best kept commit once on the sealed final test and record
    /// a `final` row: its loop metrics beside its final-test metrics (the
    /// optimism of selecting on the holdout). A second `finish` of the same
    /// commit prints the recorded result.
    Finish,
    /// Draw every experiment's metric over time, kept ones marked.
    Report {
        /// The metric to chart (default: the goal's metric).
        #[arg(long, value_name = "NAME")]
        metric: Option<String>,
        /// Output file: .svg or .png.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}
