//! One experiment run: build the candidate, run its work tasks into a fresh
//! run folder, check the frozen set again, run the sealed evaluator on that
//! folder, and read the metrics it wrote.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::frozen;
use crate::metrics::Metrics;
use crate::process::{self, Exit};
use crate::project::{self, Build, CargoBuild, Phase};
use crate::state::{InProgress, Outcome, PendingRun, StoredProject};
use crate::timings::{measure, Timings};

/// What to run.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The experiment id the run gets.
    pub experiment_id: u64,
    /// The description for the log.
    pub description: &'a str,
    /// Full hash of the commit being run (HEAD).
    pub commit: String,
    /// The time limit for build, work tasks and evaluation together.
    pub timeout: Duration,
    /// Append to the run log instead of starting it afresh (init).
    pub append_log: bool,
}

/// A finished run.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The run, as it waits for a decision.
    pub pending: PendingRun,
    /// Why it failed, for crash and timeout.
    pub reason: Option<String>,
    /// How long build, work tasks, frozen recheck, sealed check and
    /// evaluation took (the other phases are the caller's).
    pub timings: Timings,
}

/// A fresh run id and its run folder (`runs/YYYY/M/D/<uuid>`, UTC, month and
/// day not zero-padded, as Gluepy names them).
fn new_run_folder() -> (String, String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let now = jiff::Timestamp::now();
    let ts = now.round(jiff::Unit::Second).unwrap_or(now);
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let folder = format!("runs/{}/{}/{}/{id}", z.year(), z.month(), z.day());
    (id, folder, ts.to_string())
}

/// Runs one experiment and leaves it pending in the state (saved).
pub(crate) fn run(ctx: &mut Ctx, req: &Request<'_>) -> Result<Finished> {
    let (run_id, run_folder, timestamp) = new_run_folder();
    ctx.state.in_progress = Some(InProgress {
        experiment_id: req.experiment_id,
        run_id: run_id.clone(),
        commit: req.commit.clone(),
        phase: "build".into(),
        pgid: None,
        engine_pid: std::process::id(),
        started_at: timestamp.clone(),
    });
    ctx.save_progress()?;
    let started = Instant::now();
    let mut timings = Timings::default();
    let result = run_phases(
        ctx,
        req,
        &run_id,
        &run_folder,
        &timestamp,
        started,
        &mut timings,
    );
    ctx.state.in_progress = None;
    match result {
        Ok((outcome, metrics, reason)) => {
            let pending = PendingRun {
                experiment_id: req.experiment_id,
                run_id,
                run_folder,
                commit: req.commit.clone(),
                description: req.description.to_string(),
                timestamp,
                duration_secs: started.elapsed().as_secs_f64(),
                outcome,
                metrics,
            };
            ctx.state.pending = Some(pending.clone());
            // Not synced to disk: after a power loss the state from before
            // the run may come back, and the next command reports the run
            // as interrupted (its commit stays in git).
            ctx.save_progress()?;
            Ok(Finished {
                pending,
                reason,
                timings,
            })
        }
        Err(e) => {
            let _ = ctx.save_progress();
            Err(e)
        }
    }
}

type PhaseResult = (Outcome, Metrics, Option<String>);

