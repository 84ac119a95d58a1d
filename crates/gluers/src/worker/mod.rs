//! `cargo manage worker`: a Celery worker for Gluepy's `gluepy.run_dag`
//! task over Redis (feature `worker`).
//!
//! A Python client with the real `celery` package sends
//! `app.send_task("gluepy.run_dag", kwargs={...})`, as Gluepy's
//! `submit_dag` does; this worker runs the DAG, writes Gluepy's
//! `.dag_success` / `.dag_failed` file into the run folder, and stores
//! SUCCESS (`{"status", "run_id", "run_folder"}`) or FAILURE (the error)
//! in the result backend, so `AsyncResult.get()` returns or raises as with
//! a Gluepy worker.
//!
//! Delivery is at least once, completion exactly once: a message is
//! acknowledged only after its result is stored ([`broker`] explains the
//! late acknowledgement); a task whose result is already stored is not run
//! again; each attempt runs in a fresh run folder (or the folder the client
//! named with `retry`), and an attempt whose worker died is marked
//! `.dag_killed`.

pub mod broker;
pub mod execute;
pub mod message;
pub mod results;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Connection;

use crate::error::{GluersError, Result};
use crate::settings::{Settings, StorageKind};

use broker::{Broker, Fetched};
use execute::{Executor, RunEnd};
use message::{RunDagCall, TaskError, RUN_DAG_TASK};
use results::Outcome;

pub use execute::die_with_worker;

/// Taking and running tasks.
const RUNNING: u8 = 0;
/// Warm shutdown: no new tasks; running ones finish.
const WARM: u8 = 1;
/// Cold shutdown: running tasks are stopped and go back to their queue.
const COLD: u8 = 2;

/// The `worker` command's choices over the `[celery]` settings.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    /// DAG runs at once.
    pub concurrency: Option<usize>,
    /// Queues to consume.
    pub queues: Option<Vec<String>>,
}

struct Worker {
    broker: Broker,
    results: Option<redis::Client>,
    expires: u64,
    executor: Executor,
    settings: Settings,
    project_dir: std::path::PathBuf,
    owner: String,
    phase: AtomicU8,
    /// Delivery tag -> task id of the messages this worker holds.
    held: Mutex<HashMap<String, String>>,
}

/// Runs the worker until SIGINT/SIGTERM: the first lets running DAGs
/// finish, the second stops them and puts their tasks back.
pub fn run(settings: &Settings, project_dir: &Path, options: WorkerOptions) -> Result<()> {
    let mut celery = settings.celery.clone();
    if let Some(q) = options.queues {
        celery.queues = q;
    }
    if options.concurrency.is_some() {
        celery.concurrency = options.concurrency;
    }
    celery.validate().map_err(GluersError::Usage)?;
    if settings.storage.backend == StorageKind::Memory {
        return Err(GluersError::Usage(
            "[storage] backend = \"memory\": a worker's DAG runs are separate processes and would share nothing; use a storage they all reach".into(),
        ));
    }
    let Some(broker_url) = celery.broker_url.clone() else {
        return Err(GluersError::Usage(format!(
            "no broker: set {} (e.g. redis://127.0.0.1:6379/0) or broker_url in the [celery] section of the settings",
            crate::settings::celery::BROKER_URL_ENV
        )));
    };
    let client = broker::open_client(&broker_url, "broker").map_err(GluersError::Usage)?;
    let broker = Broker::new(
        client,
        &celery.queues,
        Duration::from_secs_f64(celery.visibility_timeout),
    );
    broker.connect().map_err(|e| GluersError::Service {
        context: format!(
            "cannot reach the broker {} (start Redis there or fix {})",
            redact(&broker_url),
            crate::settings::celery::BROKER_URL_ENV
        ),
        source: Box::new(e),
    })?;
    let results = match &celery.result_backend {
        Some(url) => {
            let client = broker::open_client(url, "result backend").map_err(GluersError::Usage)?;
            connect(&client).map_err(|e| GluersError::Service {
                context: format!(
                    "cannot reach the result backend {} (start Redis there or fix {})",
                    redact(url),
                    crate::settings::celery::RESULT_BACKEND_ENV
                ),
                source: Box::new(e),
            })?;
            Some(client)
        }
        None => None,
    };
    let exe = std::env::current_exe().map_err(|source| GluersError::Io {
        context: "cannot find this program's path".to_string(),
        source,
    })?;
    let concurrency = celery.concurrency.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let host = gluers_formats::process::ProcessStamp::current().host;
    let worker = Arc::new(Worker {
        broker,
        results,
        expires: celery.result_expires,
        executor: Executor {
            exe,
            storage: crate::runner::open_storage(settings)?,
        },
        settings: settings.clone(),
        project_dir: project_dir.to_path_buf(),
        owner: format!("gluers@{host}:{}", std::process::id()),
        phase: AtomicU8::new(RUNNING),
        held: Mutex::new(HashMap::new()),
    });
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&signalled)).map_err(|source| {
            GluersError::Io {
                context: format!("cannot handle signal {sig}"),
                source,
            }
        })?;
    }
    tracing::info!(
        "{} ready: broker {}, queues {}, concurrency {concurrency}, visibility timeout {} s",
        worker.owner,
        redact(&broker_url),
        celery.queues.join(","),
        celery.visibility_timeout
    );
    let slots: Vec<_> = (0..concurrency)
        .map(|_| {
            let w = Arc::clone(&worker);
            std::thread::spawn(move || w.slot())
        })
        .collect();
    worker.supervise(&signalled, &slots);
    for s in slots {
        let _ = s.join();
    }
    tracing::info!("{} stopped", worker.owner);
    Ok(())
}

