//! `experiment init`: branch, frozen set, sealed evaluator, baseline.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::engine::{Ctx, LOG_FILE, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::explog::{self, Row, Status};
use crate::frozen::{self, Defaults};
use crate::lock::EngineLock;
use crate::metrics::Metrics;
use crate::project;
use crate::python;
use crate::repo::{join_rel, Repo};
use crate::state::{
    Flavor, FrozenEntry, FrozenKind, MetricDoc, Sealed, State, StatePaths, StoredProject,
    STATE_VERSION,
};
use crate::{runner, sealed, ProjectSpec};

use super::resolve::{
    excluded_paths, has_python_files, push_source, resolve_freeze_args, resolve_project, Resolved,
};

/// The arguments of `experiment init`.
#[derive(Debug)]
pub(crate) struct InitArgs {
    /// The DAG label.
    pub dag: String,
    /// The goal, in words.
    pub goal: String,
    /// `--freeze` paths, relative to the current directory.
    pub freeze: Vec<PathBuf>,
    /// Default run timeout in seconds.
    pub timeout: u64,
}

/// `experiment init`: everything or nothing (a failure after the branch was
/// created rolls back to the original branch).
pub(crate) fn init(spec: Option<ProjectSpec>, args: InitArgs) -> Result<ExitCode> {
    let spec = spec.ok_or(ExperimentError::ProjectRequired)?;
    let dir = match &spec {
        ProjectSpec::Cargo { manifest_dir, .. } => manifest_dir.clone(),
        ProjectSpec::Command { dir, .. } => dir.clone(),
    };
    let repo = Repo::discover(&dir)?;
    let lock = EngineLock::acquire(&repo.common_dir.join("gluers").join("lock"))?;
    let resolved = resolve_project(&repo, spec)?;
    let project_rel = resolved.stored.rel_dir().to_string();
    let excluded = excluded_paths(&repo, &resolved);
    let freeze = resolve_freeze_args(&repo, &args.freeze)?;
    check_label(&repo, &args.dag)?;
    if resolved.cargo.is_some() {
        project::refresh_lockfile(&resolved.project_dir);
    }
    repo.require_clean(
        &excluded,
        "commit or stash them, then run `experiment init` again",
    )?;

    let original = match repo.git.current_branch()? {
        Some(b) => b,
        None => repo.git.rev_parse("HEAD")?,
    };
    let branch = free_branch_name(&repo, &args.dag)?;
    repo.git.run(&["checkout", "--quiet", "-b", &branch])?;
    let paths = StatePaths::new(&repo.common_dir, &branch);
    let started = Setup {
        repo: &repo,
        paths: &paths,
        branch: &branch,
        original: &original,
    };
    match started.run(&args, resolved, project_rel, excluded, freeze, lock) {
        Ok(code) => Ok(code),
        Err(e) => {
            started.roll_back();
            Err(e)
        }
    }
}

/// The part of init that is undone when anything fails.
struct Setup<'a> {
    repo: &'a Repo,
    paths: &'a StatePaths,
    branch: &'a str,
    original: &'a str,
}

