//! The runner: plans which tasks run, builds the context, runs them and
//! records the outcome (`context.yaml`, `metrics.json`, `run.json`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_norway::{Mapping, Value};

use crate::context::{self, Context, RunMeta, PROTECTED_KEY};
use crate::dag::{Dag, EvalEntry, WorkEntry, BOOTSTRAP_LABEL};
use crate::error::{GluersError, Result};
use crate::metrics::{Metrics, METRICS_FILE};
use crate::ops::tracker::Tracker;
use crate::ops::{open_ops, OpsBackend, RunStart, TerminalStatus};
use crate::progress::Progress;
use crate::run_context::RunContext;
use crate::run_folder;
use crate::run_record::{now_iso, RunRecord, RunStatus, TaskTiming, RUN_RECORD_FILE};
use crate::settings::{Settings, StorageKind};
use crate::storage::{
    normalize_key, LocalStorage, MemoryStorage, Storage, StorageBackend, StorageError,
};
use gluers_formats::params::{params_from_json, params_to_json, Params, PARAMS_FILE};
use gluers_formats::process::{Liveness, ProcessStamp};

/// The file in the run folder that holds the resolved context.
pub const CONTEXT_FILE: &str = "context.yaml";

/// What to run: the `dag` command's flags.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run only this task (`--task`).
    pub task: Option<String>,
    /// Run from this task on (`--from-task`).
    pub from_task: Option<String>,
    /// Reuse this run folder (`--retry`).
    pub retry: Option<String>,
    /// YAML patches on the storage (`--patch`), in order.
    pub patches: Vec<String>,
    /// YAML patches on the local disk (`--local-patch`), in order.
    pub local_patches: Vec<String>,
    /// Skip evaluation tasks (`--skip-eval`).
    pub skip_eval: bool,
    /// Run only evaluation tasks (`--eval-only`, needs `retry`).
    pub eval_only: bool,
    /// No live progress.
    pub quiet: bool,
}

/// What a finished run produced.
///
/// The command line prints the metrics block as the run goes and reads
/// none of it; it is the result for in-crate callers that run a DAG
/// another way (a worker, a scheduler), hence the allowance.
#[derive(Debug)]
#[allow(dead_code)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// The run folder, as a storage path.
    pub run_folder: String,
    /// The metrics, when evaluation tasks ran.
    pub metrics: Option<Metrics>,
}

enum Step<'a> {
    Work(&'a WorkEntry),
    Eval(&'a EvalEntry),
}

impl Step<'_> {
    fn label(&self) -> &str {
        match self {
            Step::Work(e) => e.task.label(),
            Step::Eval(e) => e.task.label(),
        }
    }
}

/// Opens the storage backend the settings name: the one set in code, else
/// `[storage] url`, else `[storage] backend`.
pub fn open_storage(settings: &Settings) -> Result<Arc<dyn StorageBackend>> {
    if let Some(custom) = &settings.storage.custom {
        return Ok(custom.0.clone());
    }
    let Some(url) = settings.storage.url.as_deref() else {
        return Ok(match settings.storage.backend {
            StorageKind::Local => Arc::new(LocalStorage::new(&settings.storage_root)),
            StorageKind::Memory => Arc::new(MemoryStorage::new()),
        });
    };
    crate::storage::open_url(url, &settings.storage.options).map_err(GluersError::from)
}

