//! One `gluepy.run_dag` task: its run folder, a child process of the
//! project binary that runs the DAG, and Gluepy's signal files.
//!
//! The DAG runs in a child (`<project binary> dag LABEL --retry FOLDER ...`)
//! so a failing or crashing DAG never takes the worker down, and
//! concurrency N is N children. The child dies with the worker (Linux's
//! parent-death signal): a run whose worker was killed stops too, and its
//! task is run again, by a live worker, in a fresh folder.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::storage::StorageBackend;

use super::message::{RunDagCall, TaskError};
use super::results::Outcome;

/// The environment variable telling a `dag` child which worker started it.
pub const PARENT_ENV: &str = "GLUERS_WORKER_PARENT";
/// Gluepy's file for a run that succeeded.
pub const SUCCESS_FILE: &str = ".dag_success";
/// Gluepy's file for a run that failed, holding the error.
pub const FAILED_FILE: &str = ".dag_failed";
/// gluers' file for a run whose worker died or was stopped; the task ran again elsewhere.
pub const KILLED_FILE: &str = ".dag_killed";

/// In a `dag` child of a worker: dies when the worker dies, so no run goes
/// on unsupervised after its task was handed to another worker.
pub fn die_with_worker() {
    let Some(parent) = std::env::var_os(PARENT_ENV) else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getppid, set_parent_process_death_signal, Signal};
        let _ = set_parent_process_death_signal(Some(Signal::KILL));
        // The worker may have died before the signal was armed.
        let expected = parent.to_str().and_then(|p| p.parse::<i32>().ok());
        if getppid().map(|p| p.as_raw_nonzero().get()) != expected {
            std::process::exit(137);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
}

/// What became of a run.
pub enum RunEnd {
    /// It finished, well or not.
    Finished(Outcome),
    /// A cold shutdown stopped it; its task goes back to the queue.
    Stopped,
}

/// Runs DAGs for the worker.
pub struct Executor {
    /// The project binary.
    pub exe: PathBuf,
    /// The project's storage, where run folders live.
    pub storage: Arc<dyn StorageBackend>,
}

impl Executor {
    /// Runs `call` into `run_folder`, stopping it when `stop_now()` says so.
    pub fn run(
        &self,
        call: &RunDagCall,
        run_folder: &str,
        task_id: &str,
        stop_now: &dyn Fn() -> bool,
    ) -> RunEnd {
        let mut child = match Command::new(&self.exe)
            .args(call.dag_args(run_folder))
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the worker's terminal is
            // the worker's to handle (a warm shutdown lets the run finish).
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                return RunEnd::Finished(Outcome::Failure(TaskError::builtin(
                    "OSError",
                    format!("cannot start {}: {e}", self.exe.display()),
                )))
            }
        };
        let short: String = task_id.chars().take(8).collect();
        let stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut last_error = None;
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                    eprintln!("[{short}] {line}");
                    if let Some(message) = line.strip_prefix("error: ") {
                        last_error = Some(message.to_string());
                    }
                }
            }
            last_error
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if stop_now() => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break child.wait().ok(),
            }
        };
        let error_line = reader.join().ok().flatten();
        let Some(status) = status else {
            return RunEnd::Stopped;
        };
        if status.success() {
            self.signal(run_folder, SUCCESS_FILE, "success");
            return RunEnd::Finished(Outcome::Success {
                run_id: crate::run_folder::run_id_of(run_folder).to_string(),
                run_folder: run_folder.to_string(),
            });
        }
        let message = error_line.unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (_, Some(sig)) => format!("the DAG run was killed by signal {sig}"),
                (Some(code), _) => format!("the DAG run exited with status {code}"),
                _ => "the DAG run failed".to_string(),
            }
        });
        if self.storage.isdir(run_folder).unwrap_or(false) {
            self.signal(run_folder, FAILED_FILE, &message);
        }
        RunEnd::Finished(Outcome::Failure(TaskError {
            exc_type: "DagFailed".into(),
            exc_module: "gluers".into(),
            message,
        }))
    }

    /// Marks earlier attempts of a task that never finished (their worker
    /// died) as killed, naming the folder the task runs in now.
    pub fn mark_killed(&self, earlier: &[String], now_in: &str, task_id: &str) {
        for folder in earlier.iter().filter(|f| f.as_str() != now_in) {
            let finished = [SUCCESS_FILE, FAILED_FILE, KILLED_FILE].iter().any(|f| {
                self.storage
                    .isfile(&format!("{folder}/{f}"))
                    .unwrap_or(false)
            });
            if !finished && self.storage.isdir(folder).unwrap_or(false) {
                tracing::warn!(
                    "task {task_id}: its run in {folder} stopped before it finished (its worker died or was stopped); running it again in {now_in}"
                );
                self.signal(
                    folder,
                    KILLED_FILE,
                    &format!(
                        "the worker running task {task_id} died; the task ran again in {now_in}"
                    ),
                );
            }
        }
    }

    fn signal(&self, folder: &str, file: &str, text: &str) {
        let path = format!("{folder}/{file}");
        if let Err(e) = self.storage.write(&path, text.as_bytes()) {
            tracing::error!("cannot write {}: {e}", self.storage.display(&path));
        }
    }
}
