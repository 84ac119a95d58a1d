//! The evaluation: frozen during experiments.
//!
//! It reads the actual demand from the evaluation data `holdout/actuals.csv`
//! (declared with `Dag::eval_data` in `dags.rs`), never from a file a work
//! task wrote or could read, so no change to the work tasks can see or move
//! the answer key. It scores the predictions of the half hours that file
//! names: in the experiment loop the holdout's (20 November to 17 December
//! 2014); at `gluers experiment finish` the engine puts the final test's
//! answers (`final/actuals.csv`, declared with `Dag::final_test_data`: 18
//! to 31 December) in its place, and the same code scores those.

use std::collections::HashMap;

use anyhow::{ensure, Context as _};
use gluers::{EvaluationTask, MetricDoc, RunContext, TaskResult};
use serde::Deserialize;

/// The actual demand of the holdout, relative to the storage root: data only
/// evaluation reads.
pub const ACTUALS: &str = "holdout/actuals.csv";
/// The actual demand of the final test period: sealed by the experiment
/// engine and scored only by `finish`, in place of [`ACTUALS`] (same file
/// name).
pub const FINAL_ACTUALS: &str = "final/actuals.csv";
/// The predictions the work tasks must write in the run folder.
const PREDICTIONS: &str = "predictions.csv";

#[derive(Deserialize)]
struct Actual {
    timestamp: String,
    demand_gw: f64,
}

#[derive(Deserialize)]
struct Predicted {
    timestamp: String,
    demand_gw: f64,
}

/// Scores `predictions.csv` against the actual demand of the answers'
/// half hours.
pub struct ComputeAccuracy;

impl EvaluationTask for ComputeAccuracy {
    fn label(&self) -> &str {
        "compute_accuracy"
    }

    fn metrics(&self) -> Vec<MetricDoc> {
        vec![
            MetricDoc::new(
                "forecast_mape",
                "Mean absolute percentage error of the forecast over the half hours of the answers, \
                 in percent: mean(|predicted - actual| / actual) * 100. In the loop these are the \
                 holdout's 1,344 half hours (20 November to 17 December 2014); `finish` scores the \
                 final test's 672 (18 to 31 December). The primary measure of accuracy. Lower is \
                 better. Baseline (weekly seasonal naive): 5.55 on the holdout, 13.55 on the final test.",
            )
            .lower_is_better(),
            MetricDoc::new(
                "forecast_bias",
                "Mean of predicted minus actual demand over the same half hours, in GW. Positive \
                 means the forecast is too high on average. Closer to 0.0 is better; judge it after \
                 MAPE. Baseline: -0.101 on the holdout, +0.338 on the final test.",
            )
            .closer_to(0.0),
        ]
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let actual: Vec<Actual> = ctx.data().root().read_csv(ACTUALS)?;
        ensure!(!actual.is_empty(), "{ACTUALS} has no rows");
        let predicted: Vec<Predicted> = ctx.data().read_csv(PREDICTIONS).context(
            "the work tasks must write predictions.csv (timestamp,demand_gw) in the run folder",
        )?;
        let mut by_time: HashMap<&str, f64> = HashMap::with_capacity(predicted.len());
        for (i, p) in predicted.iter().enumerate() {
            ensure!(
                p.demand_gw.is_finite(),
                "{PREDICTIONS} row {} is not a finite number",
                i + 2
            );
            ensure!(
                by_time.insert(&p.timestamp, p.demand_gw).is_none(),
                "{PREDICTIONS} row {} repeats the half hour {}",
                i + 2,
                p.timestamp
            );
        }
        let mut abs_pct = 0.0;
        let mut diff = 0.0;
        for a in &actual {
            let p = *by_time.get(a.timestamp.as_str()).with_context(|| {
                format!(
                    "{PREDICTIONS} has no forecast for {}: forecast every half hour of the input's to_forecast table",
                    a.timestamp
                )
            })?;
            abs_pct += ((p - a.demand_gw) / a.demand_gw).abs();
            diff += p - a.demand_gw;
        }
        let n = actual.len() as f64;
        ctx.log_metric("forecast_mape", abs_pct / n * 100.0)?;
        ctx.log_metric("forecast_bias", diff / n)?;
        Ok(())
    }
}
