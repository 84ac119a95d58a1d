//! A small client of MLflow's REST API (`/api/2.0/mlflow/...`): JSON calls
//! with MLflow's credentials, and errors turned into one-line [`OpsError`]s.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::ops::{OpsError, OpsResult};

/// How long connecting may take: a tracker that does not answer is reported
/// quickly, the run goes on without it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call may take in all (an artifact upload included).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest server message kept in an error line.
const MAX_MESSAGE: usize = 300;

/// How to authenticate, from the environment as MLflow's clients read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// `MLFLOW_TRACKING_TOKEN`: a bearer token.
    Bearer(String),
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`: basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

/// An error of one call: an [`OpsError`] already phrased, or MLflow's own
/// error answer, which callers may expect (`RESOURCE_DOES_NOT_EXIST`).
pub(super) enum CallError {
    Ops(OpsError),
    Api {
        status: u16,
        code: String,
        message: String,
    },
}

impl CallError {
    /// MLflow's error code, when the server answered with one.
    pub(super) fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => Some(code),
            CallError::Ops(_) => None,
        }
    }
}

/// A connection to one tracking server (clones share the connection pool).
#[derive(Clone)]
pub(super) struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

impl Client {
    pub(super) fn new(base: &str, auth: &Auth) -> Self {
        let agent = agent(CALL_TIMEOUT);
        let authorization = match auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
        };
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            authorization,
        }
    }

    /// The same client with calls cut at `timeout` (the last call of a
    /// process that is being stopped).
    pub(super) fn with_timeout(&self, timeout: Duration) -> Self {
        Client {
            agent: agent(timeout),
            ..self.clone()
        }
    }

    /// The tracking server's URI, for messages.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/2.0/mlflow/<endpoint>?<query>`.
    pub(super) fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, CallError> {
        let mut request = self
            .agent
            .get(format!("{}/api/2.0/mlflow/{endpoint}", self.base));
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        self.answer(endpoint, request.call())
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub(super) fn post(&self, endpoint: &str, body: &Value) -> Result<Value, CallError> {
        let mut request = self
            .agent
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.base));
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        self.answer(endpoint, request.send_json(body))
    }

    /// Uploads `bytes` through the server's artifact proxy
    /// (`PUT /api/2.0/mlflow-artifacts/artifacts/<path>`).
    pub(super) fn put_artifact(&self, path: &str, bytes: &[u8]) -> Result<(), CallError> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encode_path(path)
        );
        let mut request = self
            .agent
            .put(url)
            .header("Content-Type", "application/octet-stream");
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        self.answer("artifact upload", request.send(bytes))
            .map(|_| ())
    }

    fn answer(
        &self,
        what: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CallError> {
        let mut response = response.map_err(|e| CallError::Ops(self.transport_error(e)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| CallError::Ops(self.transport_error(e)))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Object(Default::default()));
            }
            return serde_json::from_str(&text).map_err(|e| {
                CallError::Ops(OpsError::Rejected(format!(
                    "the MLflow tracking server at {} answered {what} with something that is not \
                     JSON ({e}): is tracking_uri an MLflow server?",
                    self.base
                )))
            });
        }
        if status == 401 || status == 403 {
            return Err(CallError::Ops(OpsError::Unauthorized(format!(
                "the MLflow tracking server at {} refused the credentials (HTTP {status}): set \
                 MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or \
                 MLFLOW_TRACKING_TOKEN) to an account of that server",
                self.base
            ))));
        }
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Err(CallError::Api {
            status,
            code: field("error_code").unwrap_or_default(),
            message: one_line(&field("message").unwrap_or(text)),
        })
    }

    fn transport_error(&self, e: ureq::Error) -> OpsError {
        match e {
            ureq::Error::BadUri(_) => OpsError::Config(format!(
                "the MLflow tracking URI {} is not a valid URL: fix tracking_uri in [ops.mlflow] \
                 or MLFLOW_TRACKING_URI",
                self.base
            )),
            e => OpsError::Unreachable(format!(
                "cannot reach the MLflow tracking server at {}: {}; start it or fix \
                 tracking_uri in [ops.mlflow] / MLFLOW_TRACKING_URI",
                self.base,
                one_line(&e.to_string())
            )),
        }
    }

    /// Turns a [`CallError`] into the [`OpsError`] a caller reports.
    pub(super) fn error(&self, what: &str, e: CallError) -> OpsError {
        match e {
            CallError::Ops(e) => e,
            CallError::Api {
                status,
                code,
                message,
            } => OpsError::Rejected(format!(
                "the MLflow tracking server at {} refused to {what} (HTTP {status}{}{}): {message}",
                self.base,
                if code.is_empty() { "" } else { ", " },
                code
            )),
        }
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        // Error statuses are read, not raised: their body says why.
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
        .timeout_global(Some(timeout))
        .user_agent(concat!("gluers/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// A server message on one line, cut to a readable length.
fn one_line(text: &str) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > MAX_MESSAGE {
        let cut: String = flat.chars().take(MAX_MESSAGE).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// Percent-encodes each segment of a `/`-separated path for a URL.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The result of a call that must succeed.
pub(super) fn must<T>(client: &Client, what: &str, r: Result<T, CallError>) -> OpsResult<T> {
    r.map_err(|e| client.error(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(
            encode_path("1/abc/artifacts/a b%.txt"),
            "1/abc/artifacts/a%20b%25.txt"
        );
    }

    #[test]
    fn server_messages_become_one_short_line() {
        assert_eq!(one_line("a\nb\r\n  c"), "a b c");
        assert!(one_line(&"x".repeat(1000)).ends_with("..."));
    }
}
