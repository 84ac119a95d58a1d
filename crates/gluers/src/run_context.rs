//! What a task sees while it runs: the context, storage and the ops log.

use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Result;
use crate::metrics::Params;
use crate::metrics::{MetricError, Metrics};
use crate::ops::tracker::Tracker;
use crate::ops::{Artifact, Input, OpsRun};
use crate::storage::Storage;

/// The explicit run context handed to every task (no global singletons).
pub struct RunContext {
    context: Context,
    storage: Storage,
    metrics: Metrics,
    params: Params,
    ops: Tracker,
}

impl RunContext {
    /// A context for one run, reporting to the open tracked run `ops`
    /// (e.g. `LogOps.create_run(..)`). A failing `ops` call is one warning
    /// and stops tracking; what the task logs is kept all the same.
    pub(crate) fn new(context: Context, storage: Storage, ops: Box<dyn OpsRun>) -> Self {
        Self::with_tracker(context, storage, Tracker::with_run(ops))
    }

    pub(crate) fn with_tracker(context: Context, storage: Storage, ops: Tracker) -> Self {
        RunContext {
            context,
            storage,
            metrics: Metrics::new(),
            params: Params::new(),
            ops,
        }
    }

    pub(crate) fn tracker(&mut self) -> &mut Tracker {
        &mut self.ops
    }

    /// Reads a typed section of the context, e.g. `ctx.config::<ForecastConfig>("forecast")`.
    ///
    /// The path is dotted (`"forecast.model"`); the empty path is the whole context.
    pub fn config<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.context.get(path)
    }

    /// The resolved context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.context.meta().run_id
    }

    /// The run folder, as a storage path.
    pub fn run_folder(&self) -> &str {
        &self.context.meta().run_folder
    }

    /// `path` inside the run folder, as a storage path.
    pub fn runpath(&self, path: &str) -> String {
        self.storage.runpath(path)
    }

    /// The storage, rooted at the storage root.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Tables on the storage, relative to the run folder by default.
    pub fn data(&self) -> crate::data::DataManager<'_> {
        crate::data::DataManager::new(&self.storage)
    }

    /// Logs a metric; it goes into the metrics block and `metrics.json`.
    /// A float prints as Python prints one (`12.0`), an integer as an
    /// integer (`ctx.log_metric("rows", 42)` prints `metric:rows=42`, as
    /// Gluepy prints a Python `int`).
    ///
    /// Refuses NaN, infinities and keys that would break the block.
    pub fn log_metric(
        &mut self,
        key: &str,
        value: impl Into<crate::metrics::MetricValue>,
    ) -> std::result::Result<(), MetricError> {
        let value = value.into();
        self.metrics.record(key, value)?;
        self.ops.log_metric(key, value.as_f64());
        Ok(())
    }

    /// Logs a run parameter (a model setting, a data version). It is kept
    /// in the run folder's `params.json` and shown by `dag --compare`.
    pub fn log_param(&mut self, key: &str, value: impl std::fmt::Display) {
        let value = value.to_string();
        self.ops.log_param(key, &value);
        self.params.insert(key.to_string(), value.into());
    }

    /// Logs an artifact: a storage path this run produced. A tracker such
    /// as MLflow gets a copy, named by its path inside the run folder.
    pub fn log_artifact(&mut self, path: &str) {
        let prefix = format!("{}/", self.run_folder());
        let name = path.strip_prefix(&prefix).unwrap_or(path);
        self.ops
            .log_artifact(&Artifact::new(path, name, &self.storage));
    }

    /// Logs a data set the run read (Gluepy's `log_input`): its name, where
    /// it comes from, and a digest of its content if known.
    pub fn log_input(&mut self, name: &str, source: &str, digest: Option<&str>) {
        self.ops.log_input(&Input {
            name,
            source,
            digest,
        });
    }

    /// The parameters logged so far, in logging order.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The metrics logged so far, in logging order.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
