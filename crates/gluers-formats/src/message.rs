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

/// An error and its chain of sources as one line, `outer: cause: its
/// cause`, the way `anyhow` prints `{:#}`.
///
/// A source whose text the line already ends with is not repeated: some
/// errors print their cause in their own message and also return it as
/// their source.
///
/// ```
/// #[derive(Debug)]
/// struct Outer(std::io::Error);
/// impl std::fmt::Display for Outer {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("cannot read configs/")
///     }
/// }
/// impl std::error::Error for Outer {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let err = Outer(std::io::Error::other("permission denied"));
/// assert_eq!(gluers_formats::message::chain(&err), "cannot read configs/: permission denied");
/// ```
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}
