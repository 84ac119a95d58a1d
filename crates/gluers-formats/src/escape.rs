//! Text shown on one line: messages on a terminal, cells of a table.

/// `text` with control characters escaped (`\t`, `\r`, `\x1b`; a newline
/// becomes `\n`), so that an argument or a file name shown in a message
/// cannot break the line or drive the terminal.
///
/// ```
/// assert_eq!(gluers_formats::escape::escape_controls("a\x1b[31mb\n"), "a\\x1b[31mb\\n");
/// ```
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}
