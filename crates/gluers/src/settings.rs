//! Project settings: where configs and data live, logging, backends.
//!
//! Read from `configs/settings.toml` (or the file named by `GLUERS_SETTINGS`,
//! so each environment can have its own, as Gluepy does with
//! `GLUEPY_SETTINGS_MODULE`). `GLUERS_STORAGE_ROOT` and `GLUERS_LOG_LEVEL`
//! override single values. Relative paths are relative to the project folder.
//!
//! ```toml
//! config_dir = "configs"
//! storage_root = "data"
//! log_level = "info"
//! strict_config = true   # a key no task's config type knows is an error
//!
//! [storage]
//! backend = "local"   # or "memory"
//! # or a URL, which wins over `backend` (GLUERS_STORAGE_URL overrides it):
//! # url = "s3://bucket/prefix"   # gs://, az://, file://path, memory://
//! # [storage.options]            # object_store keys, e.g. for an emulator
//! # endpoint = "http://127.0.0.1:9000"
//! # allow_http = "true"
//!
//! [ops]
//! backend = "log"     # metrics and params go to the structured log
//!
//! [airflow]           # `airflow generate` (see AirflowSettings)
//! operator = "bash"
//! [celery]            # `cargo manage worker` (feature `worker`)
//! broker_url = "redis://127.0.0.1:6379/0"   # env CELERY_BROKER_URL wins
//! result_backend = "redis://127.0.0.1:6379/0" # env CELERY_RESULT_BACKEND wins
//! # backend = "mlflow"  # or to an MLflow tracking server (feature `mlflow`)
//! # required = false    # true: a tracker failure fails the run
//!
//! # [ops.mlflow]
//! # tracking_uri = "http://127.0.0.1:5000"  # MLFLOW_TRACKING_URI overrides it
//! # experiment_prefix = "forecast/"          # experiment = prefix + DAG label
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{GluersError, Result};

mod airflow;
pub(crate) mod celery;
pub use airflow::{
    AirflowDagSettings, AirflowOperator, AirflowSettings, PodResources, DEFAULT_RUN_FOLDER,
};
pub use celery::CelerySettings;

/// The environment variable that names the settings file.
pub const SETTINGS_ENV: &str = "GLUERS_SETTINGS";
/// The environment variable that overrides the storage root.
pub const STORAGE_ROOT_ENV: &str = "GLUERS_STORAGE_ROOT";
/// The environment variable that overrides the storage URL (`[storage] url`).
pub const STORAGE_URL_ENV: &str = "GLUERS_STORAGE_URL";
/// The environment variable that overrides the log level.
pub const LOG_LEVEL_ENV: &str = "GLUERS_LOG_LEVEL";
/// The settings file used when `GLUERS_SETTINGS` is not set.
pub const DEFAULT_SETTINGS_FILE: &str = "configs/settings.toml";

/// A project's settings, after the environment overrides.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The folder whose `*.yaml` files make the context.
    pub config_dir: PathBuf,
    /// The root of the storage: run folders live under `<storage_root>/runs`.
    pub storage_root: PathBuf,
    /// The log level: error, warn, info, debug or trace.
    pub log_level: String,
    /// The storage backend.
    pub storage: StorageSettings,
    /// The metrics and parameters backend.
    pub ops: OpsSettings,
    /// Whether a task's typed config read (`ctx.config::<T>`) refuses keys
    /// `T` does not know, such as a misspelt key in a patch (default: true).
    pub strict_config: bool,
    /// How `airflow generate` writes Airflow DAG files.
    pub airflow: AirflowSettings,
    /// The Celery worker's broker, result backend and queues (Gluepy's `CELERY_*`).
    pub celery: CelerySettings,
    /// The settings file these came from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Which storage backend to use.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `local` (the default) or `memory`.
    pub backend: StorageKind,
    /// Where the storage is, as a URL: `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix` (each needs its gluers
    /// feature), `file://path` or `memory://`. Wins over `backend`.
    pub url: Option<String>,
    /// Options of an object store, by `object_store` configuration key
    /// (`endpoint`, `region`, `allow_http`, ...); credentials come from the
    /// standard environment variables, these only win over them.
    pub options: std::collections::BTreeMap<String, String>,
    /// A backend the project set in code ([`Project::storage`](crate::Project::storage));
    /// wins over `url` and `backend`.
    #[serde(skip)]
    pub custom: Option<CustomStorage>,
}