fn run_phases(
    ctx: &mut Ctx,
    req: &Request<'_>,
    run_id: &str,
    run_folder: &str,
    timestamp: &str,
    started: Instant,
    timings: &mut Timings,
) -> Result<PhaseResult> {
    let log_path = ctx.run_log();
    let mut log = open_log(&log_path, req.append_log)?;
    let deadline = started + req.timeout;
    let secs = req.timeout.as_secs();
    let short = &req.commit[..req.commit.len().min(12)];
    note(
        &mut log,
        &format!(
            "experiment {}: run {run_id} of commit {short}, started {timestamp}, run folder {run_folder}",
            req.experiment_id
        ),
    );

    // 1. Build the candidate (Rust projects).
    let mut candidate = None;
    if let StoredProject::Cargo { bin, .. } = &ctx.state.project {
        let bin = bin.clone();
        let messages = ctx.paths.build_messages();
        let project_dir = ctx.project_dir.clone();
        note(&mut log, "building the candidate (cargo build)");
        let build = CargoBuild {
            manifest_dir: &project_dir,
            bin: &bin,
            target_dir: None,
            messages: &messages,
            run_id: Some(run_id),
        };
        let built = measure(&mut timings.build, || {
            build.run(&log, deadline, &mut |pgid| track(ctx, "build", pgid))
        })?;
        match built {
            Build::Built(exe) => candidate = Some(exe),
            Build::Failed(why) => return Ok((Outcome::Crash, Metrics::default(), Some(why))),
            Build::TimedOut => return Ok(timed_out(secs, "the build")),
        }
    }

    // 2. The candidate's work tasks, into a fresh run folder.
    let cmd = project::phase_command(
        &ctx.state,
        Phase::Work,
        &ctx.project_dir,
        candidate.as_deref(),
        run_folder,
        run_id,
    )?;
    note(
        &mut log,
        &format!("work tasks: {}", project::display_command(&cmd)),
    );
    let exit = measure(&mut timings.work, || {
        process::run_in_group(cmd, "the project", &log, None, deadline, &mut |pgid| {
            track(ctx, "work tasks", pgid)
        })
    })?;
    match exit {
        Exit::TimedOut => return Ok(timed_out(secs, "the work tasks")),
        Exit::Finished(s) if !s.success() => {
            return Ok(crash(format!("the work tasks failed ({s})")));
        }
        Exit::Finished(_) => {}
    }

    // 3. The work tasks must not have touched the frozen set. (The sealed
    // evaluator's git check runs meanwhile.)
    let sealed_status = measure(&mut timings.sealed_check, || {
        crate::sealed::start_check(&ctx.state)
    });
    let violations = measure(&mut timings.frozen_recheck, || {
        frozen::check_and_save(ctx, false)
    })?;
    if !violations.is_empty() {
        let what = frozen::describe(&violations);
        note(
            &mut log,
            &format!("the work tasks changed frozen paths: {what}"),
        );
        return Ok(crash(format!(
            "the work tasks changed frozen paths while running: {what}; nothing was evaluated (restore those paths before the next run)"
        )));
    }

    // 4. Only the sealed evaluator may write metrics.json.
    let folder_abs = ctx.state.storage_root.join(run_folder);
    let metrics_path = folder_abs.join("metrics.json");
    remove_any(&metrics_path)?;

    // 5. The sealed evaluator, on the candidate's run folder.
    let link_rel = ctx
        .state
        .sealed
        .storage_link
        .as_ref()
        .and_then(|l| l.strip_prefix(&ctx.state.sealed.worktree).ok())
        .map(crate::repo::to_slash);
    let stamp = measure(&mut timings.sealed_check, || {
        crate::sealed::check(&ctx.repo, &ctx.state, link_rel.as_deref(), sealed_status)
    })?;
    if stamp.is_some() {
        // Saved with the run's result.
        ctx.state.sealed.executable_stamp = stamp;
    }
    let cmd = project::phase_command(
        &ctx.state,
        Phase::Eval,
        &ctx.project_dir,
        None,
        run_folder,
        run_id,
    )?;
    note(
        &mut log,
        &format!("sealed evaluation: {}", project::display_command(&cmd)),
    );
    let exit = measure(&mut timings.evaluation, || {
        process::run_in_group(
            cmd,
            "the sealed evaluator",
            &log,
            None,
            deadline,
            &mut |pgid| track(ctx, "sealed evaluation", pgid),
        )
    })?;
    match exit {
        Exit::TimedOut => return Ok(timed_out(secs, "the evaluation")),
        Exit::Finished(s) if !s.success() => {
            return Ok(crash(format!("the sealed evaluation failed ({s})")));
        }
        Exit::Finished(_) => {}
    }

    // 6. The metrics, from the file the sealed evaluator wrote.
    match Metrics::read(&metrics_path) {
        Ok(m) => {
            note(&mut log, &format!("metrics: {}", m.to_log_field()));
            Ok((Outcome::Ok, m, None))
        }
        Err(why) => {
            note(&mut log, &why);
            Ok(crash(why))
        }
    }
}

fn crash(reason: String) -> PhaseResult {
    (Outcome::Crash, Metrics::default(), Some(reason))
}

fn timed_out(secs: u64, what: &str) -> PhaseResult {
    (
        Outcome::Timeout,
        Metrics::default(),
        Some(format!(
            "timed out after {secs} s during {what}; the run's process group was killed"
        )),
    )
}

/// Records the running child's process group in the state, so that a later
/// command can kill it if this engine dies.
fn track(ctx: &mut Ctx, phase: &str, pgid: i32) -> Result<()> {
    if let Some(ip) = ctx.state.in_progress.as_mut() {
        ip.phase = phase.into();
        ip.pgid = Some(pgid);
    }
    ctx.save_progress()
}

fn open_log(path: &Path, append: bool) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true);
    if append {
        opts.append(true);
    } else {
        opts.write(true).truncate(true);
    }
    opts.open(path)
        .map_err(|e| ExperimentError::io("open", path, e))
}

/// An engine line in the run log (failures to write the log are not fatal).
fn note(log: &mut File, line: &str) {
    let _ = writeln!(log, "[gluers experiment] {line}");
}

/// Appends an engine line to the run log at `path` (failures to write the
/// log are not fatal).
pub(crate) fn append_note(path: &Path, line: &str) {
    if let Ok(mut log) = open_log(path, true) {
        note(&mut log, line);
    }
}

/// Removes whatever is at `path` (file, link or folder).
fn remove_any(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return Ok(()),
    }
    .map_err(|e| ExperimentError::io("remove", path, e))
}
