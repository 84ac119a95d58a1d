//! `train_model`: a temperature-aware regression per half hour of the day.

use anyhow::ensure;
use gluers::{RunContext, Task, TaskResult};
use serde::{Deserialize, Serialize};

use crate::data::{Observation, HALF_HOURS_PER_DAY};

/// The model file written to the run folder.
pub const MODEL_FILE: &str = "model.json";
/// Weeks of history the regressions are fitted on.
const TRAIN_WEEKS: usize = 8;

/// demand = a + b * t + c * t^2, one fit per (half hour of day, workday).
#[derive(Debug, Serialize, Deserialize)]
pub struct TemperatureModel {
    /// Coefficients `[a, b, c]`, indexed by `slot * 2 + workday`.
    pub coefficients: Vec<[f64; 3]>,
}

impl TemperatureModel {
    /// The forecast for one half hour.
    pub fn predict(&self, slot: usize, workday: u8, temperature: f64) -> f64 {
        let [a, b, c] = self.coefficients[slot * 2 + workday.min(1) as usize];
        a + b * temperature + c * temperature * temperature
    }
}

/// Least squares for `y = a + b x + c x^2` via the normal equations.
fn fit(points: &[(f64, f64)]) -> [f64; 3] {
    let mut m = [[0.0; 4]; 3];
    for &(x, y) in points {
        let v = [1.0, x, x * x];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += v[i] * v[j];
            }
            m[i][3] += v[i] * y;
        }
    }
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).unwrap();
        m.swap(col, pivot);
        if m[col][col].abs() < 1e-12 {
            let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64;
            return [mean, 0.0, 0.0];
        }
        for row in 0..3 {
            if row != col {
                let f = m[row][col] / m[col][col];
                for k in col..4 {
                    m[row][k] -= f * m[col][k];
                }
            }
        }
    }
    [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]]
}

/// Fits the regressions on the last weeks of `train.csv`.
pub struct TrainModelTask;

impl Task for TrainModelTask {
    fn label(&self) -> &str {
        "train_model"
    }

    fn run(&self, ctx: &mut RunContext) -> TaskResult {
        let train: Vec<Observation> = ctx.data().read_csv("train.csv")?;
        let window = TRAIN_WEEKS * 7 * HALF_HOURS_PER_DAY;
        ensure!(train.len() >= window, "need {window} training rows");
        let start = train.len() - window;
        let mut groups = vec![Vec::new(); HALF_HOURS_PER_DAY * 2];
        for (i, o) in train.iter().enumerate().skip(start) {
            let slot = i % HALF_HOURS_PER_DAY;
            groups[slot * 2 + o.workday.min(1) as usize].push((o.temperature_c, o.demand_gw));
        }
        let coefficients = groups.iter().map(|g| fit(g)).collect();
        let model = TemperatureModel { coefficients };
        ctx.storage()
            .write(&ctx.runpath(MODEL_FILE), &serde_json::to_vec_pretty(&model)?)?;
        Ok(())
    }
}
