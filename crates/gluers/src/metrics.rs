//! What evaluation tasks log: metrics and run parameters, as
//! [`RunContext::metrics`](crate::RunContext::metrics) and
//! [`RunContext::params`](crate::RunContext::params) return them.
//!
//! ```
//! let mut ctx = gluers::testing::run_context("")?;
//! ctx.log_metric("mape", 12.5)?;
//! ctx.log_metric("rows", 42)?;
//! ctx.log_param("model", "naive");
//! assert_eq!(ctx.metrics().to_json(), "{\n  \"mape\": 12.5,\n  \"rows\": 42\n}");
//! assert!(ctx.log_metric("bad", f64::NAN).is_err());
//! # Ok::<(), gluers::anyhow::Error>(())
//! ```
//!
//! The formats themselves live in `gluers-formats`, which the experiment
//! engine reads too, so `metrics.json` means the same to both.

pub use gluers_formats::metrics::{MetricError, MetricValue, Metrics};
pub use gluers_formats::params::Params;

// The runner and `--compare` write and read the files and the block.
pub(crate) use gluers_formats::metrics::METRICS_FILE;
pub(crate) use gluers_formats::python_float;
