//! `prepare_data`: load the input table and split off the holdout.

use anyhow::{ensure, Context as _};
use gluers::{RunContext, Task, TaskResult};

use crate::data::{Features, ForecastConfig, Observation, HALF_HOURS_PER_DAY};

/// Loads the input and writes `train.csv` (history with demand) and
/// `holdout_features.csv` (the half hours to forecast, without demand).
pub struct PrepareDataTask;

impl Task for PrepareDataTask {
    fn label(&self) -> &str {
        "prepare_data"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: ForecastConfig = ctx.config("forecast")?;
        let rows: Vec<Observation> = ctx.data().root().read_csv(&cfg.input)?;
        let holdout = cfg.holdout_days * HALF_HOURS_PER_DAY;
        ensure!(
            rows.len() > holdout,
            "{} has {} rows, fewer than the {holdout} of the holdout",
            cfg.input,
            rows.len()
        );
        let (train, test) = rows.split_at(rows.len() - holdout);
        let features: Vec<Features> = test
            .iter()
            .map(|o| Features {
                timestamp: o.timestamp.clone(),
                workday: o.workday,
                temperature_c: o.temperature_c,
            })
            .collect();
        ctx.data()
            .write_csv("train.csv", train)
            .context("writing train.csv")?;
        ctx.data()
            .write_csv("holdout_features.csv", &features)
            .context("writing holdout_features.csv")?;
        ctx.log_param("train_rows", train.len());
        ctx.log_param("holdout_rows", features.len());
        Ok(())
    }
}
