//! DAGs: an ordered list of work tasks followed by evaluation tasks.

use std::panic::Location;
use std::sync::Arc;

use crate::storage::normalize_key;
use crate::task::{EvaluationTask, MetricDoc, Task};

/// The label of the task that starts every run by writing `context.yaml`.
pub const BOOTSTRAP_LABEL: &str = "bootstrap";

/// A pipeline: work tasks run in order, then evaluation tasks.
///
/// ```
/// use gluers::{Dag, EvaluationTask, RunContext, Task, TaskResult};
/// # struct Train; impl Task for Train { fn label(&self) -> &str { "train" } fn run(&self, _: &mut RunContext) -> TaskResult { Ok(()) } }
/// # struct Score; impl EvaluationTask for Score { fn label(&self) -> &str { "score" } fn run(&self, _: &mut RunContext) -> TaskResult { Ok(()) } }
/// let dag = Dag::new("forecast").task(Train).eval_task(Score);
/// assert_eq!(dag.label(), "forecast");
/// ```
pub struct Dag {
    label: String,
    about: Option<String>,
    tasks: Vec<WorkEntry>,
    eval_tasks: Vec<EvalEntry>,
    /// Where `eval_task` was called: the DAG's evaluation wiring, which the
    /// experiment engine freezes.
    eval_wiring: Option<&'static Location<'static>>,
    /// Storage paths only evaluation may read, as declared.
    eval_data: Vec<String>,
    /// The final test's answers, as declared.
    final_test_data: Vec<String>,
}

/// A registered work task with what the registry knows about it.
#[derive(Clone)]
pub(crate) struct WorkEntry {
    pub(crate) task: Arc<dyn Task>,
    pub(crate) type_name: &'static str,
}

/// A registered evaluation task with what the registry knows about it.
#[derive(Clone)]
pub(crate) struct EvalEntry {
    pub(crate) task: Arc<dyn EvaluationTask>,
    pub(crate) type_name: &'static str,
}

impl Dag {
    /// Starts a DAG called `label` (the name `dag LABEL` runs).
    pub fn new(label: impl Into<String>) -> Self {
        Dag {
            label: label.into(),
            about: None,
            tasks: Vec::new(),
            eval_tasks: Vec::new(),
            eval_wiring: None,
            eval_data: Vec::new(),
            final_test_data: Vec::new(),
        }
    }

    /// A one-line description shown by `list` and `--describe`.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// Appends a work task.
    pub fn task<T: Task>(mut self, task: T) -> Self {
        self.tasks.push(WorkEntry {
            task: Arc::new(task),
            type_name: std::any::type_name::<T>(),
        });
        self
    }

    /// Appends an evaluation task; only [`EvaluationTask`]s are accepted here.
    #[track_caller]
    pub fn eval_task<E: EvaluationTask>(mut self, task: E) -> Self {
        self.eval_wiring = Some(Location::caller());
        self.eval_tasks.push(EvalEntry {
            task: Arc::new(task),
            type_name: std::any::type_name::<E>(),
        });
        self
    }

    /// Declares a file or folder that only evaluation may read, such as the
    /// actual values of a holdout period; repeatable.
    ///
    /// `path` is a storage path, relative to the storage root (for example
    /// `holdout/actuals.csv`, read by an evaluation task with
    /// `ctx.data().root().read_csv(..)`). `dag --describe` lists it, and the
    /// experiment engine snapshots it at `experiment init` and keeps it out
    /// of the work tasks' reach; within one plain run gluers does not stop a
    /// work task from reading it, so keep such data out of the inputs the
    /// work tasks read. The registry refuses, at start-up, a path that is
    /// absolute, leaves the storage root, is the root itself or lies under
    /// `runs/`.
    ///
    /// ```
    /// use gluers::Dag;
    /// let dag = Dag::new("forecast").eval_data("holdout/actuals.csv");
    /// assert_eq!(dag.eval_data_paths(), ["holdout/actuals.csv"]);
    /// ```
    pub fn eval_data(mut self, path: impl Into<String>) -> Self {
        self.eval_data.push(path.into());
        self
    }

    /// The declared evaluation-only paths, normalised (`./holdout//a.csv`
    /// reads `holdout/a.csv`) and without repeats, in declaration order.
    /// Paths the registry would refuse are listed as declared.
    pub fn eval_data_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::with_capacity(self.eval_data.len());
        for declared in &self.eval_data {
            let path = normalize_key(declared).unwrap_or_else(|_| declared.clone());
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    /// The declared evaluation-only paths, exactly as declared.
    pub(crate) fn declared_eval_data(&self) -> &[String] {
        &self.eval_data
    }

    /// Declares the answers of a final test: a storage path (file or
    /// folder) that, like [`eval_data`](Dag::eval_data), only evaluation
    /// may read, but that the experiment loop never scores. `gluers
    /// experiment finish` scores the best kept commit on it once: its
    /// evaluation runs with this path put in place of the `eval_data` path
    /// with the same file name (so `final/actuals.csv` stands in for
    /// `holdout/actuals.csv`), or of the only `eval_data` path when there is
    /// one. The work tasks must therefore predict the final period too; the
    /// evaluation scores the rows its answers name.
    ///
    /// ```
    /// use gluers::Dag;
    /// let dag = Dag::new("forecast")
    ///     .eval_data("holdout/actuals.csv")
    ///     .final_test_data("final/actuals.csv");
    /// assert_eq!(dag.final_test_data_paths(), ["final/actuals.csv"]);
    /// ```
    pub fn final_test_data(mut self, path: impl Into<String>) -> Self {
        self.final_test_data.push(path.into());
        self
    }

    /// The declared final-test paths, normalised and without repeats.
    pub fn final_test_data_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::with_capacity(self.final_test_data.len());
        for declared in &self.final_test_data {
            let path = normalize_key(declared).unwrap_or_else(|_| declared.clone());
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    /// The declared final-test paths, exactly as declared.
    pub(crate) fn declared_final_test_data(&self) -> &[String] {
        &self.final_test_data
    }

    /// The DAG's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The DAG's one-line description, if any.
    pub fn description(&self) -> Option<&str> {
        self.about.as_deref()
    }

    /// The labels of the work tasks, in order.
    pub fn task_labels(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().map(|e| e.task.label())
    }

    /// The labels of the evaluation tasks, in order.
    pub fn eval_task_labels(&self) -> impl Iterator<Item = &str> {
        self.eval_tasks.iter().map(|e| e.task.label())
    }

    /// Whether the DAG has evaluation tasks.
    pub fn has_eval_tasks(&self) -> bool {
        !self.eval_tasks.is_empty()
    }

    pub(crate) fn work_entries(&self) -> &[WorkEntry] {
        &self.tasks
    }

    pub(crate) fn eval_entries(&self) -> &[EvalEntry] {
        &self.eval_tasks
    }

    pub(crate) fn eval_wiring(&self) -> Option<&'static Location<'static>> {
        self.eval_wiring
    }

    /// Every task label with its type, work tasks first.
    pub(crate) fn labelled_types(&self) -> impl Iterator<Item = (&str, &'static str)> {
        let work = self.tasks.iter().map(|e| (e.task.label(), e.type_name));
        let eval = self
            .eval_tasks
            .iter()
            .map(|e| (e.task.label(), e.type_name));
        work.chain(eval)
    }

    pub(crate) fn metric_docs(&self) -> impl Iterator<Item = (&str, Vec<MetricDoc>)> {
        self.eval_tasks
            .iter()
            .map(|e| (e.task.label(), e.task.metrics()))
    }
}
