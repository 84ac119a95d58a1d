//! Celery task messages as kombu's Redis transport stores them, and the
//! keyword arguments of Gluepy's `gluepy.run_dag` task.
//!
//! A queue holds JSON envelopes: `body` (base64 of the JSON body when
//! `properties.body_encoding` is `base64`), `content-type`, `headers` (protocol
//! v2: `task`, `id`, ...) and `properties` (`delivery_tag`, `priority`,
//! `delivery_info`). A protocol v2 body is `[args, kwargs, embed]`; a
//! protocol v1 body is an object with `task`, `id`, `args` and `kwargs`.

use base64::Engine;
use serde_json::{Map, Value};

/// The task name Gluepy's worker registers.
pub const RUN_DAG_TASK: &str = "gluepy.run_dag";

/// The parameters of `gluepy.run_dag`, in its positional order.
const PARAMS: [&str; 8] = [
    "label",
    "retry",
    "patch",
    "local_patch",
    "from_task",
    "task",
    "skip_eval",
    "eval_only",
];

/// A message taken from a queue.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// kombu's delivery tag: the message's key in the `unacked` hash.
    pub tag: String,
    /// The task id (the result backend's key).
    pub task_id: String,
    /// The task name, e.g. `gluepy.run_dag`.
    pub task_name: String,
    /// Decoded positional and keyword arguments, or why they could not be.
    pub call: Result<(Vec<Value>, Map<String, Value>), TaskError>,
    /// Whether kombu marked it as delivered before (restored after a worker died).
    pub redelivered: bool,
}

/// An error reported to the client the way Celery serialises exceptions.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    /// The exception's class name, e.g. `TypeError`.
    pub exc_type: String,
    /// The module the client looks the class up in.
    pub exc_module: String,
    /// The message (the exception's single argument).
    pub message: String,
}

impl TaskError {
    /// A Python built-in exception.
    pub fn builtin(exc_type: &str, message: impl Into<String>) -> Self {
        TaskError {
            exc_type: exc_type.into(),
            exc_module: "builtins".into(),
            message: message.into(),
        }
    }
}

/// Why an envelope could not even be read (no task id to report to).
#[derive(Debug)]
pub struct Unreadable(pub String);

/// Reads a queue entry. Only a message without a delivery tag or task id
/// is unreadable; anything else wrong with it becomes `call`'s error so the
/// client's `AsyncResult.get()` raises it.
pub fn parse(raw: &str) -> Result<Delivery, Unreadable> {
    let envelope: Value =
        serde_json::from_str(raw).map_err(|e| Unreadable(format!("not JSON: {e}")))?;
    let properties = envelope.get("properties").cloned().unwrap_or(Value::Null);
    let headers = envelope.get("headers").cloned().unwrap_or(Value::Null);
    let tag = str_at(&properties, "delivery_tag")
        .ok_or_else(|| Unreadable("no properties.delivery_tag".into()))?;
    let redelivered = headers.get("redelivered").and_then(Value::as_bool) == Some(true)
        || properties
            .pointer("/delivery_info/redelivered")
            .and_then(Value::as_bool)
            == Some(true);
    let body = decode_body(&envelope, &properties);
    let (task_id, task_name, call) = match str_at(&headers, "task") {
        // Protocol v2: the task's identity is in the headers.
        Some(name) => {
            let id = str_at(&headers, "id")
                .or_else(|| str_at(&properties, "correlation_id"))
                .ok_or_else(|| Unreadable("protocol 2 message without headers.id".into()))?;
            let call = body.and_then(|b| v2_call(&b));
            (id, name, call)
        }
        // Protocol v1: everything is in the body.
        None => {
            let body = body.map_err(|e| Unreadable(e.message))?;
            let id = str_at(&body, "id").ok_or_else(|| Unreadable("no task id".into()))?;
            let name = str_at(&body, "task").unwrap_or_default();
            let args = body.get("args").cloned().unwrap_or(Value::Array(vec![]));
            let kwargs = body
                .get("kwargs")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            (id, name, split_call(args, kwargs))
        }
    };
    Ok(Delivery {
        tag,
        task_id,
        task_name,
        call,
        redelivered,
    })
}

fn str_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

