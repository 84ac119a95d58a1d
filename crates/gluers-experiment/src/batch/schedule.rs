//! Runs a batch's candidates on `jobs` slots: one thread per slot takes the
//! next candidate in queue order, starts an engine worker process for it in
//! its slot and waits for it; results are put back in queue order.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::worker::{Job, WorkerResult, WORKER_ARG};
use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::metrics::Metrics;
use crate::state::{Outcome, PendingRun, Queued};

/// One evaluated candidate.
#[derive(Debug)]
pub(super) struct Done {
    /// Its run, pending a decision.
    pub pending: PendingRun,
    /// Why it failed, for crash and timeout.
    pub reason: Option<String>,
    /// Its run log.
    pub run_log: Vec<u8>,
}

/// Evaluates every queued candidate, `jobs` at a time; returns them in
/// queue order.
pub(super) fn run_all(
    ctx: &Ctx,
    queue: &[Queued],
    first_id: u64,
    jobs: usize,
    timeout_secs: u64,
) -> Result<Vec<Done>> {
    let exe = std::env::current_exe()
        .map_err(|e| ExperimentError::io("find the engine's executable", "/proc/self/exe", e))?;
    for k in 0..jobs {
        let slot = ctx.paths.slot(k);
        crate::fsutil::ensure_private_dir(&slot.run_dir)?;
        if k > 0 {
            seed_target(ctx, k)?;
        }
        let _ = std::fs::remove_file(slot.slot_result());
        let _ = std::fs::remove_file(ctx.paths.slot_progress(k));
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Done>>> = Mutex::new((0..queue.len()).map(|_| None).collect());
    let failure: Mutex<Option<ExperimentError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for k in 0..jobs {
            let (next, results, failure, exe) = (&next, &results, &failure, &exe);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= queue.len() || lock(failure).is_some() {
                    break;
                }
                let job = Job {
                    dir: ctx.project_dir.clone(),
                    slot: k,
                    experiment_id: first_id + i as u64,
                    commit: queue[i].commit.clone(),
                    description: queue[i].description.clone(),
                    timeout_secs,
                };
                match run_one(ctx, exe, &job) {
                    Ok(done) => {
                        print_finished(&done);
                        lock(results)[i] = Some(done);
                    }
                    Err(e) => {
                        lock(failure).get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&failure).take() {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(results.into_iter().flatten().collect())
}

/// Gives a new slot of a Rust project a copy of slot 0's target folder, so
/// that its first build compiles only the candidate's own crate, not every
/// dependency again (a copy, not links: a build in one slot must never
/// write into another's files).
fn seed_target(ctx: &Ctx, k: usize) -> Result<()> {
    let from = ctx.paths.target();
    let to = ctx.paths.slot(k).target();
    if !matches!(ctx.state.project, crate::state::StoredProject::Cargo { .. })
        || !from.is_dir()
        || to.exists()
    {
        return Ok(());
    }
    println!("slot {k}: copying the engine's target folder for its first build");
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let status = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&from)
        .arg(&partial)
        .status()
        .map_err(|e| ExperimentError::io("run cp to copy", &from, e))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(ExperimentError::Usage(format!(
            "cannot copy the target folder {} to {} ({status}); free some disk space or run with --jobs 1",
            from.display(),
            partial.display()
        )));
    }
    std::fs::rename(&partial, &to).map_err(|e| ExperimentError::io("rename", &partial, e))
}

/// A mutex's guard, whether or not a thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the worker for `job`, waits for it and reads its result.
fn run_one(ctx: &Ctx, exe: &std::path::Path, job: &Job) -> Result<Done> {
    let slot = ctx.paths.slot(job.slot);
    let json = serde_json::to_string(job).map_err(|e| ExperimentError::State {
        path: slot.slot_result(),
        message: e.to_string(),
    })?;
    let stderr_path = slot.run_dir.join("worker.stderr");
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| ExperimentError::io("create", &stderr_path, e))?;
    let status = Command::new(exe)
        .arg(WORKER_ARG)
        .arg(json)
        .current_dir(&ctx.project_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .map_err(|e| ExperimentError::io("start a batch worker", exe, e))?;
    let run_log = std::fs::read(slot.slot_run_log()).unwrap_or_default();
    let result = super::worker::read_result(&slot.slot_result(), &ctx.log_key()?);
    let _ = std::fs::remove_file(slot.slot_result());
    let _ = std::fs::remove_file(slot.slot_run_log());
    let (pending, reason) = match result {
        Some(WorkerResult::Finished { pending, reason })
            if pending.experiment_id == job.experiment_id =>
        {
            (pending, reason)
        }
        Some(WorkerResult::Refused { pending, reason })
            if pending.experiment_id == job.experiment_id =>
        {
            (pending, Some(reason))
        }
        _ => {
            // No result: the worker itself died. The candidate gets a crash
            // row naming why, never a silently missing one.
            let tail = crate::fsutil::tail_lines(&stderr_path, 5);
            (
                failed_run(job),
                Some(format!(
                    "the engine's worker for this candidate stopped ({status}) without a valid result: {}",
                    tail.trim()
                )),
            )
        }
    };
    Ok(Done {
        pending,
        reason,
        run_log,
    })
}

/// A crashed run for `job` with no run folder (nothing ran).
pub(super) fn failed_run(job: &Job) -> PendingRun {
    let now = jiff::Timestamp::now();
    PendingRun {
        experiment_id: job.experiment_id,
        run_id: uuid::Uuid::new_v4().to_string(),
        run_folder: String::new(),
        commit: job.commit.clone(),
        description: job.description.clone(),
        timestamp: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
        duration_secs: 0.0,
        outcome: Outcome::Crash,
        metrics: Metrics::default(),
    }
}

/// One line as a candidate finishes (finishing order; the summary after
/// the batch is in queue order).
fn print_finished(d: &Done) {
    let p = &d.pending;
    let short = &p.commit[..p.commit.len().min(7)];
    if p.outcome == Outcome::Ok {
        println!(
            "experiment {}: ok in {:.2} s (commit {short}): {}",
            p.experiment_id,
            p.duration_secs,
            p.metrics.inline()
        );
    } else {
        println!(
            "experiment {}: {} after {:.2} s (commit {short}): {}",
            p.experiment_id,
            p.outcome.word(),
            p.duration_secs,
            d.reason.as_deref().unwrap_or("")
        );
    }
}