/// Runs `dag` with `options`: bootstrap, then the planned tasks, reporting
/// to the ops backend the settings name.
///
/// Prints the metrics block to stdout after evaluation tasks ran.
pub fn run_dag(
    dag: &Dag,
    settings: &Settings,
    project_dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary> {
    let ops = open_ops(settings)?;
    run_dag_with_ops(dag, settings, project_dir, options, ops.as_ref())
}

/// Like [`run_dag`], reporting to `ops` (a project's own backend, see
/// [`Project::ops`](crate::Project::ops)).
///
/// The run folder, `metrics.json`, `params.json` and `run.json` are written
/// whatever the tracker does; a tracker failure is one warning, or with
/// `[ops] required = true` fails the run after everything is written.
pub fn run_dag_with_ops(
    dag: &Dag,
    settings: &Settings,
    project_dir: &Path,
    options: &RunOptions,
    ops: &dyn OpsBackend,
) -> Result<RunSummary> {
    if options.eval_only && options.retry.is_none() {
        return Err(GluersError::Usage(
            "--eval-only needs --retry RUN_FOLDER: evaluation reads an existing run's output"
                .into(),
        ));
    }
    if options.eval_only && options.skip_eval {
        return Err(GluersError::Usage(
            "--skip-eval and --eval-only cannot be used together".into(),
        ));
    }
    let steps = plan(dag, options)?;
    let backend = open_storage(settings)?;
    let context = build_context(backend.as_ref(), settings, project_dir, options)?;
    let meta = context.meta().clone();
    let storage = Storage::new(backend, meta.run_folder.clone());
    // Tracking starts once the run folder exists (below).
    let mut ctx = RunContext::with_tracker(context, storage.clone(), Tracker::detached());
    let mut record = RunRecord {
        dag: dag.label().to_string(),
        run_id: meta.run_id.clone(),
        status: RunStatus::Running,
        started_at: now_iso(),
        finished_at: None,
        tasks: Vec::new(),
        failed_task: None,
        error: None,
        process: Some(ProcessStamp::current()),
    };
    if options.retry.is_some() {
        check_previous_run(&storage)?;
    }
    // While it lives, `--compare` reads this run from its folder, not the index.
    let _mark = crate::compare::index::RunMark::begin(storage.backend().as_ref(), &meta.run_folder);
    let mut progress = Progress::new(options.quiet);
    let total = steps.len() + 1;
    tracing::info!("dag {}: run folder {}", dag.label(), meta.run_folder);

    // The bootstrap task: the run folder and its context come first.
    progress.start(BOOTSTRAP_LABEL, 1, total);
    let started = Instant::now();
    let bootstrap = storage
        .mkdir(&meta.run_folder)
        .and_then(|_| {
            storage.write(
                &storage.runpath(CONTEXT_FILE),
                ctx.context().to_yaml().as_bytes(),
            )
        })
        .and_then(|_| write_record(&storage, &record));
    if let Err(e) = bootstrap {
        progress.fail(BOOTSTRAP_LABEL);
        // Whatever stopped the bootstrap, run.json says why when it can be written.
        record.status = RunStatus::Failed;
        record.finished_at = Some(now_iso());
        record.failed_task = Some(BOOTSTRAP_LABEL.into());
        record.error = Some(e.to_string());
        // When the run folder itself is unusable the error says so already:
        // one line, not a second one about run.json.
        if let Err(e) = write_record(&storage, &record) {
            tracing::debug!("could not write {RUN_RECORD_FILE}: {e}");
        }
        return Err(e.into());
    }
    let username = std::env::var("USER").ok();
    *ctx.tracker() = Tracker::open(
        ops,
        &RunStart {
            dag: dag.label(),
            run_id: &meta.run_id,
            run_folder: &meta.run_folder,
            resume: options.retry.is_some(),
            username: username.as_deref(),
        },
        settings.ops.required,
    );
    if let Some(message) = ctx.tracker().required_failure().map(str::to_string) {
        // `[ops] required`: no untracked run; the folder says why.
        progress.fail(BOOTSTRAP_LABEL);
        record.status = RunStatus::Failed;
        record.finished_at = Some(now_iso());
        record.failed_task = Some(BOOTSTRAP_LABEL.into());
        record.error = Some(message.clone());
        write_record(&storage, &record)?;
        return Err(GluersError::Untracked(message));
    }
    progress.finish(BOOTSTRAP_LABEL, 1, total, started.elapsed());
    record.tasks.push(TaskTiming {
        label: BOOTSTRAP_LABEL.into(),
        kind: "bootstrap".into(),
        seconds: started.elapsed().as_secs_f64(),
    });

    let mut evaluated = false;
    for (i, step) in steps.iter().enumerate() {
        let label = step.label().to_string();
        progress.start(&label, i + 2, total);
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match step {
            Step::Work(e) => e.task.run(&mut ctx),
            Step::Eval(e) => e.task.run(&mut ctx),
        }));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(anyhow::anyhow!("panicked: {}", panic_message(&panic))),
        };
        if let Some(source) = failure {
            let message = gluers_formats::message::chain(&*source);
            progress.fail(&label);
            record.status = RunStatus::Failed;
            record.finished_at = Some(now_iso());
            record.failed_task = Some(label.clone());
            record.error = Some(message);
            save_params(&storage, ctx.params());
            if let Err(e) = write_record(&storage, &record) {
                tracing::warn!("could not write {RUN_RECORD_FILE}: {e}");
            }
            ctx.tracker().terminate(TerminalStatus::Failed);
            tracing::info!("run folder {} (failed in task {label})", meta.run_folder);
            return Err(GluersError::TaskFailed {
                task: label,
                source,
            });
        }
        let elapsed = started.elapsed();
        progress.finish(&label, i + 2, total, elapsed);
        let kind = if matches!(step, Step::Eval(_)) {
            evaluated = true;
            "eval"
        } else {
            "work"
        };
        record.tasks.push(TaskTiming {
            label,
            kind: kind.into(),
            seconds: elapsed.as_secs_f64(),
        });
    }

    // The spinner goes before the metrics block reaches the terminal.
    drop(progress);
    if evaluated && ctx.metrics().is_empty() {
        tracing::warn!(
            "the evaluation tasks logged no metrics: no metrics block, no {METRICS_FILE}"
        );
    }
    let metrics = if evaluated && !ctx.metrics().is_empty() {
        let metrics = if options.task.is_some() && options.retry.is_some() {
            with_saved_metrics(&storage, ctx.metrics())
        } else {
            ctx.metrics().clone()
        };
        // The file first: a printed block always has its metrics.json.
        if let Err(e) = storage.write(&storage.runpath(METRICS_FILE), metrics.to_json().as_bytes())
        {
            record.status = RunStatus::Failed;
            record.finished_at = Some(now_iso());
            record.error = Some(format!("could not write {METRICS_FILE}: {e}"));
            save_params(&storage, ctx.params());
            if let Err(e) = write_record(&storage, &record) {
                tracing::warn!("could not write {RUN_RECORD_FILE}: {e}");
            }
            ctx.tracker().terminate(TerminalStatus::Failed);
            return Err(e.into());
        }
        let mut stdout = std::io::stdout().lock();
        // The block goes to stdout with a plain write, never through the logger.
        let _ = stdout.write_all(metrics.block().as_bytes());
        let _ = stdout.flush();
        Some(metrics)
    } else {
        None
    };
    save_params(&storage, ctx.params());
    record.status = RunStatus::Success;
    record.finished_at = Some(now_iso());
    if let Err(e) = write_record(&storage, &record) {
        ctx.tracker().terminate(TerminalStatus::Failed);
        return Err(e.into());
    }
    ctx.tracker().terminate(TerminalStatus::Finished);
    if let Some(message) = ctx.tracker().required_failure().map(str::to_string) {
        // `[ops] required`: the outputs are all there, but the run was not
        // tracked as a whole, so it does not count as a success.
        record.status = RunStatus::Failed;
        record.error = Some(message.clone());
        write_record(&storage, &record)?;
        return Err(GluersError::Untracked(message));
    }
    Ok(RunSummary {
        run_id: meta.run_id,
        run_folder: meta.run_folder,
        metrics,
    })
}

