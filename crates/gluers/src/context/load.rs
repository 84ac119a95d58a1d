//! Reading YAML configuration files and merging them.

use std::path::Path;

use serde_norway::{Mapping, Value};

use super::{Origins, PROTECTED_KEY};
use crate::error::{GluersError, Result};

/// Parses `text` (from `origin`, named in errors) as a YAML mapping.
///
/// An empty document is an empty mapping. A syntax error names the origin,
/// line and column; a top-level value that is not a mapping, or the protected
/// `gluers` key, is refused.
pub fn parse_yaml_mapping(text: &str, origin: &str) -> Result<Mapping> {
    crate::limits::check_config_text(text, origin, crate::limits::MAX_CONFIG_BYTES)?;
    let value: Value = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let message = e.to_string();
        // serde_norway appends " at line L column C"; we print it up front.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        GluersError::Config(format!("{origin}:{line}:{column}: invalid YAML: {message}"))
    })?;
    let mapping = match value {
        Value::Null => Mapping::new(),
        Value::Mapping(m) => m,
        other => {
            return Err(GluersError::Config(format!(
                "{origin}: the top level must be a mapping of keys to values, found {}",
                kind(&other)
            )))
        }
    };
    if mapping.contains_key(PROTECTED_KEY) {
        return Err(GluersError::Config(format!(
            "{origin}: the key '{PROTECTED_KEY}' is reserved for the run's identity; rename that key"
        )));
    }
    Ok(mapping)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Merges `over` into `base`: mappings merge key by key, recursively; any
/// other value in `over` replaces the one in `base`.
pub fn deep_merge(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => deep_merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Every `*.yaml` (and `*.yml`) file in `dir`, deep-merged in file-name
/// order, recording which file set each key in `origins`.
///
/// A missing folder is an empty context: a project may have no config.
pub(crate) fn load_config_dir_traced(dir: &Path, origins: &mut Origins) -> Result<Mapping> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Mapping::new()),
        Err(e) => {
            return Err(GluersError::Io {
                context: format!("{}: cannot read the config folder", dir.display()),
                source: e,
            })
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        // Not only files: a folder named `context.yaml` is an error to
        // report, not a config to skip.
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml") | Some("yml")
            )
        })
        .collect();
    files.sort();
    let mut merged = Mapping::new();
    for file in files {
        let origin = file.display().to_string();
        check_file_size(&file, &origin)?;
        let text = std::fs::read_to_string(&file).map_err(|source| GluersError::Io {
            context: format!("{origin}: cannot read"),
            source,
        })?;
        let mapping = parse_yaml_mapping(&text, &origin)?;
        origins.record(&mapping, &origin);
        deep_merge(&mut merged, mapping);
    }
    Ok(merged)
}

/// Refuses a file over the configuration size limit before reading it.
pub(crate) fn check_file_size(path: &Path, origin: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > crate::limits::MAX_CONFIG_BYTES as u64 => {
            Err(GluersError::Config(format!(
                "{origin}: {} bytes, over the limit of {} MiB for a configuration file; split it or load the data as a file on the storage instead",
                meta.len(),
                crate::limits::MAX_CONFIG_BYTES / (1024 * 1024)
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_merge_merges_mappings_and_replaces_the_rest() {
        let mut base: Mapping = serde_norway::from_str("a: {x: 1, y: 2}\nl: [1, 2]").unwrap();
        let over: Mapping = serde_norway::from_str("a: {y: 3}\nl: [3]").unwrap();
        deep_merge(&mut base, over);
        assert_eq!(
            serde_norway::to_string(&base).unwrap(),
            "a:\n  x: 1\n  y: 3\nl:\n- 3\n"
        );
    }

    #[test]
    fn files_merge_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "m: {k: b, only_b: 1}\n").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "m: {k: a, only_a: 1}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored: 1\n").unwrap();
        let merged = load_config_dir_traced(dir.path(), &mut Origins::default()).unwrap();
        let text = serde_norway::to_string(&merged).unwrap();
        assert_eq!(text, "m:\n  k: b\n  only_a: 1\n  only_b: 1\n");
    }

    #[test]
    fn malformed_yaml_names_file_line_and_column() {
        let err = parse_yaml_mapping("a: 1\nb: [1, 2\n", "configs/x.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("configs/x.yaml:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        assert!(line >= 2, "{err}");
    }

    #[test]
    fn protected_key_and_non_mapping_are_refused() {
        assert!(parse_yaml_mapping("gluers: {run_id: x}\n", "p.yaml")
            .unwrap_err()
            .to_string()
            .contains("reserved"));
        assert!(parse_yaml_mapping("- 1\n", "p.yaml")
            .unwrap_err()
            .to_string()
            .contains("a list"));
        assert!(parse_yaml_mapping("", "p.yaml").unwrap().is_empty());
    }
}
