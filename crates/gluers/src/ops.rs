//! Ops backends: where metrics, parameters and artifacts are reported.
//!
//! The runner always keeps metrics itself (for the block and
//! `metrics.json`); an ops backend mirrors them to a tracking system. The
//! default logs them; MLflow and others are further implementations.

/// Receives what tasks log. Calls come in logging order.
pub trait OpsBackend: Send {
    /// A metric was logged (already checked to be finite).
    fn log_metric(&mut self, key: &str, value: f64);
    /// A parameter was logged.
    fn log_param(&mut self, key: &str, value: &str);
    /// An artifact (a storage path) was logged.
    fn log_artifact(&mut self, path: &str);
}

/// The default backend: structured log lines through `tracing`.
#[derive(Debug, Default)]
pub struct LogOps;

impl OpsBackend for LogOps {
    fn log_metric(&mut self, key: &str, value: f64) {
        tracing::info!(target: "gluers::ops", metric = key, value, "metric");
    }

    fn log_param(&mut self, key: &str, value: &str) {
        tracing::info!(target: "gluers::ops", param = key, value, "param");
    }

    fn log_artifact(&mut self, path: &str) {
        tracing::info!(target: "gluers::ops", artifact = path, "artifact");
    }
}
