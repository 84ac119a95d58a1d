//! `startmodule NAME`: a new module in an existing project.
//!
//! [`start_module`] adds `src/<ident>/{mod.rs,tasks.rs}` (a DAG labelled with
//! the module's name and one work task) and `<config_dir>/<name>.yaml`, and
//! inserts `mod <ident>;` and `.dags(<ident>::dags())` in `src/main.rs`
//! before the `// gluers:modules` and `// gluers:dags` marker lines (which
//! `gluers new` writes). A name may contain `-`; the Rust identifier maps it
//! to `_`. Names follow [`gluers_formats::name`], the rules `gluers new`
//! applies to projects.
//!
//! Nothing is ever overwritten, and a step that fails removes what the call
//! had created.

mod render;
mod wire;

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use gluers_formats::name::{self, NameError, NameKind};

use crate::error::GluersError;
use crate::settings::Settings;
use wire::MODULES_MARKER;

/// Why a module could not be created. Each message is one line that says
/// what, where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The module name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A file or folder of the module already exists.
    #[error("module `{name}` already exists: {path} is in the way; choose another name, or remove it first")]
    ModuleExists {
        /// The module's name.
        name: String,
        /// What is in the way.
        path: PathBuf,
    },
    /// `src/main.rs` already declares the module.
    #[error("{path} already declares `mod {ident};`: choose another module name, or remove that line first")]
    ModuleDeclared {
        /// The project's `src/main.rs`.
        path: PathBuf,
        /// The module's identifier.
        ident: String,
    },
    /// The folder is not a project folder.
    #[error("{dir} is not a gluers project: it has no {missing}; run this in the folder of the project's Cargo.toml")]
    NotAProject {
        /// The folder given.
        dir: PathBuf,
        /// The file that is missing.
        missing: &'static str,
    },
    /// `src/main.rs` lacks a marker line that says where to wire modules in.
    #[error("{path} has no `{marker}` line: add it on a line of its own {place}, then try again")]
    MissingMarker {
        /// The project's `src/main.rs`.
        path: PathBuf,
        /// The missing marker.
        marker: &'static str,
        /// Where the marker belongs.
        place: &'static str,
    },
    /// The project's settings could not be read (to find its config folder).
    #[error(transparent)]
    Settings(#[from] GluersError),
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
    /// A built-in template left a placeholder unfilled: a bug in gluers.
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

/// Adds the module `name` to the project in `project_dir` and returns the
/// files written: the new ones, then `src/main.rs`.
///
/// Creates `src/<ident>/mod.rs` (a DAG labelled `name` with one work task),
/// `src/<ident>/tasks.rs` and `<config_dir>/<name>.yaml`, and wires the
/// module into `src/main.rs` at its marker lines. Refuses an invalid name,
/// an existing module (`src/<ident>/`, `src/<ident>.rs`, the config file or
/// a `mod <ident>;` line), and a `main.rs` without the markers.
pub fn start_module(project_dir: &Path, name: &str) -> Result<Vec<PathBuf>, ScaffoldError> {
    let name = name::check(NameKind::Module, name)?;
    if !project_dir.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::NotAProject {
            dir: project_dir.to_path_buf(),
            missing: "Cargo.toml",
        });
    }
    let main_path = project_dir.join("src").join("main.rs");
    let main = match fs::read_to_string(&main_path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ScaffoldError::NotAProject {
                dir: project_dir.to_path_buf(),
                missing: "src/main.rs",
            })
        }
        Err(e) => return Err(io_error("read", &main_path)(e)),
    };
    let config_dir = Settings::load(project_dir)?.config_dir;

    let module_dir = project_dir.join("src").join(&name.ident);
    let outputs: Vec<(&render::Template, PathBuf)> = render::MODULE
        .iter()
        .map(|t| {
            let rel = t.output_path(&name.text, &name.ident);
            let path = match rel.strip_prefix("configs/") {
                Some(file) => config_dir.join(file),
                None => project_dir.join(rel),
            };
            (t, path)
        })
        .collect();
    let single_file = project_dir.join("src").join(format!("{}.rs", name.ident));
    let in_the_way = [&module_dir, &single_file]
        .into_iter()
        .chain(outputs.iter().map(|(_, p)| p))
        .find(|p| p.symlink_metadata().is_ok());
    if let Some(path) = in_the_way {
        return Err(ScaffoldError::ModuleExists {
            name: name.text,
            path: path.clone(),
        });
    }
    let wired = wire::wire_module(&main, &name.ident).map_err(|e| match e {
        wire::WireError::MissingMarker(marker) => ScaffoldError::MissingMarker {
            path: main_path.clone(),
            marker,
            place: if marker == MODULES_MARKER {
                "after the `mod` lines at the top"
            } else {
                "in the `gluers::Project::new(...)` chain of `main`, before `.main()`"
            },
        },
        wire::WireError::AlreadyDeclared => ScaffoldError::ModuleDeclared {
            path: main_path.clone(),
            ident: name.ident.clone(),
        },
    })?;

    let mut rollback = Rollback::new();
    fs::create_dir(&module_dir).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => ScaffoldError::ModuleExists {
            name: name.text.clone(),
            path: module_dir.clone(),
        },
        _ => io_error("create the folder", &module_dir)(e),
    })?;
    rollback.push(module_dir.clone());
    let vars = [("name", name.text.as_str()), ("ident", name.ident.as_str())];
    let mut written = Vec::new();
    for (template, path) in &outputs {
        let text = template.render(&vars)?;
        if !path.starts_with(&module_dir) {
            rollback.push(path.clone());
        }
        write_new(path, &text)?;
        written.push(path.clone());
    }
    let permissions = fs::metadata(&main_path)
        .map_err(io_error("read", &main_path))?
        .permissions();
    crate::atomic::write_atomic(&main_path, wired.as_bytes())
        .map_err(io_error("write", &main_path))?;
    // The atomic write goes through a private temporary file: restore the mode.
    fs::set_permissions(&main_path, permissions)
        .map_err(io_error("set the permissions of", &main_path))?;
    rollback.disarm();
    written.push(main_path);
    Ok(written)
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
