//! `predict`: forecast every half hour of the holdout.

use gluers::{RunContext, Task, TaskResult};

use super::train::{SeasonalNaive, MODEL_FILE};
use crate::data::{Features, Prediction};

/// The predictions file the evaluation reads.
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// Writes `predictions.csv`: one forecast per holdout half hour.
pub struct PredictTask;

impl Task for PredictTask {
    fn label(&self) -> &str {
        "predict"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let model: SeasonalNaive =
            serde_json::from_slice(&ctx.storage().read(&ctx.runpath(MODEL_FILE))?)?;
        let features: Vec<Features> = ctx.data().read_csv("holdout_features.csv")?;
        let predictions: Vec<Prediction> = features
            .iter()
            .enumerate()
            .map(|(i, f)| Prediction {
                timestamp: f.timestamp.clone(),
                demand_gw: model.last_season[i % model.season_length],
            })
            .collect();
        ctx.data().write_csv(PREDICTIONS_FILE, &predictions)?;
        Ok(())
    }
}
