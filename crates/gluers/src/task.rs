//! Work tasks and evaluation tasks.
//!
//! The two are separate traits so that the type system keeps them apart: a
//! [`Dag`](crate::Dag) takes work tasks in [`Dag::task`](crate::Dag::task) and
//! only evaluation tasks in [`Dag::eval_task`](crate::Dag::eval_task). The
//! experiment engine freezes the code of evaluation tasks and runs it from a
//! sealed build, so the split is also a trust boundary.

use crate::run_context::RunContext;

/// What a task returns: `Ok(())`, or any error (it fails the run).
pub type TaskResult = anyhow::Result<()>;

/// A unit of work in a DAG: prepare data, train a model, predict.
///
/// ```
/// use gluers::{RunContext, Task, TaskResult};
///
/// struct PrepareData;
///
/// impl Task for PrepareData {
///     fn label(&self) -> &str {
///         "prepare_data"
///     }
///     fn run(&self, ctx: &mut RunContext) -> TaskResult {
///         ctx.storage().write(&ctx.runpath("ready.txt"), b"ok")?;
///         Ok(())
///     }
/// }
/// ```
pub trait Task: Send + Sync + 'static {
    /// The task's label, unique in the project (`--task`, `--from-task` use it).
    fn label(&self) -> &str;

    /// Does the work.
    fn run(&self, ctx: &mut RunContext) -> TaskResult;
}

/// A task that measures a run and logs metrics; frozen during experiments.
///
/// Document every metric it logs in [`metrics`](EvaluationTask::metrics):
/// what it measures and which direction is better. An agent running
/// experiments reads these (`dag LABEL --describe`) to know what "better"
/// means.
///
/// ```
/// use gluers::{EvaluationTask, MetricDoc, RunContext, TaskResult};
///
/// struct ComputeAccuracy;
///
/// impl EvaluationTask for ComputeAccuracy {
///     fn label(&self) -> &str {
///         "compute_accuracy"
///     }
///     fn metrics(&self) -> Vec<MetricDoc> {
///         vec![MetricDoc::new("forecast_mape", "Mean absolute percentage error. Lower is better.")]
///     }
///     fn run(&self, ctx: &mut RunContext) -> TaskResult {
///         ctx.log_metric("forecast_mape", 12.5)?;
///         Ok(())
///     }
/// }
/// ```
pub trait EvaluationTask: Send + Sync + 'static {
    /// The task's label, unique in the project.
    fn label(&self) -> &str;

    /// The metrics this task logs, each with its documentation.
    fn metrics(&self) -> Vec<MetricDoc> {
        Vec::new()
    }

    /// Evaluates the run folder's outputs and logs metrics.
    fn run(&self, ctx: &mut RunContext) -> TaskResult;
}

/// The documentation of one metric: its name and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MetricDoc {
    /// The metric's key, as passed to [`RunContext::log_metric`].
    pub name: &'static str,
    /// What it measures, its unit, and which direction is better.
    pub doc: &'static str,
}

impl MetricDoc {
    /// Documents the metric `name`.
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        MetricDoc { name, doc }
    }
}
