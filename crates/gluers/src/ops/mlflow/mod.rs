//! The MLflow ops backend, over MLflow's REST API (feature `mlflow`).
//!
//! One MLflow run per gluers run, in the experiment named after the DAG
//! (with an optional prefix), tagged `gluers.run_id`, `gluers.run_folder`
//! and `gluers.dag`; a `--retry` finds the run by its `gluers.run_id` tag
//! and reopens it rather than start a second one. Params, metrics, inputs
//! and the terminal status go through `/api/2.0/mlflow/...`; artifacts are
//! uploaded through the server's artifact proxy (`mlflow server` serves
//! artifacts by default), under the run's `artifact_uri`.

mod client;

use serde_json::{json, Value};

pub use client::Auth;
use client::{must, Client};

use super::{
    Artifact, Input, KillSwitch, OpsBackend, OpsError, OpsResult, OpsRun, OpsRunInfo, RunStart,
    TerminalStatus,
};
use crate::settings::MlflowSettings;

/// The tag that holds the gluers run id.
pub const RUN_ID_TAG: &str = "gluers.run_id";
/// The tag that holds the run folder.
pub const RUN_FOLDER_TAG: &str = "gluers.run_folder";
/// The tag that holds the DAG label.
pub const DAG_TAG: &str = "gluers.dag";

/// Where and as whom the backend reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlflowConfig {
    /// The tracking server, `http://` or `https://`.
    pub tracking_uri: String,
    /// The credentials.
    pub auth: Auth,
    /// Put before the DAG label to name the experiment.
    pub experiment_prefix: String,
}

impl MlflowConfig {
    /// The configuration from `[ops.mlflow]` and the environment (`env`
    /// reads a variable): `MLFLOW_TRACKING_URI` overrides the settings'
    /// `tracking_uri`; `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME`
    /// and `MLFLOW_TRACKING_PASSWORD`, are the credentials.
    pub fn from_settings(
        settings: &MlflowSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> OpsResult<Self> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let uri = env("MLFLOW_TRACKING_URI")
            .or_else(|| settings.tracking_uri.clone().filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                OpsError::Config(
                    "[ops] backend = \"mlflow\" needs a tracking server: set tracking_uri in \
                     [ops.mlflow] of the settings, or MLFLOW_TRACKING_URI"
                        .into(),
                )
            })?;
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(OpsError::Config(format!(
                "MLflow tracking URI {uri:?}: only an http:// or https:// tracking server is \
                 supported; start `mlflow server` and point tracking_uri (or \
                 MLFLOW_TRACKING_URI) at it"
            )));
        }
        let auth = match (
            env("MLFLOW_TRACKING_TOKEN"),
            env("MLFLOW_TRACKING_USERNAME"),
            env("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(token), _, _) => Auth::Bearer(token),
            (None, Some(username), Some(password)) => Auth::Basic { username, password },
            (None, Some(_), None) | (None, None, Some(_)) => {
                return Err(OpsError::Config(
                    "MLflow credentials: set both MLFLOW_TRACKING_USERNAME and \
                     MLFLOW_TRACKING_PASSWORD, or neither"
                        .into(),
                ))
            }
            (None, None, None) => Auth::None,
        };
        Ok(MlflowConfig {
            tracking_uri: uri.trim_end_matches('/').to_string(),
            auth,
            experiment_prefix: settings.experiment_prefix.clone(),
        })
    }
}

/// The MLflow backend.
pub struct MlflowOps {
    client: Client,
    prefix: String,
}

impl MlflowOps {
    /// A backend reporting as `config` says. Nothing is sent before a run
    /// is created.
    pub fn new(config: MlflowConfig) -> Self {
        MlflowOps {
            client: Client::new(&config.tracking_uri, &config.auth),
            prefix: config.experiment_prefix,
        }
    }

    fn experiment_name(&self, dag: &str) -> String {
        format!("{}{dag}", self.prefix)
    }

    /// The id of experiment `name`, if it exists.
    fn find_experiment(&self, name: &str) -> OpsResult<Option<String>> {
        match self
            .client
            .get("experiments/get-by-name", &[("experiment_name", name)])
        {
            Ok(v) => Ok(v["experiment"]["experiment_id"]
                .as_str()
                .map(str::to_string)),
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(self.client.error("look up an experiment", e)),
        }
    }

