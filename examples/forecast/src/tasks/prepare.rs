//! `prepare_data`: load the training history and the half hours to forecast.

use anyhow::{ensure, Context as _};
use gluers::{RunContext, Task, TaskResult};

use crate::data::{Features, ForecastConfig, Observation, HALF_HOURS_PER_DAY};

/// Loads the inputs and writes `train.csv` (history with demand) and
/// `holdout_features.csv` (the half hours to forecast, without demand).
///
/// The inputs hold the training period only: the actual demand of the half
/// hours to forecast is evaluation data (`holdout/actuals.csv` for the first
/// 28 days, `final/actuals.csv` for the last 14), which no work task reads.
pub struct PrepareDataTask;

impl Task for PrepareDataTask {
    fn label(&self) -> &str {
        "prepare_data"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: ForecastConfig = ctx.config("forecast")?;
        let train: Vec<Observation> = ctx.data().root().read_csv(&cfg.train)?;
        let features: Vec<Features> = ctx.data().root().read_csv(&cfg.to_forecast)?;
        let last = train
            .last()
            .map(|o| o.timestamp.as_str())
            .with_context(|| format!("{} has no rows", cfg.train))?;
        let first = features
            .first()
            .map(|f| f.timestamp.as_str())
            .with_context(|| format!("{} has no rows", cfg.to_forecast))?;
        ensure!(
            first > last,
            "{} starts at {first}, not after the end of the training data ({last}): forecast only what comes after",
            cfg.to_forecast,
        );
        ensure!(
            features.len() % HALF_HOURS_PER_DAY == 0,
            "{} has {} half hours: forecast whole days ({HALF_HOURS_PER_DAY} half hours each)",
            cfg.to_forecast,
            features.len()
        );
        ctx.data()
            .write_csv("train.csv", &train)
            .context("writing train.csv")?;
        ctx.data()
            .write_csv("holdout_features.csv", &features)
            .context("writing holdout_features.csv")?;
        ctx.log_param("train_rows", train.len());
        ctx.log_param("holdout_rows", features.len());
        ctx.log_param("holdout_days", features.len() / HALF_HOURS_PER_DAY);
        Ok(())
    }
}
