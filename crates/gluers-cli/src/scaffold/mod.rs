//! `gluers new NAME`: a new project that builds and runs at once.
//!
//! A new project holds:
//!
//! ```text
//! <name>/
//!   Cargo.toml             its own workspace; dependencies optimised in dev builds
//!   .cargo/config.toml     the `cargo manage` alias
//!   .gitignore             target/, data/runs/, the experiment log and run log
//!   README.md
//!   configs/context.yaml   the `sample` section
//!   configs/settings.toml  the settings, at their documented defaults
//!   src/main.rs            registers each module's DAGs at `gluers:` markers
//!   src/sample/mod.rs      the `sample` DAG
//!   src/sample/tasks.rs    two work tasks
//!   src/sample/evaluation.rs  one evaluation task with documented metrics
//! ```
//!
//! `src/main.rs` carries the `// gluers:modules` and `// gluers:dags` marker
//! lines at which the project binary's `startmodule NAME` (in the runtime
//! crate) wires new modules in. Names follow [`gluers_formats::name`], the
//! rules `startmodule` applies to modules.
//!
//! Nothing is ever overwritten, and a failure removes what was created.

mod render;

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use gluers_formats::name::{self, NameError, NameKind};
use minijinja::context;

/// The version of gluers a project depends on when no local checkout is given.
pub const GLUERS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What [`new_project`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProjectOptions {
    /// The project's name: its folder and package name. Lowercase letters,
    /// digits, `_` and `-`, starting with a letter.
    pub name: String,
    /// The folder in which `<name>/` is created (created if missing).
    pub dir: PathBuf,
    /// A local gluers checkout to depend on (the `crates/gluers` folder of
    /// the gluers repository), instead of the published version.
    pub gluers_path: Option<PathBuf>,
}

/// Why a project could not be created. Each message is one line that says
/// what, where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The project name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The project's folder already exists.
    #[error("{path} already exists: choose another project name or folder, or move it away first")]
    ProjectExists {
        /// The folder that is in the way.
        path: PathBuf,
    },
    /// The local gluers checkout is not usable.
    #[error(
        "gluers path {path}: {reason}; point it at the crates/gluers folder of a gluers checkout"
    )]
    GluersPath {
        /// The folder given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `create the folder`.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A built-in template failed to render: a bug in gluers.
    #[error("template {template} failed to render: {message}; this is a bug in gluers, please report it")]
    Template {
        /// The template's name.
        template: &'static str,
        /// The renderer's message.
        message: String,
    },
}

/// A mapper from an I/O error to [`ScaffoldError::Io`] for `action` on `path`.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError {
    let path = path.to_path_buf();
    move |source| ScaffoldError::Io {
        action,
        path,
        source,
    }
}

/// Creates the project `<opts.dir>/<opts.name>/` and returns its folder.
///
/// The project builds and runs as it is: `cargo manage dag sample` in it
/// runs the sample DAG and prints its metrics block. Refuses an invalid name,
/// an existing folder, and a `gluers_path` that is not the gluers crate.
pub fn new_project(opts: &NewProjectOptions) -> Result<PathBuf, ScaffoldError> {
    let name = name::check(NameKind::Project, &opts.name)?;
    let gluers_dep = match &opts.gluers_path {
        Some(path) => format!("{{ path = {} }}", toml_string(&checked_gluers_path(path)?)),
        None => toml_string(GLUERS_VERSION),
    };
    let root = opts.dir.join(&name.text);
    if root.symlink_metadata().is_ok() {
        return Err(ScaffoldError::ProjectExists { path: root });
    }
    let mut rollback = Rollback::new();
    // The first missing ancestor of the target folder: created here, so
    // removed again on failure.
    if let Some(first_missing) = opts
        .dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && a.symlink_metadata().is_err())
        .last()
    {
        rollback.push(first_missing.to_path_buf());
    }
    fs::create_dir_all(&opts.dir).map_err(io_error("create the folder", &opts.dir))?;
    fs::create_dir(&root).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => ScaffoldError::ProjectExists { path: root.clone() },
        _ => io_error("create the folder", &root)(e),
    })?;
    rollback.push(root.clone());

    let vars = context! {
        name => &name.text,
        ident => &name.ident,
        gluers_dep => gluers_dep,
        gluers_version => GLUERS_VERSION,
    };
    for template in render::PROJECT {
        let text = template.render(&vars)?;
        let path = root.join(template.output_path(&name.text, &name.ident));
        write_new(&path, &text)?;
    }
    rollback.disarm();
    Ok(root)
}

/// Writes a new file, creating its folder; never replaces an existing file.
fn write_new(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error("create the folder", parent))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(text.as_bytes())
        .map_err(io_error("write", path))
}

/// A TOML basic string holding `s`, quoted and escaped.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The absolute path of a gluers checkout's crate folder, as a UTF-8 string,
/// after checking that its `Cargo.toml` is the `gluers` package.
fn checked_gluers_path(path: &Path) -> Result<String, ScaffoldError> {
    let refuse = |reason: String| ScaffoldError::GluersPath {
        path: path.to_path_buf(),
        reason,
    };
    let absolute = if cfg!(windows) {
        std::path::absolute(path)
    } else {
        fs::canonicalize(path)
    }
    .map_err(|e| refuse(format!("cannot resolve it ({e})")))?;
    let manifest = absolute.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| {
        refuse(match e.kind() {
            ErrorKind::NotFound => "it has no Cargo.toml".to_string(),
            _ => format!("cannot read its Cargo.toml ({e})"),
        })
    })?;
    let package = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_string));
    match package.as_deref() {
        Some("gluers") => {}
        Some(other) => {
            return Err(refuse(format!(
                "its Cargo.toml is the package `{other}`, not `gluers`"
            )))
        }
        None => return Err(refuse("its Cargo.toml names no package".to_string())),
    }
    absolute.to_str().map(str::to_string).ok_or_else(|| {
        refuse("the path is not valid UTF-8, which Cargo.toml cannot hold".to_string())
    })
}

/// Removes what a scaffolding call created, unless the call succeeded.
struct Rollback {
    created: Vec<PathBuf>,
}

impl Rollback {
    fn new() -> Self {
        Rollback {
            created: Vec::new(),
        }
    }

    /// Records a file or folder this call created.
    fn push(&mut self, path: PathBuf) {
        self.created.push(path);
    }

    /// Keeps everything: the call succeeded.
    fn disarm(&mut self) {
        self.created.clear();
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        for path in self.created.iter().rev() {
            let _ = if path.is_dir() {
                fs::remove_dir_all(path)
            } else {
                fs::remove_file(path)
            };
        }
    }
}

#[cfg(test)]
mod tests;
