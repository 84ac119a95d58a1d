//! The `worker` command: serve `gluepy.run_dag` tasks from a Celery broker.

use std::path::Path;

use clap::Args;

use crate::error::Result;
use crate::settings::Settings;
use crate::worker::{run, WorkerOptions};

/// Runs DAGs that Celery clients send, as Gluepy's worker does.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Consumes Celery messages for the task `gluepy.run_dag` from a Redis broker
and runs each DAG in a child process of this program, with Gluepy's keyword
arguments: label, retry, patch, local_patch, from_task, task, skip_eval,
eval_only. Writes `.dag_success` or `.dag_failed` into the run folder and
stores SUCCESS ({\"status\", \"run_id\", \"run_folder\"}) or FAILURE (the
error) in the result backend, so `AsyncResult.get()` returns or raises.

A task is acknowledged only once its result is stored: if a worker dies,
its tasks go back to the queue after the visibility timeout and another
worker runs them again, in a fresh run folder. A task already completed is
never run again.

Settings ([celery] in configs/settings.toml; the environment wins):
  broker_url          CELERY_BROKER_URL       redis://host:port/db
  result_backend      CELERY_RESULT_BACKEND   redis://host:port/db
  queues              CELERY_TASK_DEFAULT_QUEUE
  visibility_timeout  CELERY_BROKER_TRANSPORT_OPTIONS='{\"visibility_timeout\": 3600}'
  result_expires      CELERY_RESULT_EXPIRES
  concurrency

Ctrl-C or SIGTERM: finish running DAGs and stop (warm shutdown); a second
one stops them and puts their tasks back in the queue (cold shutdown).

Examples:
  worker                          queue `celery`, one DAG per CPU at a time
  worker --concurrency 4 --queues nightly,celery")]
pub struct WorkerArgs {
    /// How many DAGs run at once (default: `[celery]` concurrency, else the number of CPUs).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,

    /// Comma-separated queues to consume, highest priority first (default: `[celery]` queues, else `celery`).
    #[arg(short = 'Q', long, value_name = "QUEUES", value_delimiter = ',')]
    pub queues: Option<Vec<String>>,
}

/// Runs the `worker` command until it is stopped.
pub fn execute(args: WorkerArgs, settings: &Settings, project_dir: &Path) -> Result<()> {
    let options = WorkerOptions {
        concurrency: args.concurrency.map(usize::from),
        queues: args
            .queues
            .map(|q| q.into_iter().map(|s| s.trim().to_string()).collect()),
    };
    run(settings, project_dir, options)
}