    /// The id of experiment `name`, created when missing.
    fn experiment(&self, name: &str) -> OpsResult<String> {
        if let Some(id) = self.find_experiment(name)? {
            return Ok(id);
        }
        match self
            .client
            .post("experiments/create", &json!({ "name": name }))
        {
            Ok(v) => string(&self.client, &v["experiment_id"], "experiment_id"),
            // Another run created it meanwhile.
            Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => self
                .find_experiment(name)?
                .ok_or_else(|| self.client.error("create an experiment", e)),
            Err(e) => Err(self.client.error("create an experiment", e)),
        }
    }

    /// The ids of the experiments gluers reports to: one DAG's, or every
    /// experiment whose name has the prefix.
    fn experiments(&self, dag: Option<&str>) -> OpsResult<Vec<String>> {
        if let Some(dag) = dag {
            return Ok(self
                .find_experiment(&self.experiment_name(dag))?
                .into_iter()
                .collect());
        }
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "max_results": 1000 });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = must(
                &self.client,
                "list experiments",
                self.client.post("experiments/search", &body),
            )?;
            for e in v["experiments"].as_array().into_iter().flatten() {
                let name = e["name"].as_str().unwrap_or_default();
                if let (true, Some(id)) =
                    (name.starts_with(&self.prefix), e["experiment_id"].as_str())
                {
                    ids.push(id.to_string());
                }
            }
            token = v["next_page_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Runs of `experiments` matching `filter`, newest first.
    fn search(&self, experiments: &[String], filter: &str) -> OpsResult<Vec<Value>> {
        let mut runs = Vec::new();
        if experiments.is_empty() {
            return Ok(runs);
        }
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": experiments,
                "filter": filter,
                "max_results": 1000,
                "order_by": ["attributes.start_time DESC"],
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = must(
                &self.client,
                "search runs",
                self.client.post("runs/search", &body),
            )?;
            runs.extend(v["runs"].as_array().cloned().unwrap_or_default());
            token = v["next_page_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(runs);
            }
        }
    }
}

/// A filter on the gluers run id tag. Run ids are gluers' own (letters,
/// digits, `-`, `_`, `.`); a quote would end MLflow's string literal.
fn run_id_filter(run_id: &str) -> OpsResult<String> {
    if run_id.contains(['\'', '\\']) {
        return Err(OpsError::Config(format!(
            "run id {run_id:?} cannot be searched in MLflow (it has a quote)"
        )));
    }
    Ok(format!("tags.`{RUN_ID_TAG}` = '{run_id}'"))
}

