//! `experiment verify`: checks the experiment log without changing anything.

use std::path::Path;
use std::process::ExitCode;

use crate::engine::{Access, Ctx};
use crate::error::Result;
use crate::explog;

/// `experiment verify`: the engine's log must be an unbroken chain under
/// the experiment's key, and the project's `experiment_log.tsv` its exact
/// rendering. Prints `log ok: N rows, chain head H`; otherwise the first
/// problem is the error (one line, exit 1). Nothing is locked, recovered or
/// repaired first, so what is reported is what was found.
pub(crate) fn verify(dir: &Path) -> Result<ExitCode> {
    let ctx = Ctx::open(dir, Access::Inspect)?;
    let report = ctx.verify_log()?;
    if ctx.paths.log().exists() {
        explog::verify_mirror(&ctx.paths.log(), &ctx.log_mirror())?;
    }
    let head = report
        .head
        .as_deref()
        .map_or("none", |h| &h[..h.len().min(12)]);
    println!("log ok: {} rows, chain head {head}", report.rows);
    Ok(ExitCode::SUCCESS)
}
