//! The forecast example end to end on the real data: the baseline's metrics
//! are known independently (see data/README.md), and recomputed here from
//! the CSV files.

use std::path::Path;

use assert_cmd::Command;

/// A temporary copy of the example project (configs, patches, input data,
/// evaluation data).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in [
        "configs",
        "patches",
        "data/input",
        "data/holdout",
        "data/final",
    ] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::cargo_bin("forecast")
        .unwrap()
        .current_dir(dir)
        .env_remove("GLUERS_STORAGE_ROOT")
        .env_remove("GLUERS_SETTINGS")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn metric(stdout: &str, key: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("metric:{key}=")))
        .unwrap_or_else(|| panic!("no metric {key} in {stdout}"))
        .parse()
        .unwrap()
}

/// MAPE (percent) and bias (GW) of a seasonal naive forecast repeating the
/// last `season` half hours of the training table, scored on the answers
/// in `actuals` (a file under `data/`): computed from the CSV files alone,
/// with none of the example's code.
fn seasonal_naive(season: usize, actuals: &str) -> (f64, f64) {
    let col = |row: &str, i: usize| row.split(',').nth(i).unwrap().to_string();
    let train = rows("input/vic_elec_2014_train.csv");
    let last: Vec<f64> = train[train.len() - season..]
        .iter()
        .map(|r| col(r, 1).parse().unwrap())
        .collect();
    let to_forecast = rows("input/vic_elec_2014_to_forecast.csv");
    let predicted: std::collections::HashMap<String, f64> = to_forecast[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| (col(r, 0), last[i % season]))
        .collect();
    let answers = rows(actuals);
    let (mut ape, mut diff) = (0.0, 0.0);
    for r in &answers[1..] {
        let actual: f64 = col(r, 1).parse().unwrap();
        let p = predicted[&col(r, 0)];
        ape += ((p - actual) / actual).abs();
        diff += p - actual;
    }
    let n = (answers.len() - 1) as f64;
    (ape / n * 100.0, diff / n)
}

#[test]
fn baseline_is_the_weekly_seasonal_naive_forecast() {
    let dir = project();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--retry", "runs/base", "-q"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "5.55");
    assert_eq!(format!("{:.3}", metric(&out, "forecast_bias")), "-0.101");
    // The exact values of an independent computation from the CSV files.
    let (mape, bias) = seasonal_naive(336, "holdout/actuals.csv");
    assert_eq!(metric(&out, "forecast_mape"), mape);
    assert_eq!(metric(&out, "forecast_bias"), bias);
    assert!(
        out.contains(
            "metric:forecast_mape=5.553211041109122\nmetric:forecast_bias=-0.10079448065476197\n"
        ),
        "{out}"
    );
    let predictions =
        std::fs::read_to_string(dir.path().join("data/runs/base/predictions.csv")).unwrap();
    assert_eq!(
        predictions.lines().count(),
        1 + 2016,
        "holdout and final test"
    );
    assert!(predictions
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("2014-11-20T00:00,"));
}

#[test]
fn the_same_evaluation_scores_the_final_test_in_place_of_the_holdout() {
    let dir = project();
    // What `gluers experiment finish` does in its sealed evaluator's folder.
    std::fs::copy(
        dir.path().join("data/final/actuals.csv"),
        dir.path().join("data/holdout/actuals.csv"),
    )
    .unwrap();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--retry", "runs/final", "-q"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "13.55");
    assert_eq!(format!("{:.3}", metric(&out, "forecast_bias")), "0.338");
    let (mape, bias) = seasonal_naive(336, "final/actuals.csv");
    assert_eq!(metric(&out, "forecast_mape"), mape);
    assert_eq!(metric(&out, "forecast_bias"), bias);
}