/// The metrics of one evaluation task run alone (`--task E --retry F`, as
/// each Airflow task does) added to those already in the folder's
/// `metrics.json`, so evaluating tasks one by one keeps every task's
/// metrics; a key logged again takes the new value.
fn with_saved_metrics(storage: &Storage, new: &Metrics) -> Metrics {
    let file = storage.runpath(METRICS_FILE);
    let mut all = match storage.read(&file) {
        Ok(bytes) => Metrics::from_json(&String::from_utf8_lossy(&bytes)).unwrap_or_else(|e| {
            tracing::warn!(
                "{}: {e}; replaced by this run's metrics",
                storage.display(&file)
            );
            Metrics::new()
        }),
        Err(_) => Metrics::new(),
    };
    for (key, value) in new.values() {
        // Keys and values were checked when logged.
        let _ = all.record(key, value);
    }
    all
}

/// Before a retry overwrites `run.json`: a run folder in use by a live run
/// is refused; a run that was killed (its process gone) is named in the log;
/// temporary files that killed writers left in the folder are removed.
fn check_previous_run(storage: &Storage) -> Result<()> {
    let folder = storage.run_folder();
    let file = storage.runpath(RUN_RECORD_FILE);
    if let Ok(bytes) = storage.read(&file) {
        match serde_json::from_slice::<RunRecord>(&bytes) {
            Ok(previous) => {
                if let Some(p) = previous
                    .process
                    .as_ref()
                    .filter(|_| previous.status == RunStatus::Running)
                {
                    match p.liveness() {
                        Liveness::Alive if !p.is_current() => {
                            return Err(GluersError::Usage(format!(
                                "--retry {folder}: a run of DAG '{}' is still running in this folder (pid {} on {}, started {}); wait for it to end, or retry another folder",
                                previous.dag, p.pid, p.host, previous.started_at
                            )))
                        }
                        Liveness::Dead => tracing::warn!(
                            "{folder}: the previous run (pid {} on {}, started {}) was killed while running; retrying it",
                            p.pid,
                            p.host,
                            previous.started_at
                        ),
                        _ => {}
                    }
                }
            }
            Err(e) => tracing::warn!(
                "{}: damaged ({e}); it is replaced by this run's record",
                storage.display(&file)
            ),
        }
    }
    let swept = crate::atomic::sweep_stale_temps(storage.backend().as_ref(), folder);
    if swept > 0 {
        tracing::info!("{folder}: removed {swept} temporary file(s) left by interrupted writes");
    }
    Ok(())
}

