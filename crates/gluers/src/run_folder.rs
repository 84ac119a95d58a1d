//! Run folders: `runs/YYYY/M/D/<run_id>` under the storage root.

use std::path::Path;

use crate::error::{GluersError, Result};
use crate::storage::normalize_key;

/// The folder under the storage root that holds every run folder.
pub const RUNS_DIR: &str = "runs";

/// A new run folder for today with a fresh uuid4 run id, as
/// `(run_id, run_folder)`; month and day are not zero-padded, as in Gluepy.
///
/// The date is UTC's: resolving the local time zone's name means scanning
/// the system's time-zone database, which costs more than a small run.
pub fn new_run_folder() -> (String, String) {
    let run_id = uuid::Uuid::new_v4().to_string();
    let date = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let folder = format!(
        "{RUNS_DIR}/{}/{}/{}/{}",
        date.year(),
        date.month(),
        date.day(),
        run_id
    );
    (run_id, folder)
}

/// Turns a run-folder argument (of `flag`: `--retry`, `--compare`) into a
/// storage path confined to the root.
///
/// Accepted: a path relative to the storage root (`runs/2026/1/2/<id>`), the
/// same path prefixed by the storage root as written from the project folder
/// (`data/runs/...`), or an absolute path inside the storage root.
pub fn resolve_run_folder(
    flag: &str,
    arg: &str,
    storage_root: &Path,
    project_dir: &Path,
) -> Result<String> {
    let refuse = |why: &str| {
        GluersError::Usage(format!(
            "{flag} {arg}: {why}; give the run folder relative to the storage root {}, e.g. runs/2026/1/31/<run_id>",
            storage_root.display()
        ))
    };
    let path = Path::new(arg);
    let key = if path.is_absolute() {
        let root =
            std::fs::canonicalize(storage_root).unwrap_or_else(|_| storage_root.to_path_buf());
        let candidate = lexical(path);
        let inside = candidate
            .strip_prefix(&root)
            .or_else(|_| candidate.strip_prefix(storage_root));
        match inside {
            Ok(rest) => rest.to_string_lossy().into_owned(),
            Err(_) => return Err(refuse("the folder is outside the storage root")),
        }
    } else {
        let shown_root = storage_root
            .strip_prefix(project_dir)
            .unwrap_or(storage_root)
            .to_string_lossy()
            .into_owned();
        let root_prefix = format!("{}/", shown_root.trim_end_matches('/'));
        match arg.strip_prefix(&root_prefix) {
            Some(rest) if !shown_root.is_empty() && !storage_root.join(arg).exists() => {
                rest.to_string()
            }
            _ => arg.to_string(),
        }
    };
    let key = normalize_key(&key).map_err(|_| refuse("the path leads out of the storage root"))?;
    if key.is_empty() {
        return Err(refuse("that is the storage root itself, not a run folder"));
    }
    Ok(key)
}

/// Removes `.` and `..` without touching the disk.
fn lexical(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The run id of a folder: its last path segment.
pub fn run_id_of(run_folder: &str) -> &str {
    run_folder.rsplit('/').next().unwrap_or(run_folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_folder_layout() {
        let (id, folder) = new_run_folder();
        assert!(folder.starts_with("runs/"));
        assert!(folder.ends_with(&id));
        let parts: Vec<&str> = folder.split('/').collect();
        assert_eq!(parts.len(), 5);
        assert!(!parts[2].starts_with('0') && !parts[3].starts_with('0'));
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    }

    #[test]
    fn retry_paths_are_confined() {
        let project = tempfile::tempdir().unwrap();
        let root = project.path().join("data");
        std::fs::create_dir_all(&root).unwrap();
        let p = project.path();
        assert_eq!(
            resolve_run_folder("--retry", "runs/2026/1/2/x", &root, p).unwrap(),
            "runs/2026/1/2/x"
        );
        assert_eq!(
            resolve_run_folder("--retry", "data/runs/2026/1/2/x", &root, p).unwrap(),
            "runs/2026/1/2/x"
        );
        let abs = root.join("runs/x");
        assert_eq!(
            resolve_run_folder("--retry", abs.to_str().unwrap(), &root, p).unwrap(),
            "runs/x"
        );
        assert!(resolve_run_folder("--retry", "../outside", &root, p).is_err());
        assert!(resolve_run_folder("--retry", "runs/../../x", &root, p).is_err());
        assert!(resolve_run_folder("--retry", "/etc", &root, p).is_err());
        assert!(resolve_run_folder("--retry", ".", &root, p).is_err());
    }
}
