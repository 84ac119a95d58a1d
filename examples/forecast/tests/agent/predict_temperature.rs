//! `predict`: the temperature-aware forecast.

use gluers::{RunContext, Task, TaskResult};

use super::train::{TemperatureModel, MODEL_FILE};
use crate::data::{Features, Prediction, HALF_HOURS_PER_DAY};

/// Writes `predictions.csv`: one forecast per holdout half hour.
pub struct PredictTask;

impl Task for PredictTask {
    fn label(&self) -> &str {
        "predict"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let model: TemperatureModel =
            serde_json::from_slice(&ctx.storage().read(&ctx.runpath(MODEL_FILE))?)?;
        let features: Vec<Features> = ctx.data().read_csv("holdout_features.csv")?;
        let predictions: Vec<Prediction> = features
            .iter()
            .enumerate()
            .map(|(i, f)| Prediction {
                timestamp: f.timestamp.clone(),
                demand_gw: model.predict(i % HALF_HOURS_PER_DAY, f.workday, f.temperature_c),
            })
            .collect();
        ctx.data().write_csv("predictions.csv", &predictions)?;
        Ok(())
    }
}
