//! Unit tests of `gluers new`: file layout, names, refusals.
//! `tests/scaffold_e2e.rs` builds and runs what these lay out.

use std::path::{Path, PathBuf};

use super::*;

/// The runtime crate of this checkout.
fn gluers_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gluers")
}

fn options(dir: &Path, name: &str) -> NewProjectOptions {
    NewProjectOptions {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        gluers_path: None,
    }
}

/// Every file under `dir`, relative and `/`-separated, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn toml_at(path: impl AsRef<Path>) -> toml::Table {
    toml::from_str(&read(path)).unwrap()
}

#[test]
fn new_project_lays_out_a_complete_project() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = NewProjectOptions {
        gluers_path: Some(gluers_crate()),
        ..options(&tmp.path().join("nested/parent"), "energy-forecast")
    };
    let root = new_project(&opts).unwrap();
    assert_eq!(root, tmp.path().join("nested/parent/energy-forecast"));
    assert_eq!(
        files(&root),
        [
            ".cargo/config.toml",
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "configs/context.yaml",
            "configs/settings.toml",
            "src/main.rs",
            "src/sample/evaluation.rs",
            "src/sample/mod.rs",
            "src/sample/tasks.rs",
        ]
    );

    let manifest = toml_at(root.join("Cargo.toml"));
    assert_eq!(
        manifest["package"]["name"].as_str(),
        Some("energy-forecast")
    );
    let gluers = &manifest["dependencies"]["gluers"]["path"];
    assert_eq!(
        gluers.as_str(),
        Some(fs::canonicalize(gluers_crate()).unwrap().to_str().unwrap())
    );
    assert!(manifest["dependencies"]["serde"]["features"]
        .as_array()
        .unwrap()
        .contains(&"derive".into()));
    assert!(manifest["dependencies"].get("anyhow").is_some());
    assert!(manifest["workspace"].as_table().unwrap().is_empty());
    assert_eq!(
        manifest["profile"]["dev"]["debug"].as_str(),
        Some("line-tables-only")
    );
    assert_eq!(
        manifest["profile"]["dev"]["package"]["*"]["opt-level"].as_integer(),
        Some(2)
    );

    let alias = toml_at(root.join(".cargo/config.toml"));
    assert_eq!(alias["alias"]["manage"].as_str(), Some("run --"));

    // The settings file states the defaults (tests/scaffold_e2e.rs checks
    // that the runtime, which refuses unknown keys, reads it).
    let settings = toml_at(root.join("configs/settings.toml"));
    assert_eq!(settings["config_dir"].as_str(), Some("configs"));
    assert_eq!(settings["storage_root"].as_str(), Some("data"));
    assert_eq!(settings["log_level"].as_str(), Some("info"));
    assert_eq!(settings["storage"]["backend"].as_str(), Some("local"));
    assert_eq!(settings["ops"]["backend"].as_str(), Some("log"));
    assert_eq!(settings["strict_config"].as_bool(), Some(true));
    assert_eq!(settings.len(), 6, "{settings:?}");

    let context: serde_norway::Value =
        serde_norway::from_str(&read(root.join("configs/context.yaml"))).unwrap();
    assert_eq!(context["sample"]["points"].as_u64(), Some(120));
    assert_eq!(context["sample"]["holdout"].as_u64(), Some(24));

    let main = read(root.join("src/main.rs"));
    assert!(main.contains("mod sample;\n// gluers:modules"), "{main}");
    assert!(
        main.contains(".dags(sample::dags())\n        // gluers:dags"),
        "{main}"
    );
    assert!(main.contains("gluers::Project::new(env!(\"CARGO_PKG_NAME\"))"));
    assert!(read(root.join("README.md")).starts_with("# energy-forecast\n"));
    let evaluation = read(root.join("src/sample/evaluation.rs"));
    assert!(evaluation.contains("fn metrics(&self) -> Vec<MetricDoc>"));
    assert!(
        !evaluation.contains("tasks::"),
        "evaluation must not import work code"
    );
    for ignored in [
        "/target/",
        "/data/runs/",
        "experiment_log.tsv",
        "experiment_run.log",
    ] {
        assert!(
            read(root.join(".gitignore")).lines().any(|l| l == ignored),
            "{ignored}"
        );
    }
}

#[test]
fn without_a_checkout_the_project_depends_on_this_version() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let manifest = toml_at(root.join("Cargo.toml"));
    assert_eq!(
        manifest["dependencies"]["gluers"].as_str(),
        Some(GLUERS_VERSION)
    );
}

#[test]
fn new_project_refuses_an_existing_folder_or_file_and_leaves_it_alone() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("taken")).unwrap();
    fs::write(tmp.path().join("taken/keep.txt"), "mine").unwrap();
    let err = new_project(&options(tmp.path(), "taken")).unwrap_err();
    assert!(
        matches!(err, ScaffoldError::ProjectExists { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("taken") && message.contains("already exists") && !message.contains('\n')
    );
    assert_eq!(files(&tmp.path().join("taken")), ["keep.txt"]);

    fs::write(tmp.path().join("afile"), "x").unwrap();
    let err = new_project(&options(tmp.path(), "afile")).unwrap_err();
    assert!(
        matches!(err, ScaffoldError::ProjectExists { .. }),
        "{err:?}"
    );
    assert_eq!(read(tmp.path().join("afile")), "x");
}

#[test]
fn new_project_refuses_bad_names_and_bad_checkouts_without_creating_anything() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "Bad",
        "fn",
        "gluers",
        "test",
        "my app",
        "",
        "9lives",
        "../escape",
    ] {
        let err = new_project(&options(tmp.path(), name)).unwrap_err();
        assert!(
            matches!(err, ScaffoldError::InvalidName(_)),
            "{name}: {err:?}"
        );
        assert!(!err.to_string().contains('\n'));
    }

    let not_gluers = tmp.path().join("other");
    fs::create_dir(&not_gluers).unwrap();
    let with = |path: PathBuf| NewProjectOptions {
        gluers_path: Some(path),
        ..options(tmp.path(), "demo")
    };
    let err = new_project(&with(not_gluers.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no Cargo.toml") && err.contains("crates/gluers"),
        "{err}"
    );
    fs::write(
        not_gluers.join("Cargo.toml"),
        "[package]\nname = \"other\"\n",
    )
    .unwrap();
    let err = new_project(&with(not_gluers)).unwrap_err().to_string();
    assert!(err.contains("package `other`, not `gluers`"), "{err}");
    let err = new_project(&with(tmp.path().join("missing")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing") && err.contains("cannot resolve"),
        "{err}"
    );
    assert_eq!(files(tmp.path()), ["other/Cargo.toml"]);
}
