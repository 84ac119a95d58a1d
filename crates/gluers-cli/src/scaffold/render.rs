//! The templates of a new project's files, compiled in and rendered with
//! minijinja (strict: an undefined variable is an error).

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::ScaffoldError;

/// A template: where its output goes (relative to the project folder, with
/// `{ident}` and `{name}` placeholders) and its source.
pub(crate) struct Template {
    /// The template's name in messages and in the minijinja environment.
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

/// The files of a new project.
pub(crate) const PROJECT: &[Template] = &[
    template!("project/Cargo.toml.j2" => "Cargo.toml"),
    template!("project/cargo_config.toml.j2" => ".cargo/config.toml"),
    template!("project/gitignore.j2" => ".gitignore"),
    template!("project/README.md.j2" => "README.md"),
    template!("project/main.rs.j2" => "src/main.rs"),
    template!("project/sample_mod.rs.j2" => "src/sample/mod.rs"),
    template!("project/sample_tasks.rs.j2" => "src/sample/tasks.rs"),
    template!("project/sample_evaluation.rs.j2" => "src/sample/evaluation.rs"),
    template!("project/context.yaml.j2" => "configs/context.yaml"),
    template!("project/settings.toml.j2" => "configs/settings.toml"),
];

impl Template {
    /// The output path for a name and identifier.
    pub(crate) fn output_path(&self, name: &str, ident: &str) -> String {
        self.path.replace("{ident}", ident).replace("{name}", name)
    }

    /// Renders the template with `vars`. Undefined variables are errors,
    /// nothing is escaped, and the trailing newline is kept.
    pub(crate) fn render(&self, vars: &Value) -> Result<String, ScaffoldError> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| self.error(&e))?;
        env.set_syntax(syntax);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_template(self.name, self.source)
            .map_err(|e| self.error(&e))?;
        env.get_template(self.name)
            .and_then(|t| t.render(vars))
            .map_err(|e| self.error(&e))
    }

    fn error(&self, e: &minijinja::Error) -> ScaffoldError {
        ScaffoldError::Template {
            template: self.name,
            message: e
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_with_the_variables_it_is_given() {
        let project = minijinja::context! {
            name => "demo-app", ident => "demo_app",
            gluers_dep => "\"0.1.0\"", gluers_version => "0.1.0",
        };
        for t in PROJECT {
            let text = t.render(&project).unwrap();
            assert!(text.ends_with('\n'), "{} lost its trailing newline", t.name);
            assert!(!text.contains("{{") && !text.contains("{%"), "{}", t.name);
        }
    }

    #[test]
    fn a_missing_variable_is_an_error_not_an_empty_string() {
        let err = PROJECT[0]
            .render(&minijinja::context! { name => "x" })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("project/Cargo.toml.j2") && !err.contains('\n'),
            "{err}"
        );
    }
}
