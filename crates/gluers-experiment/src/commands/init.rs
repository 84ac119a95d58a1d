//! `experiment init`: branch, frozen set, sealed evaluator, baseline.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::engine::{Ctx, LOG_FILE, RUN_LOG_FILE};
use crate::error::{ExperimentError, Result};
use crate::explog::{self, Row, Status};
use crate::frozen::{self, Defaults};
use crate::launch::Launcher;
use crate::lock::EngineLock;
use crate::metrics::Metrics;
use crate::project;
use crate::python;
use crate::repo::{join_rel, Repo};
use crate::state::{Flavor, MetricDoc, Sealed, State, StatePaths, StoredProject, STATE_VERSION};
use crate::{runner, ProjectSpec};

use super::init_contract::{self, ContractFlags};
use super::init_steps::{build_sealed, check_label, free_branch_name, print_frozen};

use super::resolve::{
    excluded_paths, has_python_files, push_source, resolve_freeze_args, resolve_holdout,
    resolve_project, Resolved,
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
    /// `--holdout` paths: evaluation-only data.
    pub holdout: Vec<PathBuf>,
    /// `--unfreeze` paths: default entries the user narrows away.
    pub unfreeze: Vec<PathBuf>,
    /// `--no-sandbox`.
    pub no_sandbox: bool,
    /// `--metric`: the metric the goal is about.
    pub metric: Option<String>,
    /// `--direction NAME=DIR` flags.
    pub direction: Vec<String>,
    /// `--constraint NAME=OP:X` flags.
    pub constraint: Vec<String>,
    /// `--final-test PATH[=REPLACED]` flags.
    pub final_test: Vec<String>,
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
    let lock_paths = StatePaths::new(&repo.common_dir, "")?;
    crate::fsutil::ensure_private_dir(&lock_paths.root)?;
    let lock = EngineLock::acquire(&lock_paths.lock())?;
    let resolved = resolve_project(&repo, spec)?;
    let project_rel = resolved.stored.rel_dir().to_string();
    let excluded = excluded_paths(&repo, &resolved);
    let freeze = resolve_freeze_args(&repo, &args.freeze)?;
    let contract = ContractFlags::parse(&args.direction, &args.constraint)?;
    let mut final_args: Vec<(String, Option<String>)> = Vec::new();
    for arg in &args.final_test {
        let (path, replaces) = init_contract::split_final_arg(arg);
        let rel = resolve_holdout("--final-test", path, &resolved.storage_root)?;
        final_args.push((rel, replaces.map(|r| r.trim_matches('/').to_string())));
    }
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
    let paths = StatePaths::new(&repo.common_dir, &branch)?;
    let started = Setup {
        repo: &repo,
        paths: &paths,
        branch: &branch,
        original: &original,
    };
    let extras = init_contract::Extras {
        freeze,
        contract,
        final_args,
    };
    match started.run(&args, resolved, project_rel, excluded, extras, lock) {
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
        extras: init_contract::Extras,
        lock: EngineLock,
    ) -> Result<ExitCode> {
        let freeze = extras.freeze;
        let repo = self.repo;
        let paths = self.paths;
        if paths.dir.exists() {
            // Left over from an earlier experiment whose branch was deleted.
            std::fs::remove_dir_all(&paths.dir)
                .map_err(|e| ExperimentError::io("remove", &paths.dir, e))?;
        }
        paths.create()?;
        // The experiment's key: it chains the log and authenticates the
        // state, from the state's first write on.
        let key = explog::Key::generate()?;
        key.save(&paths.key())?;
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

        // The sealed evaluator: an engine-owned export of the base commit.
        println!(
            "sealed evaluator   exporting {short} (engine state: {})",
            paths.dir.display()
        );
        let sealed_export = paths.sealed_export();
        crate::fsutil::fresh_private_dir(&sealed_export)?;
        let _ = std::fs::remove_file(paths.export_manifest());
        let base_tree = crate::export::export(
            &repo.git,
            &base,
            &sealed_export,
            &paths.dir.join("sealed-export-manifest.json"),
        )?;
        let sealed_project = if project_rel.is_empty() {
            sealed_export.clone()
        } else {
            sealed_export.join(&project_rel)
        };
        let sandboxed = !args.no_sandbox;
        if sandboxed {
            crate::contain::require_sandbox()?;
        } else {
            eprintln!("warning: --no-sandbox: candidates run with your full rights; every row of this experiment says `unsandboxed`");
        }
        let mut sealed_info = Sealed {
            export: sealed_export.clone(),
            project_dir: sealed_project.clone(),
            executable: None,
            eval_root: paths.eval(),
            unhashed: None,
        };
        let mut eval_entries = Vec::new();
        let mut metric_docs = Vec::new();
        let mut eval_data: Vec<String> = Vec::new();
        let mut final_declared: Vec<String> = Vec::new();
        let mut base_eval = None;
        let mut toolchain = None;
        let mut cargo_configs = Vec::new();
        let external_read;
        let mut tool_dir = None;
        let mut python: Option<PathBuf> = None;
        let protected_key;
        let defaults;
        match &resolved.stored {
            StoredProject::Cargo { bin, .. } => {
                let tc = crate::toolchain::Toolchain::resolve(&resolved.project_dir)?;
                cargo_configs = crate::toolchain::ancestor_configs(&paths.export());
                external_read = project::external_path_deps(&resolved.project_dir, &repo.root);
                crate::toolchain::prepare_home(paths)?;
                println!("sealed evaluator   building (sandboxed; output in {RUN_LOG_FILE})");
                crate::toolchain::fetch(paths, &tc, &sealed_project, &log)?;
                let launcher = Launcher {
                    mode: crate::contain::Mode::of(sandboxed),
                    project: &resolved.stored,
                    paths,
                    tool_dir: None,
                    python: None,
                    external_read: &external_read,
                    hidden: &[],
                };
                let exe = build_sealed(&launcher, &tc, &sealed_project, bin, &log)?;
                let described = launcher.describe(&exe, &sealed_project, &args.dag)?;
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
                        direction: m.direction,
                        constraints: m.constraints.clone(),
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
                eval_data.extend(described.eval_data.iter().cloned());
                final_declared.extend(described.final_test_data.iter().cloned());
                base_eval = Some(project::evaluation_part(&described));
                sealed_info.executable = Some(exe);
                toolchain = Some(tc);
                protected_key = "gluers";
                defaults = Defaults {
                    rust: true,
                    python: false,
                };
            }
            StoredProject::Command { cmd, flavor, .. } => {
                let interp = python::interpreter(cmd);
                let tools = project::python_tools(paths, &interp, &resolved.project_dir)?;
                tool_dir = tools.tool_dir;
                external_read = tools.reads;
                python = tools.exe;
                if *flavor == Flavor::Gluepy {
                    // Asked of the base commit's export, in the project's own
                    // interpreter: which classes and files the DAG evaluates with.
                    let exe = python.clone().ok_or_else(|| {
                        ExperimentError::Inspect(format!(
                            "`{interp}` does not run Python in {}; check the project command",
                            resolved.project_dir.display()
                        ))
                    })?;
                    let inspected = python::inspect_gluepy(&exe, &sealed_project, &args.dag)?;
                    // What the sealed evaluator imports from, hashed now and
                    // checked before every evaluation.
                    let env = crate::pyenv::Manifest::record(&exe, &sealed_project)?;
                    crate::fsutil::save_json(
                        &paths.python_manifest(),
                        &env,
                        crate::fsutil::Durability::Synced,
                    )?;
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
                    let rel = wt_storage
                        .strip_prefix(&sealed_export)
                        .map(crate::repo::to_slash)
                        .map_err(|_| {
                            ExperimentError::Sealed(format!(
                                "the base settings put STORAGE_ROOT at {}, outside the project; use a storage root under the project (BASE_DIR)",
                                wt_storage.display()
                            ))
                        })?;
                    sealed_info.eval_root = sealed_export.join(&rel);
                    sealed_info.unhashed = Some(rel);
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
                        direction: None,
                        constraints: Vec::new(),
                    }));
                    for f in &inspected.outside_project {
                        eprintln!("note: evaluation code in {f} is outside the project; it is part of the Python environment");
                    }
                    for c in &inspected.unlocated {
                        eprintln!("warning: evaluation class {c} has no source file; freeze the code that creates it with --freeze PATH");
                    }
                    protected_key = "gluepy";
                } else if has_python_files(repo, &project_rel)? {
                    protected_key = "gluers";
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
                } else {
                    protected_key = "gluers";
                    if freeze.is_empty() {
                        eprintln!("warning: no evaluation source found; freeze your evaluation code and data with --freeze PATH");
                    }
                }
                defaults = Defaults {
                    rust: false,
                    python: true,
                };
            }
        }

        // The evaluation-only data, sealed.
        for h in &args.holdout {
            eval_data.push(resolve_holdout("--holdout", h, &resolved.storage_root)?);
        }
        eval_data.sort();
        eval_data.dedup();
        crate::sealed::snapshot_data(paths, &resolved.storage_root, &eval_data)?;
        if !eval_data.is_empty() {
            println!(
                "sealed data        {} (candidates cannot read it)",
                eval_data.join(", ")
            );
        }
        // The final test: sealed too, and out of the loop's evaluations.
        let mut finals: Vec<(String, Option<String>)> =
            final_declared.into_iter().map(|p| (p, None)).collect();
        finals.extend(extras.final_args);
        let final_test = init_contract::pair_final(&finals, &eval_data)?;
        init_contract::seal_final(paths, &resolved.storage_root, &final_test)?;
        for f in &final_test {
            println!(
                "final test         {} (sealed; stands in for {} at `finish` only)",
                f.path, f.replaces
            );
        }

        // The metric contract: the declarations, then the init flags; the
        // goal must name a metric.
        extras.contract.apply(&mut metric_docs);
        let declared: Vec<String> = metric_docs.iter().map(|d| d.name.clone()).collect();
        let mut primary_metric = String::new();
        if !declared.is_empty() {
            primary_metric = crate::contract::primary_metric(
                &args.goal,
                args.metric.as_deref(),
                &declared,
                "DAG's declared metrics",
            )
            .map_err(ExperimentError::Usage)?;
        }

        // The frozen set, by its bytes.
        let mut all = eval_entries;
        all.extend(freeze);
        let unfreeze = resolve_freeze_args(repo, &args.unfreeze)?;
        all.extend(
            frozen::default_entries(repo, &project_rel, defaults)
                .into_iter()
                .filter(|d| !unfreeze.iter().any(|u| u.path == d.path)),
        );
        let frozen_set = frozen::merge(all);
        print_frozen(&frozen_set);
        let manifest = frozen::Manifest::record(
            &repo.root,
            &sealed_export,
            &base_tree,
            &frozen_set,
            &excluded,
        )?;
        manifest.save(&paths.manifest())?;
        crate::sealed::SealedManifest::record(paths, sealed_info.unhashed.as_deref())?
            .save(&paths.sealed_manifest())?;

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
            sandboxed,
            toolchain,
            cargo_configs,
            fetched_lock: None,
            external_read,
            tool_dir,
            python: python.clone(),
            eval_data,
            base_eval,
            protected_key: protected_key.into(),
            config_dir: "configs".into(),
            log_head: None,
            best_experiment: 0,
            frozen: frozen_set,
            excluded,
            metric_docs,
            primary_metric,
            baseline: Metrics::default(),
            best_kept: Metrics::default(),
            best_commit: base.clone(),
            final_test,
            finals: Vec::new(),
            next_id: 0,
            pending: None,
            in_progress: None,
            queue: Vec::new(),
            batch: Vec::new(),
            batch_running: None,
            mac: None,
        };
        state.save(&paths.state(), &key)?;
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
            worker: None,
        };
        let req = runner::Request {
            experiment_id: 0,
            description: "baseline",
            commit: base.clone(),
            timeout: Duration::from_secs(args.timeout),
            append_log: true,
            final_test: false,
        };
        let finished = runner::run(&mut ctx, &req)?;
        finished.print_warnings();
        let p = finished.pending;
        if p.outcome != crate::state::Outcome::Ok {
            eprintln!("{}", finished.reason.unwrap_or_default());
            super::print_tail(&ctx.run_log());
            return Err(ExperimentError::BaselineFailed {
                status: p.outcome.word().into(),
                log: ctx.run_log(),
            });
        }
        if ctx.state.primary_metric.is_empty() {
            // Nothing declared: the goal names one of the metrics the
            // baseline logged.
            let logged: Vec<String> = p.metrics.0.iter().map(|m| m.name.clone()).collect();
            ctx.state.primary_metric = crate::contract::primary_metric(
                &ctx.state.goal,
                args.metric.as_deref(),
                &logged,
                "metrics the baseline logged (the DAG declares none)",
            )
            .map_err(ExperimentError::Usage)?;
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
        ctx.state.log_head = explog::write_all(&paths.log(), &ctx.log_mirror(), &key, &[row])?;
        ctx.state.baseline = p.metrics.clone();
        ctx.state.best_kept = p.metrics.clone();
        ctx.state.pending = None;
        ctx.state.next_id = 1;
        ctx.save()?;
        println!(
            "baseline           {:.2} s, run {}",
            p.duration_secs, p.run_id
        );
        for m in &p.metrics.0 {
            println!("  {:<24} {}", m.name, m.value);
        }
        let s = &ctx.state;
        if let Some((metric, value, c)) = crate::contract::broken(&p.metrics, &s.metric_docs) {
            eprintln!(
                "warning: the baseline breaks a hard constraint ({metric}={value}, {}): only runs that meet it can be kept",
                c.words()
            );
        }
        let (direction, source) = crate::contract::direction(&s.metric_docs, &s.primary_metric);
        println!(
            "goal metric        {} ({}, {})",
            s.primary_metric,
            direction.words(),
            source.word()
        );
        println!();
        println!("{LOG_FILE} started with the baseline row. Next: change the work tasks, then");
        println!("  {} run -m \"what changed\"", ctx.state.prog);
        Ok(ExitCode::SUCCESS)
    }
}
