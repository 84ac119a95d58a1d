//! `experiment status`, `experiment log` and `experiment report`.

use std::path::Path;
use std::process::ExitCode;

use crate::contract;
use crate::engine::{Access, Ctx};
use crate::error::{ExperimentError, Result};
use crate::explog::{self, Status};
use crate::metrics::Metrics;
use crate::report::{render_chart_directed, ChartPoint, ChartStatus};
use crate::state::FrozenKind;

/// How the log names experiment `id`: `baseline` or `experiment N`.
pub(crate) fn experiment_name(id: u64) -> String {
    if id == 0 {
        "baseline".to_string()
    } else {
        format!("experiment {id}")
    }
}

/// `experiment status`: the experiment at a glance.
pub(crate) fn status(dir: &Path) -> Result<ExitCode> {
    let ctx = Ctx::open(dir, Access::Read)?;
    let s = &ctx.state;
    let git = &ctx.repo.git;
    let short = |c: &str| {
        git.short(c)
            .unwrap_or_else(|_| c[..c.len().min(12)].to_string())
    };
    println!("experiment    {}  (DAG `{}`)", s.branch, s.dag);
    println!("goal          {}", s.goal);
    println!("base commit   {}", short(&s.base_commit));
    let kept = experiment_name(s.kept_experiment);
    println!("last kept     {} ({kept})", short(&s.kept_commit));
    let head = git.rev_parse("HEAD").unwrap_or_default();
    if head != s.kept_commit {
        println!("HEAD          {}", short(&head));
    }
    println!("timeout       {} s", s.timeout_secs);
    println!("sealed        {}", s.sealed.export.display());
    println!(
        "sandbox       {}",
        if s.sandboxed {
            "Landlock (candidates cannot read sealed data or engine state)"
        } else {
            "none: unsandboxed (init --no-sandbox)"
        }
    );
    if !s.eval_data.is_empty() {
        println!("sealed data   {}", s.eval_data.join(", "));
    }
    let present: Vec<_> = s.frozen.iter().filter(|e| e.exists).collect();
    println!("frozen set    {} path(s)", present.len());
    for e in present {
        let p = if e.kind == FrozenKind::Dir {
            format!("{}/", e.path)
        } else {
            e.path.clone()
        };
        println!("  {p:<40} {}", e.reason);
    }
    println!("baseline      {}", s.baseline.inline());
    let best = experiment_name(s.best_experiment);
    println!("best kept     {} ({best})", s.best_kept.inline());
    let (direction, source) = contract::direction(&s.metric_docs, &s.primary_metric);
    println!(
        "goal metric   {} ({}, {})",
        s.primary_metric,
        direction.words(),
        source.word()
    );
    if !s.metric_docs.is_empty() {
        println!("metric docs");
        for m in &s.metric_docs {
            let (d, src) = contract::direction(&s.metric_docs, &m.name);
            let mut contract_words = vec![format!("{} ({})", d.words(), src.word())];
            contract_words.extend(
                contract::constraints(&s.metric_docs, &m.name)
                    .iter()
                    .map(|c| format!("{} (hard constraint: keep refuses otherwise)", c.words())),
            );
            let doc = if m.doc.trim().is_empty() {
                "(no doc: declared at init)".to_string()
            } else {
                m.doc.replace('\n', " ")
            };
            println!("  {:<24} {doc}", m.name);
            println!("  {:<24} [{}]", "", contract_words.join("; "));
        }
    }
    if !s.final_test.is_empty() {
        let list: Vec<String> = s
            .final_test
            .iter()
            .map(|f| format!("{} (for {})", f.path, f.replaces))
            .collect();
        println!(
            "final test    {} (sealed, never scored in the loop)",
            list.join(", ")
        );
        match s.finals.last() {
            Some(f) => println!(
                "final         experiment {} scored experiment {}: {}",
                f.experiment_id,
                f.scored_experiment,
                f.metrics.inline()
            ),
            None => println!(
                "final         not scored yet: `{} finish` scores the best kept commit once",
                s.prog
            ),
        }
    }
    match &s.pending {
        Some(p) => println!(
            "pending       experiment {} ({}, commit {}): decide with `{} keep` or `{} discard`",
            p.experiment_id,
            p.outcome.word(),
            short(&p.commit),
            s.prog,
            s.prog
        ),
        None if s.batch.is_empty() => println!("pending       none"),
        None => {
            println!(
                "batch         {} row(s) waiting: decide each with `{} keep ID` (at most one) or `{} discard ID`",
                s.batch.len(),
                s.prog,
                s.prog
            );
            crate::batch::print_batch(&ctx);
        }
    }
    if !s.queue.is_empty() {
        println!(
            "queue         {} candidate(s) for `{} run --queued --jobs N`",
            s.queue.len(),
            s.prog
        );
        for (i, q) in s.queue.iter().enumerate() {
            println!("  {:<3} {}  {}", i + 1, short(&q.commit), q.description);
        }
    }
    if let (Some(ip), None) = (&s.in_progress, &ctx.lock) {
        println!(
            "running       experiment {} ({}), started {} by engine pid {}",
            ip.experiment_id, ip.phase, ip.started_at, ip.engine_pid
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `experiment log`: the log as an aligned table.
pub(crate) fn log(dir: &Path) -> Result<ExitCode> {
    let ctx = Ctx::open(dir, Access::Read)?;
    let rows = explog::read(&ctx.paths.log())?;
    print!("{}", explog::table(&rows));
    Ok(ExitCode::SUCCESS)
}

/// `experiment report`: one metric of every experiment, drawn to SVG or PNG.
pub(crate) fn report(dir: &Path, metric: Option<&str>, out: &Path) -> Result<ExitCode> {
    let ctx = Ctx::open(dir, Access::Read)?;
    let rows = explog::read(&ctx.paths.log())?;
    let parsed: Vec<Metrics> = rows
        .iter()
        .map(|r| Metrics::from_log_field(&r.metrics))
        .collect();
    let mut known: Vec<String> = Vec::new();
    for m in parsed.iter().flat_map(|m| &m.0) {
        if !known.contains(&m.name) {
            known.push(m.name.clone());
        }
    }
    let unknown = |m: &str| ExperimentError::UnknownMetric {
        metric: m.to_string(),
        known: if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        },
    };
    let primary = &ctx.state.primary_metric;
    let metric = match metric {
        Some(m) if known.iter().any(|k| k == m) => m.to_string(),
        Some(m) => return Err(unknown(m)),
        None if known.contains(primary) => primary.clone(),
        None => known
            .first()
            .cloned()
            .ok_or_else(|| unknown("(first metric)"))?,
    };
    let points: Vec<ChartPoint> = rows
        .iter()
        .zip(&parsed)
        .map(|(r, m)| ChartPoint {
            experiment_id: r.experiment_id,
            value: m.get(&metric).map(|v| v.as_f64()),
            status: match r.status {
                Status::Keep if r.experiment_id == 0 => ChartStatus::Baseline,
                Status::Keep => ChartStatus::Keep,
                Status::Discard => ChartStatus::Discard,
                Status::Crash => ChartStatus::Crash,
                Status::Timeout => ChartStatus::Timeout,
                Status::Final => ChartStatus::Final,
            },
            description: r.description.clone(),
        })
        .collect();
    // Runs made without the sandbox say so on the chart, as in `status`.
    let title = if ctx.state.sandboxed {
        metric.clone()
    } else {
        format!("{metric} (unsandboxed)")
    };
    let (direction, _) = contract::direction(&ctx.state.metric_docs, &metric);
    render_chart_directed(&points, &title, Some(direction), out)?;
    // A chart written into the repository is the engine's output, not the
    // agent's work: `experiment run` must not commit it.
    let abs = std::env::current_dir()
        .map(|cwd| cwd.join(out))
        .ok()
        .and_then(|p| crate::repo::normalize(&p));
    if let Some(rel) = abs.as_deref().and_then(|a| ctx.repo.rel(a)) {
        if !rel.is_empty() {
            ctx.repo.exclude(&[rel])?;
        }
    }
    println!(
        "wrote {} ({metric}, {} experiment(s))",
        out.display(),
        points.len()
    );
    Ok(ExitCode::SUCCESS)
}
