//! The default ops backend: structured log lines through `tracing`.

use super::{Artifact, Input, OpsBackend, OpsResult, OpsRun, OpsRunInfo, RunStart, TerminalStatus};

/// The default backend: every call is a structured log line (target
/// `gluers::ops`). It keeps nothing, so it lists no runs; it never fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOps;

impl OpsBackend for LogOps {
    fn name(&self) -> &str {
        "log"
    }

    fn create_run(&self, start: &RunStart<'_>) -> OpsResult<Box<dyn OpsRun>> {
        tracing::debug!(target: "gluers::ops", dag = start.dag, run_id = start.run_id, "run");
        Ok(Box::new(LogRun {
            id: start.run_id.to_string(),
        }))
    }

    fn get_run(&self, _run_id: &str) -> OpsResult<Option<OpsRunInfo>> {
        Ok(None)
    }

    fn list_runs(&self, _dag: Option<&str>) -> OpsResult<Vec<OpsRunInfo>> {
        Ok(Vec::new())
    }
}

/// A run of [`LogOps`].
#[derive(Debug)]
struct LogRun {
    id: String,
}

impl OpsRun for LogRun {
    fn id(&self) -> &str {
        &self.id
    }

    fn log_param(&mut self, key: &str, value: &str) -> OpsResult<()> {
        tracing::info!(target: "gluers::ops", param = key, value, "param");
        Ok(())
    }

    fn log_metric(&mut self, key: &str, value: f64) -> OpsResult<()> {
        tracing::info!(target: "gluers::ops", metric = key, value, "metric");
        Ok(())
    }

    fn log_artifact(&mut self, artifact: &Artifact<'_>) -> OpsResult<()> {
        tracing::info!(target: "gluers::ops", artifact = artifact.path(), "artifact");
        Ok(())
    }

    fn log_input(&mut self, input: &Input<'_>) -> OpsResult<()> {
        tracing::info!(target: "gluers::ops", input = input.name, source = input.source, "input");
        Ok(())
    }

    fn set_terminated(&mut self, status: TerminalStatus) -> OpsResult<()> {
        tracing::debug!(target: "gluers::ops", status = status.as_str(), "terminated");
        Ok(())
    }
}
