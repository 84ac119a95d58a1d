//! The public surface of the runtime library, pinned.
//!
//! `root_exports_are_the_published_list` fails when an item is added to or
//! removed from the crate root, so a change to the surface is a deliberate
//! edit of this list (and of the release notes), not a side effect of a
//! `pub mod`. The other tests use every root export the way a project does,
//! so the list is also known to compile and to work from outside the crate.

use std::error::Error;
use std::sync::Arc;

use gluers::{
    anyhow, Command, CommandContext, Constraint, Context, Dag, DataManager, Direction,
    EvaluationTask, ExitStatus, GluersError, LocalStorage, MemoryStorage, MetricDoc, Project,
    Result, RunContext, Settings, Storage, StorageBackend, Task, TaskResult,
};

/// Every name the crate root exports, modules included, as `lib.rs` declares them.
const ROOT_EXPORTS: &[&str] = &[
    // Pipelines.
    "Task",
    "EvaluationTask",
    "TaskResult",
    "MetricDoc",
    "Direction",
    "Constraint",
    "Dag",
    // The project binary.
    "Project",
    "Command",
    "CommandContext",
    "ExitStatus",
    // A run.
    "RunContext",
    "Context",
    "Settings",
    "Storage",
    "StorageBackend",
    "LocalStorage",
    "MemoryStorage",
    "DataManager",
    // Errors.
    "GluersError",
    "Result",
    "anyhow",
    // Grouped items.
    "data",
    "metrics",
    "ops",
    "settings",
    "storage",
    "testing",
    // Feature `polars`.
    "polars",
];

/// The names declared `pub mod` or `pub use` at the top level of `lib.rs`.
fn declared_root_exports() -> Vec<String> {
    let lib = include_str!("../src/lib.rs");
    let mut names = Vec::new();
    for line in lib.lines() {
        if let Some(module) = line.strip_prefix("pub mod ") {
            names.push(module.trim_end_matches(';').to_string());
        } else if let Some(path) = line.strip_prefix("pub use ") {
            let path = path.trim_end_matches(';');
            match path.split_once('{') {
                Some((_, list)) => names.extend(
                    list.trim_end_matches('}')
                        .split(',')
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(String::from),
                ),
                None => names.push(path.rsplit("::").next().unwrap_or(path).to_string()),
            }
        }
    }
    names
}

#[test]
fn root_exports_are_the_published_list() {
    let mut declared = declared_root_exports();
    declared.sort();
    let mut expected: Vec<String> = ROOT_EXPORTS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        declared, expected,
        "the crate root's exports changed: update ROOT_EXPORTS deliberately"
    );
}

struct Train;
impl Task for Train {
    fn label(&self) -> &str {
        "train"
    }
    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let n: u32 = ctx.config("n")?;
        ctx.storage()
            .write(&ctx.runpath("model.txt"), n.to_string().as_bytes())?;
        Ok(())
    }
}

struct Score;
impl EvaluationTask for Score {
    fn label(&self) -> &str {
        "score"
    }
    fn metrics(&self) -> Vec<MetricDoc> {
        vec![MetricDoc::new("error", "Distance to 40. Lower is better.").closer_to(40.0)]
    }
    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let model: f64 = ctx
            .storage()
            .read_to_string(&ctx.runpath("model.txt"))?
            .parse()?;
        ctx.log_metric("error", (model - 40.0).abs())?;
        Ok(())
    }
}

/// A project command, as `Project::command` takes it.
#[derive(clap::Args)]
struct Noop;
impl Command for Noop {
    const NAME: &'static str = "noop";
    fn run(self, ctx: &CommandContext) -> anyhow::Result<()> {
        let _: &Settings = ctx.settings();
        let _: &Storage = ctx.storage();
        Ok(())
    }
}

#[test]
fn tasks_run_on_a_test_context_and_log_metrics() {
    let mut ctx = gluers::testing::run_context("n: 42").unwrap();
    Train.run(&mut ctx).unwrap();
    Score.run(&mut ctx).unwrap();
    assert_eq!(ctx.metrics().to_json(), "{\n  \"error\": 2.0\n}");
    let context: &Context = ctx.context();
    assert_eq!(context.get::<u32>("n").unwrap(), 42);
    let doc = &Score.metrics()[0];
    assert_eq!(doc.direction, Some(Direction::Target(40.0)));
    let no_constraints: &[Constraint] = &doc.constraints;
    assert!(no_constraints.is_empty());
}

#[test]
fn a_task_error_keeps_its_cause_as_source() {
    let mut ctx = gluers::testing::run_context("").unwrap();
    // `n` is missing: the task's error is a GluersError inside an anyhow::Error.
    let err = Train.run(&mut ctx).unwrap_err();
    let gluers = err.downcast_ref::<GluersError>().expect("a GluersError");
    assert!(matches!(gluers, GluersError::Config(_)), "{gluers:?}");
    assert_eq!(gluers.exit_status(), ExitStatus::Failure);
}

#[test]
fn storage_backends_plug_into_storage_and_the_data_manager() {
    let memory: Arc<dyn StorageBackend> = Arc::new(MemoryStorage::new());
    let storage = Storage::new(memory, "runs/a");
    let data = DataManager::new(&storage);
    data.write_csv("rows.csv", &[(1, "one")]).unwrap();
    assert!(storage.exists("runs/a/rows.csv").unwrap());

    let dir = tempfile::tempdir().unwrap();
    let local = LocalStorage::new(dir.path());
    let storage = Storage::new(Arc::new(local), "");
    let err = storage.read("../outside").unwrap_err();
    assert!(matches!(err, gluers::storage::StorageError::Escape { .. }));
    let wrapped = GluersError::from(err);
    assert!(wrapped.to_string().contains("../outside"), "{wrapped}");
}

#[test]
fn main_from_returns_the_exit_status() {
    let project = || {
        Project::new("api")
            .dag(Dag::new("api").task(Train).eval_task(Score))
            .command::<Noop>()
    };
    assert_eq!(
        project().main_from(["api", "no-such-command"]),
        ExitStatus::Usage
    );
    assert_eq!(
        project().main_from(["api", "dag", "no_such_dag"]),
        ExitStatus::Usage
    );
}

#[test]
fn errors_keep_their_source_chain() {
    fn settings_of(dir: &std::path::Path) -> Result<Settings> {
        Settings::load(dir)
    }
    assert!(settings_of(std::path::Path::new("/nonexistent/gluers-api-test")).is_ok());

    let io = std::io::Error::other("disk on fire");
    let err = GluersError::Io {
        context: "cannot read configs/".into(),
        source: io,
    };
    assert_eq!(err.to_string(), "cannot read configs/");
    assert_eq!(err.source().unwrap().to_string(), "disk on fire");
    // anyhow at the edge prints the chain on one line, each cause once.
    let at_the_edge = anyhow::Error::from(err).context("deploy");
    assert_eq!(
        format!("{at_the_edge:#}"),
        "deploy: cannot read configs/: disk on fire"
    );
    assert_eq!(
        std::process::ExitCode::from(ExitStatus::Usage),
        std::process::ExitCode::from(2)
    );
}
