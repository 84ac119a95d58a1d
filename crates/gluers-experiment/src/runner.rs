//! One experiment run: export the commit, check the frozen set by its bytes,
//! build the candidate in the sandbox, run its work tasks into a fresh run
//! folder, kill whatever they left, check the frozen set again, run the
//! sealed evaluator on a private folder of copies, and read the metrics it
//! wrote there.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::contain;
use crate::engine::Ctx;
use crate::error::{ExperimentError, Result};
use crate::metrics::Metrics;
use crate::process::{self, Exit};
use crate::state::{InProgress, Outcome, PendingRun, StoredProject};
use crate::timings::{measure, Timings};
use crate::{evaluator, export, frozen, project, sealed, toolchain};

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
            Ok(Finished {
                pending,
                reason,
                timings,
            })
        }
        Err(e) => {
            let _ = ctx.save_progress();
            Err(e)
        }
    }
}

type PhaseResult = (Outcome, Metrics, Option<String>);

/// The commands of the project, as the engine starts them: contained, in
/// the engine's export, with an environment the engine chose.
pub(crate) struct Launcher<'a> {
    /// The open experiment.
    pub state: &'a crate::state::State,
}

impl Launcher<'_> {
    fn mode(&self) -> contain::Mode {
        if self.state.sandboxed {
            contain::Mode::Sandboxed
        } else {
            contain::Mode::Unsandboxed
        }
    }

    /// `PATH` for project commands: the engine's tool folder (interpreter
    /// links) first, then the system's.
    fn path_var(&self) -> OsString {
        let mut p = String::new();
        if let Some(t) = &self.state.tool_dir {
            p.push_str(&t.to_string_lossy());
            p.push(':');
        }
        p.push_str("/usr/local/bin:/usr/bin:/bin");
        p.into()
    }

    /// The base environment of every project process.
    pub fn env(&self, storage_root: &Path, tmp: &Path) -> Vec<(OsString, OsString)> {
        vec![
            ("PATH".into(), self.path_var()),
            ("HOME".into(), tmp.into()),
            ("TMPDIR".into(), tmp.into()),
            ("LANG".into(), "C.UTF-8".into()),
            (project::STORAGE_ENV.into(), storage_root.into()),
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ]
    }

    /// [`Launcher::env`] plus the run marker that lets a later command
    /// recognise what a killed engine left running.
    pub fn run_env(
        &self,
        storage_root: &Path,
        tmp: &Path,
        run_id: &str,
    ) -> Vec<(OsString, OsString)> {
        let mut env = self.env(storage_root, tmp);
        env.push((process::RUN_MARKER_ENV.into(), run_id.into()));
        env
    }

    /// A project command (`dag LABEL ...`) run from `project_dir` by
    /// `exe` (Rust) or the project's shell command; `isolated` is for the
    /// sealed evaluator (Gluepy: its interpreter run directly, `-I -B`).
    pub fn dag_command(
        &self,
        isolated: bool,
        exe: Option<&Path>,
        project_dir: &Path,
        args: &[&str],
        env: &[(OsString, OsString)],
        jail: &contain::Jail,
    ) -> Result<Command> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Ok(match &self.state.project {
            StoredProject::Cargo { .. } => {
                let exe = exe.ok_or_else(|| {
                    ExperimentError::Sealed(
                        "no executable recorded; run `experiment init` again".into(),
                    )
                })?;
                let mut env = env.to_vec();
                env.push(("CARGO_MANIFEST_DIR".into(), project_dir.into()));
                contain::command(self.mode(), jail, exe, &args, &env, project_dir)
            }
            StoredProject::Command {
                flavor: crate::state::Flavor::Gluepy,
                ..
            } if isolated && self.state.python.is_some() => {
                // The sealed Gluepy evaluator: the interpreter resolved at
                // init, isolated (`-I -B`), running the export's manage.py.
                let python = self.state.python.as_deref().unwrap_or(Path::new("python3"));
                let launcher = crate::pyenv::manage_py_command(python, project_dir, &args);
                let full: Vec<OsString> = launcher.get_args().map(OsString::from).collect();
                contain::command(self.mode(), jail, python, &full, env, project_dir)
            }
            StoredProject::Command { cmd, .. } => {
                let mut full: Vec<OsString> =
                    vec!["-c".into(), format!("{cmd} \"$@\"").into(), "sh".into()];
                full.extend(args);
                contain::command(
                    self.mode(),
                    jail,
                    Path::new("/bin/sh"),
                    &full,
                    env,
                    project_dir,
                )
            }
        })
    }

    /// Folders every project process may read besides its own: the
    /// interpreter prefixes and path dependencies found at init.
    pub fn common_read(&self) -> Vec<PathBuf> {
        let mut v = self.state.external_read.clone();
        v.extend(self.state.tool_dir.clone());
        v
    }
}

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
    let project_rel = ctx.state.project.rel_dir().to_string();
    let export_project = if project_rel.is_empty() {
        export_root.clone()
    } else {
        export_root.join(&project_rel)
    };
    let tmp = paths.tmp();
    crate::fsutil::fresh_private_dir(&tmp)?;
    let storage_root = ctx.state.storage_root.clone();

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
    let exported = match exported {
        Ok(e) => e,
        Err(ExperimentError::Export(why)) => {
            return Ok(crash(format!("cannot export the commit: {why}")))
        }
        Err(e) => return Err(e),
    };
    let violations = measure(&mut timings.frozen_check, || {
        check_frozen(ctx, Some(&exported))
    })?;
    if !violations.is_empty() {
        let base = ctx.repo.git.short(&ctx.state.base_commit)?;
        return Err(ExperimentError::FrozenViolation {
            base,
            head: short.to_string(),
            paths: frozen::describe(&violations),
        });
    }
    let log_path = ctx.run_log();
    let mut log = open_log(&log_path, req.append_log)?;
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
    if let (Some(link), true) = (gluepy_storage_link(ctx), export_project.is_dir()) {
        // Gluepy keeps runs under its settings' storage folder, inside the
        // project: the export's points at the project's storage root.
        let at = export_project.join(link);
        if let Some(parent) = at.parent() {
            crate::fsutil::ensure_dir(parent)?;
        }
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(&storage_root, &at)
            .map_err(|e| ExperimentError::io("link the storage folder at", &at, e))?;
    }
    // 1. Build the candidate (Rust projects).
    let mut candidate = None;
    if let StoredProject::Cargo { bin, .. } = &ctx.state.project {
        let bin = bin.clone();
        let toolchain = ctx.state.toolchain.clone().ok_or_else(|| {
            ExperimentError::Sealed("no toolchain recorded; run `experiment init` again".into())
        })?;
        if let Err(e) = toolchain::check_ancestor_configs(&export_root, &ctx.state.cargo_configs) {
            return Ok(crash(e.to_string()));
        }
        toolchain::prepare_home(&paths)?;
        let lock_oid = exported
            .files
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
        let jail = build_jail(ctx, &toolchain, &export_root);
        let cmd = contain::command(
            launcher_mode(ctx),
            &jail,
            &toolchain.cargo(),
            &toolchain::build_args(&export_project, &bin),
            &toolchain::cargo_env(&paths, &toolchain, &tmp),
            &export_project,
        );
        let messages = paths.build_messages();
        let built = measure(&mut timings.build, || {
            toolchain::run_build(cmd, &bin, &messages, &log, deadline, &mut |pgid| {
                track(ctx, "build", pgid)
            })
        })?;
        reap(ctx);
        match built {
            toolchain::Build::Built(exe) => candidate = Some(exe),
            toolchain::Build::Failed(why) => return Ok(crash(why)),
            toolchain::Build::TimedOut => return Ok(timed_out(secs, "the build")),
        }
        // The evaluation wiring must be the base's.
        if let Some(base_eval) = ctx.state.base_eval.clone() {
            let exe = candidate.clone().unwrap_or_default();
            match describe_eval(ctx, &exe, &export_project, &tmp) {
                Ok(now) if now == base_eval => {}
                Ok(now) => {
                    return Ok(crash(format!(
                        "the DAG's evaluation wiring changed (the candidate's `--describe` differs from the base's: {}); work tasks may change, evaluation tasks, their order and metric docs may not; revert that part",
                        wiring_diff(&base_eval, &now)
                    )))
                }
                Err(e) => return Ok(crash(format!("`--describe` of the candidate failed: {e}"))),
            }
        }
    }

    // 2. The candidate's work tasks, into a fresh run folder.
    let run_dir = storage_root.join(run_folder);
    crate::fsutil::ensure_dir(&run_dir)?;
    let launcher = Launcher { state: &ctx.state };
    let mut read = vec![export_root.clone()];
    read.extend(contain::readable_storage(
        &storage_root,
        &ctx.state.eval_data,
    ));
    read.extend(launcher.common_read());
    if let Some(exe) = &candidate {
        read.extend(exe.parent().map(Path::to_path_buf));
    }
    let jail = contain::Jail::default()
        .read(read)
        .write([run_dir.clone(), tmp.clone()]);
    let env = launcher.run_env(&storage_root, &tmp, run_id);
    let cmd = launcher.dag_command(
        false,
        candidate.as_deref(),
        &export_project,
        &["dag", &ctx.state.dag, "--skip-eval", "--retry", run_folder],
        &env,
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
    // Nothing the candidate started outlives its phase.
    reap(ctx);
    match exit {
        Exit::TimedOut => return Ok(timed_out(secs, "the work tasks")),
        Exit::Finished(s) if !s.success() => {
            return Ok(crash(format!("the work tasks failed ({s})")));
        }
        Exit::Finished(_) => {}
    }

    // 3. The work tasks must not have touched the frozen data.
    let violations = measure(&mut timings.frozen_recheck, || check_frozen(ctx, None))?;
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

    // 4. The private evaluator: a fresh folder of copies, the sealed
    // evaluator checked by its bytes, then run on that folder.
    measure(&mut timings.sealed_check, || {
        sealed::check(&paths, &ctx.state)
    })?;
    let eval_root = ctx.state.sealed.eval_root.clone();
    let inputs = evaluator::EvalInputs {
        candidate_run: &run_dir,
        run_folder,
        run_id,
        sealed_data: &paths.sealed_data(),
        config_dir: &ctx.state.sealed.project_dir.join(&ctx.state.config_dir),
        protected_key: &ctx.state.protected_key,
    };
    if let Err(e) = measure(&mut timings.sealed_check, || {
        evaluator::prepare(&eval_root, &inputs)
    }) {
        return Ok(crash(e.to_string()));
    }
    let eval_tmp = paths.dir.join("eval-tmp");
    crate::fsutil::fresh_private_dir(&eval_tmp)?;
    let launcher = Launcher { state: &ctx.state };
    let mut read = vec![ctx.state.sealed.export.clone(), paths.sealed_bin_dir()];
    read.extend(launcher.common_read());
    let jail = contain::Jail::default()
        .read(read)
        .write([eval_root.clone(), eval_tmp.clone()]);
    let env = launcher.run_env(&eval_root, &eval_tmp, run_id);
    let cmd = launcher.dag_command(
        true,
        ctx.state.sealed.executable.as_deref(),
        &ctx.state.sealed.project_dir.clone(),
        &["dag", &ctx.state.dag, "--eval-only", "--retry", run_folder],
        &env,
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
    reap(ctx);
    match exit {
        Exit::TimedOut => return Ok(timed_out(secs, "the evaluation")),
        Exit::Finished(s) if !s.success() => {
            return Ok(crash(format!("the sealed evaluation failed ({s})")));
        }
        Exit::Finished(_) => {}
    }

    // 5. The metrics, from the evaluator's folder; the frozen set and the
    // sealed evaluator once more, in case they were swapped meanwhile.
    let read = evaluator::read_metrics(&eval_root, run_folder);
    let violations = measure(&mut timings.frozen_recheck, || check_frozen(ctx, None))?;
    if !violations.is_empty() {
        return Ok(crash(format!(
            "frozen paths changed during the run: {}; the metrics are not recorded",
            frozen::describe(&violations)
        )));
    }
    measure(&mut timings.sealed_check, || {
        sealed::check(&paths, &ctx.state)
    })?;
    match read {
        Ok((m, bytes)) => {
            // The user's copy, for `dag --compare`; the record is the state's.
            let _ = std::fs::remove_file(run_dir.join("metrics.json"));
            let _ = std::fs::write(run_dir.join("metrics.json"), bytes);
            note(&mut log, &format!("metrics: {}", m.to_log_field()));
            Ok((Outcome::Ok, m, None))
        }
        Err(why) => {
            note(&mut log, &why);
            Ok(crash(why))
        }
    }
}

fn launcher_mode(ctx: &Ctx) -> contain::Mode {
    if ctx.state.sandboxed {
        contain::Mode::Sandboxed
    } else {
        contain::Mode::Unsandboxed
    }
}

/// What a build may read and write.
fn build_jail(ctx: &Ctx, toolchain: &toolchain::Toolchain, export_root: &Path) -> contain::Jail {
    let mut read = vec![toolchain.sysroot.clone(), export_root.to_path_buf()];
    read.extend(toolchain::shared_cache_dirs());
    read.extend(ctx.state.external_read.iter().cloned());
    contain::Jail::default().read(read).write([
        ctx.paths.target(),
        ctx.paths.cargo_home(),
        ctx.paths.tmp(),
    ])
}

/// The Gluepy storage folder inside the project (relative), when the
/// project is a Gluepy one whose storage lies there.
fn gluepy_storage_link(ctx: &Ctx) -> Option<PathBuf> {
    let unhashed = ctx.state.sealed.unhashed.as_deref()?;
    let rel = ctx.state.project.rel_dir();
    let inside = if rel.is_empty() {
        Some(unhashed)
    } else {
        unhashed.strip_prefix(&format!("{rel}/"))
    };
    inside.map(PathBuf::from)
}

/// The evaluation part of `dag DAG --describe --format json` of `exe`.
pub(crate) fn describe_eval(
    ctx: &Ctx,
    exe: &Path,
    project_dir: &Path,
    tmp: &Path,
) -> Result<serde_json::Value> {
    let launcher = Launcher { state: &ctx.state };
    let mut read = vec![
        project_dir.to_path_buf(),
        ctx.paths.export(),
        ctx.paths.sealed_export(),
    ];
    read.extend(exe.parent().map(Path::to_path_buf));
    read.extend(launcher.common_read());
    let jail = contain::Jail::default()
        .read(read)
        .write([tmp.to_path_buf()]);
    let env = launcher.env(tmp, tmp);
    let mut cmd = launcher.dag_command(
        false,
        Some(exe),
        project_dir,
        &["dag", &ctx.state.dag, "--describe", "--format", "json"],
        &env,
        &jail,
    )?;
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ExperimentError::Spawn {
            program: exe.display().to_string(),
            source: e,
        })?;
    reap(ctx);
    if !out.status.success() {
        return Err(ExperimentError::Inspect(format!(
            "`dag {} --describe --format json` failed ({}): {}",
            ctx.state.dag,
            out.status,
            crate::git::first_lines(&out.stderr)
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        ExperimentError::Inspect(format!(
            "`--describe --format json` printed invalid JSON: {e}"
        ))
    })?;
    Ok(eval_part(&v))
}

/// The fields of a describe document that evaluation depends on.
pub(crate) fn eval_part(v: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "eval_tasks": v.get("eval_tasks").cloned().unwrap_or_default(),
        "eval_data": v.get("eval_data").cloned().unwrap_or_default(),
    })
}

