//! The `[airflow]` section of the settings: how `airflow generate` writes
//! Airflow DAG files (Gluepy's `AIRFLOW_*` settings, named the gluers way).
//!
//! ```toml
//! [airflow]
//! operator = "kubernetes_pod"        # or "bash" for a single-machine Airflow
//! dag_prefix = "ml"                  # DAG id "ml_forecast"; "" (default): "forecast"
//! schedule = "@daily"                # default: none, runs are triggered
//! start_date = "2025-01-01"
//! template = "airflow/dag.py.j2"     # your own minijinja template (project-relative)
//! command = ["forecast"]             # the project binary as Airflow runs it
//! image = "registry.example.com/forecast:1.2"
//! namespace = "ml"
//! config_maps = ["forecast-env"]
//! kube_config = "~/.kube/config"     # or in_cluster = true
//!
//! [airflow.resources.requests]
//! cpu = "1"
//! memory = "2Gi"
//!
//! [airflow.dags.forecast]            # per-DAG overrides
//! schedule = "0 6 * * *"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The run folder every task of one Airflow DAG run shares: the gluers
/// layout (`runs/YYYY/M/D/<run id>`, month and day not zero-padded) from the
/// run's logical date, with Airflow's run id (minus `:` and `+`, which some
/// object stores and shells treat specially) as the gluers run id. Airflow
/// renders it; the first task creates the folder (`--retry` on a folder that
/// does not exist yet starts a run there) and the others reuse it.
pub const DEFAULT_RUN_FOLDER: &str = "runs/{{ logical_date.year }}/{{ logical_date.month }}/{{ logical_date.day }}/{{ run_id | replace(\":\", \"-\") | replace(\"+\", \"-\") }}";

/// How `airflow generate` writes Airflow DAG files.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AirflowSettings {
    /// The operator each gluers task becomes.
    pub operator: AirflowOperator,
    /// Put before each DAG id as `<prefix>_<label>`; empty: the label alone.
    pub dag_prefix: String,
    /// The Airflow schedule (a cron expression or preset such as `@daily`);
    /// none: runs are only triggered.
    pub schedule: Option<String>,
    /// The DAG's `start_date`, `YYYY-MM-DD`.
    pub start_date: String,
    /// A minijinja template (relative to the project folder) used instead of
    /// the built-in one.
    pub template: Option<PathBuf>,
    /// The run folder as an Airflow template (see [`DEFAULT_RUN_FOLDER`]).
    pub run_folder: String,
    /// The program and leading arguments that run the project binary where
    /// Airflow runs the task. Default: for pods, the project's name (the
    /// binary on the image's PATH); for bash, this binary's absolute path.
    pub command: Vec<String>,
    /// The folder bash tasks run in (default: this project's folder).
    pub working_dir: Option<PathBuf>,
    /// The container image holding the project binary (pods; required).
    pub image: String,
    /// The Kubernetes namespace of the pods.
    pub namespace: String,
    /// The pods' image pull policy: `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: String,
    /// Config maps whose keys become the pods' environment variables.
    pub config_maps: Vec<String>,
    /// The pods' resource requests and limits.
    pub resources: PodResources,
    /// The kubeconfig file the operator uses to reach the cluster.
    pub kube_config: Option<String>,
    /// Whether Airflow itself runs in the cluster (exclusive with `kube_config`).
    pub in_cluster: bool,
    /// Per-DAG overrides, by DAG label.
    pub dags: BTreeMap<String, AirflowDagSettings>,
}

impl Default for AirflowSettings {
    fn default() -> Self {
        AirflowSettings {
            operator: AirflowOperator::default(),
            dag_prefix: String::new(),
            schedule: None,
            start_date: "2025-01-01".into(),
            template: None,
            run_folder: DEFAULT_RUN_FOLDER.into(),
            command: Vec::new(),
            working_dir: None,
            image: String::new(),
            namespace: "default".into(),
            image_pull_policy: "IfNotPresent".into(),
            config_maps: Vec::new(),
            resources: PodResources::default(),
            kube_config: None,
            in_cluster: false,
            dags: BTreeMap::new(),
        }
    }
}

/// The Airflow operator that runs each gluers task.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AirflowOperator {
    /// `KubernetesPodOperator`: each task in its own pod (the default).
    #[default]
    KubernetesPod,
    /// `BashOperator`: each task as a process on the Airflow worker.
    Bash,
}

impl AirflowOperator {
    /// The name used in settings and templates.
    pub fn name(self) -> &'static str {
        match self {
            AirflowOperator::KubernetesPod => "kubernetes_pod",
            AirflowOperator::Bash => "bash",
        }
    }
}

/// A pod's resource requests and limits (`cpu = "500m"`, `memory = "1Gi"`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PodResources {
    /// What the pod is guaranteed.
    pub requests: BTreeMap<String, String>,
    /// What the pod may use at most.
    pub limits: BTreeMap<String, String>,
}

/// What one DAG changes of the `[airflow]` settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AirflowDagSettings {
    /// This DAG's schedule.
    pub schedule: Option<String>,
    /// This DAG's template.
    pub template: Option<PathBuf>,
}
