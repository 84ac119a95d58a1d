//! The evaluation: frozen during experiments.
//!
//! It reads the actual demand from the evaluation data `holdout/actuals.csv`
//! (declared with `Dag::eval_data` in `dags.rs`), never from a file a work
//! task wrote or could read, so no change to the work tasks can see or move
//! the answer key.

use anyhow::{ensure, Context as _};
use gluers::{EvaluationTask, MetricDoc, RunContext, TaskResult};
use serde::Deserialize;

/// The actual demand of the holdout, relative to the storage root: data only
/// evaluation reads.
pub const ACTUALS: &str = "holdout/actuals.csv";
/// The holdout: the last 28 days of half hours. Fixed here, not read from
/// the context, so a patch or a config edit cannot change what is scored.
const HOLDOUT_ROWS: usize = 28 * 48;
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

/// Scores `predictions.csv` against the actual demand of the holdout.
pub struct ComputeAccuracy;

impl EvaluationTask for ComputeAccuracy {
    fn label(&self) -> &str {
        "compute_accuracy"
    }

    fn metrics(&self) -> Vec<MetricDoc> {
        vec![
            MetricDoc::new(
                "forecast_mape",
                "Mean absolute percentage error of the forecast over the 1,344 half hours of the \
                 holdout (the last 28 days of 2014), in percent: mean(|predicted - actual| / actual) * 100. \
                 The primary measure of accuracy. Lower is better. Baseline (weekly seasonal naive): 10.43.",
            ),
            MetricDoc::new(
                "forecast_bias",
                "Mean of predicted minus actual demand over the holdout, in GW. Positive means the \
                 forecast is too high on average. Closer to 0.0 is better; judge it after MAPE. \
                 Baseline: +0.318.",
            ),
        ]
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let actual: Vec<Actual> = ctx.data().root().read_csv(ACTUALS)?;
        ensure!(
            actual.len() == HOLDOUT_ROWS,
            "{ACTUALS} has {} rows; the holdout has {HOLDOUT_ROWS}",
            actual.len()
        );
        let predicted: Vec<Predicted> = ctx.data().read_csv(PREDICTIONS).context(
            "the work tasks must write predictions.csv (timestamp,demand_gw) in the run folder",
        )?;
        ensure!(
            predicted.len() == HOLDOUT_ROWS,
            "{PREDICTIONS} has {} rows; it must have one per holdout half hour ({HOLDOUT_ROWS})",
            predicted.len()
        );
        let mut abs_pct = 0.0;
        let mut diff = 0.0;
        for (i, (a, p)) in actual.iter().zip(&predicted).enumerate() {
            ensure!(
                a.timestamp == p.timestamp,
                "{PREDICTIONS} row {} is for {}, expected {}",
                i + 2,
                p.timestamp,
                a.timestamp
            );
            ensure!(
                p.demand_gw.is_finite(),
                "{PREDICTIONS} row {} is not a finite number",
                i + 2
            );
            abs_pct += ((p.demand_gw - a.demand_gw) / a.demand_gw).abs();
            diff += p.demand_gw - a.demand_gw;
        }
        let n = HOLDOUT_ROWS as f64;
        ctx.log_metric("forecast_mape", abs_pct / n * 100.0)?;
        ctx.log_metric("forecast_bias", diff / n)?;
        Ok(())
    }
}
