//! The DAGs of the forecast project.

use gluers::Dag;

use crate::evaluation::{ComputeAccuracy, ACTUALS, FINAL_ACTUALS};
use crate::tasks::{PredictTask, PrepareDataTask, TrainModelTask};

/// Every DAG of the project.
pub fn dags() -> Vec<Dag> {
    vec![Dag::new("forecast")
        .about("Forecast the last 42 days of 2014's half-hourly demand in Victoria")
        .task(PrepareDataTask)
        .task(TrainModelTask)
        .task(PredictTask)
        .eval_task(ComputeAccuracy)
        .eval_data(ACTUALS)
        .final_test_data(FINAL_ACTUALS)]
}
