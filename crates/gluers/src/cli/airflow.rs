//! The `airflow` command: Airflow DAG files from this project's DAGs.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::airflow::{render, write_all, ProjectInfo};
use crate::error::{GluersError, Result};
use crate::registry::Registry;
use crate::settings::{Settings, DEFAULT_SETTINGS_FILE};

/// Airflow integration.
#[derive(Debug, Args)]
pub struct AirflowArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AirflowCommand,
}

/// An `airflow` subcommand.
#[derive(Debug, Subcommand)]
pub enum AirflowCommand {
    /// Write one Airflow DAG file per DAG into DEST: each task runs
    /// `dag LABEL --task T --retry RUN_FOLDER` (settings: the airflow section).
    #[command(after_long_help = "\
Examples:
  airflow generate ~/airflow/dags              every DAG, as pods ([airflow] image)
  airflow generate ~/airflow/dags forecast     one DAG

Settings (configs/settings.toml): [airflow] operator = \"kubernetes_pod\" | \"bash\",
dag_prefix, schedule, start_date, template, run_folder, command, working_dir,
image, namespace, image_pull_policy, config_maps, kube_config, in_cluster,
[airflow.resources.requests|limits], [airflow.dags.LABEL] schedule/template.")]
    Generate {
        /// The folder to write the DAG files into (created if missing).
        dest: PathBuf,
        /// Only this DAG (default: every DAG).
        dag: Option<String>,
    },
}

/// Runs the `airflow` command.
pub fn execute(
    args: AirflowArgs,
    registry: &Registry,
    settings: &Settings,
    project_name: &str,
    project_dir: &Path,
    cwd: &Path,
    quiet: bool,
) -> Result<()> {
    let AirflowCommand::Generate { dest, dag } = args.command;
    // A per-DAG section for a DAG that does not exist is a typo, not a no-op.
    if let Some(unknown) = settings
        .airflow
        .dags
        .keys()
        .find(|label| registry.dag(label).is_err())
    {
        let known: Vec<&str> = registry.dags().iter().map(|d| d.label()).collect();
        return Err(GluersError::Settings {
            path: settings_file(settings, project_dir),
            message: format!(
                "[airflow.dags.{unknown}] names no DAG of this project; its DAGs: {}",
                known.join(", ")
            ),
        });
    }
    let dags = match &dag {
        Some(label) => vec![registry.dag(label)?],
        None => registry.dags().iter().collect(),
    };
    let exe = std::env::current_exe().map_err(|source| GluersError::Io {
        context: "cannot find this program's own path".to_string(),
        source,
    })?;
    let project = ProjectInfo {
        name: project_name.to_string(),
        dir: project_dir.to_path_buf(),
        exe,
        settings_file: settings_file(settings, project_dir),
    };
    // Render every file before writing any: bad settings leave DEST untouched.
    let files = dags
        .into_iter()
        .map(|dag| render(dag, &settings.airflow, &project))
        .collect::<Result<Vec<_>>>()?;
    let written = write_all(&cwd.join(dest), &files)?;
    if !quiet {
        for (path, file) in written.iter().zip(&files) {
            eprintln!(
                "wrote {} (Airflow DAG {}, {} operator)",
                path.display(),
                file.dag_id,
                settings.airflow.operator.name()
            );
        }
    }
    Ok(())
}

/// The settings file to name in messages (the default one when none exists).
fn settings_file(settings: &Settings, project_dir: &Path) -> PathBuf {
    settings
        .source
        .clone()
        .unwrap_or_else(|| project_dir.join(DEFAULT_SETTINGS_FILE))
}
