//! The work tasks: prepare the data, train the model, predict the holdout.
//!
//! These are what an experiment improves; the evaluation is elsewhere and frozen.

mod predict;
mod prepare;
mod train;

pub use predict::PredictTask;
pub use prepare::PrepareDataTask;
pub use train::TrainModelTask;
