//! Work tasks and evaluation tasks.
//!
//! The two are separate traits so that the type system keeps them apart: a
//! [`Dag`](crate::Dag) takes work tasks in [`Dag::task`](crate::Dag::task) and
//! only evaluation tasks in [`Dag::eval_task`](crate::Dag::eval_task). The
//! experiment engine freezes the code of evaluation tasks and runs it from a
//! sealed build, so the split is also a trust boundary.

use crate::run_context::RunContext;
use gluers_formats::contract::{Constraint, Direction};

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

/// The documentation of one metric: its name, what it means, and its
/// contract: which direction is better and the hard constraints a kept run
/// must meet.
///
/// The doc is for people and agents; the contract is the same meaning as
/// data, which the experiment engine reads (`--describe --format json`) to
/// tell better from worse and to refuse keeping a run that breaks a
/// constraint. Say it in both:
///
/// ```
/// use gluers::{Direction, MetricDoc};
///
/// let mape = MetricDoc::new("forecast_mape", "Mean absolute percentage error. Lower is better.")
///     .lower_is_better();
/// let bias = MetricDoc::new("forecast_bias", "Mean error, GW. Closer to 0.0 is better.")
///     .closer_to(0.0);
/// let rows = MetricDoc::new("row_count_match", "1.0 if every row is predicted. Must be 1.0.")
///     .must_equal(1.0);
/// assert_eq!(mape.direction, Some(Direction::Lower));
/// assert_eq!(bias.direction, Some(Direction::Target(0.0)));
/// assert!(rows.constraints[0].holds(1.0) && !rows.constraints[0].holds(0.0));
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MetricDoc {
    /// The metric's key, as passed to [`RunContext::log_metric`].
    pub name: &'static str,
    /// What it measures, its unit, and which direction is better.
    pub doc: &'static str,
    /// Which direction is better, when declared.
    pub direction: Option<Direction>,
    /// Hard constraints: a run that breaks one cannot be kept.
    pub constraints: Vec<Constraint>,
}

impl MetricDoc {
    /// Documents the metric `name` (no declared direction or constraint).
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        MetricDoc {
            name,
            doc,
            direction: None,
            constraints: Vec::new(),
        }
    }

    /// Declares that smaller values are better (errors, losses).
    pub fn lower_is_better(mut self) -> Self {
        self.direction = Some(Direction::Lower);
        self
    }

    /// Declares that larger values are better (accuracy, recall).
    pub fn higher_is_better(mut self) -> Self {
        self.direction = Some(Direction::Higher);
        self
    }

    /// Declares that values closer to `target` are better (a bias: 0.0).
    pub fn closer_to(mut self, target: f64) -> Self {
        self.direction = Some(Direction::Target(target));
        self
    }

    /// A hard constraint: the metric must equal `value` (within 1e-9
    /// relative), e.g. a validation flag that must be 1.0.
    pub fn must_equal(mut self, value: f64) -> Self {
        self.constraints.push(Constraint::eq(value));
        self
    }

    /// A hard constraint: the metric must be at least `value`.
    pub fn at_least(mut self, value: f64) -> Self {
        self.constraints.push(Constraint::at_least(value));
        self
    }

    /// A hard constraint: the metric must be at most `value`.
    pub fn at_most(mut self, value: f64) -> Self {
        self.constraints.push(Constraint::at_most(value));
        self
    }
}
