//! Trust property 1 at the level of the build: the runtime library every
//! project links never depends on the experiment engine (nor its chart,
//! fonts or templates), so no project builds, runs or can modify the code
//! that judges it. `cargo tree` of this workspace is the evidence.

use std::collections::BTreeSet;
use std::process::Command;

/// The names of every package `package` links (normal dependencies), with
/// `features` (cargo tree's flags) and nothing the rest of the workspace
/// turns on.
fn closure(package: &str, features: &[&str]) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "-p", package])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

const ENGINE: &[&str] = &[
    "gluers-experiment",
    "gluers-cli",
    "plotters",
    "ab_glyph",
    "landlock",
];

#[test]
fn the_runtime_library_does_not_link_the_engine() {
    // A project with default features links no template engine either.
    let runtime = closure("gluers", &[]);
    assert!(runtime.contains("gluers-formats"), "{runtime:?}");
    for forbidden in ENGINE.iter().chain(&["minijinja"]) {
        assert!(
            !runtime.contains(*forbidden),
            "the runtime library `gluers` depends on `{forbidden}`"
        );
    }
    // Every optional backend and command (object storage, MLflow, the
    // Celery worker, Airflow's templates) still leaves the engine out.
    let everything = closure("gluers", &["--all-features"]);
    assert!(everything.contains("minijinja") && everything.contains("object_store"));
    for forbidden in ENGINE {
        assert!(
            !everything.contains(*forbidden),
            "the runtime library `gluers` with all features depends on `{forbidden}`"
        );
    }
    // The installed binary links the engine (a control: the closure sees
    // dependencies) and not the runtime.
    let cli = closure("gluers-cli", &[]);
    assert!(cli.contains("gluers-experiment") && cli.contains("landlock"));
    assert!(!cli.contains("gluers"));
}
