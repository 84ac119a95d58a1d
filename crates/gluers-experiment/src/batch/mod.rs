//! Batches of candidates: `experiment queue` records candidate commits,
//! `experiment run --queued --jobs N` evaluates them N at a time, each in
//! its own engine worker process (own export, target folder, tmp, run
//! folder and sealed evaluation), and leaves one pending run per
//! candidate, numbered in queue order. Rows reach the log in that order
//! whatever the finishing order ([`decide`]), so a batch logs what the
//! same candidates run one by one would.
//!
//! Workers are processes, not threads: each is the child subreaper of what
//! its candidate starts, so that the kill of leftovers after a phase and
//! the reaping of orphans never touch a sibling's processes.

pub(crate) mod decide;
mod schedule;
pub(crate) mod worker;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::engine::{Access, Ctx, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::state::{BatchRun, BatchRunning, Outcome, Queued};

/// The most parallel workers a batch starts.
pub(crate) const MAX_JOBS: usize = 64;

/// Refuses to add to or run the queue while a run or a batch waits for a
/// decision (the candidates' base would be stale).
pub(crate) fn refuse_undecided(ctx: &Ctx) -> Result<()> {
    if let Some(p) = &ctx.state.pending {
        return Err(ExperimentError::PendingDecision {
            id: p.experiment_id,
            status: p.outcome.word().into(),
            prog: ctx.state.prog.clone(),
        });
    }
    if let Some(first) = ctx.state.batch.iter().find(|b| b.kept.is_none()) {
        return Err(ExperimentError::Usage(format!(
            "experiment {} of the last batch is still waiting for a decision; decide every row with `{prog} keep ID` or `{prog} discard ID` first (`{prog} status` lists them)",
            first.run.experiment_id,
            prog = ctx.state.prog
        )));
    }
    Ok(())
}

/// `experiment queue [REV] -m TEXT`: queues commit REV, or commits the
/// work tree's changes as a candidate and resets the work tree to the last
/// kept commit, so that the next candidate starts from it too.
pub(crate) fn queue(dir: &Path, rev: Option<&str>, message: Option<&str>) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    refuse_undecided(&ctx)?;
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    let kept = ctx.state.kept_commit.clone();
    let commit = match rev {
        Some(rev) => {
            let commit = ctx
                .repo
                .git
                .rev_parse(&format!("{rev}^{{commit}}"))
                .map_err(|_| {
                    ExperimentError::Usage(format!(
                        "`{rev}` names no commit of this repository; queue a commit hash, branch or tag"
                    ))
                })?;
            require_on_kept(&ctx, &commit, rev)?;
            commit
        }
        None => {
            let Some(message) = message else {
                return Err(ExperimentError::Usage(
                    "say what the candidate changes with -m \"...\" (or queue an existing commit: `queue REV`)".into(),
                ));
            };
            let head = ctx.repo.git.rev_parse("HEAD")?;
            if head != kept {
                return Err(ExperimentError::Usage(format!(
                    "HEAD ({}) is not the last kept commit ({}): a queued candidate starts from the last kept commit; `git reset --hard {}` (or queue HEAD itself with `queue HEAD`)",
                    ctx.repo.git.short(&head)?,
                    ctx.repo.git.short(&kept)?,
                    ctx.repo.git.short(&kept)?
                )));
            }
            let committed = crate::commands::run::commit(&ctx, message)?;
            if committed.paths == 0 {
                return Err(ExperimentError::Usage(
                    "nothing to queue: the work tree has no changes; change the work tasks first (or queue an existing commit: `queue REV`)".into(),
                ));
            }
            let commit = ctx.repo.git.rev_parse("HEAD")?;
            // Back to the last kept commit: the next candidate is made from
            // it, and the queued one stays reachable from the reflog and
            // the state.
            ctx.repo.git.run(&["reset", "--quiet", "--hard", &kept])?;
            commit
        }
    };
    let description = match message {
        Some(m) => m.to_string(),
        None => ctx.repo.git.run(&["log", "-1", "--format=%s", &commit])?,
    };
    if description.trim().is_empty() {
        return Err(ExperimentError::Usage(
            "the description is empty; say what the candidate changes with -m \"...\"".into(),
        ));
    }
    ctx.state.queue.push(Queued {
        commit: commit.clone(),
        description: description.clone(),
    });
    ctx.save()?;
    let short = ctx.repo.git.short(&commit)?;
    let n = ctx.state.queue.len();
    println!("queued {short} as candidate {n}: {description}");
    println!(
        "evaluate the queue with `{} run --queued --jobs N`",
        ctx.state.prog
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a candidate whose history does not contain the last kept
/// commit (its base would not be the one its row is judged against).
fn require_on_kept(ctx: &Ctx, commit: &str, named: &str) -> Result<()> {
    let kept = &ctx.state.kept_commit;
    if !ctx
        .repo
        .git
        .succeeds(&["merge-base", "--is-ancestor", kept, commit])?
    {
        return Err(ExperimentError::Usage(format!(
            "`{named}` ({}) does not descend from the last kept commit {}: rebase it on {} and queue it again",
            ctx.repo.git.short(commit)?,
            ctx.repo.git.short(kept)?,
            ctx.repo.git.short(kept)?
        )));
    }
    Ok(())
}

/// `experiment run --queued --jobs N`: evaluates the queue, `jobs` at a
/// time, and leaves one pending run per candidate.
pub(crate) fn run_queued(dir: &Path, jobs: usize, timeout: Option<u64>) -> Result<ExitCode> {
    let started = Instant::now();
    let mut ctx = Ctx::open(dir, Access::Write)?;
    refuse_undecided(&ctx)?;
    let queue = ctx.state.queue.clone();
    if queue.is_empty() {
        return Err(ExperimentError::Usage(format!(
            "the queue is empty: queue candidates with `{} queue -m \"...\"` (or `queue REV`) first",
            ctx.state.prog
        )));
    }
    for (i, q) in queue.iter().enumerate() {
        require_on_kept(&ctx, &q.commit, &format!("queued candidate {}", i + 1))?;
    }
    let jobs = jobs.clamp(1, MAX_JOBS).min(queue.len());
    let first_id = ctx.state.next_id;
    let secs = timeout.unwrap_or(ctx.state.timeout_secs);
    ctx.state.batch_running = Some(BatchRunning {
        first_id,
        count: queue.len(),
        jobs,
        engine_pid: std::process::id(),
    });
    ctx.save()?;
    println!(
        "batch of {} candidate(s): experiments {first_id}..{}, {jobs} at a time (timeout {secs} s each; output in {RUN_LOG_FILE})",
        queue.len(),
        first_id + queue.len() as u64 - 1
    );
    let finished = schedule::run_all(&ctx, &queue, first_id, jobs, secs)?;

    // The run logs in queue order, whatever the finishing order.
    let mut log = Vec::new();
    for f in &finished {
        log.extend_from_slice(&f.run_log);
    }
    crate::fsutil::atomic_replace(&ctx.run_log(), &log)?;
    ctx.state.batch = finished
        .into_iter()
        .map(|f| BatchRun {
            run: f.pending,
            reason: f.reason,
            kept: None,
        })
        .collect();
    ctx.state.queue.clear();
    ctx.state.batch_running = None;
    ctx.save()?;
    print_batch(&ctx);
    crate::runner::append_note(
        &ctx.run_log(),
        &format!(
            "batch of {} in {:.2} s with {jobs} job(s)",
            queue.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    let prog = &ctx.state.prog;
    println!();
    println!("decide each row (rows reach the log in this order):");
    println!("  {prog} keep ID       # at most one per batch: the branch continues from it");
    println!("  {prog} discard ID    # drop it (records crash/timeout as such)");
    let all_ok = ctx.state.batch.iter().all(|b| b.run.outcome == Outcome::Ok);
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints the batch's pending runs, one line each, in queue order.
pub(crate) fn print_batch(ctx: &Ctx) {
    let git = &ctx.repo.git;
    for b in &ctx.state.batch {
        let p = &b.run;
        let short = git
            .short(&p.commit)
            .unwrap_or_else(|_| p.commit[..p.commit.len().min(12)].to_string());
        let decided = match b.kept {
            Some(true) => "  [kept]",
            Some(false) => "  [discarded]",
            None => "",
        };
        let what = if p.outcome == Outcome::Ok {
            p.metrics.inline()
        } else {
            b.reason.clone().unwrap_or_default()
        };
        println!(
            "  experiment {:<4} {:<8} {short}  {what}  ({}){decided}",
            p.experiment_id,
            p.outcome.word(),
            p.description
        );
    }
}

/// After a killed engine: kills what the batch's workers left running and
/// clears the marker; the queue is kept, so the batch can run again.
pub(crate) fn recover(ctx: &mut Ctx) -> Result<Option<String>> {
    let Some(b) = ctx.state.batch_running.take() else {
        return Ok(None);
    };
    let mut killed = Vec::new();
    for k in 0..b.jobs {
        let path = ctx.paths.slot_progress(k);
        let ip: Option<crate::state::InProgress> =
            crate::fsutil::load_json(&path).unwrap_or_default();
        if let Some(ip) = ip {
            if let Some(pgid) = ip.pgid {
                if crate::process::group_belongs_to_run(pgid, &ip.run_id) {
                    crate::process::kill_group(pgid);
                    killed.push(pgid.to_string());
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    ctx.save()?;
    let killed = if killed.is_empty() {
        "no process of it was left".to_string()
    } else {
        format!("killed its leftover process group(s) {}", killed.join(", "))
    };
    Ok(Some(format!(
        "note: the batch of experiments {}..{} (engine pid {} stopped) was interrupted; {killed}; none of it was logged and the queue is kept: run it again with `{} run --queued`",
        b.first_id,
        b.first_id + b.count as u64 - 1,
        b.engine_pid,
        ctx.state.prog
    )))
}