/// A storage backend set in code, carried by the settings.
#[derive(Clone)]
pub struct CustomStorage(pub std::sync::Arc<dyn crate::storage::StorageBackend>);

impl std::fmt::Debug for CustomStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomStorage(")?;
        f.write_str(&self.0.display(""))?;
        f.write_str(")")
    }
}

impl PartialEq for CustomStorage {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The storage backends available.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Files under `storage_root` on the local disk.
    #[default]
    Local,
    /// Files in memory, gone when the process ends (tests, dry runs).
    Memory,
}

/// Which ops (metrics, params, artifacts) backend to use.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OpsSettings {
    /// `log` (the default): structured log lines; `mlflow`: an MLflow
    /// tracking server.
    pub backend: OpsKind,
    /// Whether a tracker failure fails the run (default false: one warning,
    /// and the run goes on locally; its run folder is complete either way).
    pub required: bool,
    /// The MLflow backend's settings.
    pub mlflow: MlflowSettings,
}

/// `[ops.mlflow]`: where the MLflow backend reports. Credentials come from
/// the environment only, as MLflow's own clients read them
/// (`MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and
/// `MLFLOW_TRACKING_PASSWORD`), so they never sit in a settings file.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MlflowSettings {
    /// The tracking server, e.g. `http://127.0.0.1:5000`;
    /// `MLFLOW_TRACKING_URI` overrides it.
    pub tracking_uri: Option<String>,
    /// Put before the DAG label to name the experiment (default none).
    pub experiment_prefix: String,
}

/// The ops backends available.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OpsKind {
    /// Metrics, params and artifacts are logged through `tracing`.
    #[default]
    Log,
    /// An MLflow tracking server, over its REST API (feature `mlflow`).
    Mlflow,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config_dir: PathBuf::from("configs"),
            storage_root: PathBuf::from("data"),
            log_level: "info".to_string(),
            storage: StorageSettings::default(),
            ops: OpsSettings::default(),
            strict_config: true,
            airflow: AirflowSettings::default(),
            celery: Default::default(),
            source: None,
        }
    }
}

impl Settings {
    /// Loads the settings of the project in `project_dir`, reading the
    /// environment for the settings file and overrides.
    pub fn load(project_dir: &Path) -> Result<Self> {
        Self::load_with(project_dir, |key| std::env::var(key).ok())
    }

