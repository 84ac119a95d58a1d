//! `experiment run`: commit, check the frozen set, run, report.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::contract;
use crate::engine::{Access, Ctx, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::git::{literal_pathspec, FullAndShort};
use crate::metrics::delta;
use crate::runner;
use crate::state::{Outcome, StoredProject};
use crate::timings::{measure, Timings};

/// `experiment run`: commits pending changes, refuses frozen-set changes,
/// runs the candidate and the sealed evaluation, prints the comparison.
pub(crate) fn run(dir: &Path, message: &str, timeout: Option<u64>) -> Result<ExitCode> {
    let started = Instant::now();
    let mut t = Timings::default();
    let mut ctx = measure(&mut t.open, || Ctx::open(dir, Access::Write))?;
    if let Some(p) = &ctx.state.pending {
        return Err(ExperimentError::PendingDecision {
            id: p.experiment_id,
            status: p.outcome.word().into(),
            prog: ctx.state.prog.clone(),
        });
    }
    if !ctx.state.batch.is_empty() {
        let ids: Vec<String> = ctx
            .state
            .undecided_batch()
            .iter()
            .map(u64::to_string)
            .collect();
        return Err(ExperimentError::Usage(format!(
            "the last batch's experiments {} are still waiting for a decision; decide each with `{prog} keep ID` or `{prog} discard ID` first",
            ids.join(", "),
            prog = ctx.state.prog
        )));
    }
    if message.trim().is_empty() {
        return Err(ExperimentError::Usage(
            "the description is empty; say what changed with -m \"...\"".into(),
        ));
    }

    // Commit what is pending, or run HEAD as it is.
    let committed = measure(&mut t.commit, || commit(&ctx, message))?;

    let Hashes {
        head,
        short,
        kept_short,
    } = measure(&mut t.commit, || hashes(&ctx, committed.hashes))?;
    if committed.paths == 0 {
        println!("nothing to commit: running HEAD {short} as it is");
    } else {
        println!("committed {} changed path(s) as {short}", committed.paths);
    }
    if !committed.configs.is_empty() {
        // An edit only evaluation would read has no effect: say so before
        // the agent spends a run on it.
        println!(
            "note: {} change(s) the work tasks' configuration only; evaluation reads the base commit's",
            committed.configs.join(", ")
        );
    }

    // The base must stay in the branch's history: the log's rows name
    // commits that descend from it.
    if !ctx
        .repo
        .git
        .succeeds(&["merge-base", "--is-ancestor", &ctx.state.base_commit, &head])?
    {
        let base = ctx.repo.git.short(&ctx.state.base_commit)?;
        return Err(ExperimentError::FrozenViolation {
            base: base.clone(),
            head: short,
            paths: format!("history: base commit {base} is no longer an ancestor of HEAD: the base was rewritten"),
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
        final_test: false,
    };
    let finished = runner::run(&mut ctx, &req)?;
    finished.print_warnings();
    let p = &finished.pending;
    let prog = &ctx.state.prog;
    let timings = Timings {
        open: t.open,
        commit: t.commit,
        ..finished.timings
    };
    runner::append_note(&ctx.run_log(), &timings.line(started.elapsed()));
    if p.outcome != Outcome::Ok {
        println!(
            "experiment {id}: {} after {:.2} s (run {}, commit {short})",
            p.outcome.word(),
            p.duration_secs,
            p.run_id
        );
        super::print_failure(finished.reason.as_deref(), &ctx.run_log());
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
    let kept_label = if ctx.state.best_experiment == 0 {
        "best kept (baseline)".to_string()
    } else {
        format!("best kept (#{})", ctx.state.best_experiment)
    };
    for (m, v) in p.metrics.0.iter().zip(&values) {
        let vs_base = ctx
            .state
            .baseline
            .get(&m.name)
            .map_or("n/a".into(), |b| delta(m.as_f64(), b.as_f64()));
        let docs = &ctx.state.metric_docs;
        let vs_kept = ctx.state.best_kept.get(&m.name).map_or("n/a".into(), |b| {
            format!(
                "{} ({})",
                delta(m.as_f64(), b.as_f64()),
                contract::judgement(docs, &m.name, m.as_f64(), b.as_f64())
            )
        });
        println!(
            "  {:<width$}  {v:>vwidth$}   vs baseline {vs_base:<22} vs {kept_label} {vs_kept}",
            m.name
        );
    }
    let s = &ctx.state;
    println!(
        "  goal metric {}: {}",
        s.primary_metric,
        contract::direction(&s.metric_docs, &s.primary_metric)
            .0
            .words()
    );
    if let Some((metric, value, c)) = contract::broken(&p.metrics, &s.metric_docs) {
        println!(
            "  {metric}={value} breaks its hard constraint ({}): `keep` will refuse this run; record it with `{prog} discard`",
            c.words()
        );
    }
    println!();
    println!("decide:");
    println!("  {prog} keep       # keep {short}; the branch continues from it");
    println!("  {prog} discard    # drop it; the branch resets to {kept_short} (last kept)");
    Ok(ExitCode::SUCCESS)
}

/// What [`commit`] did.
pub(crate) struct Committed {
    /// How many changed paths were committed (0: HEAD runs as it is).
    pub paths: usize,
    /// The configuration files among them (`configs/*.yaml` of the
    /// project).
    configs: Vec<String>,
    /// The hashes of HEAD and of the last kept commit, being read.
    hashes: FullAndShort,
}

/// HEAD after [`commit`].
struct Hashes {
    /// Full hash of HEAD.
    head: String,
    /// Its short hash.
    short: String,
    /// The short hash of the last kept commit.
    kept_short: String,
}

/// Commits the pending changes with `message` (the engine's own files left
/// out).
pub(crate) fn commit(ctx: &Ctx, message: &str) -> Result<Committed> {
    let ignore = ctx.status_ignore();
    let mut tree = ctx.repo.head_and_dirty_paths(&ignore)?;
    let cargo = matches!(ctx.state.project, StoredProject::Cargo { .. });
    if cargo && lockfile_may_be_stale(tree.head.as_deref(), &ctx.state.kept_commit, &tree.dirty) {
        crate::project::refresh_lockfile(&ctx.project_dir);
        tree = ctx.repo.head_and_dirty_paths(&ignore)?;
    }
    let dirty = tree.dirty;
    refuse_large_files(ctx, &dirty)?;
    if !dirty.is_empty() {
        // Everything but the engine's own files (logs, run folders, build
        // output), even where the project's .gitignore forgot them.
        // `git add --all` stages exactly what `git status` shows, so the
        // unstaging is only needed when it showed one of the engine's files.
        ctx.repo.git.run(&["add", "--all"])?;
        if tree.ignored_shown {
            let mut unstage: Vec<String> = vec!["reset".into(), "--quiet".into(), "--".into()];
            unstage.extend(
                ctx.state
                    .excluded
                    .iter()
                    .map(|p| literal_pathspec(p.trim_end_matches('/'))),
            );
            ctx.repo.git.run(&unstage)?;
        }
        ctx.repo.git.commit(message)?;
    }
    Ok(Committed {
        paths: dirty.len(),
        configs: dirty
            .iter()
            .filter(|p| is_config(p, ctx.state.project.rel_dir(), &ctx.state.config_dir))
            .cloned()
            .collect(),
        hashes: ctx
            .repo
            .git
            .full_and_short(&["HEAD", &ctx.state.kept_commit])?,
    })
}

/// The largest file `experiment run` commits: data and model files belong
/// in the storage folder (ignored) or in the frozen set, not in git.
pub(crate) const MAX_COMMIT_FILE_BYTES: u64 = 10 << 20;

/// Refuses, before anything is committed, a changed file over
/// [`MAX_COMMIT_FILE_BYTES`].
fn refuse_large_files(ctx: &Ctx, dirty: &[String]) -> Result<()> {
    for p in dirty {
        let size = std::fs::symlink_metadata(ctx.repo.root.join(p)).map_or(0, |m| m.len());
        if size > MAX_COMMIT_FILE_BYTES {
            return Err(ExperimentError::Usage(format!(
                "`{p}` is {:.1} MiB, over the {} MiB limit of a commit; nothing was committed: keep data and models out of git (add the path to .gitignore; freeze input data with `init --freeze`)",
                size as f64 / 1048576.0,
                MAX_COMMIT_FILE_BYTES >> 20
            )));
        }
    }
    Ok(())
}

/// Whether repository-relative `path` is a configuration file of the
/// project (`<project>/<config_dir>/*.yaml`).
fn is_config(path: &str, project_rel: &str, config_dir: &str) -> bool {
    let dir = crate::repo::join_rel(project_rel, config_dir.trim_end_matches('/'));
    path.strip_prefix(&format!("{dir}/")).is_some_and(|name| {
        !name.contains('/') && (name.ends_with(".yaml") || name.ends_with(".yml"))
    })
}

/// HEAD's full and short hash and the last kept commit's short hash, from
/// the query [`commit`] started.
fn hashes(ctx: &Ctx, running: FullAndShort) -> Result<Hashes> {
    let kept = ctx.state.kept_commit.as_str();
    let hashes = running.finish()?;
    let (head, short) = match hashes.first() {
        Some(pair) => pair.clone(),
        None => {
            let head = ctx.repo.git.rev_parse("HEAD")?;
            let short = ctx.repo.git.short(&head)?;
            (head, short)
        }
    };
    let kept_short = match hashes.iter().find(|(full, _)| full == kept) {
        Some((_, s)) => s.clone(),
        None => ctx.repo.git.short(kept)?,
    };
    Ok(Hashes {
        head,
        short,
        kept_short,
    })
}

/// Whether `Cargo.lock` may lag behind the manifests, so that the build
/// would change it: a manifest, lock file or cargo configuration has
/// uncommitted changes, or HEAD moved away from the last kept commit (whose
/// lock file the engine brought up to date) by commits of the agent's own.
/// Asking cargo costs a dependency resolution (a quarter of a second on a
/// small workspace), so it is only done then.
fn lockfile_may_be_stale(head: Option<&str>, kept: &str, dirty: &[String]) -> bool {
    head != Some(kept)
        || dirty.iter().any(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name == "Cargo.toml"
                || name == "Cargo.lock"
                || name.starts_with("rust-toolchain")
                || p.starts_with(".cargo/")
                || p.contains("/.cargo/")
        })
}

#[cfg(test)]
mod tests {
    use super::lockfile_may_be_stale;

    #[test]
    fn configuration_files_are_recognised() {
        use super::is_config;
        assert!(is_config("proj/configs/context.yaml", "proj", "configs"));
        assert!(is_config("configs/a.yml", "", "configs"));
        assert!(!is_config("proj/configs/sub/a.yaml", "proj", "configs"));
        assert!(!is_config("proj/src/configs.yaml", "proj", "configs"));
    }

    #[test]
    fn the_lock_file_is_refreshed_only_when_cargo_inputs_may_have_changed() {
        let kept = "0123";
        let dirty = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(!lockfile_may_be_stale(Some(kept), kept, &[]));
        assert!(!lockfile_may_be_stale(
            Some(kept),
            kept,
            &dirty(&["src/main.rs", "configs/context.yaml"])
        ));
        assert!(lockfile_may_be_stale(Some("4567"), kept, &[]));
        assert!(lockfile_may_be_stale(None, kept, &[]));
        for p in [
            "Cargo.toml",
            "crates/x/Cargo.toml",
            "Cargo.lock",
            ".cargo/config.toml",
            "proj/.cargo/config",
            "rust-toolchain.toml",
        ] {
            assert!(lockfile_may_be_stale(Some(kept), kept, &dirty(&[p])), "{p}");
        }
    }
}
