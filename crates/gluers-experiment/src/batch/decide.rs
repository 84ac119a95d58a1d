//! `keep ID` and `discard ID` on a batch's rows.
//!
//! Each candidate is decided on its own, in any order; its row reaches the
//! log once every candidate before it in the queue is decided, so the log
//! reads as if they had been run and decided one by one. Keeping one moves
//! the branch to its commit; a candidate that does not descend from the
//! kept commit then has a stale base, and keeping it too is refused (it
//! must be rebased and queued again): one keep per batch of siblings.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::decide::{append_row, row};
use crate::engine::{Access, Ctx};
use crate::error::{ExperimentError, Result};
use crate::explog::Status;
use crate::state::Outcome;

/// Decides experiment `id` (or the only undecided one) of the batch:
/// keep when `keep`, else discard.
pub(crate) fn decide(dir: &Path, id: Option<u64>, keep: bool) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    let prog = ctx.state.prog.clone();
    let word = if keep { "keep" } else { "discard" };
    let waiting = ctx.state.undecided_batch();
    let list = waiting
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let id = match (id, waiting.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => *only,
        (None, _) => {
            return Err(ExperimentError::Usage(format!(
                "the batch has several runs waiting for a decision ({list}): name one, e.g. `{prog} {word} {}`",
                waiting.first().copied().unwrap_or_default()
            )))
        }
    };
    let Some(i) = ctx
        .state
        .batch
        .iter()
        .position(|b| b.run.experiment_id == id && b.kept.is_none())
    else {
        return Err(ExperimentError::Usage(format!(
            "experiment {id} is not waiting for a decision (waiting: {})",
            if list.is_empty() { "none" } else { &list }
        )));
    };
    let p = ctx.state.batch[i].run.clone();
    let short = ctx.repo.git.short(&p.commit)?;
    if keep {
        if p.outcome != Outcome::Ok {
            return Err(ExperimentError::Usage(format!(
                "experiment {id} ended with {} and has no metrics, so it cannot be kept; record it with `{prog} discard {id}`",
                p.outcome.word()
            )));
        }
        if let Some((metric, value, c)) =
            crate::contract::broken(&p.metrics, &ctx.state.metric_docs)
        {
            return Err(ExperimentError::ConstraintBroken {
                id,
                metric,
                value,
                constraint: c.words(),
                prog,
            });
        }
        let kept = ctx.state.kept_commit.clone();
        if !ctx
            .repo
            .git
            .succeeds(&["merge-base", "--is-ancestor", &kept, &p.commit])?
        {
            let kept_short = ctx.repo.git.short(&kept)?;
            return Err(ExperimentError::Usage(format!(
                "experiment {id} ({short}) was evaluated against an older base: experiment {} ({kept_short}) was kept since, and {short} does not contain it; record it with `{prog} discard {id}`, then re-apply its change on {kept_short} and queue it again",
                ctx.state.kept_experiment
            )));
        }
        ctx.repo.require_clean(
            &ctx.status_ignore(),
            "keep moves the branch to the kept commit and would lose them: commit or `git stash` them, then retry",
        )?;
        ctx.repo
            .git
            .run(&["reset", "--quiet", "--hard", &p.commit])?;
        ctx.state.kept_commit = p.commit.clone();
        ctx.state.kept_experiment = id;
        let s = &ctx.state;
        if crate::contract::is_better(&p.metrics, &s.best_kept, &s.primary_metric, &s.metric_docs) {
            ctx.state.best_kept = p.metrics.clone();
            ctx.state.best_experiment = id;
            ctx.state.best_commit = p.commit.clone();
        }
    }
    ctx.state.batch[i].kept = Some(keep);
    let written = flush(&mut ctx)?;
    ctx.save()?;
    let what = if keep {
        "kept".to_string()
    } else {
        format!("recorded as {}", status_of(p.outcome, false).as_str())
    };
    println!("experiment {id} ({short}) {what}: {}", p.metrics.inline());
    if keep {
        println!("the branch continues from {short}");
    }
    if written.is_empty() {
        println!("its row is written once the experiments before it are decided");
    } else {
        let ids: Vec<String> = written.iter().map(u64::to_string).collect();
        println!("logged row(s) {}", ids.join(", "));
    }
    let waiting: Vec<String> = ctx
        .state
        .undecided_batch()
        .iter()
        .map(u64::to_string)
        .collect();
    if !waiting.is_empty() {
        println!("still waiting for a decision: {}", waiting.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// The log status of a decided run.
fn status_of(outcome: Outcome, kept: bool) -> Status {
    match (outcome, kept) {
        (Outcome::Ok, true) => Status::Keep,
        (Outcome::Ok, false) => Status::Discard,
        (Outcome::Crash, _) => Status::Crash,
        (Outcome::Timeout, _) => Status::Timeout,
    }
}

/// Appends the rows of the decided runs at the front of the batch, in
/// order, removing them from it; returns their ids. The state is saved
/// after each row, so that a killed engine never logs a row twice.
fn flush(ctx: &mut Ctx) -> Result<Vec<u64>> {
    let mut written = Vec::new();
    while let Some(kept) = ctx.state.batch.first().and_then(|b| b.kept) {
        let b = ctx.state.batch.remove(0);
        let r = row(ctx, &b.run, status_of(b.run.outcome, kept))?;
        append_row(ctx, &r)?;
        ctx.state.next_id = b.run.experiment_id + 1;
        ctx.save()?;
        written.push(b.run.experiment_id);
    }
    Ok(written)
}
