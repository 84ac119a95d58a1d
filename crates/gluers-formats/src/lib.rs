//! The file formats that gluers' runtime (the library a project links) and
//! its experiment engine (the installed `gluers` binary) both read or write,
//! so that neither side copies the other's readers:
//!
//! | format | module | written by | read by |
//! | --- | --- | --- | --- |
//! | `<run_folder>/metrics.json`, the metrics block | [`metrics`] | the runtime's evaluation | `dag --compare`, the engine |
//! | `<run_folder>/run.json` | [`run_record`] | the runtime | `dag --compare`, the engine |
//! | `dag LABEL --describe --format json` | [`describe`] | a project binary | the engine (frozen set, sealed data, metric contracts) |
//! | a metric's direction and constraints | [`contract`] | the runtime's `MetricDoc` | the engine (better/worse, `keep`) |
//! | project and module names | [`name`] | `gluers new`, `startmodule` | both |
//! | one-line error messages | [`message`] | both binaries | the user |
//! | exit codes (0, 1 failed, 2 usage) | [`exit`] | both binaries | scripts, the engine |
//! | `<run_folder>/params.json` | [`params`] | the runtime's `log_param` | `dag --compare` |
//! | the writer of `run.json` and of temporary files | [`process`] | the runtime | `dag --compare`, `--retry`, the temporary-file sweep |
//!
//! Numbers are printed as Python's `repr(float)` prints them
//! ([`python_float`]), so `metrics.json` and the metrics block are
//! byte-identical to Gluepy 1.6.0's.
//!
//! ```
//! use gluers_formats::Metrics;
//!
//! let mut metrics = Metrics::new();
//! metrics.record("forecast_mape", 12.5)?;
//! metrics.record("forecast_bias", -0.03)?;
//! assert_eq!(metrics.to_json(), "{\n  \"forecast_mape\": 12.5,\n  \"forecast_bias\": -0.03\n}");
//! assert_eq!(Metrics::from_json(&metrics.to_json())?, metrics);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod contract;
pub mod describe;
pub mod escape;
pub mod exit;
pub mod message;
pub mod metrics;
pub mod name;
pub mod params;
pub mod process;
mod pyfloat;
pub mod run_record;

pub use contract::{Constraint, ConstraintOp, Direction};
pub use describe::{Describe, DescribedEvalTask, DescribedMetric, DescribedTask};
pub use exit::ExitStatus;
pub use metrics::{MetricError, MetricValue, Metrics, MetricsFileError, METRICS_FILE};
pub use params::{Params, PARAMS_FILE};
pub use process::{Liveness, ProcessStamp};
pub use pyfloat::python_float;
pub use run_record::{RunRecord, RunStatus, TaskTiming, RUN_RECORD_FILE};
