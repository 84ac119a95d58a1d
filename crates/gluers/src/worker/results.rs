//! Celery's Redis result backend: what `AsyncResult.get()` reads.
//!
//! A result is the JSON object `{status, result, traceback, children,
//! date_done, task_id}` under `celery-task-meta-<task id>`, kept for
//! `result_expires` seconds, and published on a channel of the same name,
//! to which a waiting client is subscribed. A failure's `result` is the
//! exception as `{exc_type, exc_message, exc_module}`, which the client
//! raises again.

use redis::Connection;
use serde_json::{json, Value};

use super::message::TaskError;

/// The key (and channel) of a task's result.
pub fn result_key(task_id: &str) -> String {
    format!("celery-task-meta-{task_id}")
}

/// A task's final state.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The DAG ran: `{"status": "success", "run_id", "run_folder"}`, as Gluepy returns.
    Success {
        /// The run id.
        run_id: String,
        /// The run folder, as a storage path.
        run_folder: String,
    },
    /// The task failed with this error.
    Failure(TaskError),
}

/// The JSON stored for `outcome` of `task_id`, finished now.
pub fn meta(task_id: &str, outcome: &Outcome) -> Value {
    let date_done = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    let (status, result, traceback) = match outcome {
        Outcome::Success { run_id, run_folder } => (
            "SUCCESS",
            json!({"status": "success", "run_id": run_id, "run_folder": run_folder}),
            Value::Null,
        ),
        Outcome::Failure(e) => (
            "FAILURE",
            json!({"exc_type": e.exc_type, "exc_message": [e.message], "exc_module": e.exc_module}),
            Value::String(format!(
                "gluers worker: {}.{}: {}",
                e.exc_module, e.exc_type, e.message
            )),
        ),
    };
    json!({
        "status": status,
        "result": result,
        "traceback": traceback,
        "children": [],
        "date_done": date_done,
        "task_id": task_id,
    })
}

/// Stores and publishes a task's result.
pub fn store(
    conn: &mut Connection,
    task_id: &str,
    outcome: &Outcome,
    expires: u64,
) -> redis::RedisResult<()> {
    let key = result_key(task_id);
    let value = meta(task_id, outcome).to_string();
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&key)
        .arg(&value)
        .arg("EX")
        .arg(expires.max(1))
        .ignore()
        .cmd("PUBLISH")
        .arg(&key)
        .arg(&value)
        .ignore()
        .query::<()>(conn)
}

/// Whether the backend already holds a final result for `task_id`.
pub fn is_final(conn: &mut Connection, task_id: &str) -> redis::RedisResult<bool> {
    let stored: Option<String> = redis::cmd("GET").arg(result_key(task_id)).query(conn)?;
    Ok(stored
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|s| matches!(s.as_str(), "SUCCESS" | "FAILURE" | "REVOKED")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_stored_as_celery_stores_an_exception() {
        let e = TaskError {
            exc_type: "DagFailed".into(),
            exc_module: "gluers".into(),
            message: "task 'fail' failed: boom".into(),
        };
        let m = meta("id-1", &Outcome::Failure(e));
        assert_eq!(m["status"], "FAILURE");
        assert_eq!(m["result"]["exc_message"][0], "task 'fail' failed: boom");
        assert_eq!(m["task_id"], "id-1");
        assert!(m["date_done"].as_str().unwrap().ends_with("+00:00"));
    }
}
