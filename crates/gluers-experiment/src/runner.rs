//! One experiment run: export the commit, check the frozen set by its bytes,
//! build the candidate in the sandbox, run its work tasks into a fresh run
//! folder, kill whatever they left, check the frozen set again, run the
//! sealed evaluator on a private folder of copies, and read the metrics it
//! wrote there.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::contain;
use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::export::{self, TreeFile};
use crate::launch::{Launcher, Role};
use crate::metrics::Metrics;
use crate::process::{self, Exit};
use crate::state::{InProgress, Outcome, PendingRun, StatePaths, StoredProject};
use crate::timings::{measure, Timings};
use crate::toolchain::{self, Build};
use crate::{evaluator, frozen, project, sealed};

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
    /// Evaluate on the final test (`finish`) instead of the holdout.
    pub final_test: bool,
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
    /// Warnings for the caller to print (metrics no doc declares).
    pub warnings: Vec<String>,
}

impl Finished {
    /// Prints the warnings on stderr, one line each.
    pub fn print_warnings(&self) {
        for w in &self.warnings {
            eprintln!("warning: {w}");
        }
    }
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
            let warnings = if outcome == Outcome::Ok {
                let extra = crate::contract::undeclared(&pending.metrics, &ctx.state.metric_docs);
                if extra.is_empty() {
                    Vec::new()
                } else {
                    vec![format!(
                        "the evaluation logged metric(s) no doc declares: {}; they are recorded, but nothing says which direction is better",
                        extra.join(", ")
                    )]
                }
            } else {
                Vec::new()
            };
            Ok(Finished {
                pending,
                reason,
                timings,
                warnings,
            })
        }
        Err(e) => {
            let _ = ctx.save_progress();
            Err(e)
        }
    }
}

type PhaseResult = (Outcome, Metrics, Option<String>);

/// The manifests a run checks against, loaded once and saved once (their
/// stat caches change; what init recorded does not).
struct Manifests {
    frozen: frozen::Manifest,
    sealed: sealed::SealedManifest,
}

impl Manifests {
    fn load(paths: &StatePaths) -> Result<Self> {
        Ok(Self {
            frozen: frozen::Manifest::load(&paths.manifest())?,
            sealed: sealed::SealedManifest::load(&paths.sealed_manifest())?,
        })
    }

    /// Saves the refreshed stat caches (atomic, not synced: a lost cache
    /// only costs a re-hash).
    fn save(&self, paths: &StatePaths) -> Result<()> {
        self.frozen.save_cache(&paths.manifest())?;
        self.sealed.save_cache(&paths.sealed_manifest())
    }

