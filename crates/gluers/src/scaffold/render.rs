//! The templates of a new module, compiled in.
//!
//! They hold `{{ name }}` and `{{ ident }}` placeholders and nothing else, so
//! they are filled by plain substitution followed by a check that no `{{` is
//! left: every project links this crate, and three small files do not need a
//! template engine in all of them.

use super::ScaffoldError;

/// A template: where its output goes (relative to the project folder, with
/// `{ident}` and `{name}` placeholders) and its source.
pub(crate) struct Template {
    /// The template's name in messages.
    pub(crate) name: &'static str,
    /// The output path relative to the project folder, `/`-separated.
    pub(crate) path: &'static str,
    /// The template text.
    pub(crate) source: &'static str,
}

macro_rules! template {
    ($file:literal => $path:literal) => {
        Template {
            name: $file,
            path: $path,
            source: include_str!(concat!("templates/", $file)),
        }
    };
}

/// The files of a new module.
pub(crate) const MODULE: &[Template] = &[
    template!("module/mod.rs.tmpl" => "src/{ident}/mod.rs"),
    template!("module/tasks.rs.tmpl" => "src/{ident}/tasks.rs"),
    template!("module/evaluation.rs.tmpl" => "src/{ident}/evaluation.rs"),
    template!("module/config.yaml.tmpl" => "configs/{name}.yaml"),
];

impl Template {
    /// The output path for a name and identifier.
    pub(crate) fn output_path(&self, name: &str, ident: &str) -> String {
        self.path.replace("{ident}", ident).replace("{name}", name)
    }

    /// Replaces each `{{ key }}` with its value. A placeholder left over (a
    /// key not given, or a typo in the template) is an error, never an empty
    /// string. Values must not contain `{{` (checked names never do).
    pub(crate) fn render(&self, vars: &[(&str, &str)]) -> Result<String, ScaffoldError> {
        let mut text = self.source.to_string();
        for (key, value) in vars {
            text = text.replace(&format!("{{{{ {key} }}}}"), value);
        }
        match text.find("{{") {
            None => Ok(text),
            Some(at) => {
                let line = text[..at].matches('\n').count() + 1;
                let placeholder: String = text[at..]
                    .chars()
                    .take_while(|c| *c != '\n')
                    .take(40)
                    .collect();
                Err(ScaffoldError::Template {
                    template: self.name,
                    message: format!("line {line}: `{placeholder}` has no value"),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_with_the_variables_it_is_given() {
        for t in MODULE {
            let text = t
                .render(&[("name", "clean-up"), ("ident", "clean_up")])
                .unwrap();
            assert!(text.ends_with('\n'), "{} lost its trailing newline", t.name);
            assert!(!text.contains("{{") && !text.contains("}}"), "{}", t.name);
            assert!(text.contains("clean"), "{}", t.name);
        }
    }

    #[test]
    fn a_missing_variable_is_an_error_not_an_empty_string() {
        let err = MODULE[0].render(&[("ident", "x")]).unwrap_err().to_string();
        assert!(
            err.contains("module/mod.rs.tmpl")
                && err.contains("line 1: `{{ name }}")
                && !err.contains('\n'),
            "{err}"
        );
    }
}
