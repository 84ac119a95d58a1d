//! The commands around DAGs: agent skills, experiments, scaffolding.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::error::{GluersError, Result};
use crate::skill::{install_skill, SkillTarget};

/// `skill TARGET`: writes the agent instructions and lists what changed.
pub fn skill(target: SkillTarget, project_dir: &Path, project_name: &str) -> Result<()> {
    let report = install_skill(target, project_dir, project_name)
        .map_err(|e| GluersError::Other(e.to_string()))?;
    for path in &report.written {
        println!("wrote     {}", path.display());
    }
    for path in &report.unchanged {
        println!("unchanged {}", path.display());
    }
    Ok(())
}

/// `experiment ...`: hands the command to the engine.
pub fn experiment(
    command: gluers_experiment::ExperimentCommand,
    project: Option<gluers_experiment::ProjectSpec>,
) -> std::result::Result<ExitCode, (String, u8)> {
    gluers_experiment::execute(command, project).map_err(|e| (e.to_string(), e.exit_code()))
}

/// The project as the experiment engine sees it: the package folder (cargo
/// sets `CARGO_MANIFEST_DIR` for `cargo run`) and this binary's name.
pub fn cargo_project(project_dir: &Path) -> gluers_experiment::ProjectSpec {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir.to_path_buf());
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "main".to_string());
    gluers_experiment::ProjectSpec::Cargo { manifest_dir, bin }
}

/// `startmodule NAME`.
pub fn startmodule(project_dir: &Path, name: &str) -> Result<()> {
    let files = crate::scaffold::start_module(project_dir, name)
        .map_err(|e| GluersError::Usage(e.to_string()))?;
    for file in files {
        let shown = file.strip_prefix(project_dir).unwrap_or(&file);
        let verb = if shown == Path::new("src/main.rs") {
            "updated"
        } else {
            "created"
        };
        println!("{verb} {}", shown.display());
    }
    println!("run it: cargo manage dag {name}");
    Ok(())
}