    /// Like [`load`](Self::load) with an explicit environment (for tests).
    pub fn load_with(project_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let (path, required) = match env(SETTINGS_ENV).filter(|v| !v.is_empty()) {
            Some(p) => (project_dir.join(p), true),
            None => (project_dir.join(DEFAULT_SETTINGS_FILE), false),
        };
        let mut settings = match std::fs::read_to_string(&path) {
            Ok(text) => {
                crate::limits::check_config_text(
                    &text,
                    &path.display().to_string(),
                    crate::limits::MAX_SETTINGS_BYTES,
                )?;
                let mut s: Settings = toml::from_str(&text).map_err(|e| GluersError::Settings {
                    path: path.clone(),
                    message: one_line(&e.to_string()),
                })?;
                s.source = Some(path);
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Settings::default(),
            Err(e) => {
                return Err(GluersError::Settings {
                    message: if e.kind() == std::io::ErrorKind::NotFound {
                        format!("not found; {SETTINGS_ENV} names it, so create it or unset {SETTINGS_ENV}")
                    } else {
                        e.to_string()
                    },
                    path,
                })
            }
        };
        if let Some(root) = env(STORAGE_ROOT_ENV).filter(|v| !v.is_empty()) {
            settings.storage_root = PathBuf::from(root);
        }
        if let Some(url) = env(STORAGE_URL_ENV).filter(|v| !v.is_empty()) {
            settings.storage.url = Some(url);
        }
        if !is_log_level(&settings.log_level) {
            return Err(GluersError::Settings {
                message: format!(
                    "log_level = {:?} is not a log level; use error, warn, info, debug or trace",
                    settings.log_level
                ),
                path: settings.source.clone().unwrap_or_default(),
            });
        }
        if let Some(level) = env(LOG_LEVEL_ENV).filter(|v| !v.is_empty()) {
            if !is_log_level(&level) {
                return Err(GluersError::Usage(format!(
                    "{LOG_LEVEL_ENV}={}: not a log level; use error, warn, info, debug or trace",
                    crate::error::escape_controls(&level)
                )));
            }
            settings.log_level = level;
        }
        settings.celery.apply_env(&env)?;
        settings.config_dir = project_dir.join(&settings.config_dir);
        settings.storage_root = project_dir.join(&settings.storage_root);
        // A relative `file://` URL is relative to the project folder, like `storage_root`.
        if let Some(path) = settings
            .storage
            .url
            .as_deref()
            .and_then(|u| u.strip_prefix("file://"))
        {
            let path = project_dir.join(path);
            settings.storage.url = Some(format!("file://{}", path.display()));
        }
        Ok(settings)
    }
}

/// Whether `level` names a log level (any case; `warning` is `warn`).
pub(crate) fn is_log_level(level: &str) -> bool {
    matches!(
        level.to_ascii_lowercase().as_str(),
        "error" | "warn" | "warning" | "info" | "debug" | "trace"
    )
}

/// Folds a multi-line parser message (toml's has a source excerpt) into one line.
/// Long excerpts (a huge line of the file) are cut.
pub(crate) fn one_line(message: &str) -> String {
    const MAX: usize = 400;
    let line = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| "|^ 0123456789".contains(c)))
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() <= MAX {
        return line;
    }
    let mut cut: String = line.chars().take(MAX).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_with(dir.path(), no_env).unwrap();
        assert_eq!(s.storage_root, dir.path().join("data"));
        assert_eq!(s.config_dir, dir.path().join("configs"));
        assert_eq!(s.log_level, "info");
    }

    #[test]
    fn storage_url_from_file_or_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("configs")).unwrap();
        std::fs::write(
            dir.path().join("configs/settings.toml"),
            "[storage]\nurl = \"file://store\"\n[storage.options]\nregion = \"eu-west-1\"\n",
        )
        .unwrap();
        let s = Settings::load_with(dir.path(), no_env).unwrap();
        let local = format!("file://{}", dir.path().join("store").display());
        assert_eq!(s.storage.url.as_deref(), Some(local.as_str()));
        assert_eq!(s.storage.options["region"], "eu-west-1");
        let env = |k: &str| (k == STORAGE_URL_ENV).then(|| "s3://bucket/prefix".to_string());
        let s = Settings::load_with(dir.path(), env).unwrap();
        assert_eq!(s.storage.url.as_deref(), Some("s3://bucket/prefix"));
    }

    #[test]
    fn the_ops_section_chooses_mlflow_and_a_misspelt_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("configs")).unwrap();
        let file = dir.path().join("configs/settings.toml");
        std::fs::write(
            &file,
            "[ops]\nbackend = \"mlflow\"\nrequired = true\n\n[ops.mlflow]\n\
             tracking_uri = \"http://127.0.0.1:5000\"\nexperiment_prefix = \"f/\"\n",
        )
        .unwrap();
        let s = Settings::load_with(dir.path(), no_env).unwrap();
        assert_eq!(s.ops.backend, OpsKind::Mlflow);
        assert!(s.ops.required);
        assert_eq!(
            s.ops.mlflow.tracking_uri.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(s.ops.mlflow.experiment_prefix, "f/");
        std::fs::write(&file, "[ops.mlflow]\ntracking_url = \"x\"\n").unwrap();
        let e = Settings::load_with(dir.path(), no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tracking_url"), "{e}");
    }

    #[test]
    fn file_then_environment_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("configs")).unwrap();
        std::fs::write(
            dir.path().join("configs/prod.toml"),
            "storage_root = \"/srv/data\"\nlog_level = \"warn\"\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            SETTINGS_ENV => Some("configs/prod.toml".to_string()),
            LOG_LEVEL_ENV => Some("debug".to_string()),
            _ => None,
        };
        let s = Settings::load_with(dir.path(), env).unwrap();
        assert_eq!(s.storage_root, PathBuf::from("/srv/data"));
        assert_eq!(s.log_level, "debug");
    }

    #[test]
    fn unknown_key_and_missing_named_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("configs")).unwrap();
        std::fs::write(
            dir.path().join("configs/settings.toml"),
            "storage_rot = \"x\"\n",
        )
        .unwrap();
        let err = Settings::load_with(dir.path(), no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("settings.toml") && err.contains("storage_rot"),
            "{err}"
        );
        let env = |k: &str| (k == SETTINGS_ENV).then(|| "nope.toml".to_string());
        let err = Settings::load_with(dir.path(), env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml") && !err.contains('\n'), "{err}");
    }
}
