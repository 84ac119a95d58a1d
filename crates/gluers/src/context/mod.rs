//! The run context: the merged configuration a run sees, with typed access.
//!
//! Built from every `*.yaml` in the config folder (deep-merged in file-name
//! order), then each `--patch` (YAML on the storage), then each
//! `--local-patch` (YAML on disk), then the protected key
//! `gluers: {run_id, run_folder, created_at}`. The result is written to
//! `<run_folder>/context.yaml` by the bootstrap task, and `--retry` reloads it.

mod load;
mod origins;

pub(crate) use load::check_file_size;
pub(crate) use load::load_config_dir_traced;
pub use load::{deep_merge, parse_yaml_mapping};
pub use origins::Origins;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use crate::error::{GluersError, Result};

/// The top-level key that gluers owns in every context.
pub const PROTECTED_KEY: &str = "gluers";
/// The key under which Gluepy 1.6.0 keeps the same identity: a Gluepy run
/// folder's `context.yaml` is read by `--retry` and `--eval-only` too.
pub const GLUEPY_KEY: &str = "gluepy";

/// The run's identity, stored under the protected `gluers` key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunMeta {
    /// The run id (a uuid4, or the last segment of a retried folder).
    pub run_id: String,
    /// The run folder, as a storage path.
    pub run_folder: String,
    /// When the run was first created, ISO 8601 in UTC.
    pub created_at: String,
}

/// The resolved configuration of a run.
#[derive(Clone, Debug)]
pub struct Context {
    /// Always a mapping: the merged values without the protected key.
    values: Value,
    meta: RunMeta,
    origins: Origins,
    strict: bool,
}

impl Context {
    /// A context from merged values (without the protected key) and the run's identity.
    pub(crate) fn new(values: Mapping, meta: RunMeta) -> Self {
        Context {
            values: Value::Mapping(values),
            meta,
            origins: Origins::default(),
            strict: true,
        }
    }

    /// The files the values came from, named in errors about a key.
    pub(crate) fn with_origins(mut self, origins: Origins) -> Self {
        self.origins = origins;
        self
    }

    /// Whether [`get`](Self::get) refuses keys its type does not know
    /// (default: yes; settings `strict_config = false` turns it off).
    pub(crate) fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The run's identity.
    pub(crate) fn meta(&self) -> &RunMeta {
        &self.meta
    }

    /// Reads the value at a dotted `path` (`"forecast"`, `"forecast.model"`)
    /// into `T`; an empty path reads the whole context.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Forecast { season_length: usize }
    ///
    /// let ctx = gluers::testing::run_context("forecast:\n  season_length: 336\n")?;
    /// let cfg: Forecast = ctx.context().get("forecast")?;
    /// assert_eq!(cfg.season_length, 336);
    /// # Ok::<(), gluers::GluersError>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let value = self.lookup(path)?;
        let type_name = std::any::type_name::<T>();
        let join = |inner: &str| match (path, inner) {
            (p, "" | ".") => p.to_string(),
            ("", i) => i.to_string(),
            (p, i) => format!("{p}.{i}"),
        };
        let mut unknown = Vec::new();
        let mut note = |p: serde_ignored::Path| unknown.push(p.to_string());
        let ignored = serde_ignored::Deserializer::new(value.clone(), &mut note);
        let typed: T = serde_path_to_error::deserialize(ignored).map_err(|e| {
            let key = join(&e.path().to_string());
            GluersError::Config(format!(
                "{}context key '{key}': {} (read as {type_name}); fix the value there or in a patch",
                self.origin_prefix(&key),
                e.inner()
            ))
        })?;
        if let Some(first) = unknown.first() {
            let key = join(first);
            let message = format!(
                "{}context key '{key}' is not a field of {type_name}; fix its spelling, or set strict_config = false in the settings to ignore unknown keys",
                self.origin_prefix(&key)
            );
            if self.strict {
                return Err(GluersError::Config(message));
            }
            for key in &unknown {
                tracing::warn!("context key '{}' is not read by {type_name}", join(key));
            }
        }
        Ok(typed)
    }

    fn origin_prefix(&self, key: &str) -> String {
        self.origins
            .of(key)
            .map(|o| format!("{o}: "))
            .unwrap_or_default()
    }

    /// The raw value at a dotted `path`; an empty path is the whole context.
    pub(crate) fn lookup(&self, path: &str) -> Result<&Value> {
        let mut current = &self.values;
        if path.is_empty() {
            return Ok(current);
        }
        let mut walked = String::new();
        for part in path.split('.') {
            let Value::Mapping(mapping) = current else {
                return Err(GluersError::Config(format!(
                    "context key '{walked}' is not a mapping, so '{path}' does not exist"
                )));
            };
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(part);
            current = mapping.get(part).ok_or_else(|| {
                let known: Vec<&str> = mapping.keys().filter_map(Value::as_str).collect();
                GluersError::Config(format!(
                    "context has no key '{walked}' (keys there: {}); add it to a YAML file in the config folder",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            })?;
        }
        Ok(current)
    }

    /// The context as written to `context.yaml`: the values plus the protected key.
    pub(crate) fn to_yaml(&self) -> String {
        let mut full = match &self.values {
            Value::Mapping(m) => m.clone(),
            _ => Mapping::new(),
        };
        full.insert(
            Value::String(PROTECTED_KEY.to_string()),
            serde_norway::to_value(&self.meta).expect("run meta serialises"),
        );
        serde_norway::to_string(&full).expect("a YAML mapping serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(yaml: &str) -> Context {
        let meta = RunMeta {
            run_id: "r".into(),
            run_folder: "runs/r".into(),
            created_at: "t".into(),
        };
        Context::new(serde_norway::from_str(yaml).unwrap(), meta)
    }

    #[test]
    fn dotted_lookup_and_errors_name_the_key() {
        let c = ctx("a:\n  b:\n    c: 3\n");
        assert_eq!(c.get::<u32>("a.b.c").unwrap(), 3);
        let err = c.get::<u32>("a.x").unwrap_err().to_string();
        assert!(
            err.contains("'a.x'") && err.contains("keys there: b"),
            "{err}"
        );
        let err = c.get::<u32>("a.b.c.d").unwrap_err().to_string();
        assert!(err.contains("not a mapping"), "{err}");
        let err = c.get::<String>("a.b").unwrap_err().to_string();
        assert!(err.contains("'a.b'"), "{err}");
    }

    #[test]
    fn yaml_has_the_protected_key_last() {
        let c = ctx("z: 1\n");
        let y = c.to_yaml();
        assert!(y.starts_with("z: 1\ngluers:\n"), "{y}");
    }
}
