//! The `[celery]` settings of `cargo manage worker`, Gluepy's `CELERY_*`.
//!
//! ```toml
//! [celery]
//! broker_url = "redis://127.0.0.1:6379/0"
//! result_backend = "redis://127.0.0.1:6379/0"
//! queues = ["celery"]
//! concurrency = 2
//! visibility_timeout = 3600   # seconds before a dead worker's task is run again
//! result_expires = 86400      # seconds a result stays in the result backend
//! ```
//!
//! As in Gluepy, the environment wins over the file: `CELERY_BROKER_URL`,
//! `CELERY_RESULT_BACKEND`, `CELERY_TASK_DEFAULT_QUEUE`, `CELERY_RESULT_EXPIRES`
//! and `CELERY_BROKER_TRANSPORT_OPTIONS` (a JSON object, of which
//! `visibility_timeout` is read, as kombu's Redis transport reads it).
//! The section is read even when the project is built without the `worker`
//! feature, so one settings file serves both builds.

use serde::Deserialize;

use crate::error::{GluersError, Result};

/// The environment variable naming the broker (Gluepy's setting name).
pub const BROKER_URL_ENV: &str = "CELERY_BROKER_URL";
/// The environment variable naming the result backend.
pub const RESULT_BACKEND_ENV: &str = "CELERY_RESULT_BACKEND";
/// The environment variable naming the one queue to consume.
pub const DEFAULT_QUEUE_ENV: &str = "CELERY_TASK_DEFAULT_QUEUE";
/// The environment variable giving the results' lifetime in seconds.
pub const RESULT_EXPIRES_ENV: &str = "CELERY_RESULT_EXPIRES";
/// The environment variable holding kombu's transport options as JSON.
pub const TRANSPORT_OPTIONS_ENV: &str = "CELERY_BROKER_TRANSPORT_OPTIONS";

/// The worker's broker, result backend, queues and timings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CelerySettings {
    /// The Redis broker, `redis://[:password@]host[:port][/db]`.
    pub broker_url: Option<String>,
    /// Where results go (`redis://...`); none: results are not stored.
    pub result_backend: Option<String>,
    /// The queues to consume, in priority order (Celery's default: `celery`).
    pub queues: Vec<String>,
    /// How many DAG runs at once (default: the number of CPUs).
    pub concurrency: Option<usize>,
    /// Seconds after which a task whose worker stopped renewing it (it died)
    /// goes back to its queue (kombu's `visibility_timeout`).
    pub visibility_timeout: f64,
    /// Seconds a result stays in the result backend (Celery's `result_expires`).
    pub result_expires: u64,
}

impl Default for CelerySettings {
    fn default() -> Self {
        CelerySettings {
            broker_url: None,
            result_backend: None,
            queues: vec!["celery".to_string()],
            concurrency: None,
            visibility_timeout: 3600.0,
            result_expires: 86_400,
        }
    }
}

impl CelerySettings {
    /// Applies the `CELERY_*` environment variables over the file's values.
    pub fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<()> {
        let get = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        if let Some(url) = get(BROKER_URL_ENV) {
            self.broker_url = Some(url);
        }
        if let Some(url) = get(RESULT_BACKEND_ENV) {
            self.result_backend = Some(url);
        }
        if let Some(queue) = get(DEFAULT_QUEUE_ENV) {
            self.queues = vec![queue];
        }
        if let Some(secs) = get(RESULT_EXPIRES_ENV) {
            self.result_expires = secs.trim().parse().map_err(|_| {
                GluersError::Usage(format!(
                    "{RESULT_EXPIRES_ENV}={secs}: not a whole number of seconds"
                ))
            })?;
        }
        if let Some(json) = get(TRANSPORT_OPTIONS_ENV) {
            let bad = || {
                GluersError::Usage(format!(
                    "{TRANSPORT_OPTIONS_ENV}: expected a JSON object such as {{\"visibility_timeout\": 3600}}, got {}",
                    crate::error::escape_controls(&json)
                ))
            };
            let value: serde_json::Value = serde_json::from_str(&json).map_err(|_| bad())?;
            let options = value.as_object().ok_or_else(bad)?;
            if let Some(v) = options.get("visibility_timeout") {
                self.visibility_timeout = v.as_f64().ok_or_else(bad)?;
            }
        }
        Ok(())
    }

    /// Checks values the file or the environment may have got wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(self.visibility_timeout.is_finite() && self.visibility_timeout > 0.0) {
            return Err(format!(
                "[celery] visibility_timeout = {}: give a positive number of seconds",
                self.visibility_timeout
            ));
        }
        if self.queues.is_empty() || self.queues.iter().any(|q| q.is_empty()) {
            return Err("[celery] queues: give at least one non-empty queue name".into());
        }
        if self.concurrency == Some(0) {
            return Err("[celery] concurrency = 0: give at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut s: CelerySettings =
            toml::from_str("broker_url = \"redis://a:1/0\"\nvisibility_timeout = 10\n").unwrap();
        let env = |k: &str| match k {
            BROKER_URL_ENV => Some("redis://b:2/3".to_string()),
            TRANSPORT_OPTIONS_ENV => Some("{\"visibility_timeout\": 2.5}".to_string()),
            _ => None,
        };
        s.apply_env(&env).unwrap();
        assert_eq!(s.broker_url.as_deref(), Some("redis://b:2/3"));
        assert_eq!(s.visibility_timeout, 2.5);
        assert_eq!(s.queues, vec!["celery"]);
    }

    #[test]
    fn bad_transport_options_are_one_line() {
        let mut s = CelerySettings::default();
        let env = |k: &str| (k == TRANSPORT_OPTIONS_ENV).then(|| "[1".to_string());
        let err = s.apply_env(&env).unwrap_err().to_string();
        assert!(
            err.contains(TRANSPORT_OPTIONS_ENV) && !err.contains('\n'),
            "{err}"
        );
    }
}
