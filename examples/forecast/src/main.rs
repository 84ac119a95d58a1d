//! The forecast example: the seed's `ForecastDAG`, for real, on half-hourly
//! electricity demand in Victoria (Australia) for 2014.
//!
//! `cargo manage dag forecast` runs it; `cargo manage deploy RUN_FOLDER`
//! copies a run's model to `production/`.

mod commands;
mod dags;
mod data;
mod evaluation;
mod tasks;

fn main() -> std::process::ExitCode {
    gluers::Project::new(env!("CARGO_PKG_NAME"))
        .dags(dags::dags())
        .command::<commands::Deploy>()
        .main()
}
