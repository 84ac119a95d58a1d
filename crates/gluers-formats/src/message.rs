//! Error messages as both binaries print them: one line on stderr (control
//! characters are made visible by [`crate::escape`]).

/// An argument parser's multi-line usage error (`error: ...`, an indented
/// list, a blank line, `Usage: ...`, a hint) as one line: the message and
/// its list joined, the usage and hint replaced by a pointer to `--help`.
///
/// ```
/// let rendered = "error: the following required arguments were not provided:\n  <LABEL>\n\nUsage: cargo manage dag <LABEL>\n\nFor more information, try '--help'.\n";
/// assert_eq!(
///     gluers_formats::message::one_line_usage(rendered),
///     "the following required arguments were not provided: <LABEL> (usage: cargo manage dag <LABEL>; see --help)"
/// );
/// ```
pub fn one_line_usage(rendered: &str) -> String {
    let (message, rest) = rendered.split_once("\n\n").unwrap_or((rendered, ""));
    let message = message.trim().trim_start_matches("error:").trim();
    let message: Vec<&str> = message.lines().map(str::trim).collect();
    let usage = rest
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage:"))
        .map(str::trim);
    let mut line = crate::escape::escape_controls(&message.join(" ")).into_owned();
    match usage {
        Some(u) => line.push_str(&format!(" (usage: {u}; see --help)")),
        None => line.push_str(" (see --help)"),
    }
    line
}