fn decode_body(envelope: &Value, properties: &Value) -> Result<Value, TaskError> {
    let content_type = str_at(envelope, "content-type").unwrap_or_default();
    if content_type != "application/json" {
        return Err(TaskError {
            exc_type: "ContentDisallowed".into(),
            exc_module: "kombu.exceptions".into(),
            message: format!(
                "gluers' worker accepts JSON messages only, got content-type {content_type:?}; set task_serializer = 'json' in the client"
            ),
        });
    }
    let body = envelope.get("body").cloned().unwrap_or(Value::Null);
    let text = match (str_at(properties, "body_encoding").as_deref(), &body) {
        (Some("base64"), Value::String(b64)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    TaskError::builtin("ValueError", format!("body is not base64: {e}"))
                })?;
            String::from_utf8(bytes)
                .map_err(|_| TaskError::builtin("ValueError", "body is not UTF-8"))?
        }
        (_, Value::String(text)) => text.clone(),
        // Some clients embed the body as JSON directly.
        (_, other) => return Ok(other.clone()),
    };
    serde_json::from_str(&text)
        .map_err(|e| TaskError::builtin("ValueError", format!("body is not JSON: {e}")))
}

fn v2_call(body: &Value) -> Result<(Vec<Value>, Map<String, Value>), TaskError> {
    match body {
        Value::Array(parts) if parts.len() >= 2 => split_call(parts[0].clone(), parts[1].clone()),
        _ => Err(TaskError::builtin(
            "ValueError",
            "protocol 2 body is not [args, kwargs, embed]",
        )),
    }
}

fn split_call(args: Value, kwargs: Value) -> Result<(Vec<Value>, Map<String, Value>), TaskError> {
    match (args, kwargs) {
        (Value::Array(a), Value::Object(k)) => Ok((a, k)),
        _ => Err(TaskError::builtin(
            "ValueError",
            "task args must be a list and kwargs an object",
        )),
    }
}

/// `gluepy.run_dag`'s arguments, checked as Python would check the call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunDagCall {
    /// The DAG's label.
    pub label: String,
    /// The run folder to reuse (`--retry`).
    pub retry: Option<String>,
    /// Patches from the storage (`--patch`).
    pub patch: Vec<String>,
    /// Patches from the worker's disk (`--local-patch`).
    pub local_patch: Vec<String>,
    /// `--from-task`.
    pub from_task: Option<String>,
    /// `--task`.
    pub task: Option<String>,
    /// `--skip-eval`.
    pub skip_eval: bool,
    /// `--eval-only`.
    pub eval_only: bool,
}

