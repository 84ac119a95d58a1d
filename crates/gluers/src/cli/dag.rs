//! The `dag` command: run, compare or describe one DAG.

use std::path::Path;

use clap::Args;

use crate::compare::{compare, CompareFormat};
use crate::describe::{describe, DescribeFormat};
use crate::error::{GluersError, Result};
use crate::ops::OpsBackend;
use crate::registry::Registry;
use crate::runner::{open_storage, run_dag, run_dag_with_ops, RunOptions};
use crate::settings::Settings;

/// Runs a DAG: bootstrap, work tasks, then evaluation tasks.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Examples:
  dag forecast                                  run every task, print the metrics block
  dag forecast --skip-eval                      run the work tasks only
  dag forecast --eval-only --retry RUN_FOLDER   evaluate an existing run again
  dag forecast --from-task train_model --retry RUN_FOLDER
  dag forecast --local-patch configs/daily.yaml override context values
  dag forecast --compare                        metrics of every run, oldest first
  dag forecast --compare A B --format gluepy    Gluepy's exact table
  dag forecast --describe                       tasks and what each metric means")]
pub struct DagArgs {
    /// The DAG's label (see `list`).
    pub label: String,

    /// Run only this task (after the bootstrap task); with --retry, an evaluation
    /// task adds its metrics to the run folder's metrics.json.
    #[arg(long, value_name = "TASK", conflicts_with = "from_task")]
    pub task: Option<String>,

    /// Run this task and every task after it.
    #[arg(long, value_name = "TASK")]
    pub from_task: Option<String>,

    /// Reuse a run folder: its run id, its context.yaml and its outputs.
    /// A folder that does not exist yet is created, with its last segment as run id.
    #[arg(long, value_name = "RUN_FOLDER")]
    pub retry: Option<String>,

    /// Merge a YAML file from the storage into the context (repeatable, in order).
    #[arg(long, value_name = "PATH")]
    pub patch: Vec<String>,

    /// Merge a YAML file from the local disk into the context (repeatable, after --patch).
    #[arg(long, value_name = "PATH")]
    pub local_patch: Vec<String>,

    /// Skip the evaluation tasks: no metrics block, no metrics.json.
    #[arg(long, conflicts_with = "eval_only")]
    pub skip_eval: bool,

    /// Run only the evaluation tasks, on the run folder given by --retry.
    #[arg(long, requires = "retry")]
    pub eval_only: bool,

    /// Print a table of metrics for these run folders (none: every run of the DAG, oldest first).
    #[arg(long, value_name = "RUN_FOLDER", num_args = 0.., conflicts_with_all = ["task", "from_task", "retry", "skip_eval", "eval_only", "describe"])]
    pub compare: Option<Vec<String>>,

    /// Print the DAG's tasks, evaluation tasks and their metric docs.
    #[arg(long, conflicts_with_all = ["task", "from_task", "retry", "skip_eval", "eval_only"])]
    pub describe: bool,

    /// Output format for --compare (tsv: with status, date and params; json; gluepy:
    /// Gluepy's exact table) or --describe (text, json).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// Runs the `dag` command, reporting to `ops` when given (a project's own
/// backend), else to the backend the settings name.
pub fn execute(
    args: DagArgs,
    registry: &Registry,
    settings: &Settings,
    project_dir: &Path,
    quiet: bool,
    ops: Option<&dyn OpsBackend>,
) -> Result<()> {
    let dag = registry.dag(&args.label)?;
    if let Some(folders) = &args.compare {
        let format = parse_format::<CompareFormat>(args.format.as_deref(), "--compare")?;
        let backend = open_storage(settings)?;
        let table = compare(
            backend.as_ref(),
            settings,
            project_dir,
            dag.label(),
            folders,
            format,
        )?;
        print(&table);
        return Ok(());
    }
    if args.describe {
        let format = parse_format::<DescribeFormat>(args.format.as_deref(), "--describe")?;
        let package_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| project_dir.to_path_buf());
        print(&describe(dag, &package_dir, format));
        return Ok(());
    }
    if args.format.is_some() {
        return Err(GluersError::Usage(
            "--format goes with --compare or --describe".into(),
        ));
    }
    let options = RunOptions {
        task: args.task,
        from_task: args.from_task,
        retry: args.retry,
        patches: args.patch,
        local_patches: args.local_patch,
        skip_eval: args.skip_eval,
        eval_only: args.eval_only,
        quiet,
    };
    // This process is the run: a stop signal ends its tracked run KILLED.
    crate::ops::enable_kill_reports();
    match ops {
        Some(ops) => run_dag_with_ops(dag, settings, project_dir, &options, ops),
        None => run_dag(dag, settings, project_dir, &options),
    }
    .map(|_| ())
}

fn parse_format<F: clap::ValueEnum>(value: Option<&str>, flag: &str) -> Result<F> {
    let Some(value) = value else {
        return Ok(F::value_variants()[0].clone());
    };
    F::from_str(value, true).map_err(|_| {
        let names: Vec<String> = F::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        GluersError::Usage(format!(
            "--format {value} does not apply to {flag}; choose one of: {}",
            names.join(", ")
        ))
    })
}

fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