fn connect(client: &redis::Client) -> redis::RedisResult<Connection> {
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(5))?;
    redis::cmd("PING").query::<String>(&mut conn)?;
    Ok(conn)
}

/// A URL with its password hidden, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

impl Worker {
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::SeqCst)
    }

    /// The main thread: signals, renewing held messages, restoring dead
    /// workers' messages, until every slot has ended.
    fn supervise(&self, signalled: &AtomicBool, slots: &[std::thread::JoinHandle<()>]) {
        let beat = (self.broker.visibility() / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        let mut conn: Option<Connection> = None;
        let mut last = Instant::now() - beat;
        while !slots.iter().all(|s| s.is_finished()) {
            if signalled.swap(false, Ordering::SeqCst) {
                let running = self.held.lock().map(|h| h.len()).unwrap_or(0);
                if self.phase() == RUNNING {
                    self.phase.store(WARM, Ordering::SeqCst);
                    tracing::warn!(
                        "warm shutdown: taking no new tasks, waiting for {running} running; signal again to stop them and put their tasks back"
                    );
                } else {
                    self.phase.store(COLD, Ordering::SeqCst);
                    tracing::warn!("cold shutdown: stopping {running} running task(s); they go back to their queue");
                }
            }
            if last.elapsed() >= beat {
                last = Instant::now();
                if conn.is_none() {
                    conn = self.broker.connect().ok();
                }
                if let Some(c) = conn.as_mut() {
                    if let Err(e) = self.heartbeat(c) {
                        tracing::warn!("broker: {e}; retrying");
                        conn = None;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn heartbeat(&self, conn: &mut Connection) -> redis::RedisResult<()> {
        let (tags, ids): (Vec<String>, Vec<String>) = self
            .held
            .lock()
            .map(|h| h.iter().map(|(t, i)| (t.clone(), i.clone())).unzip())
            .unwrap_or_default();
        self.broker.renew(conn, &tags)?;
        self.broker.renew_claims(conn, &ids, &self.owner)?;
        let restored = self.broker.restore_stale(conn)?;
        if restored > 0 {
            tracing::warn!(
                "put back {restored} task(s) whose worker stopped renewing them (it died)"
            );
        }
        Ok(())
    }

    /// One slot: takes a task, runs it, reports it; until shutdown.
    fn slot(&self) {
        let mut conn: Option<Connection> = None;
        while self.phase() == RUNNING {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match self.broker.connect() {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        tracing::warn!("broker unreachable ({e}); retrying in 1 s");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            match self.broker.fetch(c, Duration::from_secs(1)) {
                Ok(None) => {}
                Ok(Some(fetched)) => {
                    if let Err(e) = self.handle(c, fetched) {
                        tracing::warn!("broker: {e}; reconnecting");
                        conn = None;
                    }
                }
                Err(e) => {
                    tracing::warn!("broker: {e}; retrying in 1 s");
                    conn = None;
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn hold(&self, tag: &str, task_id: &str) {
        if let Ok(mut h) = self.held.lock() {
            h.insert(tag.to_string(), task_id.to_string());
        }
    }

    fn unhold(&self, tag: &str) {
        if let Ok(mut h) = self.held.lock() {
            h.remove(tag);
        }
    }

    fn handle(&self, conn: &mut Connection, fetched: Fetched) -> redis::RedisResult<()> {
        if fetched.tag.is_empty() {
            tracing::error!(
                "dropped a message from queue '{}' without a delivery tag: not a Celery message",
                fetched.key
            );
            return Ok(());
        }
        let delivery = match message::parse(&fetched.raw) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(
                    "dropped an unreadable message from queue '{}': {}",
                    fetched.key,
                    e.0
                );
                return self.broker.ack(conn, &fetched.tag);
            }
        };
        let (tag, id) = (delivery.tag.clone(), delivery.task_id.clone());
        self.hold(&tag, &id);
        let result = self.handle_task(conn, delivery);
        self.unhold(&tag);
        result
    }

    fn handle_task(&self, conn: &mut Connection, d: message::Delivery) -> redis::RedisResult<()> {
        let id = d.task_id.as_str();
        if self.completed(conn, id)? {
            tracing::info!("task {id}: already completed; acknowledging its redelivered copy");
            return self.broker.ack(conn, &d.tag);
        }
        if !self.broker.claim(conn, id, &self.owner)? {
            // Another live worker runs it and renews this same delivery tag.
            tracing::info!("task {id}: another worker is running it; leaving it to that worker");
            return Ok(());
        }
        let end = match self.prepare(conn, &d) {
            Err(error) => RunEnd::Finished(Outcome::Failure(error)),
            Ok((call, folder)) => {
                tracing::info!(
                    "task {id}: {RUN_DAG_TASK}({}) into {folder}{}",
                    call.label,
                    if d.redelivered { " (redelivered)" } else { "" }
                );
                self.executor
                    .run(&call, &folder, id, &|| self.phase() == COLD)
            }
        };
        match end {
            RunEnd::Stopped => {
                self.broker.requeue(conn, &d.tag)?;
                self.broker.release(conn, id, &self.owner)?;
                tracing::warn!("task {id}: stopped by the cold shutdown; put back in its queue");
            }
            RunEnd::Finished(outcome) => {
                match &outcome {
                    Outcome::Success { run_folder, .. } => {
                        tracing::info!("task {id}: succeeded in {run_folder}")
                    }
                    Outcome::Failure(e) => tracing::warn!("task {id}: failed: {}", e.message),
                }
                self.report(conn, id, &outcome)?;
                self.broker.ack(conn, &d.tag)?;
                self.broker.release(conn, id, &self.owner)?;
            }
        }
        Ok(())
    }

    /// Checks the task and picks its run folder; an error is the task's FAILURE.
    fn prepare(
        &self,
        conn: &mut Connection,
        d: &message::Delivery,
    ) -> std::result::Result<(RunDagCall, String), TaskError> {
        if d.task_name != RUN_DAG_TASK {
            return Err(TaskError {
                exc_type: "NotRegistered".into(),
                exc_module: "celery.exceptions".into(),
                message: format!(
                    "{:?}: gluers' worker runs only the task {RUN_DAG_TASK:?}",
                    d.task_name
                ),
            });
        }
        let (args, kwargs) = d.call.clone()?;
        let call = RunDagCall::bind(&args, &kwargs)?;
        let folder = match &call.retry {
            Some(r) => crate::run_folder::resolve_run_folder(
                "retry",
                r,
                &self.settings.storage_root,
                &self.project_dir,
            )
            .map_err(|e| TaskError::builtin("ValueError", e.to_string()))?,
            None => crate::run_folder::new_run_folder().1,
        };
        let attempts = format!("gluers-worker-attempts-{}", d.task_id);
        let earlier: Vec<String> = redis::cmd("LRANGE")
            .arg(&attempts)
            .arg(0)
            .arg(-1)
            .query(conn)
            .unwrap_or_default();
        let _: redis::RedisResult<()> = redis::pipe()
            .rpush(&attempts, &folder)
            .ignore()
            .expire(&attempts, self.expires.max(1) as i64)
            .ignore()
            .query(conn);
        self.executor.mark_killed(&earlier, &folder, &d.task_id);
        Ok((call, folder))
    }

    fn done_key(task_id: &str) -> String {
        format!("gluers-worker-done-{task_id}")
    }

    /// Whether a final result was already recorded for the task.
    fn completed(&self, conn: &mut Connection, task_id: &str) -> redis::RedisResult<bool> {
        let marked: bool = redis::cmd("EXISTS")
            .arg(Self::done_key(task_id))
            .query(conn)?;
        if marked {
            return Ok(true);
        }
        match &self.results {
            Some(client) => {
                let mut rc = connect(client)?;
                results::is_final(&mut rc, task_id)
            }
            None => Ok(false),
        }
    }

    /// Stores the result (retrying while the backend is away: a finished
    /// run is never reported lost), then marks the task done.
    fn report(
        &self,
        conn: &mut Connection,
        task_id: &str,
        outcome: &Outcome,
    ) -> redis::RedisResult<()> {
        if let Some(client) = &self.results {
            loop {
                match connect(client)
                    .and_then(|mut rc| results::store(&mut rc, task_id, outcome, self.expires))
                {
                    Ok(()) => break,
                    Err(e) if self.phase() != COLD => {
                        tracing::warn!("result backend: {e}; retrying in 1 s");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        redis::cmd("SET")
            .arg(Self::done_key(task_id))
            .arg(&self.owner)
            .arg("EX")
            .arg(self.expires.max(1))
            .query::<()>(conn)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_the_log() {
        assert_eq!(
            super::redact("redis://:s3cret@h:6379/0"),
            "redis://:***@h:6379/0"
        );
        assert_eq!(super::redact("redis://u:pw@h/0"), "redis://u:***@h/0");
        assert_eq!(super::redact("redis://h:6379/0"), "redis://h:6379/0");
    }
}
