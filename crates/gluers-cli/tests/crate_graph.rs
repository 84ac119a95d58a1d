//! Trust property 1 at the level of the build: the runtime library every
//! project links never depends on the experiment engine (nor its chart,
//! fonts or templates), so no project builds, runs or can modify the code
//! that judges it. `cargo metadata` of this workspace is the evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Every package reachable from `root` through normal dependencies.
fn closure(root: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeMap<&str, &str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes = v["resolve"]["nodes"].as_array().unwrap();
    let deps: BTreeMap<&str, Vec<&str>> = nodes
        .iter()
        .map(|n| {
            let normal = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), normal)
        })
        .collect();
    let start = names
        .iter()
        .find(|(_, n)| **n == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {root}"));
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        if seen.insert(id) {
            todo.extend(deps.get(id).into_iter().flatten().copied());
        }
    }
    seen.iter().map(|id| names[id].to_string()).collect()
}

#[test]
fn the_runtime_library_does_not_link_the_engine() {
    let runtime = closure("gluers");
    for forbidden in [
        "gluers-experiment",
        "gluers-cli",
        "plotters",
        "ab_glyph",
        "minijinja",
        "landlock",
    ] {
        assert!(
            !runtime.contains(forbidden),
            "the runtime library `gluers` depends on `{forbidden}`"
        );
    }
    // The installed binary links the engine (a control: the closure sees
    // dependencies) and not the runtime.
    let cli = closure("gluers-cli");
    assert!(cli.contains("gluers-experiment") && cli.contains("landlock"));
    assert!(!cli.contains("gluers"));
}