/// Adds the parameters this invocation logged to the run folder's
/// `params.json` (a retry keeps earlier ones; a new value replaces the old).
/// A failure is a warning: parameters are a record, not the run's output.
fn save_params(storage: &Storage, params: &Params) {
    if params.is_empty() {
        return;
    }
    let file = storage.runpath(PARAMS_FILE);
    let mut all = match storage.read(&file) {
        Ok(bytes) => params_from_json(&String::from_utf8_lossy(&bytes)).unwrap_or_else(|e| {
            tracing::warn!(
                "{}: {e}; replaced by this run's parameters",
                storage.display(&file)
            );
            Params::new()
        }),
        Err(_) => Params::new(),
    };
    for (k, v) in params {
        all.insert(k.clone(), v.clone());
    }
    if let Err(e) = storage.write(&file, params_to_json(&all).as_bytes()) {
        tracing::warn!("could not write {PARAMS_FILE}: {e}");
    }
}

fn write_record(storage: &Storage, record: &RunRecord) -> std::result::Result<(), StorageError> {
    let json = serde_json::to_string_pretty(record).expect("run record serialises");
    storage.write(&storage.runpath(RUN_RECORD_FILE), json.as_bytes())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Which tasks run, in order (bootstrap excluded).
fn plan<'a>(dag: &'a Dag, options: &RunOptions) -> Result<Vec<Step<'a>>> {
    let all: Vec<Step<'a>> = dag
        .work_entries()
        .iter()
        .map(Step::Work)
        .chain(dag.eval_entries().iter().map(Step::Eval))
        .collect();
    let find = |label: &str, flag: &str| -> Result<usize> {
        all.iter().position(|s| s.label() == label).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|s| s.label()).collect();
            GluersError::Usage(format!(
                "{flag} {label}: DAG '{}' has no task '{label}'; its tasks: {}",
                dag.label(),
                known.join(", ")
            ))
        })
    };
    let keep_eval = !options.skip_eval;
    let keep_work = !options.eval_only;
    let selected: Vec<Step<'a>> = if let Some(task) = &options.task {
        let i = find(task, "--task")?;
        let step = all.into_iter().nth(i).expect("index from position");
        match (&step, keep_eval, keep_work) {
            (Step::Eval(_), false, _) => {
                return Err(GluersError::Usage(format!(
                    "--task {task} is an evaluation task, and --skip-eval skips evaluation"
                )))
            }
            (Step::Work(_), _, false) => {
                return Err(GluersError::Usage(format!(
                    "--task {task} is a work task, and --eval-only runs only evaluation tasks"
                )))
            }
            _ => vec![step],
        }
    } else {
        let start = match &options.from_task {
            Some(task) => find(task, "--from-task")?,
            None => 0,
        };
        all.into_iter()
            .skip(start)
            .filter(|s| match s {
                Step::Work(_) => keep_work,
                Step::Eval(_) => keep_eval,
            })
            .collect()
    };
    Ok(selected)
}

