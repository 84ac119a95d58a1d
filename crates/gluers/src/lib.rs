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
//! Module map: [`task`] and [`dag`] define pipelines; [`registry`] checks
//! them; [`settings`] and [`context`] configure a run; [`runner`] executes
//! it with a [`RunContext`] over [`storage`]; [`metrics`] and [`ops`] record
//! what evaluation measured; [`compare`] and [`describe`] read runs back;
//! [`cli`] and [`project`] are the command line.

mod atomic;
pub mod celery_settings;
pub mod cli;
pub mod compare;
pub mod context;
pub mod dag;
pub mod data;
pub mod describe;
pub mod error;
mod limits;
pub mod metrics;
pub mod ops;
mod progress;
pub mod project;
pub mod registry;
pub mod run_context;
pub mod run_folder;
pub mod run_record;
pub mod runner;
mod scaffold;
pub mod settings;
pub mod storage;
pub mod task;
pub mod testing;
#[cfg(feature = "worker")]
pub mod worker;

pub use atomic::write_atomic;
pub use dag::Dag;
/// polars, for DataFrame tables (feature `polars`).
#[cfg(feature = "polars")]
pub use data::polars;
pub use data::{DataError, DataManager};
pub use error::{GluersError, Result};
pub use gluers_formats::contract::{Constraint, Direction};
pub use project::{Command, CommandContext, Project};
pub use run_context::RunContext;
pub use settings::Settings;
pub use storage::{LocalStorage, MemoryStorage, Storage, StorageBackend};
pub use task::{EvaluationTask, MetricDoc, Task, TaskResult};

/// Re-exported so projects need no direct dependency for task errors.
pub use anyhow;
