//! The answers committed to git by mistake: the engine's export of each
//! candidate commit then holds them too, beside the code the candidate's
//! work tasks run from. They must stay out of reach there as well.
//!
//! Defence: every jail's readable folders are listed around the sealed
//! paths as the export holds them (`Launcher::hidden`, trust property 4).
//! Fails if the export's copy is readable (the task then forges
//! `mae=0.0`).

mod common;

use common::{attack_results, py_str, task_code, Fixture, ATTEMPT_PY};

#[test]
fn tracked_answers_in_the_export_are_out_of_reach() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.git(&["add", "--force", "proj/data/truth.json"]);
    fx.git(&["commit", "--quiet", "-m", "answers committed by mistake"]);
    fx.init();
    // The work tasks run in the export of the candidate's project folder.
    let export_copy = fx.exp_dir().join("export/proj/data/truth.json");
    assert!(
        export_copy.is_file(),
        "{} is not there to attack",
        export_copy.display()
    );
    fx.set_tasks(
        3.0,
        &task_code(&format!(
            r#"{ATTEMPT_PY}
for name, path in [("read the export's copy", {}), ("read it from the working folder", os.path.join(os.getcwd(), "data", "truth.json"))]:
    truth = attempt(name, lambda path=path: json.load(open(path)))
    if truth is not None:
        preds = truth
save_results()"#,
            py_str(export_copy.to_string_lossy())
        )),
    );
    fx.engine(&["run", "-m", "read the committed answers"])
        .expect(0);
    let results = attack_results(&fx);
    assert_eq!(
        fx.pending_metrics(),
        "mae=3.0;n=3",
        "the work task read the answers: {results:#?}"
    );
    for (name, got) in &results {
        assert!(got.starts_with("denied"), "`{name}` worked: {results:#?}");
    }
    assert_eq!(results.len(), 2, "{results:#?}");
}
