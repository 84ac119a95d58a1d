use super::*;

fn point(id: u64, value: Option<f64>, status: ChartStatus, description: &str) -> ChartPoint {
    ChartPoint {
        experiment_id: id,
        value,
        status,
        description: description.to_owned(),
    }
}

/// A small experiment: baseline, 4 discards, 3 keeps, a crash, a timeout.
fn sample() -> Vec<ChartPoint> {
    use ChartStatus::*;
    vec![
        point(0, Some(12.5), Baseline, "baseline"),
        point(1, Some(13.1), Discard, "bigger learning rate"),
        point(2, Some(11.9), Keep, "add weekly seasonality"),
        point(3, None, Crash, "typo in feature name"),
        point(4, Some(12.2), Discard, "drop holiday flag"),
        point(5, Some(10.4), Keep, "temperature lags 1, 2, 24 hours"),
        point(6, Some(10.9), Discard, "ridge alpha 10"),
        point(7, None, Timeout, "grid search over 500 models"),
        point(8, Some(10.6), Discard, "log-transform demand"),
        point(
            9,
            Some(9.8),
            Keep,
            "hour-of-week profile instead of day-of-week one-hot <&>",
        ),
    ]
}

fn render_to_string(points: &[ChartPoint], metric: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.svg");
    render_chart(points, metric, &out).unwrap();
    std::fs::read_to_string(&out).unwrap()
}

/// Whether the SVG has a text element with exactly this content.
fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!("\n{text}\n</text>"))
}

fn leftover_temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".gluers-chart-"))
        .collect()
}

