//! Which project the `gluers` binary is pointed at, from the current folder:
//! a gluers Rust project (the nearest Cargo package at or above it, and its
//! binary target) or a Gluepy project (the nearest folder with `manage.py`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// The command that runs a Gluepy project, as the skill and the engine
/// spell it.
pub const GLUEPY_PROJECT_CMD: &str = "python manage.py";

/// A project found from a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// A Cargo package: `dir` holds its `Cargo.toml`, `name` is the package name.
    Rust {
        /// The package folder.
        dir: PathBuf,
        /// The package name.
        name: String,
    },
    /// A Gluepy project: `dir` holds `manage.py`; `name` is the folder's
    /// name, reduced to letters, digits, `-` and `_`.
    Gluepy {
        /// The project folder.
        dir: PathBuf,
        /// A name for the project.
        name: String,
    },
}

/// Why no project (or no usable binary) was found. One line each.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Neither a Cargo package nor `manage.py` at or above the folder.
    #[error("{} is not inside a project: neither it nor a folder above it has a Cargo.toml with a [package] (a gluers project) or a manage.py (a Gluepy project); run this in the project's folder", dir.display())]
    NotFound {
        /// The folder searched from.
        dir: PathBuf,
    },
    /// No Cargo package, but a Gluepy project: the engine needs its command.
    #[error("{} is a Gluepy project (it has manage.py) and no Cargo package: add --project-cmd \"{GLUEPY_PROJECT_CMD}\" (gluers experiment --project-cmd \"{GLUEPY_PROJECT_CMD}\" init ...)", dir.display())]
    GluepyNeedsCommand {
        /// The folder of `manage.py`.
        dir: PathBuf,
    },
    /// A `Cargo.toml` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `cargo metadata` could not run or failed.
    #[error("`cargo metadata` failed for {}: {message}; check that the package builds with `cargo build`", dir.display())]
    Metadata {
        /// The package folder.
        dir: PathBuf,
        /// What went wrong (cargo's first error line).
        message: String,
    },
    /// The package has no binary target.
    #[error("package `{package}` ({}) has no binary target: a gluers project is a binary crate whose main() hands its DAGs to gluers::Project", dir.display())]
    NoBinary {
        /// The package name.
        package: String,
        /// The package folder.
        dir: PathBuf,
    },
    /// The package has several binaries and none was chosen.
    #[error("package `{package}` has several binaries ({}): choose the one that runs the DAGs with `gluers experiment --bin NAME ...`", bins.join(", "))]
    SeveralBinaries {
        /// The package name.
        package: String,
        /// Its binary targets.
        bins: Vec<String>,
    },
    /// `--bin` names no binary of the package.
    #[error("package `{package}` has no binary `{bin}`; its binaries: {}", bins.join(", "))]
    UnknownBinary {
        /// The package name.
        package: String,
        /// The name given with `--bin`.
        bin: String,
        /// Its binary targets.
        bins: Vec<String>,
    },
}

/// The nearest project at or above `start`. At one level, `manage.py`
/// (Gluepy) wins over a Cargo package: a Rust project has no use for one.
pub fn find(start: &Path) -> Result<Found, ProjectError> {
    for dir in start.ancestors() {
        if dir.join("manage.py").is_file() {
            return Ok(Found::Gluepy {
                dir: dir.to_path_buf(),
                name: folder_name(dir),
            });
        }
        if let Some(name) = package_name(dir)? {
            return Ok(Found::Rust {
                dir: dir.to_path_buf(),
                name,
            });
        }
    }
    Err(ProjectError::NotFound {
        dir: start.to_path_buf(),
    })
}

/// The nearest folder at or above `start` whose `Cargo.toml` has a
/// `[package]`, with the package name.
pub fn find_package(start: &Path) -> Result<(PathBuf, String), ProjectError> {
    for dir in start.ancestors() {
        if let Some(name) = package_name(dir)? {
            return Ok((dir.to_path_buf(), name));
        }
    }
    match find(start) {
        Ok(Found::Gluepy { dir, .. }) => Err(ProjectError::GluepyNeedsCommand { dir }),
        _ => Err(ProjectError::NotFound {
            dir: start.to_path_buf(),
        }),
    }
}

/// The package name in `dir/Cargo.toml`, if that file has a `[package]`.
/// A manifest that is not valid TOML is left to cargo to report.
fn package_name(dir: &Path) -> Result<Option<String>, ProjectError> {
    let path = dir.join("Cargo.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).map_err(|source| ProjectError::Read { path, source })?;
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return Ok(None);
    };
    Ok(table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string))
}

