//! Wiring a module into `src/main.rs` at the `gluers:` marker comments.

/// The marker line in `src/main.rs` before which `start_module` inserts `mod NAME;`.
pub const MODULES_MARKER: &str = "// gluers:modules";
/// The marker line in `src/main.rs` before which `start_module` inserts `.dags(NAME::dags())`.
pub const DAGS_MARKER: &str = "// gluers:dags";

/// Why `main.rs` could not be wired.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WireError {
    /// A marker line is missing.
    MissingMarker(&'static str),
    /// `main.rs` already declares the module.
    AlreadyDeclared,
}

/// Returns `main` with `mod <ident>;` inserted before the modules marker and
/// `.dags(<ident>::dags())` before the DAGs marker, each indented like its
/// marker. Line endings follow the file's (`\r\n` stays `\r\n`).
pub(crate) fn wire_module(main: &str, ident: &str) -> Result<String, WireError> {
    let modules_at =
        marker_line(main, MODULES_MARKER).ok_or(WireError::MissingMarker(MODULES_MARKER))?;
    let dags_at = marker_line(main, DAGS_MARKER).ok_or(WireError::MissingMarker(DAGS_MARKER))?;
    if declares_module(main, ident) {
        return Err(WireError::AlreadyDeclared);
    }
    let newline = if main.contains("\r\n") { "\r\n" } else { "\n" };
    let mut inserts = [
        (modules_at, format!("mod {ident};")),
        (dags_at, format!(".dags({ident}::dags())")),
    ];
    // Insert from the end so that the earlier offset stays valid.
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut out = main.to_string();
    for (at, line) in inserts {
        let indent: String = main[at..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        out.insert_str(at, &format!("{indent}{line}{newline}"));
    }
    Ok(out)
}

/// The byte offset of the start of the first line that is `marker` (after
/// indentation), possibly followed by more comment text.
fn marker_line(text: &str, marker: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let rest = line.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix(marker) {
            if after.is_empty() || after.starts_with(char::is_whitespace) {
                return Some(offset);
            }
        }
        offset += line.len();
    }
    None
}

/// Whether a line of `text` declares `mod <ident>;` (possibly `pub`).
fn declares_module(text: &str, ident: &str) -> bool {
    let wanted = format!("mod {ident};");
    text.lines().any(|line| {
        let line = line.trim();
        let line = line
            .strip_prefix("pub ")
            .map(str::trim_start)
            .unwrap_or(line);
        line == wanted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "mod sample;\n// gluers:modules (keep)\n\nfn main() {\n    gluers::Project::new(\"p\")\n        .dags(sample::dags())\n        // gluers:dags\n        .main()\n}\n";

    #[test]
    fn inserts_before_the_markers_with_their_indentation() {
        let wired = wire_module(MAIN, "clean_up").unwrap();
        assert_eq!(
            wired,
            "mod sample;\nmod clean_up;\n// gluers:modules (keep)\n\nfn main() {\n    gluers::Project::new(\"p\")\n        .dags(sample::dags())\n        .dags(clean_up::dags())\n        // gluers:dags\n        .main()\n}\n"
        );
        let twice = wire_module(&wired, "other").unwrap();
        assert!(
            twice.contains("mod clean_up;\nmod other;\n// gluers:modules"),
            "{twice}"
        );
        assert!(twice.contains(
            ".dags(clean_up::dags())\n        .dags(other::dags())\n        // gluers:dags"
        ));
    }

    #[test]
    fn keeps_windows_line_endings() {
        let crlf = MAIN.replace('\n', "\r\n");
        let wired = wire_module(&crlf, "x").unwrap();
        assert!(wired.contains("mod x;\r\n// gluers:modules"));
        assert!(wired.contains("        .dags(x::dags())\r\n        // gluers:dags"));
        assert_eq!(wired.matches('\n').count(), wired.matches("\r\n").count());
    }

    #[test]
    fn refuses_missing_markers_and_declared_modules() {
        let no_dags = MAIN.replace("// gluers:dags", "// dags");
        assert_eq!(
            wire_module(&no_dags, "x"),
            Err(WireError::MissingMarker(DAGS_MARKER))
        );
        let no_mods = MAIN.replace("// gluers:modules", "// gluers:modulesx");
        assert_eq!(
            wire_module(&no_mods, "x"),
            Err(WireError::MissingMarker(MODULES_MARKER))
        );
        assert_eq!(wire_module(MAIN, "sample"), Err(WireError::AlreadyDeclared));
        let public = MAIN.replace("mod sample;", "pub mod sample;");
        assert_eq!(
            wire_module(&public, "sample"),
            Err(WireError::AlreadyDeclared)
        );
    }

    #[test]
    fn a_marker_at_the_end_without_newline_is_found() {
        let text = "mod a;\n// gluers:modules\nfn main() { x\n// gluers:dags";
        let wired = wire_module(text, "b").unwrap();
        assert!(
            wired.ends_with(".dags(b::dags())\n// gluers:dags"),
            "{wired}"
        );
    }
}
