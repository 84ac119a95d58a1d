//! `train_model`: the weekly seasonal naive model.

use anyhow::ensure;
use gluers::{RunContext, Task, TaskResult};
use serde::{Deserialize, Serialize};

use crate::data::{ForecastConfig, Observation};

/// The model file written to the run folder.
pub const MODEL_FILE: &str = "model.json";

/// A seasonal naive model: the last season of history, repeated.
#[derive(Debug, Serialize, Deserialize)]
pub struct SeasonalNaive {
    /// Half hours in one season.
    pub season_length: usize,
    /// The last `season_length` demand values before the holdout, GW.
    pub last_season: Vec<f64>,
}

/// Fits the model on `train.csv` and writes `model.json`.
pub struct TrainModelTask;

impl Task for TrainModelTask {
    fn label(&self) -> &str {
        "train_model"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let cfg: ForecastConfig = ctx.config("forecast")?;
        ensure!(
            cfg.season_length > 0,
            "forecast.season_length is 0, it must be between 1 and the number of training rows"
        );
        // Only the last season is needed: read from the end of train.csv.
        let season: Vec<Observation> = ctx.data().read_csv_tail("train.csv", cfg.season_length)?;
        ensure!(
            season.len() == cfg.season_length,
            "forecast.season_length is {}, it must be between 1 and the {} training rows",
            cfg.season_length,
            season.len()
        );
        let last_season = season.iter().map(|o| o.demand_gw).collect();
        let model = SeasonalNaive {
            season_length: cfg.season_length,
            last_season,
        };
        ctx.storage().write(
            &ctx.runpath(MODEL_FILE),
            &serde_json::to_vec_pretty(&model)?,
        )?;
        ctx.log_param("season_length", cfg.season_length);
        ctx.log_artifact(&ctx.runpath(MODEL_FILE));
        Ok(())
    }
}
