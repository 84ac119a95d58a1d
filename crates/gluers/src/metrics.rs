//! Metrics logged by evaluation tasks, the metrics block and `metrics.json`.
//!
//! The formats themselves live in [`gluers_formats`], which the experiment
//! engine reads too; they are re-exported here under their familiar names.

pub use gluers_formats::metrics::{
    MetricError, Metrics, MetricsFileError, BLOCK_END, BLOCK_START, METRICS_FILE,
};
pub use gluers_formats::python_float;
