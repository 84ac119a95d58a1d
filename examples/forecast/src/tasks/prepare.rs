//! `prepare_data`: load the training history and the half hours to forecast.

use anyhow::{ensure, Context as _};
use gluers::{RunContext, Task, TaskResult};

use crate::data::{Features, ForecastConfig, ObservationRef, HALF_HOURS_PER_DAY};

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
        let features: Vec<Features> = ctx.data().root().read_csv(&cfg.to_forecast)?;
        // The history is streamed into train.csv a row at a time, so memory
        // does not grow with it; each row is checked (parsed) and copied as
        // it was read; train.csv appears only once it is whole.
        let mut history = ctx.data().root().csv_reader(&cfg.train)?;
        let mut train = ctx.data().csv_writer("train.csv")?;
        let mut last = String::new();
        while let Some(row) = history.next_row::<ObservationRef>()? {
            last.clear();
            last.push_str(row.timestamp);
            train.copy_row(&history)?;
        }
        ensure!(train.rows() > 0, "{} has no rows", cfg.train);
        let first = features
            .first()
            .map(|f| f.timestamp.as_str())
            .with_context(|| format!("{} has no rows", cfg.to_forecast))?;
        ensure!(
            first > last.as_str(),
            "{} starts at {first}, not after the end of the training data ({last}): forecast only what comes after",
            cfg.to_forecast,
        );
        ensure!(
            features.len() % HALF_HOURS_PER_DAY == 0,
            "{} has {} half hours: forecast whole days ({HALF_HOURS_PER_DAY} half hours each)",
            cfg.to_forecast,
            features.len()
        );
        let train_rows = train.rows();
        train.finish().context("writing train.csv")?;
        ctx.data()
            .write_csv("holdout_features.csv", &features)
            .context("writing holdout_features.csv")?;
        ctx.log_param("train_rows", train_rows);
        ctx.log_param("holdout_rows", features.len());
        ctx.log_param("holdout_days", features.len() / HALF_HOURS_PER_DAY);
        Ok(())
    }
}