impl RunDagCall {
    /// Binds positional and keyword arguments to `run_dag`'s parameters;
    /// a call Python would refuse is a `TypeError`.
    pub fn bind(args: &[Value], kwargs: &Map<String, Value>) -> Result<Self, TaskError> {
        let type_error = |m: String| TaskError::builtin("TypeError", format!("run_dag_task() {m}"));
        if args.len() > PARAMS.len() {
            return Err(type_error(format!(
                "takes at most {} positional arguments but {} were given",
                PARAMS.len(),
                args.len()
            )));
        }
        let mut bound: Map<String, Value> = Map::new();
        for (name, value) in PARAMS.iter().zip(args) {
            bound.insert((*name).to_string(), value.clone());
        }
        for (name, value) in kwargs {
            if !PARAMS.contains(&name.as_str()) {
                return Err(type_error(format!(
                    "got an unexpected keyword argument '{name}'"
                )));
            }
            if bound.insert(name.clone(), value.clone()).is_some() {
                return Err(type_error(format!(
                    "got multiple values for argument '{name}'"
                )));
            }
        }
        let text = |name: &str| -> Result<Option<String>, TaskError> {
            match bound.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(type_error(format!("{name} must be a string, got {other}"))),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, TaskError> {
            match bound.get(name) {
                None | Some(Value::Null) => Ok(vec![]),
                // One path is a list of one, not a list of its characters.
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(type_error(format!(
                            "{name} must be a list of strings, got an item {other}"
                        ))),
                    })
                    .collect(),
                Some(other) => Err(type_error(format!(
                    "{name} must be a list of strings, got {other}"
                ))),
            }
        };
        let flag = |name: &str| -> Result<bool, TaskError> {
            match bound.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(type_error(format!(
                    "{name} must be true or false, got {other}"
                ))),
            }
        };
        let label = text("label")?
            .ok_or_else(|| type_error("missing 1 required positional argument: 'label'".into()))?;
        // Gluepy asserts these before running; the worker always names a
        // run folder, so the child could not tell a missing `retry`.
        let assertion = |m: &str| TaskError::builtin("AssertionError", m);
        if bound.get("eval_only") == Some(&Value::Bool(true)) && text("retry")?.is_none() {
            return Err(assertion(
                "--eval-only needs --retry RUN_FOLDER: evaluation reads an existing run's output",
            ));
        }
        if flag("skip_eval")? && flag("eval_only")? {
            return Err(assertion("skip_eval and eval_only cannot be used together"));
        }
        if text("task")?.is_some() && text("from_task")?.is_some() {
            return Err(assertion("only one of from_task and task can be set"));
        }
        Ok(RunDagCall {
            label,
            retry: text("retry")?.map(|r| r.trim_matches('/').to_string()),
            patch: list("patch")?,
            local_patch: list("local_patch")?,
            from_task: text("from_task")?,
            task: text("task")?,
            skip_eval: flag("skip_eval")?,
            eval_only: flag("eval_only")?,
        })
    }

    /// The project binary's arguments for this call, writing into `run_folder`.
    pub fn dag_args(&self, run_folder: &str) -> Vec<String> {
        let mut args = vec![
            "--quiet".to_string(),
            "dag".to_string(),
            self.label.clone(),
            "--retry".to_string(),
            run_folder.to_string(),
        ];
        for p in &self.patch {
            args.extend(["--patch".to_string(), p.clone()]);
        }
        for p in &self.local_patch {
            args.extend(["--local-patch".to_string(), p.clone()]);
        }
        if let Some(t) = &self.from_task {
            args.extend(["--from-task".to_string(), t.clone()]);
        }
        if let Some(t) = &self.task {
            args.extend(["--task".to_string(), t.clone()]);
        }
        if self.skip_eval {
            args.push("--skip-eval".to_string());
        }
        if self.eval_only {
            args.push("--eval-only".to_string());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(body: &Value) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(body.to_string());
        json!({
            "body": b64, "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"lang": "py", "task": "gluepy.run_dag", "id": "t-1", "retries": 0},
            "properties": {"correlation_id": "t-1", "body_encoding": "base64",
                "delivery_tag": "tag-1", "priority": 0,
                "delivery_info": {"exchange": "", "routing_key": "celery"}}
        })
        .to_string()
    }

    #[test]
    fn every_keyword_maps_to_its_flag() {
        let body = json!([[], {"label": "demo", "retry": "/runs/2026/1/2/x/", "patch": ["p.yaml"],
            "local_patch": "l.yaml", "from_task": "a", "skip_eval": true}, {}]);
        let d = parse(&envelope(&body)).unwrap();
        assert_eq!((d.tag.as_str(), d.task_id.as_str()), ("tag-1", "t-1"));
        let (args, kwargs) = d.call.unwrap();
        let call = RunDagCall::bind(&args, &kwargs).unwrap();
        assert_eq!(
            call.dag_args("runs/2026/1/2/x").join(" "),
            "--quiet dag demo --retry runs/2026/1/2/x --patch p.yaml --local-patch l.yaml --from-task a --skip-eval"
        );
        let call = RunDagCall::bind(
            &[json!("demo"), json!("f")],
            &Map::from_iter([
                ("task".to_string(), json!("b")),
                ("eval_only".to_string(), json!(true)),
            ]),
        )
        .unwrap();
        assert_eq!(
            call.dag_args("f").join(" "),
            "--quiet dag demo --retry f --task b --eval-only"
        );
    }

    #[test]
    fn a_call_python_would_refuse_is_a_type_error() {
        let kw = |v: Value| v.as_object().unwrap().clone();
        let e = RunDagCall::bind(&[], &kw(json!({"label": "d", "colour": 1}))).unwrap_err();
        assert_eq!(e.exc_type, "TypeError");
        assert!(e.message.contains("'colour'"), "{}", e.message);
        let e = RunDagCall::bind(&[json!("d")], &kw(json!({"label": "d"}))).unwrap_err();
        assert!(e.message.contains("multiple values"), "{}", e.message);
        let e = RunDagCall::bind(&[], &kw(json!({}))).unwrap_err();
        assert!(e.message.contains("'label'"), "{}", e.message);
        let e = RunDagCall::bind(&[], &kw(json!({"label": "d", "skip_eval": "yes"}))).unwrap_err();
        assert!(e.message.contains("skip_eval"), "{}", e.message);
    }

    #[test]
    fn pickle_messages_are_refused_with_kombus_error() {
        let mut env: Value = serde_json::from_str(&envelope(&json!([[], {}, {}]))).unwrap();
        env["content-type"] = json!("application/x-python-serialize");
        let d = parse(&env.to_string()).unwrap();
        assert_eq!(d.call.unwrap_err().exc_type, "ContentDisallowed");
        assert!(parse("{}").is_err());
    }
}
