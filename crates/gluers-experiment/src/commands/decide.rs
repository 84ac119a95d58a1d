//! `experiment keep` and `experiment discard`: the agent's decision on the
//! pending run, recorded in the log.

use std::path::Path;
use std::process::ExitCode;

use crate::engine::{Access, Ctx};
use crate::error::{ExperimentError, Result};
use crate::explog::{self, Row, Status};
use crate::state::{Outcome, PendingRun};

/// The log row of a decided run.
pub(crate) fn row(ctx: &Ctx, p: &PendingRun, status: Status) -> Result<Row> {
    Ok(Row {
        experiment_id: p.experiment_id,
        timestamp: p.timestamp.clone(),
        run_id: p.run_id.clone(),
        metrics: p.metrics.to_log_field(),
        status,
        description: p.description.clone(),
        commit: ctx.repo.git.short(&p.commit)?,
        duration_seconds: p.duration_secs,
    })
}

/// Appends the decided row to the chained log and its mirror, and records
/// the new chain head in the state (saved by the caller).
pub(crate) fn append_row(ctx: &mut Ctx, r: &Row) -> Result<()> {
    let head = explog::append(
        &ctx.paths.log(),
        &ctx.log_mirror(),
        &ctx.log_key()?,
        r.clone(),
    )?;
    ctx.state.log_head = head.or(ctx.state.log_head.take());
    Ok(())
}

/// The pending run; `id`, when given, must name it.
fn pending(ctx: &Ctx, id: Option<u64>) -> Result<PendingRun> {
    let p = ctx
        .state
        .pending
        .clone()
        .ok_or_else(|| ExperimentError::NoPending {
            prog: ctx.state.prog.clone(),
        })?;
    match id {
        Some(id) if id != p.experiment_id => Err(ExperimentError::Usage(format!(
            "experiment {id} is not waiting for a decision; experiment {} is",
            p.experiment_id
        ))),
        _ => Ok(p),
    }
}

/// `experiment keep [ID]`: logs the pending run as kept (a batch's row:
/// [`crate::batch::decide`]); the branch continues
/// from its commit.
pub(crate) fn keep(dir: &Path, id: Option<u64>) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    if !ctx.state.batch.is_empty() {
        drop(ctx);
        return crate::batch::decide::decide(dir, id, true);
    }
    let p = pending(&ctx, id)?;
    if p.outcome != Outcome::Ok {
        return Err(ExperimentError::CannotKeepFailed {
            id: p.experiment_id,
            status: p.outcome.word().into(),
            prog: ctx.state.prog.clone(),
        });
    }
    if let Some((metric, value, c)) = crate::contract::broken(&p.metrics, &ctx.state.metric_docs) {
        return Err(ExperimentError::ConstraintBroken {
            id: p.experiment_id,
            metric,
            value,
            constraint: c.words(),
            prog: ctx.state.prog.clone(),
        });
    }
    let r = row(&ctx, &p, Status::Keep)?;
    append_row(&mut ctx, &r)?;
    ctx.state.kept_commit = p.commit.clone();
    ctx.state.kept_experiment = p.experiment_id;
    let s = &ctx.state;
    let better =
        crate::contract::is_better(&p.metrics, &s.best_kept, &s.primary_metric, &s.metric_docs);
    if better {
        ctx.state.best_kept = p.metrics.clone();
        ctx.state.best_experiment = p.experiment_id;
        ctx.state.best_commit = p.commit.clone();
    }
    ctx.state.next_id = p.experiment_id + 1;
    ctx.state.pending = None;
    ctx.save()?;
    println!(
        "kept experiment {} ({}): {}",
        p.experiment_id,
        r.commit,
        p.metrics.inline()
    );
    let s = &ctx.state;
    if better {
        println!(
            "best kept is now experiment {} ({} {})",
            p.experiment_id,
            s.primary_metric,
            crate::contract::direction(&s.metric_docs, &s.primary_metric)
                .0
                .words()
        );
    } else {
        let best = if s.best_experiment == 0 {
            "the baseline".to_string()
        } else {
            format!("experiment {}", s.best_experiment)
        };
        println!(
            "best kept stays {best}: experiment {} is not better on {} ({})",
            p.experiment_id,
            s.primary_metric,
            crate::contract::direction(&s.metric_docs, &s.primary_metric)
                .0
                .words()
        );
    }
    println!(
        "the branch continues from {}; next: `{} run -m \"...\"`",
        r.commit, ctx.state.prog
    );
    Ok(ExitCode::SUCCESS)
}

/// `experiment discard [ID]`: logs the pending run (a batch's row:
/// [`crate::batch::decide`]) (discard, crash or timeout)
/// and resets the branch to the last kept commit; refuses a dirty tree.
pub(crate) fn discard(dir: &Path, id: Option<u64>) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    if !ctx.state.batch.is_empty() {
        drop(ctx);
        return crate::batch::decide::decide(dir, id, false);
    }
    let p = pending(&ctx, id)?;
    ctx.repo.require_clean(
        &ctx.status_ignore(),
        "discard resets the branch and would lose them: commit them (they are then discarded too) or `git stash` them, then retry",
    )?;
    let status = match p.outcome {
        Outcome::Ok => Status::Discard,
        Outcome::Crash => Status::Crash,
        Outcome::Timeout => Status::Timeout,
    };
    let kept = ctx.state.kept_commit.clone();
    let kept_short = ctx.repo.git.short(&kept)?;
    let dropped = ctx
        .repo
        .git
        .run(&["log", "--format=%h %s", &format!("{kept}..HEAD")])?;
    let r = row(&ctx, &p, status)?;
    append_row(&mut ctx, &r)?;
    ctx.repo.git.run(&["reset", "--quiet", "--hard", &kept])?;
    ctx.state.next_id = p.experiment_id + 1;
    ctx.state.pending = None;
    ctx.save()?;
    println!(
        "recorded experiment {} as {} ({}); branch reset to {kept_short} (last kept)",
        p.experiment_id,
        status.as_str(),
        r.commit
    );
    if !dropped.is_empty() {
        println!(
            "dropped from the branch (still reachable with `git cherry-pick HASH` for a while):"
        );
        for line in dropped.lines() {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