fn string(client: &Client, v: &Value, what: &str) -> OpsResult<String> {
    v.as_str().map(str::to_string).ok_or_else(|| {
        OpsError::Rejected(format!(
            "the MLflow tracking server at {} answered without {what}: is it an MLflow server?",
            client.base()
        ))
    })
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// An MLflow run as [`OpsRunInfo`].
fn info(run: &Value) -> OpsRunInfo {
    let tag = |key: &str| {
        run["data"]["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["key"] == key)
            .and_then(|t| t["value"].as_str())
            .map(str::to_string)
    };
    let ms = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let i = &run["info"];
    OpsRunInfo {
        id: i["run_id"].as_str().unwrap_or_default().to_string(),
        run_id: tag(RUN_ID_TAG),
        dag: tag(DAG_TAG),
        run_folder: tag(RUN_FOLDER_TAG),
        status: i["status"].as_str().unwrap_or_default().to_string(),
        start_time_ms: ms(&i["start_time"]),
        end_time_ms: ms(&i["end_time"]),
    }
}

impl OpsBackend for MlflowOps {
    fn name(&self) -> &str {
        "mlflow"
    }

    fn create_run(&self, start: &RunStart<'_>) -> OpsResult<Box<dyn OpsRun>> {
        let experiment = self.experiment(&self.experiment_name(start.dag))?;
        let filter = run_id_filter(start.run_id)?;
        let existing = if start.resume {
            self.search(std::slice::from_ref(&experiment), &filter)?
                .into_iter()
                .next()
        } else {
            None
        };
        let run = match existing {
            Some(run) => {
                let id = string(&self.client, &run["info"]["run_id"], "run_id")?;
                // Back to RUNNING: the retry goes on in the same MLflow run.
                must(
                    &self.client,
                    "reopen a run",
                    self.client
                        .post("runs/update", &json!({ "run_id": id, "status": "RUNNING" })),
                )?;
                run
            }
            None => {
                let mut tags = vec![
                    json!({ "key": RUN_ID_TAG, "value": start.run_id }),
                    json!({ "key": RUN_FOLDER_TAG, "value": start.run_folder }),
                    json!({ "key": DAG_TAG, "value": start.dag }),
                ];
                if let Some(user) = start.username {
                    tags.push(json!({ "key": "mlflow.user", "value": user }));
                }
                let v = must(
                    &self.client,
                    "create a run",
                    self.client.post(
                        "runs/create",
                        &json!({
                            "experiment_id": experiment,
                            "run_name": start.run_id,
                            "start_time": now_ms(),
                            "tags": tags,
                        }),
                    ),
                )?;
                v["run"].clone()
            }
        };
        let id = string(&self.client, &run["info"]["run_id"], "run_id")?;
        let artifact_uri = string(&self.client, &run["info"]["artifact_uri"], "artifact_uri")?;
        Ok(Box::new(MlflowRun {
            client: self.client.clone(),
            id,
            artifact_uri,
        }))
    }

    fn get_run(&self, run_id: &str) -> OpsResult<Option<OpsRunInfo>> {
        let filter = run_id_filter(run_id)?;
        let experiments = self.experiments(None)?;
        Ok(self.search(&experiments, &filter)?.first().map(info))
    }

    fn list_runs(&self, dag: Option<&str>) -> OpsResult<Vec<OpsRunInfo>> {
        let experiments = self.experiments(dag)?;
        let runs = self.search(&experiments, &format!("tags.`{RUN_ID_TAG}` != ''"))?;
        Ok(runs.iter().map(info).collect())
    }
}

/// One open MLflow run.
struct MlflowRun {
    client: Client,
    id: String,
    artifact_uri: String,
}

impl MlflowRun {
    fn post(&self, what: &str, endpoint: &str, body: Value) -> OpsResult<()> {
        must(&self.client, what, self.client.post(endpoint, &body)).map(|_| ())
    }

    /// The artifact proxy path of the run's artifact root: the part of
    /// `mlflow-artifacts:/<experiment>/<run>/artifacts` (or
    /// `mlflow-artifacts://host:port/...`) after the scheme and host.
    fn artifact_root(&self) -> OpsResult<&str> {
        let rest = self
            .artifact_uri
            .strip_prefix("mlflow-artifacts:")
            .ok_or_else(|| {
                OpsError::Config(format!(
                "the MLflow run's artifact location {} is not served by the tracking server at \
                 {}: start `mlflow server` with --serve-artifacts (the default) and an \
                 --artifacts-destination",
                self.artifact_uri,
                self.client.base()
            ))
            })?;
        let rest = match rest.strip_prefix("//") {
            Some(authority_and_path) => authority_and_path
                .find('/')
                .map_or("", |i| &authority_and_path[i..]),
            None => rest,
        };
        Ok(rest.trim_matches('/'))
    }
}

impl OpsRun for MlflowRun {
    fn id(&self) -> &str {
        &self.id
    }

    fn log_param(&mut self, key: &str, value: &str) -> OpsResult<()> {
        self.post(
            &format!("log the param '{key}'"),
            "runs/log-parameter",
            json!({ "run_id": self.id, "key": key, "value": value }),
        )
    }

    fn log_metric(&mut self, key: &str, value: f64) -> OpsResult<()> {
        self.post(
            &format!("log the metric '{key}'"),
            "runs/log-metric",
            json!({
                "run_id": self.id, "key": key, "value": value,
                "timestamp": now_ms(), "step": 0,
            }),
        )
    }

    fn log_artifact(&mut self, artifact: &Artifact<'_>) -> OpsResult<()> {
        let root = self.artifact_root()?.to_string();
        let bytes = artifact.read()?;
        let name = artifact.name().trim_start_matches('/');
        must(
            &self.client,
            &format!("store the artifact '{name}'"),
            self.client.put_artifact(&format!("{root}/{name}"), &bytes),
        )
    }

    fn log_input(&mut self, input: &Input<'_>) -> OpsResult<()> {
        let digest = input.digest.unwrap_or("");
        self.post(
            &format!("log the input '{}'", input.name),
            "runs/log-inputs",
            json!({
                "run_id": self.id,
                "datasets": [{
                    "dataset": {
                        "name": input.name,
                        "digest": digest,
                        "source_type": "gluers",
                        "source": input.source,
                    },
                }],
            }),
        )
    }

    fn set_terminated(&mut self, status: TerminalStatus) -> OpsResult<()> {
        self.post(
            &format!("end the run as {}", status.as_str()),
            "runs/update",
            json!({ "run_id": self.id, "status": status.as_str(), "end_time": now_ms() }),
        )
    }

    fn kill_switch(&self) -> Option<KillSwitch> {
        // A stopped process should die promptly: one short call.
        let client = self.client.with_timeout(KILL_TIMEOUT);
        let id = self.id.clone();
        Some(Box::new(move || {
            let body = json!({ "run_id": id, "status": "KILLED", "end_time": now_ms() });
            if let Err(e) = client.post("runs/update", &body) {
                let e = client.error("end the run as KILLED", e);
                eprintln!("warning: ops backend mlflow: {e}");
            }
        }))
    }
}

/// How long the KILLED update may hold up a process being stopped.
const KILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(settings: &MlflowSettings, env: &[(&str, &str)]) -> OpsResult<MlflowConfig> {
        MlflowConfig::from_settings(settings, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_environment_overrides_the_settings_uri_and_brings_credentials() {
        let settings = MlflowSettings {
            tracking_uri: Some("http://settings:5000/".into()),
            experiment_prefix: "p/".into(),
        };
        let c = config(&settings, &[]).unwrap();
        assert_eq!(c.tracking_uri, "http://settings:5000");
        assert_eq!(c.auth, Auth::None);
        let c = config(
            &settings,
            &[
                ("MLFLOW_TRACKING_URI", "https://env:443"),
                ("MLFLOW_TRACKING_USERNAME", "u"),
                ("MLFLOW_TRACKING_PASSWORD", "p"),
            ],
        )
        .unwrap();
        assert_eq!(c.tracking_uri, "https://env:443");
        assert_eq!(
            c.auth,
            Auth::Basic {
                username: "u".into(),
                password: "p".into()
            }
        );
        let c = config(&settings, &[("MLFLOW_TRACKING_TOKEN", "t")]).unwrap();
        assert_eq!(c.auth, Auth::Bearer("t".into()));
    }

    #[test]
    fn a_missing_or_unsupported_uri_and_half_credentials_are_refused() {
        let none = MlflowSettings::default();
        let e = config(&none, &[]).unwrap_err().to_string();
        assert!(e.contains("MLFLOW_TRACKING_URI"), "{e}");
        let e = config(&none, &[("MLFLOW_TRACKING_URI", "file:///tmp/mlruns")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("only an http:// or https://"), "{e}");
        let e = config(
            &none,
            &[
                ("MLFLOW_TRACKING_URI", "http://x"),
                ("MLFLOW_TRACKING_USERNAME", "u"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("both"), "{e}");
    }

    #[test]
    fn the_artifact_root_is_the_proxy_path() {
        let run = |uri: &str| MlflowRun {
            client: Client::new("http://h:1", &Auth::None),
            id: "r".into(),
            artifact_uri: uri.into(),
        };
        assert_eq!(
            run("mlflow-artifacts:/1/abc/artifacts")
                .artifact_root()
                .unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            run("mlflow-artifacts://h:1/1/abc/artifacts")
                .artifact_root()
                .unwrap(),
            "1/abc/artifacts"
        );
        let e = run("s3://bucket/1/abc/artifacts")
            .artifact_root()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--serve-artifacts"), "{e}");
    }
}
