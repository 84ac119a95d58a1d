//! The project's own commands.

use anyhow::{bail, Context as _};
use gluers::{Command, CommandContext};

/// Copies a run's model to production/ on the storage.
#[derive(clap::Args)]
pub struct Deploy {
    /// The run folder whose model to deploy, relative to the storage root
    /// (e.g. runs/2026/11/25/<run_id>).
    run_folder: String,
}

impl Command for Deploy {
    const NAME: &'static str = "deploy";

    fn run(self, ctx: &CommandContext) -> anyhow::Result<()> {
        let folder = self.run_folder.trim_end_matches('/');
        let model = format!("{folder}/model.json");
        if !ctx.storage().isfile(&model)? {
            bail!(
                "{} does not exist: run `dag forecast` first and deploy its run folder",
                ctx.storage().display(&model)
            );
        }
        ctx.storage()
            .cp(&model, "production/model.json")
            .context("copying the model")?;
        ctx.storage()
            .write("production/SOURCE", format!("{folder}\n").as_bytes())?;
        println!(
            "deployed {model} to {}",
            ctx.storage().display("production/model.json")
        );
        Ok(())
    }
}