fn wiring_diff(base: &serde_json::Value, now: &serde_json::Value) -> String {
    let labels = |v: &serde_json::Value| -> Vec<String> {
        v["eval_tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (b, n) = (labels(base), labels(now));
    if b != n {
        format!("eval tasks [{}] became [{}]", b.join(", "), n.join(", "))
    } else if base["eval_data"] != now["eval_data"] {
        "the evaluation-only data changed".into()
    } else {
        "an evaluation task's type or metric docs changed".into()
    }
}

/// Checks the frozen set: the export's files (when `exported` is given)
/// and the work tree's untracked frozen files; saves the stat caches.
fn check_frozen(ctx: &Ctx, exported: Option<&export::Exported>) -> Result<Vec<frozen::Violation>> {
    let path = ctx.paths.manifest();
    let mut m = frozen::Manifest::load(&path)?;
    let mut out = Vec::new();
    if let Some(e) = exported {
        out.extend(m.check_export(
            &ctx.paths.export(),
            &e.files,
            &ctx.state.frozen,
            &ctx.state.excluded,
        )?);
    }
    out.extend(m.check_work_tree(&ctx.repo.root, &ctx.state.frozen, &ctx.state.excluded)?);
    m.save(&path)?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Kills every process the run left behind (double forks and new sessions
/// included: the engine is their subreaper).
fn reap(_ctx: &Ctx) {
    crate::process::kill_descendants();
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