/// `dir`'s last component as a name: characters other than ASCII letters,
/// digits, `-` and `_` become `-`, at most 64 of them; `project` if nothing
/// is left.
fn folder_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "project".to_string()
    } else {
        name.to_string()
    }
}

/// What `cargo metadata --no-deps` says, reduced to what is needed here.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<MetadataPackage>,
}

#[derive(Debug, Deserialize)]
struct MetadataPackage {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<MetadataTarget>,
}

#[derive(Debug, Deserialize)]
struct MetadataTarget {
    name: String,
    kind: Vec<String>,
}

/// The binary targets of the package in `dir`, from
/// `cargo metadata --no-deps --format-version 1`.
pub fn binaries(dir: &Path) -> Result<(String, Vec<String>), ProjectError> {
    let manifest = dir.join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let failed = |message: String| ProjectError::Metadata {
        dir: dir.to_path_buf(),
        message,
    };
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run cargo ({e})")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("no message")
            .trim()
            .to_string();
        return Err(failed(line));
    }
    let metadata: Metadata = serde_json::from_slice(&out.stdout)
        .map_err(|e| failed(format!("unexpected output ({e})")))?;
    let wanted = canonical(&manifest);
    let package = metadata
        .packages
        .into_iter()
        .find(|p| canonical(&p.manifest_path) == wanted)
        .ok_or_else(|| failed(format!("it lists no package for {}", manifest.display())))?;
    let bins = package
        .targets
        .into_iter()
        .filter(|t| t.kind.iter().any(|k| k == "bin"))
        .map(|t| t.name)
        .collect();
    Ok((package.name, bins))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The binary to run among `bins` of `package`: `chosen` if given (and
/// one of them), else the only one.
pub fn pick_binary(
    package: &str,
    dir: &Path,
    bins: Vec<String>,
    chosen: Option<&str>,
) -> Result<String, ProjectError> {
    match (chosen, bins.as_slice()) {
        (Some(bin), _) if bins.iter().any(|b| b == bin) => Ok(bin.to_string()),
        (Some(bin), _) => Err(ProjectError::UnknownBinary {
            package: package.to_string(),
            bin: bin.to_string(),
            bins,
        }),
        (None, []) => Err(ProjectError::NoBinary {
            package: package.to_string(),
            dir: dir.to_path_buf(),
        }),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(ProjectError::SeveralBinaries {
            package: package.to_string(),
            bins,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_nearest_package_or_manage_py_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"app\"]\n",
        );
        write(&root.join("app/Cargo.toml"), "[package]\nname = \"app\"\n");
        std::fs::create_dir_all(root.join("app/src/deep")).unwrap();
        assert_eq!(
            find(&root.join("app/src/deep")).unwrap(),
            Found::Rust {
                dir: root.join("app"),
                name: "app".into()
            }
        );
        assert!(matches!(find(root), Err(ProjectError::NotFound { .. })));

        write(&root.join("My Shop/manage.py"), "");
        std::fs::create_dir_all(root.join("My Shop/forecast")).unwrap();
        assert_eq!(
            find(&root.join("My Shop/forecast")).unwrap(),
            Found::Gluepy {
                dir: root.join("My Shop"),
                name: "My-Shop".into()
            }
        );
        let err = find_package(&root.join("My Shop")).unwrap_err();
        assert!(
            matches!(err, ProjectError::GluepyNeedsCommand { .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("--project-cmd \"python manage.py\""));
    }

    #[test]
    fn one_binary_is_picked_several_need_a_choice() {
        let dir = Path::new("/p");
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(pick_binary("p", dir, vec!["a".into()], None).unwrap(), "a");
        assert_eq!(pick_binary("p", dir, two.clone(), Some("b")).unwrap(), "b");
        let err = pick_binary("p", dir, two.clone(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(a, b)") && err.contains("--bin NAME"),
            "{err}"
        );
        let err = pick_binary("p", dir, two, Some("c"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no binary `c`; its binaries: a, b"), "{err}");
        let err = pick_binary("p", dir, vec![], None).unwrap_err().to_string();
        assert!(
            err.contains("no binary target") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn cargo_metadata_lists_the_package_binaries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("two-bins");
        write(
            &dir.join("Cargo.toml"),
            "[package]\nname = \"two-bins\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[[bin]]\nname = \"extra\"\npath = \"src/extra.rs\"\n",
        );
        write(&dir.join("src/main.rs"), "fn main() {}\n");
        write(&dir.join("src/extra.rs"), "fn main() {}\n");
        let (package, mut bins) = binaries(&dir).unwrap();
        bins.sort();
        assert_eq!(package, "two-bins");
        assert_eq!(bins, ["extra", "two-bins"]);
    }
}
