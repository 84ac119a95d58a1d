//! `experiment run`: commit, check the frozen set, run, report.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::engine::{Access, Ctx, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::frozen::{self, Manifest};
use crate::git::literal_pathspec;
use crate::metrics::delta;
use crate::runner;
use crate::state::{Outcome, StoredProject};

/// `experiment run`: commits pending changes, refuses frozen-set changes,
/// runs the candidate and the sealed evaluation, prints the comparison.
pub(crate) fn run(dir: &Path, message: &str, timeout: Option<u64>) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    if let Some(p) = &ctx.state.pending {
        return Err(ExperimentError::PendingDecision {
            id: p.experiment_id,
            status: p.outcome.word().into(),
            prog: ctx.state.prog.clone(),
        });
    }
    if message.trim().is_empty() {
        return Err(ExperimentError::Usage(
            "the description is empty; say what changed with -m \"...\"".into(),
        ));
    }

    // Commit what is pending, or run HEAD as it is.
    if matches!(ctx.state.project, StoredProject::Cargo { .. }) {
        crate::project::refresh_lockfile(&ctx.project_dir);
    }
    let dirty = ctx.repo.dirty_paths(&ctx.status_ignore())?;
    if !dirty.is_empty() {
        // Everything but the engine's own files (logs, run folders, build
        // output), even where the project's .gitignore forgot them.
        ctx.repo.git.run(&["add", "--all"])?;
        let mut unstage: Vec<String> = vec!["reset".into(), "--quiet".into(), "--".into()];
        unstage.extend(
            ctx.state
                .excluded
                .iter()
                .map(|p| literal_pathspec(p.trim_end_matches('/'))),
        );
        ctx.repo.git.run(&unstage)?;
        ctx.repo.git.run(&["commit", "--quiet", "-m", message])?;
    }
    let head = ctx.repo.git.rev_parse("HEAD")?;
    let short = ctx.repo.git.short(&head)?;
    if dirty.is_empty() {
        println!("nothing to commit: running HEAD {short} as it is");
    } else {
        println!("committed {} changed path(s) as {short}", dirty.len());
    }

    // The frozen set must be as it was at the base.
    let mut manifest = Manifest::load(&ctx.paths.manifest())?;
    let violations = frozen::Check {
        repo: &ctx.repo,
        base: &ctx.state.base_commit,
        entries: &ctx.state.frozen,
        excluded: &ctx.state.excluded,
        check_head: true,
    }
    .run(&mut manifest)?;
    manifest.save(&ctx.paths.manifest())?;
    if !violations.is_empty() {
        let base = ctx.repo.git.short(&ctx.state.base_commit)?;
        return Err(ExperimentError::FrozenViolation {
            base,
            head: short,
            paths: frozen::describe(&violations),
        });
    }

    let id = ctx.state.next_id;
    let secs = timeout.unwrap_or(ctx.state.timeout_secs);
    println!("experiment {id}        running (timeout {secs} s; output in {RUN_LOG_FILE})");
    let req = runner::Request {
        experiment_id: id,
        description: message,
        commit: head,
        timeout: Duration::from_secs(secs),
        append_log: false,
    };
    let finished = runner::run(&mut ctx, &req)?;
    let p = &finished.pending;
    let prog = &ctx.state.prog;
    let kept_short = ctx.repo.git.short(&ctx.state.kept_commit)?;
    if p.outcome != Outcome::Ok {
        println!(
            "experiment {id}: {} after {:.2} s (run {}, commit {short})",
            p.outcome.word(),
            p.duration_secs,
            p.run_id
        );
        if let Some(reason) = &finished.reason {
            println!("  {reason}");
        }
        super::print_tail(&ctx.run_log());
        println!();
        println!(
            "record it:  {prog} discard    # logs `{}` and resets to {kept_short} (last kept)",
            p.outcome.word()
        );
        return Ok(ExitCode::from(1));
    }

    println!(
        "experiment {id}: ok in {:.2} s (run {}, commit {short})",
        p.duration_secs, p.run_id
    );
    let width = p
        .metrics
        .0
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let values: Vec<String> = p.metrics.0.iter().map(|m| m.value.to_string()).collect();
    let vwidth = values.iter().map(String::len).max().unwrap_or(0);
    let kept_label = if ctx.state.kept_experiment == 0 {
        "best kept (baseline)".to_string()
    } else {
        format!("best kept (#{})", ctx.state.kept_experiment)
    };
    for (m, v) in p.metrics.0.iter().zip(&values) {
        let vs_base = ctx
            .state
            .baseline
            .get(&m.name)
            .map_or("n/a".into(), |b| delta(m.as_f64(), b.as_f64()));
        let vs_kept = ctx
            .state
            .best_kept
            .get(&m.name)
            .map_or("n/a".into(), |b| delta(m.as_f64(), b.as_f64()));
        println!(
            "  {:<width$}  {v:>vwidth$}   vs baseline {vs_base:<22} vs {kept_label} {vs_kept}",
            m.name
        );
    }
    if !ctx.state.metric_docs.is_empty() {
        println!("  (which direction is better: see the metric docs, `{prog} status`)");
    }
    println!();
    println!("decide:");
    println!("  {prog} keep       # keep {short}; the branch continues from it");
    println!("  {prog} discard    # drop it; the branch resets to {kept_short} (last kept)");
    Ok(ExitCode::SUCCESS)
}
