//! `experiment finish`: the best kept commit, scored once on the sealed
//! final test.
//!
//! The loop chose the best kept run by its holdout metrics, after many
//! looks at that holdout, so those figures flatter it. The final test is
//! data the loop never scored: `finish` runs the best kept commit's work
//! tasks as `run` does (from an export of that commit, sandboxed), then
//! the sealed evaluator with the final test's answers in place of the
//! holdout's, records a `final` row in the chained log, and prints the loop
//! metric beside the final one. A second `finish` of the same commit
//! prints what was recorded and scores nothing.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::engine::{Access, Ctx, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::explog::{Row, Status};
use crate::metrics::{delta, Metrics};
use crate::runner;
use crate::state::{FinalResult, Outcome};

/// `experiment finish`.
pub(crate) fn finish(dir: &Path) -> Result<ExitCode> {
    let mut ctx = Ctx::open(dir, Access::Write)?;
    // A pending run, or a batch's rows: their ids come before the final row's.
    crate::batch::refuse_undecided(&ctx)?;
    if ctx.state.final_test.is_empty() {
        return Err(ExperimentError::NoFinalTest);
    }
    let commit = ctx.state.best_commit.clone();
    let short = ctx.repo.git.short(&commit)?;
    if let Some(done) = ctx.state.finals.iter().find(|f| f.commit == commit) {
        println!(
            "the final test already scored experiment {} (commit {short}) as experiment {}; not scored again",
            done.scored_experiment, done.experiment_id
        );
        print_result(&ctx, done);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(earlier) = ctx.state.finals.last() {
        println!(
            "note: the final test already scored experiment {} (commit {}); each further look at it makes it less independent, and every look is in the log",
            earlier.scored_experiment,
            ctx.repo.git.short(&earlier.commit)?
        );
    }
    let scored = ctx.state.best_experiment;
    let id = ctx.state.next_id;
    let description = format!("final test of experiment {scored}");
    println!(
        "final test         scoring experiment {scored} (commit {short}, best kept) on {} (timeout {} s; output in {RUN_LOG_FILE})",
        ctx.state
            .final_test
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        ctx.state.timeout_secs
    );
    let req = runner::Request {
        experiment_id: id,
        description: &description,
        commit: commit.clone(),
        timeout: Duration::from_secs(ctx.state.timeout_secs),
        append_log: false,
        final_test: true,
    };
    let finished = runner::run(&mut ctx, &req)?;
    // The final evaluation is recorded, never decided.
    ctx.state.pending = None;
    finished.print_warnings();
    let p = finished.pending;
    if p.outcome != Outcome::Ok {
        ctx.save()?;
        println!(
            "final test: {} after {:.2} s (run {}); nothing was recorded",
            p.outcome.word(),
            p.duration_secs,
            p.run_id
        );
        super::print_failure(finished.reason.as_deref(), &ctx.run_log());
        return Ok(ExitCode::from(1));
    }
    let row = Row {
        experiment_id: id,
        timestamp: p.timestamp.clone(),
        run_id: p.run_id.clone(),
        metrics: p.metrics.to_log_field(),
        status: Status::Final,
        description,
        commit: short.clone(),
        duration_seconds: p.duration_secs,
    };
    super::decide::append_row(&mut ctx, &row)?;
    let result = FinalResult {
        experiment_id: id,
        scored_experiment: scored,
        commit,
        loop_metrics: ctx.state.best_kept.clone(),
        metrics: p.metrics.clone(),
        run_id: p.run_id.clone(),
    };
    ctx.state.finals.push(result.clone());
    ctx.state.next_id = id + 1;
    ctx.save()?;
    println!(
        "final test         recorded as experiment {id} (status final) in {:.2} s, run {}",
        p.duration_secs, p.run_id
    );
    print_result(&ctx, &result);
    Ok(ExitCode::SUCCESS)
}

/// The loop's metrics beside the final test's, and the goal metric's
/// optimism.
fn print_result(ctx: &Ctx, r: &FinalResult) {
    let s = &ctx.state;
    let names: Vec<&str> = r.metrics.0.iter().map(|m| m.name.as_str()).collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(6);
    let value = |m: &Metrics, n: &str| m.get(n).map_or("n/a".to_string(), |v| v.value.to_string());
    println!(
        "  {:<width$}  {:>22}  {:>22}  final - loop",
        "metric", "loop (holdout)", "final test"
    );
    for n in &names {
        let diff = match (r.loop_metrics.get(n), r.metrics.get(n)) {
            (Some(l), Some(f)) => delta(f.as_f64(), l.as_f64()),
            _ => "n/a".into(),
        };
        println!(
            "  {n:<width$}  {:>22}  {:>22}  {diff}",
            value(&r.loop_metrics, n),
            value(&r.metrics, n)
        );
    }
    let primary = &s.primary_metric;
    if let (Some(l), Some(f)) = (r.loop_metrics.get(primary), r.metrics.get(primary)) {
        let (d, _) = crate::contract::direction(&s.metric_docs, primary);
        let verdict = if d.is_better(l.as_f64(), f.as_f64()) {
            "the loop's figure was optimistic: the final test is worse"
        } else if d.is_better(f.as_f64(), l.as_f64()) {
            "the final test is better than the loop's figure"
        } else {
            "the final test matches the loop's figure"
        };
        println!(
            "goal metric {primary} ({}): loop {} vs final {}: {verdict}",
            d.words(),
            l.value,
            f.value
        );
    }
}