    /// The frozen set's violations: the export's files (when `tree` is
    /// given) and the work tree's untracked frozen files.
    fn frozen_violations(
        &mut self,
        ctx: &Ctx,
        tree: Option<&[TreeFile]>,
    ) -> Result<Vec<frozen::Violation>> {
        let s = &ctx.state;
        let mut out = Vec::new();
        if let Some(files) = tree {
            out.extend(self.frozen.check_export(
                &ctx.paths.export(),
                files,
                &s.frozen,
                &s.excluded,
            )?);
        }
        out.extend(
            self.frozen
                .check_work_tree(&ctx.repo.root, &s.frozen, &s.excluded)?,
        );
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// The phases of one run, in order; each returns early with the run's
/// outcome when it ends the run.
fn run_phases(
    ctx: &mut Ctx,
    req: &Request<'_>,
    run_id: &str,
    run_folder: &str,
    timestamp: &str,
    started: Instant,
    timings: &mut Timings,
) -> Result<PhaseResult> {
    let short = &req.commit[..req.commit.len().min(12)];
    let paths = ctx.paths.clone();
    let export_root = paths.export();
    let export_project = under(&export_root, ctx.state.project.rel_dir());
    let tmp = paths.tmp();
    crate::fsutil::fresh_private_dir(&tmp)?;
    let storage_root = ctx.state.storage_root.clone();
    let mut manifests = Manifests::load(&paths)?;
    // What the phases read of the state; `ctx` stays free for the progress
    // records (`track`).
    let state = ctx.state.clone();
    // Answers the repository tracks are in the export too: out of reach.
    let hidden: Vec<PathBuf> = state
        .sealed_storage()
        .iter()
        .filter_map(|p| ctx.repo.rel(&storage_root.join(p)))
        .filter(|rel| !rel.is_empty())
        .map(|rel| export_root.join(rel))
        .collect();
    let launcher = Launcher {
        hidden: &hidden,
        ..Launcher::of(&state, &paths)
    };
    let result = (|| {
        // 0. Export the exact commit; its frozen files must hold the base's
        // bytes, and the work tree's untracked frozen files theirs.
        let exported = measure(&mut timings.frozen_check, || {
            export::export(
                &ctx.repo.git,
                &req.commit,
                &export_root,
                &paths.export_manifest(),
            )
        });
        let tree = match exported {
            Ok(files) => files,
            Err(ExperimentError::Export(why)) => {
                return Ok(crash(format!("cannot export the commit: {why}")))
            }
            Err(e) => return Err(e),
        };
        let violations = measure(&mut timings.frozen_check, || {
            manifests.frozen_violations(ctx, Some(&tree))
        })?;
        if !violations.is_empty() {
            let base = ctx.repo.git.short(&ctx.state.base_commit)?;
            return Err(ExperimentError::FrozenViolation {
                base,
                head: short.to_string(),
                paths: frozen::describe(&violations),
            });
        }
        let mut log = open_log(&ctx.run_log(), req.append_log)?;
        let deadline = started + req.timeout;
        let secs = req.timeout.as_secs();
        note(
            &mut log,
            &format!(
                "experiment {}: run {run_id} of commit {short}, started {timestamp}, run folder {run_folder}{}",
                req.experiment_id,
                if ctx.state.sandboxed { "" } else { " (unsandboxed)" }
            ),
        );
        link_gluepy_storage(ctx, &export_project)?;

        // 1. Build the candidate (Rust projects); its evaluation wiring must
        // be the base's.
        let mut candidate = None;
        if let StoredProject::Cargo { bin, .. } = &ctx.state.project {
            let bin = bin.clone();
            let toolchain = ctx.state.toolchain.clone().ok_or_else(|| {
                ExperimentError::Sealed("no toolchain recorded; run `experiment init` again".into())
            })?;
            if let Err(e) =
                toolchain::check_ancestor_configs(&export_root, &ctx.state.cargo_configs)
            {
                return Ok(crash(e.to_string()));
            }
            toolchain::prepare_home(&paths)?;
            let lock_oid = tree
                .iter()
                .find(|f| f.path.ends_with("Cargo.lock"))
                .map(|f| f.oid.clone());
            if lock_oid != ctx.state.fetched_lock {
                note(
                    &mut log,
                    "fetching dependencies (cargo fetch, outside the sandbox)",
                );
                measure(&mut timings.build, || {
                    toolchain::fetch(&paths, &toolchain, &export_project, &log)
                })?;
                ctx.state.fetched_lock = lock_oid;
            }
            note(
                &mut log,
                "building the candidate (cargo build --frozen, sandboxed)",
            );
            let built = measure(&mut timings.build, || {
                launcher.build(
                    &toolchain,
                    &export_root,
                    &export_project,
                    &bin,
                    &log,
                    deadline,
                    &mut |pgid| track(ctx, "build", pgid),
                )
            })?;
            let exe = match built {
                Build::Built(exe) => exe,
                Build::Failed(why) => return Ok(crash(why)),
                Build::TimedOut => return Ok(timed_out(secs, "the build")),
            };
            if let Some(base_eval) = &state.base_eval {
                match launcher.describe(&exe, &export_project, &state.dag) {
                    Ok(d) => {
                        let now = project::evaluation_part(&d);
                        if &now != base_eval {
                            return Ok(crash(format!(
                                "the DAG's evaluation wiring changed (the candidate's `--describe` differs from the base's: {}); work tasks may change, evaluation tasks, their order and metric docs may not; revert that part",
                                project::wiring_diff(base_eval, &now)
                            )));
                        }
                    }
                    Err(e) => {
                        return Ok(crash(format!("`--describe` of the candidate failed: {e}")))
                    }
                }
            }
            candidate = Some(exe);
        }

        // 2. The candidate's work tasks, into a fresh run folder; nothing
        // they start outlives the phase.
        let run_dir = storage_root.join(run_folder);
        crate::fsutil::ensure_dir(&run_dir)?;
        let read = [export_root.clone()]
            .into_iter()
            .chain(contain::readable_storage(
                &storage_root,
                &state.sealed_storage(),
            ))
            .chain(
                candidate
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf),
            );
        let jail = launcher.jail(read, [run_dir.clone(), tmp.clone()]);
        let cmd = launcher.dag(
            Role::Candidate,
            candidate.as_deref(),
            &export_project,
            &["dag", &state.dag, "--skip-eval", "--retry", run_folder],
            &launcher.env(&storage_root, &tmp, Some(run_id)),
            &jail,
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
        process::kill_descendants();
        match exit {
            Exit::TimedOut => return Ok(timed_out(secs, "the work tasks")),
            Exit::Finished(s) if !s.success() => {
                return Ok(crash(format!("the work tasks failed ({s})")));
            }
            Exit::Finished(_) => {}
        }

        // 3. The work tasks must not have touched the frozen data.
        let violations = measure(&mut timings.frozen_recheck, || {
            manifests.frozen_violations(ctx, None)
        })?;
        if !violations.is_empty() {
            let what = frozen::describe(&violations);
            note(
                &mut log,
                &format!("the work tasks changed frozen paths: {what}"),
            );
            return Ok(crash(format!(
                "frozen paths changed while the work tasks ran: {what}; nothing was evaluated (restore those paths before the next run)"
            )));
        }

        // 4. The private evaluator: the sealed evaluator checked by its
        // bytes, a fresh folder of copies, then the evaluation on it.
        measure(&mut timings.sealed_check, || {
            sealed::check(&paths, &state, &mut manifests.sealed)
        })?;
        let sealed = &state.sealed;
        // The evaluator's folder is the run's own (a batch's siblings
        // evaluate side by side), except where the evaluator keeps it in
        // the sealed export (Gluepy's storage folder): there siblings take
        // turns, the lock held until the metrics are read.
        let shared_eval = sealed.eval_root != paths.slot(0).eval();
        let eval_root = if shared_eval {
            sealed.eval_root.clone()
        } else {
            paths.eval()
        };
        let _turn = if shared_eval {
            Some(crate::lock::EngineLock::wait(&paths.dir.join("eval.lock"))?)
        } else {
            None
        };
        let inputs = evaluator::EvalInputs {
            candidate_run: &run_dir,
            run_folder,
            run_id,
            sealed_data: &paths.sealed_data(),
            config_dir: &sealed.project_dir.join(&state.config_dir),
            protected_key: &state.protected_key,
        };
        if let Err(e) = measure(&mut timings.sealed_check, || {
            evaluator::prepare(&eval_root, &inputs)
        }) {
            return Ok(crash(e.to_string()));
        }
        if req.final_test {
            // `finish`: the final test's answers where the evaluation reads
            // the holdout's.
            sealed::FinalManifest::check(&paths)?;
            evaluator::substitute_final(&eval_root, &paths.sealed_final(), &state.final_test)?;
            note(&mut log, "evaluating on the final test (finish)");
        }
        let eval_tmp = paths.eval_tmp();
        crate::fsutil::fresh_private_dir(&eval_tmp)?;
        let jail = launcher.jail(
            [sealed.export.clone(), paths.sealed_bin_dir()],
            [eval_root.clone(), eval_tmp.clone()],
        );
        let cmd = launcher.dag(
            Role::Evaluator,
            sealed.executable.as_deref(),
            &sealed.project_dir,
            &["dag", &state.dag, "--eval-only", "--retry", run_folder],
            &launcher.env(&eval_root, &eval_tmp, Some(run_id)),
            &jail,
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
        process::kill_descendants();
        match exit {
            Exit::TimedOut => return Ok(timed_out(secs, "the evaluation")),
            Exit::Finished(s) if !s.success() => {
                return Ok(crash(format!("the sealed evaluation failed ({s})")));
            }
            Exit::Finished(_) => {}
        }

        // 5. The metrics, from the evaluator's folder; the frozen set and
        // the sealed evaluator once more, in case they were swapped
        // meanwhile.
        let read = evaluator::read_metrics(&eval_root, run_folder);
        let violations = measure(&mut timings.frozen_recheck, || {
            manifests.frozen_violations(ctx, None)
        })?;
        if !violations.is_empty() {
            return Ok(crash(format!(
                "frozen paths changed during the run: {}; the metrics are not recorded",
                frozen::describe(&violations)
            )));
        }
        measure(&mut timings.sealed_check, || {
            sealed::check(&paths, &state, &mut manifests.sealed)
        })?;
        match read {
            Ok((m, _)) if !crate::contract::missing(&m, &state.metric_docs).is_empty() => {
                let why = format!(
                    "the evaluation did not log declared metric(s) {} (it logged {}); a declared metric missing means the evaluation failed to score this run",
                    crate::contract::missing(&m, &state.metric_docs).join(", "),
                    m.to_log_field()
                );
                note(&mut log, &why);
                Ok(crash(why))
            }
            Ok((m, bytes)) => {
                // The user's copy, for `dag --compare`; the record is the
                // state's. Not for the final test: later candidates can read
                // run folders.
                let _ = std::fs::remove_file(run_dir.join("metrics.json"));
                if !req.final_test {
                    let _ = std::fs::write(run_dir.join("metrics.json"), bytes);
                }
                // The final test's figures appear once `finish` has
                // recorded them, not in the log before.
                if !req.final_test {
                    note(&mut log, &format!("metrics: {}", m.to_log_field()));
                }
                Ok((Outcome::Ok, m, None))
            }
            Err(why) => {
                note(&mut log, &why);
                Ok(crash(why))
            }
        }
    })();
    manifests.save(&paths)?;
    result
}

/// `root/rel`, or `root` when `rel` is empty.
fn under(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Gluepy keeps runs under its settings' storage folder, inside the
/// project: in the export, that folder is a link to the project's storage
/// root (the candidate may write only its run folder in it).
fn link_gluepy_storage(ctx: &Ctx, export_project: &Path) -> Result<()> {
    let Some(unhashed) = ctx.state.sealed.unhashed.as_deref() else {
        return Ok(());
    };
    let rel = ctx.state.project.rel_dir();
    let inside = if rel.is_empty() {
        Some(unhashed)
    } else {
        unhashed.strip_prefix(&format!("{rel}/"))
    };
    let (Some(link), true) = (inside, export_project.is_dir()) else {
        return Ok(());
    };
    let at = export_project.join(link);
    if let Some(parent) = at.parent() {
        crate::fsutil::ensure_dir(parent)?;
    }
    let _ = std::fs::remove_file(&at);
    std::os::unix::fs::symlink(&ctx.state.storage_root, &at)
        .map_err(|e| ExperimentError::io("link the storage folder at", &at, e))
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