impl Setup<'_> {
    fn roll_back(&self) {
        sealed::remove_worktree(self.repo, &self.paths.worktree());
        let _ = std::fs::remove_dir_all(&self.paths.dir);
        let _ = self.repo.git.run(&["checkout", "--quiet", self.original]);
        let _ = self.repo.git.run(&["branch", "--quiet", "-D", self.branch]);
        eprintln!(
            "note: init rolled back: back on `{}`, branch `{}` and engine state removed",
            self.original, self.branch
        );
    }

    fn run(
        &self,
        args: &InitArgs,
        resolved: Resolved,
        project_rel: String,
        excluded: Vec<String>,
        freeze: Vec<FrozenEntry>,
        lock: EngineLock,
    ) -> Result<ExitCode> {
        let repo = self.repo;
        let paths = self.paths;
        if paths.dir.exists() {
            // Left over from an earlier experiment whose branch was deleted.
            sealed::remove_worktree(repo, &paths.worktree());
            std::fs::remove_dir_all(&paths.dir)
                .map_err(|e| ExperimentError::io("remove", &paths.dir, e))?;
        }
        crate::fsutil::ensure_dir(&paths.dir)?;
        let base = repo.git.rev_parse("HEAD")?;
        let short = repo.git.short(&base)?;
        println!("experiment branch  {}  (base commit {short})", self.branch);
        let run_log = resolved.project_dir.join(RUN_LOG_FILE);
        repo.exclude(&[
            join_rel(&project_rel, LOG_FILE),
            join_rel(&project_rel, RUN_LOG_FILE),
        ])?;
        if let Some(runs) = repo.rel(&resolved.storage_root.join("runs")) {
            repo.exclude(&[format!("{runs}/")])?;
        }
        let log = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&run_log)
            .map_err(|e| ExperimentError::io("open", &run_log, e))?;

        // The sealed evaluator and the evaluation sources.
        println!("sealed evaluator   building from {short} (git worktree under .git/gluers/)");
        let wt = sealed::create_worktree(repo, paths, &base)?;
        let wt_project = wt.join(&project_rel);
        let mut sealed_info = Sealed {
            worktree: wt.clone(),
            project_dir: wt_project.clone(),
            executable: None,
            executable_hash: None,
            executable_stamp: None,
            storage_link: None,
        };
        let mut eval_entries = Vec::new();
        let mut metric_docs = Vec::new();
        let defaults;
        match &resolved.stored {
            StoredProject::Cargo { bin, .. } => {
                let (target, lockfile) = resolved.cargo.clone().unwrap_or_default();
                let (exe, hash) = sealed::build_cargo(
                    repo,
                    paths,
                    &wt_project,
                    bin,
                    &target,
                    Some(&lockfile),
                    &log,
                )?;
                let described =
                    project::describe(&exe, &wt_project, &args.dag, &resolved.storage_root)?;
                if described.eval_tasks.is_empty() {
                    return Err(ExperimentError::NoEvalTasks {
                        dag: args.dag.clone(),
                        detail: "`--describe` lists none".into(),
                    });
                }
                for t in &described.eval_tasks {
                    metric_docs.extend(t.metrics.iter().map(|m| MetricDoc {
                        name: m.name.clone(),
                        doc: m.doc.clone(),
                    }));
                    if let Some(f) = &t.source_file {
                        push_source(
                            repo,
                            &resolved.project_dir,
                            f,
                            format!("evaluation task `{}`", t.label),
                            &mut eval_entries,
                        );
                    }
                }
                if let Some(f) = &described.eval_wiring_file {
                    push_source(
                        repo,
                        &resolved.project_dir,
                        f,
                        format!("wires the eval_tasks of `{}`", args.dag),
                        &mut eval_entries,
                    );
                }
                sealed_info.executable = Some(exe);
                sealed_info.executable_hash = Some(hash);
                defaults = Defaults {
                    rust: true,
                    python: false,
                };
            }
            StoredProject::Command { cmd, flavor, .. } => {
                let interp = python::interpreter(cmd);
                if *flavor == Flavor::Gluepy {
                    // Asked of the base commit's tree, in the project's own
                    // interpreter: which classes and files the DAG evaluates with.
                    let exe = python::resolve_interpreter(&interp, &resolved.project_dir)?;
                    let inspected = python::inspect_gluepy(&exe, &wt_project, &args.dag)?;
                    let wt_storage = inspected
                        .settings
                        .storage_root
                        .clone()
                        .map(PathBuf::from)
                        .ok_or_else(|| {
                            ExperimentError::Inspect(format!(
                                "settings module `{}` sets no STORAGE_ROOT",
                                inspected.settings.module
                            ))
                        })?;
                    sealed::link_storage(&wt, &wt_storage, &resolved.storage_root)?;
                    if wt_storage != resolved.storage_root {
                        sealed_info.storage_link = Some(wt_storage);
                    }
                    if inspected.eval_tasks.is_empty() {
                        return Err(ExperimentError::NoEvalTasks {
                            dag: args.dag.clone(),
                            detail: format!("`{}` has an empty eval_tasks", inspected.dag_class),
                        });
                    }
                    for t in &inspected.eval_tasks {
                        for file in &t.mro_files {
                            push_source(
                                repo,
                                &resolved.project_dir,
                                file,
                                format!("evaluation task `{}` ({})", t.label, t.class_name),
                                &mut eval_entries,
                            );
                        }
                    }
                    for file in &inspected.wiring_files {
                        push_source(
                            repo,
                            &resolved.project_dir,
                            file,
                            format!("wires the eval_tasks of `{}`", args.dag),
                            &mut eval_entries,
                        );
                    }
                    metric_docs.extend(inspected.metric_docs.iter().map(|m| MetricDoc {
                        name: m.name.clone(),
                        doc: m.doc.clone(),
                    }));
                    for f in &inspected.outside_project {
                        eprintln!("note: evaluation code in {f} is outside the project; it is part of the Python environment");
                    }
                    for c in &inspected.unlocated {
                        eprintln!("warning: evaluation class {c} has no source file; freeze the code that creates it with --freeze PATH");
                    }
                } else if has_python_files(repo, &project_rel)? {
                    // Generic fallback: a syntax scan (see python::scan).
                    let scan =
                        python::scan(&interp, &resolved.project_dir, &[&resolved.storage_root])?;
                    for e in &scan.errors {
                        eprintln!("warning: {} does not parse as Python ({}); it was not scanned for evaluation tasks", e.path, e.error);
                    }
                    let sources = scan.eval_sources(&args.dag);
                    for (file, classes) in &sources.eval_files {
                        push_source(
                            repo,
                            &resolved.project_dir,
                            file,
                            format!("defines EvaluationTask {}", classes.join(", ")),
                            &mut eval_entries,
                        );
                    }
                    for file in &sources.wiring_files {
                        push_source(
                            repo,
                            &resolved.project_dir,
                            file,
                            format!("wires the eval_tasks of `{}`", args.dag),
                            &mut eval_entries,
                        );
                    }
                    if eval_entries.is_empty() && freeze.is_empty() {
                        eprintln!("warning: no evaluation source found; freeze your evaluation code and data with --freeze PATH");
                    }
                } else if freeze.is_empty() {
                    eprintln!("warning: no evaluation source found; freeze your evaluation code and data with --freeze PATH");
                }
                defaults = Defaults {
                    rust: false,
                    python: true,
                };
            }
        }

        // The frozen set.
        let mut all = eval_entries;
        all.extend(freeze);
        all.extend(frozen::default_entries(repo, &project_rel, defaults));
        let frozen_set = frozen::merge(all);
        print_frozen(&frozen_set);
        let manifest = frozen::snapshot(repo, &frozen_set, &excluded)?;
        manifest.save(&paths.manifest())?;

        let state = State {
            version: STATE_VERSION,
            dag: args.dag.clone(),
            goal: args.goal.clone(),
            branch: self.branch.to_string(),
            base_commit: base.clone(),
            kept_commit: base.clone(),
            kept_experiment: 0,
            project: resolved.stored.clone(),
            storage_root: resolved.storage_root.clone(),
            timeout_secs: args.timeout,
            prog: resolved.prog.clone(),
            sealed: sealed_info,
            frozen: frozen_set,
            excluded,
            metric_docs,
            baseline: Metrics::default(),
            best_kept: Metrics::default(),
            next_id: 0,
            pending: None,
            in_progress: None,
        };
        state.save(&paths.state())?;
        drop(log);

        // The baseline.
        println!(
            "baseline           running (timeout {} s; output in {RUN_LOG_FILE})",
            args.timeout
        );
        let mut ctx = Ctx {
            repo: repo.clone(),
            paths: paths.clone(),
            project_dir: resolved.project_dir.clone(),
            state,
            lock: Some(lock),
        };
        let req = runner::Request {
            experiment_id: 0,
            description: "baseline",
            commit: base.clone(),
            timeout: Duration::from_secs(args.timeout),
            append_log: true,
        };
        let finished = runner::run(&mut ctx, &req)?;
        let p = finished.pending;
        if p.outcome != crate::state::Outcome::Ok {
            eprintln!("{}", finished.reason.unwrap_or_default());
            super::print_tail(&ctx.run_log());
            return Err(ExperimentError::BaselineFailed {
                status: p.outcome.word().into(),
                log: ctx.run_log(),
            });
        }
        let row = Row {
            experiment_id: 0,
            timestamp: p.timestamp.clone(),
            run_id: p.run_id.clone(),
            metrics: p.metrics.to_log_field(),
            status: Status::Keep,
            description: "baseline".into(),
            commit: short.clone(),
            duration_seconds: p.duration_secs,
        };
        explog::write_all(&paths.log(), &ctx.log_mirror(), &[row])?;
        ctx.state.baseline = p.metrics.clone();
        ctx.state.best_kept = p.metrics.clone();
        ctx.state.pending = None;
        ctx.state.next_id = 1;
        if ctx.state.sealed.executable.is_some() && ctx.state.sealed.executable_stamp.is_none() {
            // The executable was copied too recently for the baseline's check
            // to vouch for its stat; once that is no longer so, its hash is
            // checked here rather than in the first run. (A failure is left
            // for the next check to report.)
            if let Ok(Some(stamp)) = sealed::check(repo, &ctx.state, None, None) {
                ctx.state.sealed.executable_stamp = Some(stamp);
            }
        }
        ctx.save()?;
        println!(
            "baseline           {:.2} s, run {}",
            p.duration_secs, p.run_id
        );
        for m in &p.metrics.0 {
            println!("  {:<24} {}", m.name, m.value);
        }
        println!();
        println!("{LOG_FILE} started with the baseline row. Next: change the work tasks, then");
        println!("  {} run -m \"what changed\"", ctx.state.prog);
        Ok(ExitCode::SUCCESS)
    }
}