#[test]
fn daily_patch_repeats_the_last_day() {
    let dir = project();
    let (out, err, code) = run(
        dir.path(),
        &[
            "dag",
            "forecast",
            "--local-patch",
            "patches/daily.yaml",
            "-q",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "6.66");
    assert_eq!(
        metric(&out, "forecast_mape"),
        seasonal_naive(48, "holdout/actuals.csv").0
    );
}

#[test]
fn retry_from_task_and_compare_walkthrough() {
    let dir = project();
    assert_eq!(
        run(dir.path(), &["dag", "forecast", "--retry", "runs/a", "-q"]).2,
        0
    );
    // Re-run from training with a daily season, reusing prepare_data's output.
    let (out, _, code) = run(
        dir.path(),
        &[
            "dag",
            "forecast",
            "--retry",
            "runs/b",
            "--task",
            "prepare_data",
            "-q",
        ],
    );
    assert_eq!((out.as_str(), code), ("", 0));
    let (out, err, code) = run(
        dir.path(),
        &[
            "dag",
            "forecast",
            "--retry",
            "runs/b",
            "--from-task",
            "train_model",
            "--local-patch",
            "patches/daily.yaml",
            "-q",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "6.66");
    let (table, _, code) = run(
        dir.path(),
        &[
            "dag",
            "forecast",
            "--compare",
            "runs/a",
            "runs/b",
            "--format",
            "gluepy",
        ],
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "run_folder\tforecast_bias\tforecast_mape");
    assert!(
        lines[1].starts_with("runs/a\t-0.1007") && lines[2].starts_with("runs/b\t0.0473"),
        "{table}"
    );
}

#[test]
fn deploy_copies_the_model_to_production() {
    let dir = project();
    assert_eq!(
        run(dir.path(), &["dag", "forecast", "--retry", "runs/d", "-q"]).2,
        0
    );
    let (out, err, code) = run(dir.path(), &["deploy", "runs/d"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("deployed runs/d/model.json"), "{out}");
    let deployed = std::fs::read(dir.path().join("data/production/model.json")).unwrap();
    assert_eq!(
        deployed,
        std::fs::read(dir.path().join("data/runs/d/model.json")).unwrap()
    );
    let (_, err, code) = run(dir.path(), &["deploy", "runs/nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn evaluation_refuses_predictions_of_the_wrong_shape() {
    let dir = project();
    assert_eq!(
        run(
            dir.path(),
            &["dag", "forecast", "--skip-eval", "--retry", "runs/x", "-q"]
        )
        .2,
        0
    );
    std::fs::write(
        dir.path().join("data/runs/x/predictions.csv"),
        "timestamp,demand_gw\n2014-11-20T00:00,1.0\n",
    )
    .unwrap();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--eval-only", "--retry", "runs/x"],
    );
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(
        err.contains("has no forecast for 2014-11-20T00:30"),
        "{err}"
    );
}

/// The rows of a CSV file under the example's `data/`, header first.
fn rows(rel: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn work_inputs_hold_no_demand_of_the_holdout_or_the_final_test() {
    let actuals = rows("holdout/actuals.csv");
    assert_eq!(actuals[0], "timestamp,demand_gw");
    assert_eq!(actuals.len(), 1 + 28 * 48);
    let first_holdout = actuals[1].split(',').next().unwrap().to_string();
    assert_eq!(first_holdout, "2014-11-20T00:00");
    let finals = rows("final/actuals.csv");
    assert_eq!(finals[0], "timestamp,demand_gw");
    assert_eq!(finals.len(), 1 + 14 * 48);
    assert_eq!(finals[1].split(',').next().unwrap(), "2014-12-18T00:00");
    assert!(finals.last().unwrap().starts_with("2014-12-31T23:30,"));
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/input");
    let mut files: Vec<_> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["vic_elec_2014_to_forecast.csv", "vic_elec_2014_train.csv"],
        "data/input holds only what work tasks may read"
    );
    let train = rows("input/vic_elec_2014_train.csv");
    assert_eq!(train.len(), 1 + 17520 - 42 * 48);
    assert!(train[1..]
        .iter()
        .all(|r| r.split(',').next().unwrap() < first_holdout.as_str()));
    let to_forecast = rows("input/vic_elec_2014_to_forecast.csv");
    assert_eq!(
        to_forecast[0], "timestamp,workday,temperature_c",
        "no demand column"
    );
    let forecast_times: Vec<&str> = to_forecast[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    let answer_times: Vec<&str> = actuals[1..]
        .iter()
        .chain(&finals[1..])
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(forecast_times, answer_times);
}

#[test]
fn describe_declares_the_evaluation_data() {
    let dir = project();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--describe", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["eval_data"],
        serde_json::json!(["holdout/actuals.csv"])
    );
    assert_eq!(
        json["final_test_data"],
        serde_json::json!(["final/actuals.csv"])
    );
    let metrics = &json["eval_tasks"][0]["metrics"];
    assert_eq!(metrics[0]["direction"], "lower");
    assert_eq!(metrics[1]["direction"], serde_json::json!({"target": 0.0}));
    let (text, _, _) = run(dir.path(), &["dag", "forecast", "--describe"]);
    assert!(text.contains("\n  holdout/actuals.csv\n"), "{text}");
    assert!(text.contains("\n  final/actuals.csv\n"), "{text}");
}
