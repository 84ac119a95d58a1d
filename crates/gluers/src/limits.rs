//! Limits on configuration text, checked before any parser sees it.
//!
//! A YAML parser spends time quadratic in the nesting of flow collections
//! (200 KB of `[[[...` cost ~40 s of CPU before the parser's own recursion
//! limit refused it), so size and nesting are checked up front, in one
//! linear pass, for `context.yaml`, configs, patches and settings.

use crate::error::{GluersError, Result};

/// The largest configuration file gluers parses (configs, patches, `context.yaml`).
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;
/// The largest settings file.
pub const MAX_SETTINGS_BYTES: usize = 1024 * 1024;
/// The deepest nesting of `[...]` and `{...}` collections accepted.
pub const MAX_DEPTH: usize = 64;

/// Refuses `text` (from `origin`) when it is over `max_bytes` or nests
/// flow collections deeper than [`MAX_DEPTH`], naming the line.
pub(crate) fn check_config_text(text: &str, origin: &str, max_bytes: usize) -> Result<()> {
    if text.len() > max_bytes {
        return Err(GluersError::Config(format!(
            "{origin}: {} bytes, over the limit of {} MiB for a configuration file; split it or load the data as a file on the storage instead",
            text.len(),
            max_bytes / (1024 * 1024)
        )));
    }
    if let Some(line) = too_deep(text) {
        return Err(GluersError::Config(format!(
            "{origin}:{line}: collections nested more than {MAX_DEPTH} deep; flatten the structure"
        )));
    }
    Ok(())
}

/// The line where `[`/`{` nesting first goes over [`MAX_DEPTH`], if it does.
///
/// Quoted strings and comments are skipped. A bracket opens a collection
/// only where one can start (at the start of a line or after `:`, `,`, `-`,
/// `?`, `=` or another opening bracket), so `pattern: a[b` does not count.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1usize;
    // What came last: whether a collection may open here.
    let mut may_open = true;
    let mut chars = text.chars().peekable();
    let mut after_space = true;
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                may_open = true;
                after_space = true;
                continue;
            }
            ' ' | '\t' | '\r' => {
                after_space = true;
                continue;
            }
            '#' if after_space => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
                continue;
            }
            '"' | '\'' if may_open => {
                let quote = c;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' if quote == '"' => {
                            chars.next();
                        }
                        '\n' => line += 1,
                        q if q == quote => break,
                        _ => {}
                    }
                }
                may_open = false;
            }
            '[' | '{' if may_open => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(line);
                }
                may_open = true;
            }
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                may_open = false;
            }
            ':' | ',' | '-' | '?' | '=' => may_open = true,
            _ => may_open = false,
        }
        after_space = false;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_in_linear_time() {
        let deep = format!("a: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
        let started = std::time::Instant::now();
        let err = check_config_text(&deep, "p.yaml", MAX_CONFIG_BYTES)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed().as_secs() < 2);
        assert!(
            err.starts_with("p.yaml:1: ") && err.contains("nested"),
            "{err}"
        );
        let mapping = format!("a: {}1{}\n", "{b: ".repeat(65), "}".repeat(65));
        assert!(check_config_text(&mapping, "p.yaml", MAX_CONFIG_BYTES).is_err());
    }

    #[test]
    fn ordinary_text_with_brackets_passes() {
        let ok = "a: [1, [2, {b: c}]]\npattern: x[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n\
                  s: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\n\
                  # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n\
                  [[table]]\nx = [[1, 2], [3]]\n";
        check_config_text(ok, "p.yaml", MAX_CONFIG_BYTES).unwrap();
        let nested = format!("a: {}1{}\n", "[".repeat(64), "]".repeat(64));
        check_config_text(&nested, "p.yaml", MAX_CONFIG_BYTES).unwrap();
    }

    #[test]
    fn size_is_limited() {
        let err = check_config_text(&"a".repeat(2048), "s.toml", 1024)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.toml: 2048 bytes"), "{err}");
    }
}
