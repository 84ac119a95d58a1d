//! The forecast example with its work tasks on polars DataFrames and
//! Parquet intermediates; the evaluation and the configuration types are
//! the example's own files, so the metrics are computed by the same code.

#![allow(dead_code)] // The example's data.rs holds types these tasks do not use.

#[path = "../../../examples/forecast/src/data.rs"]
mod data;
#[path = "../../../examples/forecast/src/evaluation.rs"]
mod evaluation;
mod tasks;

use gluers::Dag;

fn main() -> std::process::ExitCode {
    gluers::Project::new(env!("CARGO_PKG_NAME"))
        .dags(vec![Dag::new("forecast")
            .about("The forecast DAG, work tasks on polars DataFrames")
            .task(tasks::PrepareDataTask)
            .task(tasks::TrainModelTask)
            .task(tasks::PredictTask)
            .eval_task(evaluation::ComputeAccuracy)
            .eval_data(evaluation::ACTUALS)])
        .main()
}
