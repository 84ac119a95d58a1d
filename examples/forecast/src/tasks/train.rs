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
        let train: Vec<Observation> = ctx.data().read_csv("train.csv")?;
        ensure!(
            cfg.season_length > 0 && cfg.season_length <= train.len(),
            "forecast.season_length is {}, it must be between 1 and the {} training rows",
            cfg.season_length,
            train.len()
        );
        let last_season = train[train.len() - cfg.season_length..]
            .iter()
            .map(|o| o.demand_gw)
            .collect();
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