/// The DAG label must make a valid branch name.
fn check_label(repo: &Repo, dag: &str) -> Result<()> {
    let name = format!("experiment/{dag}");
    if dag.is_empty()
        || !repo
            .git
            .succeeds(&["check-ref-format", "--branch", &name])?
    {
        return Err(ExperimentError::Usage(format!(
            "DAG label `{dag}` cannot name a git branch (`{name}`); use the DAG's label as registered"
        )));
    }
    Ok(())
}

/// `experiment/<dag>`, or the first of `-2`, `-3`, … that is free.
fn free_branch_name(repo: &Repo, dag: &str) -> Result<String> {
    let base = format!("experiment/{dag}");
    if !repo.git.branch_exists(&base)? {
        return Ok(base);
    }
    for n in 2..10_000 {
        let name = format!("{base}-{n}");
        if !repo.git.branch_exists(&name)? {
            return Ok(name);
        }
    }
    Err(ExperimentError::Usage(format!(
        "branches {base} to {base}-9999 all exist; delete old experiment branches, then retry"
    )))
}

fn print_frozen(entries: &[FrozenEntry]) {
    let present: Vec<&FrozenEntry> = entries.iter().filter(|e| e.exists).collect();
    println!("frozen set         {} path(s)", present.len());
    for e in &present {
        let shown = if e.kind == FrozenKind::Dir {
            format!("{}/", e.path)
        } else {
            e.path.clone()
        };
        println!("  {shown:<40} {}", e.reason);
    }
    let absent: Vec<String> = entries
        .iter()
        .filter(|e| !e.exists)
        .map(|e| {
            if e.kind == FrozenKind::Dir {
                format!("{}/", e.path)
            } else {
                e.path.clone()
            }
        })
        .collect();
    if !absent.is_empty() {
        println!("  must stay absent: {}", absent.join(", "));
    }
}
