//! Logging to stderr through `tracing`, at a level from flags or settings.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger. `-q` shows only warnings and errors, each
/// `-v` one level more than the settings' level.
pub fn init(settings_level: &str, verbose: u8, quiet: bool) {
    let base = match settings_level.to_ascii_lowercase().as_str() {
        "error" => 0,
        "warn" | "warning" => 1,
        "debug" => 3,
        "trace" => 4,
        _ => 2,
    };
    let level = if quiet {
        1
    } else {
        (base + verbose as usize).min(4)
    };
    let name = ["error", "warn", "info", "debug", "trace"][level];
    let filter = EnvFilter::try_from_env("GLUERS_LOG").unwrap_or_else(|_| EnvFilter::new(name));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
}
