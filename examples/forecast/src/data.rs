//! The rows and tables shared by the forecast tasks.

use serde::{Deserialize, Serialize};

/// One half hour of the training table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Observation {
    /// Start of the half hour, local time, `YYYY-MM-DDTHH:MM`.
    pub timestamp: String,
    /// Total demand, gigawatts.
    pub demand_gw: f64,
    /// 1 on working days, 0 on weekends and public holidays.
    pub workday: u8,
    /// Temperature in Melbourne, degrees Celsius.
    pub temperature_c: f64,
}

/// A row of the training table borrowed from the reader's buffer, for
/// tasks that stream the history row by row (no allocation per row).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ObservationRef<'a> {
    /// Start of the half hour, local time, `YYYY-MM-DDTHH:MM`.
    pub timestamp: &'a str,
    /// Total demand, gigawatts.
    pub demand_gw: f64,
    /// 1 on working days, 0 on weekends and public holidays.
    pub workday: u8,
    /// Temperature in Melbourne, degrees Celsius.
    pub temperature_c: f64,
}

/// What is known in advance about a half hour to forecast: no demand. A row
/// of `input/vic_elec_2014_to_forecast.csv` and of `holdout_features.csv`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Features {
    /// Start of the half hour.
    pub timestamp: String,
    /// 1 on working days.
    pub workday: u8,
    /// Temperature, degrees Celsius.
    pub temperature_c: f64,
}

/// A forecast for one half hour.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prediction {
    /// Start of the half hour.
    pub timestamp: String,
    /// Forecast demand, gigawatts.
    pub demand_gw: f64,
}

/// Half hours in a day.
pub const HALF_HOURS_PER_DAY: usize = 48;

/// The `forecast` section of the context.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastConfig {
    /// The training table (history with demand), relative to the storage root.
    pub train: String,
    /// The half hours to forecast (calendar and temperature, no demand),
    /// relative to the storage root.
    pub to_forecast: String,
    /// Half hours the seasonal naive model repeats.
    pub season_length: usize,
}
