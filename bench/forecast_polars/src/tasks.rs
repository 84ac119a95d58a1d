//! The work tasks on DataFrames: the same steps as examples/forecast, with
//! the intermediates in Parquet (a binary format the user chose by naming
//! the files `.parquet`); the predictions stay CSV for the evaluation.

use anyhow::{ensure, Context as _};
use gluers::polars::prelude::*;
use gluers::{RunContext, Task, TaskResult};

use crate::data::{ForecastConfig, HALF_HOURS_PER_DAY};

/// The last value of a string column.
fn last_str(frame: &DataFrame, column: &str) -> anyhow::Result<String> {
    let values = frame.column(column)?.str()?;
    let last = values.get(values.len().saturating_sub(1));
    Ok(last.context("no rows")?.to_string())
}

/// Loads the inputs; writes train.parquet and holdout_features.parquet.
pub struct PrepareDataTask;

impl Task for PrepareDataTask {
    fn label(&self) -> &str {
        "prepare_data"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: ForecastConfig = ctx.config("forecast")?;
        let mut train = ctx.data().root().read_frame(&cfg.train)?;
        let mut features = ctx.data().root().read_frame(&cfg.to_forecast)?;
        ensure!(train.height() > 0, "{} has no rows", cfg.train);
        ensure!(features.height() > 0, "{} has no rows", cfg.to_forecast);
        let last = last_str(&train, "timestamp")?;
        let first = features
            .column("timestamp")?
            .str()?
            .get(0)
            .context("no rows")?
            .to_string();
        ensure!(
            first > last,
            "{} starts at {first}, not after the end of the training data ({last})",
            cfg.to_forecast
        );
        ensure!(
            features.height() % HALF_HOURS_PER_DAY == 0,
            "{} has {} half hours: forecast whole days",
            cfg.to_forecast,
            features.height()
        );
        ctx.data().write_frame("train.parquet", &mut train)?;
        ctx.data()
            .write_frame("holdout_features.parquet", &mut features)?;
        ctx.log_param("train_rows", train.height());
        ctx.log_param("holdout_rows", features.height());
        Ok(())
    }
}

/// The weekly seasonal naive model: the last season of demand.
pub struct TrainModelTask;

impl Task for TrainModelTask {
    fn label(&self) -> &str {
        "train_model"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: ForecastConfig = ctx.config("forecast")?;
        let train = ctx.data().read_frame("train.parquet")?;
        ensure!(
            cfg.season_length > 0 && cfg.season_length <= train.height(),
            "forecast.season_length is {}, it must be between 1 and the {} training rows",
            cfg.season_length,
            train.height()
        );
        let season = train.tail(Some(cfg.season_length));
        let demand = season.column("demand_gw")?.f64()?;
        ensure!(demand.null_count() == 0, "train.parquet misses demand values");
        let last_season: Vec<f64> = demand.into_no_null_iter().collect();
        let model = serde_json::json!({
            "season_length": cfg.season_length,
            "last_season": last_season,
        });
        ctx.storage()
            .write(&ctx.runpath("model.json"), &serde_json::to_vec_pretty(&model)?)?;
        Ok(())
    }
}

/// Repeats the season over every half hour to forecast; writes predictions.csv.
pub struct PredictTask;

impl Task for PredictTask {
    fn label(&self) -> &str {
        "predict"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let model: serde_json::Value =
            serde_json::from_slice(&ctx.storage().read(&ctx.runpath("model.json"))?)?;
        let season: Vec<f64> = serde_json::from_value(model["last_season"].clone())?;
        ensure!(!season.is_empty(), "model.json has an empty season");
        let features = ctx.data().read_frame("holdout_features.parquet")?;
        let demand: Vec<f64> = (0..features.height())
            .map(|i| season[i % season.len()])
            .collect();
        let mut predictions = DataFrame::new(
            features.height(),
            vec![
            features.column("timestamp")?.clone(),
                Column::new("demand_gw".into(), demand),
            ],
        )?;
        ctx.data().write_frame("predictions.csv", &mut predictions)?;
        Ok(())
    }
}
