//! The project's registry of DAGs and tasks, checked once at start-up.

use std::collections::HashMap;

use crate::dag::{Dag, BOOTSTRAP_LABEL};
use crate::error::{GluersError, Result};
use crate::run_folder::RUNS_DIR;
use crate::storage::normalize_key;

/// The DAGs of a project, with labels checked for uniqueness.
pub struct Registry {
    dags: Vec<Dag>,
}

impl Registry {
    /// Checks `dags` and builds the registry.
    ///
    /// Fails when two DAGs share a label, when two different task types share
    /// a label, when a DAG lists the same task twice, or when a task uses the
    /// reserved label `bootstrap`. The message names both sides.
    pub fn new(dags: Vec<Dag>) -> Result<Self> {
        let mut dag_labels: HashMap<&str, usize> = HashMap::new();
        let mut task_types: HashMap<&str, (&'static str, &str)> = HashMap::new();
        for (index, dag) in dags.iter().enumerate() {
            if dag.label().is_empty() {
                return Err(GluersError::Registry(format!(
                    "a DAG has an empty label (DAG number {}): give it a name in Dag::new",
                    index + 1
                )));
            }
            if let Some(first) = dag_labels.insert(dag.label(), index) {
                return Err(GluersError::Registry(format!(
                    "two DAGs are labelled '{}' (registered as DAG number {} and {}): DAG labels must be unique",
                    dag.label(),
                    first + 1,
                    index + 1
                )));
            }
            for declared in dag.declared_eval_data() {
                check_eval_data(dag.label(), "eval_data", declared)?;
            }
            for declared in dag.declared_final_test_data() {
                check_eval_data(dag.label(), "final_test_data", declared)?;
            }
            let mut in_this_dag: HashMap<&str, &'static str> = HashMap::new();
            for (label, type_name) in dag.labelled_types() {
                if label == BOOTSTRAP_LABEL {
                    return Err(GluersError::Registry(format!(
                        "task {type_name} in DAG '{}' uses the reserved label '{BOOTSTRAP_LABEL}': rename it",
                        dag.label()
                    )));
                }
                if label.is_empty() {
                    return Err(GluersError::Registry(format!(
                        "task {type_name} in DAG '{}' has an empty label: return a name from label()",
                        dag.label()
                    )));
                }
                if let Some(other) = in_this_dag.insert(label, type_name) {
                    return Err(GluersError::Registry(format!(
                        "DAG '{}' lists the label '{label}' twice ({other} and {type_name}): each task may appear once",
                        dag.label()
                    )));
                }
                match task_types.get(label) {
                    Some((other_type, other_dag)) if *other_type != type_name => {
                        return Err(GluersError::Registry(format!(
                            "two task types are labelled '{label}': {other_type} (DAG '{other_dag}') and {type_name} (DAG '{}'): task labels must be unique",
                            dag.label()
                        )));
                    }
                    Some(_) => {}
                    None => {
                        task_types.insert(label, (type_name, dag.label()));
                    }
                }
            }
        }
        Ok(Registry { dags })
    }

    /// The DAGs, in registration order.
    pub fn dags(&self) -> &[Dag] {
        &self.dags
    }

    /// The DAG labelled `label`, or a usage error listing the known ones.
    pub fn dag(&self, label: &str) -> Result<&Dag> {
        self.dags
            .iter()
            .find(|d| d.label() == label)
            .ok_or_else(|| {
                let known: Vec<&str> = self.dags.iter().map(|d| d.label()).collect();
                GluersError::Usage(format!(
                    "no DAG is labelled '{label}'; known DAGs: {} (see `list`)",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }
}

/// Refuses an evaluation-data path that is not a storage path below the
/// root and outside the run folders.
fn check_eval_data(dag: &str, what: &str, declared: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(GluersError::Registry(format!(
            "DAG '{dag}' declares {what} {declared:?}, which {why}: give a file or folder relative to the storage root, such as \"holdout/actuals.csv\""
        )))
    };
    match normalize_key(declared) {
        Err(_) => refuse("leaves the storage root or is absolute"),
        Ok(key) if key.is_empty() => refuse("is the whole storage root"),
        Ok(key) if key == RUNS_DIR || key.starts_with(&format!("{RUNS_DIR}/")) => {
            refuse("is inside the run folders")
        }
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvaluationTask, RunContext, Task, TaskResult};

    struct A;
    impl Task for A {
        fn label(&self) -> &str {
            "a"
        }
        fn run(&self, _: &mut RunContext) -> TaskResult {
            Ok(())
        }
    }

    struct AlsoA;
    impl Task for AlsoA {
        fn label(&self) -> &str {
            "a"
        }
        fn run(&self, _: &mut RunContext) -> TaskResult {
            Ok(())
        }
    }

    struct Boot;
    impl EvaluationTask for Boot {
        fn label(&self) -> &str {
            "bootstrap"
        }
        fn run(&self, _: &mut RunContext) -> TaskResult {
            Ok(())
        }
    }

    fn error(dags: Vec<Dag>) -> String {
        match Registry::new(dags) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn duplicate_dag_labels_name_both() {
        let err = error(vec![Dag::new("x").task(A), Dag::new("x")]);
        assert!(
            err.contains("two DAGs are labelled 'x'") && err.contains("1 and 2"),
            "{err}"
        );
    }

    #[test]
    fn two_task_types_with_one_label_name_both() {
        let err = error(vec![Dag::new("x").task(A), Dag::new("y").task(AlsoA)]);
        assert!(
            err.contains("registry::tests::A") && err.contains("registry::tests::AlsoA"),
            "{err}"
        );
    }

    #[test]
    fn a_task_type_may_serve_several_dags_but_not_twice_in_one() {
        assert!(Registry::new(vec![Dag::new("x").task(A), Dag::new("y").task(A)]).is_ok());
        let err = error(vec![Dag::new("x").task(A).task(A)]);
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn bootstrap_is_reserved_and_unknown_dags_list_the_known() {
        let err = error(vec![Dag::new("x").eval_task(Boot)]);
        assert!(err.contains("reserved"), "{err}");
        let registry = Registry::new(vec![Dag::new("x"), Dag::new("y")]).unwrap();
        let err = registry.dag("z").err().unwrap().to_string();
        assert!(err.contains("known DAGs: x, y"), "{err}");
    }

    #[test]
    fn eval_data_must_be_a_storage_path_outside_the_run_folders() {
        let dag = Dag::new("x")
            .eval_data("./holdout//actuals.csv")
            .eval_data("holdout/actuals.csv")
            .eval_data("labels/");
        assert_eq!(dag.eval_data_paths(), ["holdout/actuals.csv", "labels"]);
        assert!(Registry::new(vec![dag]).is_ok());
        for bad in [
            "../answers.csv",
            "/etc/passwd",
            "",
            ".",
            "runs",
            "runs/2026/x",
        ] {
            let err = error(vec![Dag::new("x").eval_data(bad)]);
            assert!(
                err.starts_with("DAG 'x' declares eval_data") && !err.contains('\n'),
                "{bad}: {err}"
            );
        }
    }
}
