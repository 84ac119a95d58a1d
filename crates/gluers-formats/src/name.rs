//! Names of projects and modules: checked once, then used as a crate name,
//! a Rust identifier, a DAG label and a config section.
//!
//! `gluers new NAME` (a project) and a project binary's `startmodule NAME`
//! (a module) accept the same names, so that a module can be split into a
//! project of its own and back.
//!
//! ```
//! use gluers_formats::name::{check, NameKind};
//!
//! let name = check(NameKind::Project, "energy-forecast")?;
//! assert_eq!(name.ident, "energy_forecast");
//! assert!(check(NameKind::Module, "fn").is_err());
//! # Ok::<(), gluers_formats::name::NameError>(())
//! ```

/// What a name is for; it appears in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A project: the package name and the folder.
    Project,
    /// A module: `src/<ident>/`, a DAG label and a config section.
    Module,
}

impl NameKind {
    /// `project` or `module`.
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Project => "project",
            NameKind::Module => "module",
        }
    }
}

/// A checked name: `text` as the user typed it, `ident` with `-` mapped to `_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The name as given: the package name, folder, DAG label, config section.
    pub text: String,
    /// The Rust identifier: the crate or module name in code.
    pub ident: String,
}

/// A refused name, with the reason and what to do, on one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}: {reason}")]
pub struct NameError {
    /// `project` or `module`.
    pub kind: &'static str,
    /// The refused name.
    pub name: String,
    /// Why, and what to do.
    pub reason: String,
}

/// The longest name accepted (crates.io's limit for package names).
const MAX_LEN: usize = 64;

/// Rust keywords of every edition, strict and reserved: none can name a crate
/// or a module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names that would clash with a crate the project uses or with the
/// standard library, each with the reason.
const TAKEN: &[(&str, &str)] = &[
    (
        "gluers",
        "it is the name of the gluers crate this project depends on",
    ),
    ("std", "it is the name of Rust's standard library"),
    ("core", "it is the name of Rust's core library"),
    ("alloc", "it is the name of Rust's alloc library"),
    ("proc_macro", "it is the name of Rust's proc_macro library"),
    ("test", "it is the name of Rust's built-in test crate"),
    ("serde", "the project depends on a crate of that name"),
    ("anyhow", "the project depends on a crate of that name"),
];

/// Names cargo refuses for a package with a binary: they clash with folders
/// of the target directory.
const CARGO_RESERVED: &[&str] = &["build", "deps", "examples", "incremental"];

/// File names Windows reserves: a project or module folder cannot have them.
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Checks `name` for use as a project or module name.
///
/// Accepted: lowercase ASCII letters, digits, `_` and `-`, starting with a
/// letter, at most 64 characters, and neither a Rust keyword nor a name
/// taken by the standard library or the project's dependencies.
pub fn check(kind: NameKind, name: &str) -> Result<Name, NameError> {
    let invalid = |reason: String| NameError {
        kind: kind.as_str(),
        name: name.to_string(),
        reason,
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid(
            "it is empty: give a name such as `forecast`".to_string(),
        ));
    };
    if name.len() > MAX_LEN {
        return Err(invalid(format!(
            "it has {} characters: use at most {MAX_LEN}",
            name.chars().count()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        // Suggest the lowercase spelling only when it would be accepted.
        let lower = name.to_ascii_lowercase();
        let hint = if bad.is_ascii_uppercase() && check(kind, &lower).is_ok() {
            format!(": try `{lower}`")
        } else {
            String::new()
        };
        return Err(invalid(format!(
            "{bad:?} is not allowed: use lowercase letters, digits, '_' and '-'{hint}"
        )));
    }
    if !first.is_ascii_lowercase() {
        return Err(invalid(format!(
            "it starts with {first:?}: start it with a lowercase letter"
        )));
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        return Err(invalid(format!(
            "`{ident}` is a Rust keyword: choose another name, e.g. `{ident}_app`"
        )));
    }
    if let Some((_, why)) = TAKEN.iter().find(|(taken, _)| *taken == ident) {
        return Err(invalid(format!("{why}: choose another name")));
    }
    if CARGO_RESERVED.contains(&name) {
        return Err(invalid(
            "cargo reserves it for a folder of the target directory: choose another name"
                .to_string(),
        ));
    }
    if WINDOWS_RESERVED.contains(&name) {
        return Err(invalid(
            "Windows reserves it as a device name, so no folder can have it: choose another name"
                .to_string(),
        ));
    }
    Ok(Name {
        text: name.to_string(),
        ident,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> String {
        let err = check(NameKind::Project, name).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("project"), "{err}");
        err
    }

    #[test]
    fn accepts_crate_names_and_maps_dashes() {
        let n = check(NameKind::Project, "energy-forecast_2").unwrap();
        assert_eq!(n.text, "energy-forecast_2");
        assert_eq!(n.ident, "energy_forecast_2");
        assert_eq!(check(NameKind::Module, "a").unwrap().ident, "a");
        assert_eq!(
            check(NameKind::Module, &"x".repeat(64)).unwrap().text.len(),
            64
        );
    }

    #[test]
    fn refuses_bad_characters_with_a_hint() {
        assert!(reason("").contains("empty"));
        assert!(reason("Forecast").contains("try `forecast`"));
        assert!(!reason("Fn").contains("try"), "no hint towards a keyword");
        assert!(reason("my forecast").contains("' '"));
        assert!(reason("fore.cast").contains("'.'"));
        assert!(reason("prévision").contains("'é'"));
        assert!(reason("../x").contains("'.'"));
        assert!(reason("1forecast").contains("lowercase letter"));
        assert!(reason("_forecast").contains("lowercase letter"));
        assert!(reason("-forecast").contains("lowercase letter"));
        assert!(reason(&"x".repeat(65)).contains("at most 64"));
    }

    #[test]
    fn refuses_keywords_and_taken_names() {
        for name in ["fn", "self", "crate", "async", "gen", "try", "r#fn"] {
            assert!(check(NameKind::Module, name).is_err(), "{name}");
        }
        assert!(reason("mod").contains("keyword"));
        for name in ["gluers", "test", "std", "core", "serde", "anyhow"] {
            assert!(reason(name).contains("choose another name"), "{name}");
        }
        assert!(reason("deps").contains("cargo"));
        assert!(reason("nul").contains("Windows"));
        let err = check(NameKind::Module, "proc-macro")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid module name \"proc-macro\""),
            "{err}"
        );
    }
}
