//! What `experiment init` takes of the metric contract and the final test
//! from its command line: `--direction`, `--constraint` and `--metric`, and
//! which evaluation-only path each `--final-test` path stands in for.

use std::path::Path;

use gluers_formats::contract::{Constraint, Direction};

use crate::error::{ExperimentError, Result};
use crate::state::{FinalData, MetricDoc};

/// What init reads of its command line before anything changes, besides
/// the project: the frozen paths, the metric contract and the final test.
#[derive(Debug)]
pub(crate) struct Extras {
    /// `--freeze` entries.
    pub freeze: Vec<crate::state::FrozenEntry>,
    /// `--direction` and `--constraint`.
    pub contract: ContractFlags,
    /// `--final-test` paths (storage-relative) and their `=REPLACED` part.
    pub final_args: Vec<(String, Option<String>)>,
}

/// `--direction` and `--constraint`, parsed before anything changes.
#[derive(Debug, Default)]
pub(crate) struct ContractFlags {
    directions: Vec<(String, Direction)>,
    constraints: Vec<(String, Constraint)>,
}

impl ContractFlags {
    /// Parses `NAME=lower|higher|target:X` and `NAME=eq:X|ge:X|le:X`.
    pub fn parse(directions: &[String], constraints: &[String]) -> Result<Self> {
        let split = |flag: &str, arg: &str| -> Result<(String, String)> {
            match arg.split_once('=') {
                Some((name, spec)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_string(), spec.to_string()))
                }
                _ => Err(ExperimentError::Usage(format!(
                    "--{flag} {arg}: expected NAME=SPEC, e.g. --direction forecast_mape=lower or --constraint row_count_match=eq:1.0"
                ))),
            }
        };
        let mut out = Self::default();
        for arg in directions {
            let (name, spec) = split("direction", arg)?;
            let d = Direction::parse(&spec)
                .map_err(|e| ExperimentError::Usage(format!("--direction {arg}: {e}")))?;
            out.directions.push((name, d));
        }
        for arg in constraints {
            let (name, spec) = split("constraint", arg)?;
            let c = Constraint::parse(&spec)
                .map_err(|e| ExperimentError::Usage(format!("--constraint {arg}: {e}")))?;
            out.constraints.push((name, c));
        }
        Ok(out)
    }

    /// Applies the flags to the project's metric docs: a direction replaces
    /// the declared one, a constraint adds to the declared ones, and a
    /// metric the project does not document is declared by the flag.
    pub fn apply(&self, docs: &mut Vec<MetricDoc>) {
        let mut entry = |name: &str| -> usize {
            match docs.iter().position(|d| d.name == name) {
                Some(i) => i,
                None => {
                    docs.push(MetricDoc {
                        name: name.to_string(),
                        doc: String::new(),
                        direction: None,
                        constraints: Vec::new(),
                    });
                    docs.len() - 1
                }
            }
        };
        let mut changes: Vec<(usize, Option<Direction>, Option<Constraint>)> = Vec::new();
        for (name, d) in &self.directions {
            changes.push((entry(name), Some(*d), None));
        }
        for (name, c) in &self.constraints {
            changes.push((entry(name), None, Some(*c)));
        }
        for (i, d, c) in changes {
            if let Some(d) = d {
                docs[i].direction = Some(d);
            }
            if let Some(c) = c {
                if !docs[i].constraints.contains(&c) {
                    docs[i].constraints.push(c);
                }
            }
        }
    }
}