/// The context of this run: a retried run's `context.yaml` or the config
/// folder, then patches, then local patches, then the protected key.
fn build_context(
    backend: &dyn StorageBackend,
    settings: &Settings,
    project_dir: &Path,
    options: &RunOptions,
) -> Result<Context> {
    let mut origins = context::Origins::default();
    let (mut values, meta) = match &options.retry {
        Some(arg) => {
            let folder = run_folder::resolve_run_folder(
                "--retry",
                arg,
                &settings.storage_root,
                project_dir,
            )?;
            let file = format!("{folder}/{CONTEXT_FILE}");
            match backend.read(&file) {
                Ok(bytes) => {
                    let shown = backend.display(&file);
                    let (values, meta) = read_saved_context(&bytes, &shown)?;
                    origins.record(&values, &shown);
                    (values, own_folder(meta, folder, &backend.display(&file)))
                }
                Err(StorageError::NotFound { .. }) => {
                    if options.eval_only {
                        return Err(GluersError::Usage(format!(
                            "--eval-only --retry {arg}: {} has no {CONTEXT_FILE}; run the work tasks into that folder first",
                            backend.display(&folder)
                        )));
                    }
                    let meta = RunMeta {
                        run_id: run_folder::run_id_of(&folder).to_string(),
                        run_folder: folder,
                        created_at: now_iso(),
                    };
                    (
                        context::load_config_dir_traced(&settings.config_dir, &mut origins)?,
                        meta,
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => {
            let (run_id, run_folder) = run_folder::new_run_folder();
            let meta = RunMeta {
                run_id,
                run_folder,
                created_at: now_iso(),
            };
            (
                context::load_config_dir_traced(&settings.config_dir, &mut origins)?,
                meta,
            )
        }
    };
    for patch in &options.patches {
        let key = normalize_key(patch)
            .map_err(|e| GluersError::Usage(format!("--patch {patch}: {e}")))?;
        let shown = backend.display(&key);
        let bytes = backend.read(&key).map_err(|e| match e {
            StorageError::NotFound { .. } => GluersError::Usage(format!(
                "--patch {patch}: {shown} does not exist; --patch reads from the storage root, --local-patch from the local disk"
            )),
            other => other.into(),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let mapping = context::parse_yaml_mapping(&text, &shown)?;
        origins.record(&mapping, &shown);
        context::deep_merge(&mut values, mapping);
    }
    for patch in &options.local_patches {
        let path = project_dir.join(patch);
        context::check_file_size(&path, patch)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                GluersError::Usage(format!(
                    "--local-patch {patch}: no such file on the local disk ({})",
                    path.display()
                ))
            } else {
                GluersError::Io {
                    context: format!("--local-patch {patch}"),
                    source: e,
                }
            }
        })?;
        let mapping = context::parse_yaml_mapping(&text, patch)?;
        origins.record(&mapping, patch);
        context::deep_merge(&mut values, mapping);
    }
    Ok(Context::new(values, meta)
        .with_origins(origins)
        .with_strict(settings.strict_config))
}

/// The identity of a retried run: a run writes only into the folder the
/// user named. A `context.yaml` that names another folder (a copied or
/// moved run folder) is corrected, and the log says so: following it would
/// overwrite the original run's outputs.
fn own_folder(mut meta: RunMeta, folder: String, origin: &str) -> RunMeta {
    if meta.run_folder != folder {
        let run_id = run_folder::run_id_of(&folder).to_string();
        tracing::warn!(
            "{origin} names the run folder {} (run id {}); this run writes into {folder}, the folder given to --retry, with run id {run_id}",
            meta.run_folder,
            meta.run_id
        );
        meta.run_folder = folder;
        meta.run_id = run_id;
    }
    meta
}

/// Splits a saved `context.yaml` into its values and the run's identity.
fn read_saved_context(bytes: &[u8], origin: &str) -> Result<(Mapping, RunMeta)> {
    let text = String::from_utf8_lossy(bytes);
    crate::limits::check_config_text(&text, origin, crate::limits::MAX_CONFIG_BYTES)?;
    let mut mapping: Mapping = match serde_norway::from_str::<Value>(&text) {
        Ok(Value::Mapping(m)) => m,
        Ok(_) => {
            return Err(GluersError::Config(format!(
                "{origin}: not a mapping; this run folder's context is damaged"
            )))
        }
        Err(e) => {
            return Err(GluersError::Config(format!(
                "{origin}: invalid YAML ({e}); this run folder's context is damaged"
            )))
        }
    };
    // A Gluepy run folder keeps the same identity under `gluepy:`.
    let ours = mapping.remove(PROTECTED_KEY);
    let gluepy = mapping.remove(context::GLUEPY_KEY);
    let meta = ours
        .or(gluepy)
        .ok_or_else(|| {
            GluersError::Config(format!(
                "{origin}: has no '{PROTECTED_KEY}' (or Gluepy's '{}') key; it was not written by gluers or Gluepy",
                context::GLUEPY_KEY
            ))
        })
        .and_then(|v| {
            serde_norway::from_value::<RunMeta>(v).map_err(|e| {
                GluersError::Config(format!(
                    "{origin}: the '{PROTECTED_KEY}' key is damaged: {e}"
                ))
            })
        })?;
    Ok((mapping, meta))
}
