//! Unit tests of the scaffolding: file layout, names, refusals, wiring.
//! `tests/scaffold_e2e.rs` builds and runs what these lay out.

use std::path::{Path, PathBuf};

use super::*;

fn gluers_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
    assert_eq!(alias["alias"]["manage"].as_str(), Some("run --quiet --"));

    // The settings file is valid for `deny_unknown_fields` and states the defaults.
    let settings = Settings::load_with(&root, |_| None).unwrap();
    assert_eq!(
        Settings {
            source: None,
            ..settings
        },
        Settings {
            config_dir: root.join("configs"),
            storage_root: root.join("data"),
            ..Settings::default()
        }
    );

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
            matches!(err, ScaffoldError::InvalidName { .. }),
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

#[test]
fn start_module_adds_files_and_wires_main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let written = start_module(&root, "clean-up").unwrap();
    assert_eq!(
        written,
        [
            root.join("src/clean_up/mod.rs"),
            root.join("src/clean_up/tasks.rs"),
            root.join("configs/clean-up.yaml"),
            root.join("src/main.rs"),
        ]
    );
    let module = read(root.join("src/clean_up/mod.rs"));
    assert!(
        module.contains("Dag::new(\"clean-up\")") && module.contains(".task(tasks::Prepare)"),
        "{module}"
    );
    let tasks = read(root.join("src/clean_up/tasks.rs"));
    assert!(
        tasks.contains("\"clean_up_prepare\"") && tasks.contains("ctx.config(\"clean-up\")"),
        "{tasks}"
    );
    let config: serde_norway::Value =
        serde_norway::from_str(&read(root.join("configs/clean-up.yaml"))).unwrap();
    assert_eq!(config["clean-up"]["rows"].as_u64(), Some(3));

    let main = read(root.join("src/main.rs"));
    assert!(
        main.contains("mod sample;\nmod clean_up;\n// gluers:modules"),
        "{main}"
    );
    assert!(
        main.contains("        .dags(sample::dags())\n        .dags(clean_up::dags())\n        // gluers:dags"),
        "{main}"
    );

    start_module(&root, "weather").unwrap();
    let main = read(root.join("src/main.rs"));
    assert!(
        main.contains("mod clean_up;\nmod weather;\n// gluers:modules"),
        "{main}"
    );
    assert!(
        main.contains(".dags(clean_up::dags())\n        .dags(weather::dags())\n"),
        "{main}"
    );
}

#[cfg(unix)]
#[test]
fn start_module_keeps_the_mode_of_main() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let main = root.join("src/main.rs");
    fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
    start_module(&root, "weather").unwrap();
    assert_eq!(
        fs::metadata(&main).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn start_module_refuses_an_existing_module() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let main_before = read(root.join("src/main.rs"));

    let err = start_module(&root, "sample").unwrap_err();
    assert!(matches!(err, ScaffoldError::ModuleExists { .. }), "{err:?}");
    assert!(
        err.to_string().contains("module `sample` already exists"),
        "{err}"
    );

    fs::write(root.join("src/helpers.rs"), "").unwrap();
    let err = start_module(&root, "helpers").unwrap_err().to_string();
    assert!(err.contains("helpers.rs"), "{err}");

    fs::write(root.join("configs/weather.yaml"), "weather: {}\n").unwrap();
    let err = start_module(&root, "weather").unwrap_err().to_string();
    assert!(err.contains("weather.yaml"), "{err}");
    assert_eq!(read(root.join("configs/weather.yaml")), "weather: {}\n");

    let declared = main_before.replace("mod sample;", "mod sample;\nmod inline;");
    fs::write(root.join("src/main.rs"), &declared).unwrap();
    let err = start_module(&root, "inline").unwrap_err();
    assert!(
        matches!(err, ScaffoldError::ModuleDeclared { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("already declares `mod inline;`"),
        "{err}"
    );
    fs::write(root.join("src/main.rs"), &main_before).unwrap();

    assert!(!root.join("src/weather").exists() && !root.join("src/inline").exists());
    assert_eq!(read(root.join("src/main.rs")), main_before);
}

#[test]
fn start_module_refuses_a_main_without_markers_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let main_path = root.join("src/main.rs");
    let original = read(&main_path);
    let before = files(&root);

    let without_dags: String = original
        .lines()
        .filter(|l| !l.contains("gluers:dags"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&main_path, &without_dags).unwrap();
    let err = start_module(&root, "weather").unwrap_err();
    assert!(
        matches!(
            err,
            ScaffoldError::MissingMarker {
                marker: DAGS_MARKER,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("// gluers:dags") && message.contains("before `.main()`"),
        "{message}"
    );

    fs::write(
        &main_path,
        original.replace("// gluers:modules", "// modules"),
    )
    .unwrap();
    let message = start_module(&root, "weather").unwrap_err().to_string();
    assert!(
        message.contains("// gluers:modules") && message.contains("after the `mod` lines"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert_eq!(files(&root), before);
}

#[test]
fn start_module_refuses_bad_names_and_non_projects() {
    let tmp = tempfile::tempdir().unwrap();
    let err = start_module(tmp.path(), "weather").unwrap_err();
    assert!(
        matches!(
            err,
            ScaffoldError::NotAProject {
                missing: "Cargo.toml",
                ..
            }
        ),
        "{err:?}"
    );
    fs::write(tmp.path().join("Cargo.toml"), "").unwrap();
    let err = start_module(tmp.path(), "weather").unwrap_err().to_string();
    assert!(
        err.contains("has no src/main.rs") && err.contains("folder of the project's Cargo.toml"),
        "{err}"
    );

    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    for name in ["Weather", "self", "std", "a/b", "", "main.rs"] {
        let err = start_module(&root, name).unwrap_err();
        assert!(
            matches!(err, ScaffoldError::InvalidName { kind: "module", .. }),
            "{name}: {err:?}"
        );
    }
    // `main` passes the name check but src/main.rs is in the way.
    assert!(matches!(
        start_module(&root, "main"),
        Err(ScaffoldError::ModuleExists { .. })
    ));
}

#[test]
fn start_module_writes_the_config_to_the_configured_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    let settings = read(root.join("configs/settings.toml"))
        .replace("config_dir = \"configs\"", "config_dir = \"conf\"");
    fs::write(root.join("configs/settings.toml"), settings).unwrap();
    let written = start_module(&root, "weather").unwrap();
    assert!(
        written.contains(&root.join("conf/weather.yaml")),
        "{written:?}"
    );
}

#[test]
fn start_module_removes_what_it_created_when_a_step_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let root = new_project(&options(tmp.path(), "demo")).unwrap();
    // The config folder is a file: writing the module's config fails.
    fs::write(root.join("blocker"), "").unwrap();
    let settings = read(root.join("configs/settings.toml"))
        .replace("config_dir = \"configs\"", "config_dir = \"blocker\"");
    fs::write(root.join("configs/settings.toml"), settings).unwrap();
    let main_before = read(root.join("src/main.rs"));
    let before = files(&root);

    let err = start_module(&root, "weather").unwrap_err();
    assert!(matches!(err, ScaffoldError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("cannot create the folder"),
        "{err}"
    );
    assert_eq!(files(&root), before);
    assert!(!root.join("src/weather").exists());
    assert_eq!(read(root.join("src/main.rs")), main_before);
}
