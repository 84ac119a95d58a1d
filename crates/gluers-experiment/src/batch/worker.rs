//! The batch worker: an engine process that evaluates one candidate of a
//! batch in its slot, exactly as a single run does ([`crate::runner`]), and
//! leaves the result in the slot for the engine that started it. It never
//! takes the lock (its parent holds it) and never writes the state or the
//! log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{Access, Ctx, WorkerFiles};
use crate::error::Result;
use crate::state::PendingRun;

/// The hidden first argument that runs one batch worker.
pub(crate) const WORKER_ARG: &str = "__batch-worker";

/// What a worker evaluates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    /// The project folder (the repository and experiment are found from
    /// it, as for any engine command).
    pub dir: PathBuf,
    /// The worker's slot.
    pub slot: usize,
    /// The experiment id the candidate gets.
    pub experiment_id: u64,
    /// Full hash of the candidate commit.
    pub commit: String,
    /// Its description.
    pub description: String,
    /// The time limit of the run.
    pub timeout_secs: u64,
}

/// What a worker leaves in its slot.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WorkerResult {
    /// The run finished (ok, crash or timeout).
    Finished {
        /// The run.
        pending: PendingRun,
        /// Why it failed, for crash and timeout.
        reason: Option<String>,
    },
    /// The engine refused the candidate (e.g. it changes frozen files): a
    /// crash row with the refusal as its reason.
    Refused {
        /// The crashed run.
        pending: PendingRun,
        /// The refusal.
        reason: String,
    },
}

/// Runs the batch worker when the process was started as one.
pub(crate) fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(WORKER_ARG)) {
        return None;
    }
    // Dies with the engine that started it: a killed engine leaves no
    // worker behind (what the worker started is killed by the next
    // command's recovery, from the slot's progress record).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let job: Job = match serde_json::from_str(&args.next().unwrap_or_default().to_string_lossy()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: bad batch worker job: {e}");
            return Some(ExitCode::from(2));
        }
    };
    crate::process::install_reaper();
    Some(match work(&job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    })
}

/// Evaluates the job's candidate in its slot and writes the result there.
fn work(job: &Job) -> Result<()> {
    let mut ctx = Ctx::open(&job.dir, Access::Worker)?;
    ctx.paths = ctx.paths.slot(job.slot);
    crate::fsutil::ensure_private_dir(&ctx.paths.run_dir)?;
    ctx.worker = Some(WorkerFiles {
        progress: ctx.paths.run_dir.join("progress.json"),
        run_log: ctx.paths.slot_run_log(),
    });
    let req = crate::runner::Request {
        experiment_id: job.experiment_id,
        description: &job.description,
        commit: job.commit.clone(),
        timeout: Duration::from_secs(job.timeout_secs),
        append_log: false,
        final_test: false,
    };
    let result = match crate::runner::run(&mut ctx, &req) {
        Ok(f) => WorkerResult::Finished {
            pending: f.pending,
            reason: f.reason,
        },
        Err(e) => {
            let reason = format!("refused: {e}");
            crate::runner::append_note(&ctx.run_log(), &reason);
            WorkerResult::Refused {
                pending: super::schedule::failed_run(job),
                reason,
            }
        }
    };
    let body =
        serde_json::to_string(&result).map_err(|e| crate::error::ExperimentError::State {
            path: ctx.paths.slot_result(),
            message: e.to_string(),
        })?;
    // Keyed like the state, so that a result edited while the batch runs
    // is refused rather than believed.
    let mac = ctx.log_key()?.state_mac(body.as_bytes()).to_hex();
    crate::fsutil::atomic_write(
        &ctx.paths.slot_result(),
        format!("{mac}\n{body}").as_bytes(),
    )
}

/// Reads a worker's result, `None` when there is none or its keyed hash
/// does not match.
pub(crate) fn read_result(
    path: &std::path::Path,
    key: &crate::explog::Key,
) -> Option<WorkerResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let (mac, body) = text.split_once('\n')?;
    let want = key.state_mac(body.as_bytes());
    (blake3::Hash::from_hex(mac).ok()? == want)
        .then(|| serde_json::from_str(body).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explog::Key;

    #[test]
    fn an_edited_or_foreign_result_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        let key = Key::generate().unwrap();
        let job = Job {
            dir: dir.path().to_path_buf(),
            slot: 1,
            experiment_id: 4,
            commit: "0123456789abcdef".into(),
            description: "x".into(),
            timeout_secs: 1,
        };
        let result = WorkerResult::Refused {
            pending: super::super::schedule::failed_run(&job),
            reason: "refused".into(),
        };
        let body = serde_json::to_string(&result).unwrap();
        let mac = key.state_mac(body.as_bytes()).to_hex();
        std::fs::write(&path, format!("{mac}\n{body}")).unwrap();
        assert!(read_result(&path, &key).is_some());
        let forged = body.replace("refused", "forged");
        std::fs::write(&path, format!("{mac}\n{forged}")).unwrap();
        assert!(read_result(&path, &key).is_none());
        std::fs::write(&path, format!("{mac}\n{body}")).unwrap();
        assert!(read_result(&path, &Key::generate().unwrap()).is_none());
    }
}