#[test]
fn svg_has_title_axes_legend_and_one_mark_per_point() {
    let svg = render_to_string(&sample(), "forecast_mape");
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    assert!(has_text(&svg, "forecast_mape: 9 experiments, 3 kept"));
    assert!(has_text(&svg, "experiment"));
    assert!(has_text(&svg, "forecast_mape"));
    for entry in [
        "baseline",
        "discarded",
        "running best",
        "crash / timeout",
        "kept",
    ] {
        assert!(has_text(&svg, entry), "legend entry {entry}");
    }
    // Descriptions of kept points are labels, escaped and shortened.
    assert!(has_text(&svg, "add weekly seasonality"));
    assert!(has_text(&svg, "hour-of-week profile instead of day…"));
    assert!(!svg.contains("ridge alpha 10"), "discards are not labelled");
    // One dot per point with a value, plus the legend's two dots; discarded
    // dots have a white ring besides.
    let rings = svg
        .lines()
        .filter(|l| l.contains("<circle") && l.contains(r##"fill="#FFFFFF""##))
        .count();
    let dots = svg.matches("<circle").count() - rings;
    assert_eq!(dots, 8 + 2, "{svg}");
    assert!(rings > 0, "discarded dots are ringed");
    let kept_dots = svg.matches(r##"fill="#1E964B""##).count();
    assert_eq!(kept_dots, 3 + 1);
}

#[test]
fn svg_text_is_escaped() {
    let points = [
        point(0, Some(2.0), ChartStatus::Baseline, "baseline"),
        point(1, Some(1.0), ChartStatus::Keep, "use <lag> & \"lead\""),
    ];
    let svg = render_to_string(&points, "a<b");
    assert!(
        svg.contains("use &lt;lag&gt; &amp; &quot;lead&quot;"),
        "{svg}"
    );
    assert!(has_text(&svg, "a&lt;b: 1 experiment, 1 kept"));
}

#[test]
fn png_has_png_magic_and_the_chart_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("progress.PNG");
    render_chart(&sample(), "forecast_mape", &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        (10_000..2_000_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), SIZE);
    assert!(leftover_temp_files(dir.path()).is_empty());
}

#[test]
fn empty_input_gives_an_empty_chart() {
    let svg = render_to_string(&[], "accuracy");
    assert!(has_text(&svg, "accuracy: 0 experiments, 0 kept"));
    assert!(has_text(&svg, "no experiments yet"));
    assert_eq!(svg.matches("<circle").count(), 0);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.png");
    render_chart(&[], "accuracy", &out).unwrap();
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn all_crashes_are_crosses_and_a_note() {
    let points = [
        point(1, None, ChartStatus::Crash, "a"),
        point(2, None, ChartStatus::Timeout, "b"),
        point(3, Some(f64::NAN), ChartStatus::Crash, "c"),
    ];
    let svg = render_to_string(&points, "loss");
    assert!(has_text(&svg, "loss: 3 experiments, 0 kept"));
    assert!(has_text(
        &svg,
        "no experiment produced a value for this metric"
    ));
    assert!(has_text(&svg, "crash / timeout"));
    assert_eq!(svg.matches("<circle").count(), 0);
    let plan = Plan::new(&points, "loss");
    assert_eq!(
        plan.failed,
        vec![0.0, 1.0, 2.0],
        "x counts from the first id"
    );
    assert!(plan.y_range.contains(&plan.failure_row));
}

/// Crashes sit at the edge that means worst: the top when lower is better,
/// the bottom when higher is; never where a better value would go.
#[test]
fn crashes_sit_at_the_worst_edge() {
    let points = [
        point(0, Some(5.0), ChartStatus::Baseline, "baseline"),
        point(1, Some(3.0), ChartStatus::Keep, "better"),
        point(2, None, ChartStatus::Crash, "boom"),
    ];
    let lower = Plan::build(&points, "loss", Some(gluers_formats::Direction::Lower));
    assert!(lower.failure_row > 5.0 && lower.y_range.contains(&lower.failure_row));
    let unknown = Plan::new(&points, "loss");
    assert!(unknown.failure_row > 5.0);
    let higher = Plan::build(&points, "accuracy", Some(gluers_formats::Direction::Higher));
    assert!(higher.failure_row < 3.0 && higher.y_range.contains(&higher.failure_row));
}

/// A discarded run as good as the best is drawn after (over) the running
/// best line, so it stays visible.
#[test]
fn a_discarded_run_equal_to_the_best_is_drawn_over_the_line() {
    let points = [
        point(0, Some(5.0), ChartStatus::Baseline, "baseline"),
        point(1, Some(3.0), ChartStatus::Keep, "better"),
        point(2, Some(3.0), ChartStatus::Discard, "as good"),
        point(3, Some(4.0), ChartStatus::Discard, "worse"),
    ];
    let svg = render_to_string(&points, "loss");
    let line = svg.find("<polyline").expect("the running best line");
    let last_circle = svg.rfind("<circle").unwrap();
    assert!(last_circle > line, "discarded circles come after the line");
}

#[test]
fn one_experiment_is_singular() {
    let points = [
        point(0, Some(1.0), ChartStatus::Baseline, "baseline"),
        point(1, Some(1.0), ChartStatus::Discard, "same"),
    ];
    let plan = Plan::new(&points, "m");
    assert_eq!(plan.title, "m: 1 experiment, 0 kept");
    assert!(plan.y_range.start < 1.0 && plan.y_range.end > 1.0);
}

#[test]
fn extreme_ids_and_values_do_not_panic() {
    let points = [
        point(u64::MAX, Some(f64::MAX), ChartStatus::Keep, "huge"),
        point(u64::MAX - 1, Some(-f64::MAX), ChartStatus::Discard, ""),
        point(7, Some(f64::INFINITY), ChartStatus::Baseline, ""),
    ];
    let svg = render_to_string(&points, "m");
    assert!(has_text(&svg, "m: 2 experiments, 1 kept"));
    let single = [point(u64::MAX, Some(1.0), ChartStatus::Baseline, "")];
    render_to_string(&single, "m");
    let close = [
        point(0, Some(1e100), ChartStatus::Baseline, ""),
        point(1, Some(1e100 * (1.0 - 1e-15)), ChartStatus::Keep, "tiny"),
        point(2, Some(1e-300), ChartStatus::Discard, ""),
    ];
    render_to_string(&close, "m");
    let near = [
        point(0, Some(1e100), ChartStatus::Baseline, ""),
        point(1, Some(1e100 * (1.0 - 1e-15)), ChartStatus::Keep, "tiny"),
    ];
    render_to_string(&near, "m");
}

#[test]
fn unknown_extension_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["chart.jpg", "chart", "chart.svg.txt"] {
        let out = dir.path().join(name);
        let err = render_chart(&sample(), "m", &out).unwrap_err();
        assert!(matches!(err, ReportError::UnsupportedFormat { .. }));
        let message = err.to_string();
        assert!(message.contains(name) && message.contains("*.svg or *.png"));
        assert!(!message.contains('\n'));
        assert!(!out.exists());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_folder_is_a_write_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/folder/chart.svg");
    let err = render_chart(&sample(), "m", &out).unwrap_err();
    assert!(matches!(err, ReportError::Write { .. }), "{err}");
    assert!(err.to_string().contains("folder exists"));
}

#[test]
fn rerendering_replaces_the_previous_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.svg");
    std::fs::write(&out, "old").unwrap();
    render_chart(&sample(), "m", &out).unwrap();
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("<svg"));
    assert!(leftover_temp_files(dir.path()).is_empty());
}

#[test]
fn running_best_steps_through_baseline_and_keeps() {
    let mut points = sample();
    points.reverse(); // order of the input does not matter
    let plan = Plan::new(&points, "forecast_mape");
    assert_eq!(plan.baseline, Some((0.0, 12.5)));
    assert_eq!(
        plan.best,
        vec![
            (0.0, 12.5),
            (2.0, 12.5),
            (2.0, 11.9),
            (5.0, 11.9),
            (5.0, 10.4),
            (9.0, 10.4),
            (9.0, 9.8),
        ]
    );
    assert_eq!(plan.failed, vec![3.0, 7.0]);
    assert_eq!(plan.discarded.len(), 4);
    let gains: Vec<f64> = plan.kept.iter().map(|k| k.gain).collect();
    assert_eq!(gains.len(), 3);
    assert!((gains[0] - 0.6).abs() < 1e-9 && (gains[1] - 1.5).abs() < 1e-9);
}

#[test]
fn running_best_extends_to_the_last_experiment() {
    let points = [
        point(0, Some(3.0), ChartStatus::Baseline, ""),
        point(1, Some(2.0), ChartStatus::Keep, "k"),
        point(2, Some(2.5), ChartStatus::Discard, "d"),
    ];
    let plan = Plan::new(&points, "m");
    assert_eq!(plan.best.last(), Some(&(2.0, 2.0)));
}

#[test]
fn labels_are_one_short_line() {
    assert_eq!(short_label("a\tb\n c"), "a b c");
    let long = "x".repeat(100);
    let label = short_label(&long);
    assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
    assert!(label.ends_with('…'));
}

#[test]
fn ticks_are_readable() {
    assert_eq!(id_tick(3.0, 0, 9), "3");
    assert_eq!(id_tick(3.0, 100, 9), "103");
    assert_eq!(id_tick(2.5, 0, 9), "");
    assert_eq!(id_tick(-1.0, 0, 9), "");
    assert_eq!(id_tick(10.0, 0, 9), "");
    assert_eq!(value_tick(2.5e9, &(0.0..1e10)), "2.50e9");
    assert_eq!(value_tick(12.25, &(10.0..14.0)), "12.2");
    assert_eq!(value_tick(-0.0001, &(-1.0..1.0)), "0.0");
    assert_eq!(value_tick(2000.0, &(0.0..5000.0)), "2000");
}
