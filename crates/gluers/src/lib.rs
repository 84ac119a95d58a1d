//! gluers: data and ML pipelines in Rust. This is the runtime library a
//! project links: tasks, DAGs, the runner, context and settings, storage,
//! the data manager, metrics and ops backends, and the project binary's
//! command line. The experiment engine, `gluers new` and the agent skills
//! live in the installed `gluers` binary (package `gluers-cli`), which a
//! project never links.
//!
//! A project defines [`Task`]s and [`EvaluationTask`]s, wires them into
//! [`Dag`]s and hands those to a [`Project`] in its `main`:
//!
//! ```no_run
//! use gluers::{Dag, EvaluationTask, MetricDoc, Project, RunContext, Task, TaskResult};
//!
//! struct Train;
//! impl Task for Train {
//!     fn label(&self) -> &str { "train" }
//!     fn run(&self, ctx: &mut RunContext) -> TaskResult {
//!         ctx.storage().write(&ctx.runpath("model.txt"), b"42")?;
//!         Ok(())
//!     }
//! }
//!
//! struct Score;
//! impl EvaluationTask for Score {
//!     fn label(&self) -> &str { "score" }
//!     fn metrics(&self) -> Vec<MetricDoc> {
//!         vec![MetricDoc::new("error", "Absolute error of the model. Lower is better.")]
//!     }
//!     fn run(&self, ctx: &mut RunContext) -> TaskResult {
//!         let model = ctx.storage().read_to_string(&ctx.runpath("model.txt"))?;
//!         ctx.log_metric("error", (model.parse::<f64>()? - 40.0).abs())?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Project::new("demo")
//!         .dag(Dag::new("demo").task(Train).eval_task(Score))
//!         .main()
//! }
//! ```
//!
//! The public surface is small on purpose: the items above at the root,
//! and a few modules for what a project reaches less often:
//!
//! | module | what is in it |
//! | --- | --- |
//! | [`storage`] | [`StorageBackend`] and its errors, for new backends |
//! | [`data`] | the data manager's tables, readers, writers and errors |
//! | [`settings`] | the sections of `configs/settings.toml` |
//! | [`metrics`] | what [`RunContext`] has logged so far |
//! | [`ops`] | where logged metrics, params and artifacts are mirrored |
//! | [`testing`] | a [`RunContext`] in memory, for unit tests of tasks |
//!
//! The runner, the registry, the command line and the `--compare` and
//! `--describe` readers are the project binary's internals: they are
//! reached through [`Project::main`], not linked one by one.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "airflow")]
mod airflow;
mod atomic;
mod cli;
mod compare;
mod context;
mod dag;
pub mod data;
mod describe;
mod error;
mod limits;
pub mod metrics;
pub mod ops;
mod progress;
mod project;
mod registry;
mod run_context;
mod run_folder;
mod run_record;
mod runner;
mod scaffold;
pub mod settings;
pub mod storage;
mod task;
pub mod testing;
#[cfg(feature = "worker")]
mod worker;

pub use context::Context;
pub use dag::Dag;
pub use data::DataManager;
pub use error::{GluersError, Result};
pub use gluers_formats::contract::{Constraint, Direction};
pub use gluers_formats::exit::ExitStatus;
pub use project::{Command, CommandContext, Project};
pub use run_context::RunContext;
pub use settings::Settings;
pub use storage::{LocalStorage, MemoryStorage, Storage, StorageBackend};
pub use task::{EvaluationTask, MetricDoc, Task, TaskResult};

/// Re-exported so projects need no direct dependency for task errors.
pub use anyhow;

/// polars, for DataFrame tables (feature `polars`).
#[cfg(feature = "polars")]
#[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
pub use data::polars;
