//! Python literals and shell words for the generated files.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// The `py` template filter: a value as a Python literal (strings quoted
/// and escaped, lists, dicts, `None`, `True`/`False`, numbers).
pub(super) fn py_filter(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_py(value, &mut out)?;
    Ok(out)
}

fn write_py(value: &Value, out: &mut String) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&value.to_string()),
        ValueKind::String => out.push_str(&py_str(value.as_str().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(&item, out)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(&key, out)?;
                out.push_str(": ");
                write_py(&value.get_item(&key)?, out)?;
            }
            out.push('}');
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the py filter cannot write a {other} as Python"),
            ))
        }
    }
    Ok(())
}

/// A double-quoted Python string literal of `s`.
pub(super) fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `word` as one POSIX shell word: as is when it has only safe characters,
/// else single-quoted.
pub(super) fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:@,+%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals() {
        let v = Value::from(minijinja::value::Serde(serde_json::json!({
            "a": ["x\"y", "back\\slash\n"], "b": null, "c": true, "d": 3
        })));
        assert_eq!(
            py_filter(&v).unwrap(),
            r#"{"a": ["x\"y", "back\\slash\n"], "b": None, "c": True, "d": 3}"#
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote(""), "''");
    }
}
