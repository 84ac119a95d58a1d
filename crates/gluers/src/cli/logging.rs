//! Logging to stderr through `tracing`, at a level from flags or settings.

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;

use crate::error::{escape_controls, GluersError, Result};

/// Installs the stderr logger. `-q` shows only warnings and errors, each
/// `-v` one level more than the settings' level. An unknown level, or a
/// `GLUERS_LOG` filter that does not parse, is an error, not silently `info`.
pub fn init(settings_level: &str, verbose: u8, quiet: bool) -> Result<()> {
    let base = match settings_level.to_ascii_lowercase().as_str() {
        "error" => 0,
        "warn" | "warning" => 1,
        "debug" => 3,
        "trace" => 4,
        "info" => 2,
        other => {
            return Err(GluersError::Usage(format!(
                "log level {:?}: not a log level; use error, warn, info, debug or trace",
                escape_controls(other)
            )))
        }
    };
    let level = if quiet {
        1
    } else {
        (base + verbose as usize).min(4)
    };
    let name = ["error", "warn", "info", "debug", "trace"][level];
    let filter = match std::env::var("GLUERS_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(&spec).map_err(|e| {
            GluersError::Usage(format!(
                "GLUERS_LOG={}: not a log filter ({e}); use e.g. GLUERS_LOG=debug or GLUERS_LOG=gluers=trace",
                escape_controls(&spec)
            ))
        })?,
        _ => EnvFilter::new(name),
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(|| LineWriter(Vec::new()))
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
    Ok(())
}

/// One log line for stderr, written when the logger drops it, with the
/// live progress spinner cleared meanwhile, so that no spinner frame sticks
/// to the line.
struct LineWriter(Vec<u8>);

impl std::io::Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        crate::progress::suspend(|| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&self.0);
            let _ = err.flush();
        });
    }
}