/// Pairs each final-test path with the evaluation-only path it replaces
/// when `finish` evaluates: the one named after `=` (`PATH=REPLACED`), else
/// the evaluation-only path with the same file name, else the only one.
/// `finals` are storage-relative, `explicit` the `=REPLACED` parts.
pub(crate) fn pair_final(
    finals: &[(String, Option<String>)],
    eval_data: &[String],
) -> Result<Vec<FinalData>> {
    let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let mut out: Vec<FinalData> = Vec::new();
    for (path, explicit) in finals {
        let overlaps = |a: &str, b: &str| {
            a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
        };
        if let Some(e) = eval_data.iter().find(|e| overlaps(path, e)) {
            return Err(ExperimentError::Usage(format!(
                "final test data `{path}` overlaps the evaluation-only data `{e}` the loop scores; keep the final test's answers in a folder of their own (e.g. final/)"
            )));
        }
        let replaces = match explicit {
            Some(r) if eval_data.contains(r) => r.clone(),
            Some(r) => {
                return Err(ExperimentError::Usage(format!(
                    "--final-test {path}={r}: `{r}` is not evaluation-only data of this experiment ({}); name one of them",
                    list(eval_data)
                )))
            }
            None => {
                let same: Vec<&String> =
                    eval_data.iter().filter(|e| name(e) == name(path)).collect();
                match (same.as_slice(), eval_data) {
                    ([one], _) => (*one).clone(),
                    ([], [only]) => only.clone(),
                    _ => {
                        return Err(ExperimentError::Usage(format!(
                            "final test data `{path}`: no single evaluation-only path ({}) for it to stand in for; name it with --final-test {path}=REPLACED",
                            list(eval_data)
                        )))
                    }
                }
            }
        };
        if !out.iter().any(|f| f.path == *path) {
            out.push(FinalData {
                path: path.clone(),
                replaces,
            });
        }
    }
    Ok(out)
}

fn list(paths: &[String]) -> String {
    if paths.is_empty() {
        "there is none: declare the holdout with --holdout PATH or Dag::eval_data".into()
    } else {
        paths.join(", ")
    }
}

/// Splits a `--final-test` argument into its path and the `=REPLACED`
/// part, if any.
pub(crate) fn split_final_arg(arg: &str) -> (&Path, Option<&str>) {
    match arg.split_once('=') {
        Some((p, r)) => (Path::new(p), Some(r)),
        None => (Path::new(arg), None),
    }
}

/// Snapshots the final test's data into `sealed-final/` and records its
/// hashes (checked by `finish` before it evaluates).
pub(crate) fn seal_final(
    paths: &crate::state::StatePaths,
    storage_root: &Path,
    finals: &[FinalData],
) -> Result<()> {
    let rels: Vec<String> = finals.iter().map(|f| f.path.clone()).collect();
    crate::sealed::snapshot_into(&paths.sealed_final(), storage_root, &rels)?;
    crate::sealed::FinalManifest::record(paths)?.save(&paths.final_manifest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_paths_stand_in_for_the_holdout_with_their_file_name() {
        let eval = ["holdout/actuals.csv".to_string(), "labels.csv".to_string()];
        let got = pair_final(&[("final/actuals.csv".into(), None)], &eval).unwrap();
        assert_eq!(got[0].replaces, "holdout/actuals.csv");
        let got = pair_final(
            &[("final/other.csv".into(), Some("labels.csv".into()))],
            &eval,
        )
        .unwrap();
        assert_eq!(got[0].replaces, "labels.csv");
        let err = pair_final(&[("final/other.csv".into(), None)], &eval).unwrap_err();
        assert!(err
            .to_string()
            .contains("--final-test final/other.csv=REPLACED"));
        let only = ["holdout".to_string()];
        assert_eq!(
            pair_final(&[("final".into(), None)], &only).unwrap()[0].replaces,
            "holdout"
        );
        assert!(pair_final(&[("holdout/x".into(), None)], &only).is_err());
        assert!(pair_final(&[("final/a.csv".into(), None)], &[]).is_err());
    }

    #[test]
    fn flags_parse_and_apply() {
        let flags = ContractFlags::parse(
            &["mape=lower".into(), "bias=target:0.0".into()],
            &["rows=eq:1.0".into()],
        )
        .unwrap();
        let mut docs = vec![MetricDoc {
            name: "mape".into(),
            doc: "Higher is better.".into(),
            direction: None,
            constraints: Vec::new(),
        }];
        flags.apply(&mut docs);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].direction, Some(Direction::Lower));
        assert_eq!(docs[1].direction, Some(Direction::Target(0.0)));
        assert_eq!(docs[2].constraints, [Constraint::eq(1.0)]);
        for bad in [
            ContractFlags::parse(&["mape".into()], &[]),
            ContractFlags::parse(&["mape=up".into()], &[]),
            ContractFlags::parse(&[], &["rows=gt:1".into()]),
        ] {
            let e = bad.unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(!e.to_string().contains('\n'));
        }
    }
}
