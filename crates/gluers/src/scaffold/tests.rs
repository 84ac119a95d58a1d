//! Unit tests of `start_module`: file layout, names, refusals, wiring. The
//! gluers-cli crate's `tests/scaffold_e2e.rs` builds and runs a project made
//! by `gluers new`, grown by the project binary's `startmodule`.

use std::path::{Path, PathBuf};

use super::wire::DAGS_MARKER;
use super::*;

/// A project as `gluers new` lays it out, reduced to what `start_module`
/// reads: `Cargo.toml`, the settings, `src/main.rs` with its markers, and
/// the `sample` module.
fn demo_project(dir: &Path) -> PathBuf {
    let root = dir.join("demo");
    let files = [
        ("Cargo.toml", "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n"),
        ("configs/settings.toml", "config_dir = \"configs\"\nstorage_root = \"data\"\n"),
        ("configs/context.yaml", "sample:\n  points: 120\n"),
        ("src/sample/mod.rs", "pub fn dags() -> Vec<gluers::Dag> {\n    vec![]\n}\n"),
        (
            "src/main.rs",
            "//! demo: a gluers project.\n\nmod sample;\n// gluers:modules (`startmodule` adds `mod NAME;` above this line)\n\nfn main() -> std::process::ExitCode {\n    gluers::Project::new(env!(\"CARGO_PKG_NAME\"))\n        .dags(sample::dags())\n        // gluers:dags (`startmodule` adds `.dags(NAME::dags())` above this line)\n        .main()\n}\n",
        ),
    ];
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    root
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

#[test]
fn start_module_adds_files_and_wires_main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_project(tmp.path());
    let written = start_module(&root, "clean-up").unwrap();
    assert_eq!(
        written,
        [
            root.join("src/clean_up/mod.rs"),
            root.join("src/clean_up/tasks.rs"),
            root.join("src/clean_up/evaluation.rs"),
            root.join("configs/clean-up.yaml"),
            root.join("src/main.rs"),
        ]
    );
    let module = read(root.join("src/clean_up/mod.rs"));
    assert!(
        module.contains("Dag::new(\"clean-up\")")
            && module.contains(".task(tasks::Prepare)")
            && module.contains(".eval_task(evaluation::Score)"),
        "{module}"
    );
    let evaluation = read(root.join("src/clean_up/evaluation.rs"));
    assert!(
        evaluation.contains("impl EvaluationTask for Score")
            && evaluation.contains("\"clean_up_mean_value\""),
        "{evaluation}"
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
    let root = demo_project(tmp.path());
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
    let root = demo_project(tmp.path());
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
    let root = demo_project(tmp.path());
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

    let root = demo_project(tmp.path());
    for name in ["Weather", "self", "std", "a/b", "", "main.rs"] {
        let err = start_module(&root, name).unwrap_err();
        assert!(
            matches!(&err, ScaffoldError::InvalidName(e) if e.kind == "module"),
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
    let root = demo_project(tmp.path());
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
    let root = demo_project(tmp.path());
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
