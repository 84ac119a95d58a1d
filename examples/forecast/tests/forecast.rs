//! The forecast example end to end on the real data: the baseline's metrics
//! are known independently (see data/README.md).

use std::path::Path;

use assert_cmd::Command;

/// A temporary copy of the example project (configs, patches, input data,
/// evaluation data).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["configs", "patches", "data/input", "data/holdout"] {
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

#[test]
fn baseline_is_the_weekly_seasonal_naive_forecast() {
    let dir = project();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--retry", "runs/base", "-q"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "10.43");
    assert_eq!(format!("{:.3}", metric(&out, "forecast_bias")), "0.318");
    // The exact bytes: the same numbers as when the evaluation read the
    // whole year's table.
    assert!(
        out.contains(
            "metric:forecast_mape=10.426526230368689\nmetric:forecast_bias=0.3178802738095239\n"
        ),
        "{out}"
    );
    let predictions =
        std::fs::read_to_string(dir.path().join("data/runs/base/predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), 1 + 1344);
    assert!(predictions
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("2014-12-04T00:00,"));
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
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "13.56");
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
    assert_eq!(format!("{:.2}", metric(&out, "forecast_mape")), "13.56");
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
        lines[1].starts_with("runs/a\t0.3178") && lines[2].starts_with("runs/b\t0.4925"),
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
        "timestamp,demand_gw\n2014-12-04T00:00,1.0\n",
    )
    .unwrap();
    let (out, err, code) = run(
        dir.path(),
        &["dag", "forecast", "--eval-only", "--retry", "runs/x"],
    );
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains("one per holdout half hour"), "{err}");
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
fn work_inputs_hold_no_demand_of_the_holdout() {
    let actuals = rows("holdout/actuals.csv");
    assert_eq!(actuals[0], "timestamp,demand_gw");
    assert_eq!(actuals.len(), 1 + 1344);
    let first_holdout = actuals[1].split(',').next().unwrap().to_string();
    assert_eq!(first_holdout, "2014-12-04T00:00");
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
    assert_eq!(train.len(), 1 + 17520 - 1344);
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
    let actual_times: Vec<&str> = actuals[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(forecast_times, actual_times);
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
    let (text, _, _) = run(dir.path(), &["dag", "forecast", "--describe"]);
    assert!(text.contains("\n  holdout/actuals.csv\n"), "{text}");
}
