//! Where each context value came from (a config file, a patch, a retried
//! run's `context.yaml`), so that an error about a key names the file to fix.

use std::collections::BTreeMap;

use serde_norway::{Mapping, Value};

/// The origin of each leaf of the context, by dotted key path.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    leaves: BTreeMap<String, String>,
}

impl Origins {
    /// Records that every leaf of `mapping` (merged into the context) comes
    /// from `origin`; what it replaced below those keys is forgotten.
    pub fn record(&mut self, mapping: &Mapping, origin: &str) {
        let mut leaves = Vec::new();
        leaf_paths(mapping, "", &mut leaves);
        for leaf in leaves {
            let below = format!("{leaf}.");
            let stale: Vec<String> = self
                .leaves
                .range(below.clone()..)
                .take_while(|(k, _)| k.starts_with(&below))
                .map(|(k, _)| k.clone())
                .collect();
            for key in stale {
                self.leaves.remove(&key);
            }
            self.leaves.insert(leaf, origin.to_string());
        }
    }

    /// The file that set `path`: the path itself, the nearest key above it
    /// that was set whole, or a file that set a key below it.
    pub fn of(&self, path: &str) -> Option<&str> {
        let mut current = path;
        loop {
            if let Some(origin) = self.leaves.get(current) {
                return Some(origin);
            }
            match current.rsplit_once('.') {
                Some((parent, _)) => current = parent,
                None => break,
            }
        }
        let below = format!("{path}.");
        self.leaves
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .map(|(_, v)| v.as_str())
            .last()
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

fn leaf_paths(mapping: &Mapping, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in mapping {
        let path = if prefix.is_empty() {
            key_text(key)
        } else {
            format!("{prefix}.{}", key_text(key))
        };
        match value {
            Value::Mapping(m) if !m.is_empty() => leaf_paths(m, &path, out),
            _ => out.push(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_file_to_set_a_key_is_its_origin() {
        let mut o = Origins::default();
        o.record(
            &serde_norway::from_str("a: {x: 1, y: {z: 2}}\nb: 3\n").unwrap(),
            "configs/a.yaml",
        );
        o.record(
            &serde_norway::from_str("a: {x: 5}\n").unwrap(),
            "patch.yaml",
        );
        assert_eq!(o.of("a.x"), Some("patch.yaml"));
        assert_eq!(o.of("a.y.z"), Some("configs/a.yaml"));
        assert_eq!(o.of("a.y.z.deeper"), Some("configs/a.yaml"));
        assert_eq!(o.of("b"), Some("configs/a.yaml"));
        assert!(o.of("a").is_some());
        assert_eq!(o.of("nope"), None);
        o.record(&serde_norway::from_str("a: {y: 1}\n").unwrap(), "p2.yaml");
        assert_eq!(o.of("a.y.z"), Some("p2.yaml"));
    }
}
