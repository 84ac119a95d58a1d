//! The experiment progress chart.
//!
//! One picture of a whole experiment: every experiment's metric value over
//! time (x is the experiment id), the kept ones marked and labelled with their
//! description, the running best as a step line through the kept values, the
//! baseline as a dashed reference line, and the runs that crashed or timed out
//! (which have no value) as red crosses along the bottom edge.
//!
//! [`render_chart`] writes it as SVG or PNG, chosen by the output file's
//! extension. Text in PNG files is drawn with a font embedded in the binary,
//! so rendering needs no system library and looks the same everywhere.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::FontRef;
use plotters::backend::RGBPixel;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Status of one experiment, as the chart draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChartStatus {
    /// The baseline run the experiment started from.
    Baseline,
    /// An experiment the agent kept: its value is the new best.
    Keep,
    /// An experiment the agent discarded.
    Discard,
    /// An experiment whose run failed.
    Crash,
    /// An experiment whose run was stopped after its time limit.
    Timeout,
}

/// One experiment on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartPoint {
    /// The experiment's id (the x coordinate).
    pub experiment_id: u64,
    /// The charted metric's value, if the run produced one (the y coordinate).
    pub value: Option<f64>,
    /// What became of the experiment.
    pub status: ChartStatus,
    /// What the experiment changed; kept experiments show it as a label.
    pub description: String,
}

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The output file's extension names no format the chart can be written in.
    #[error(
        "cannot write chart {}: unknown image format; name the output file *.svg or *.png",
        path.display()
    )]
    UnsupportedFormat {
        /// The requested output file.
        path: PathBuf,
    },
    /// The drawing library failed.
    #[error("cannot draw chart {}: {message}; please report this as a gluers bug", path.display())]
    Draw {
        /// The requested output file.
        path: PathBuf,
        /// The drawing library's message.
        message: String,
    },
    /// The PNG encoder failed.
    #[error("cannot encode chart {} as PNG: {source}; try *.svg instead", path.display())]
    Png {
        /// The requested output file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
    /// The file could not be written.
    #[error(
        "cannot write chart {}: {source}; check that its folder exists and is writable",
        path.display()
    )]
    Write {
        /// The requested output file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Renders to SVG or PNG by the extension of `out` (anything else: clear error).
///
/// The chart shows `points` (in any order) for the metric named `metric`,
/// titled "`metric`: N experiments, K kept", where N counts every point but
/// the baseline and K the kept ones. Points without a finite value (crashes,
/// timeouts, runs that did not log the metric; also values beyond ±1e100)
/// are drawn as crosses along the bottom edge. An empty slice gives an empty chart saying so.
///
/// The file is written atomically: the chart is rendered into a temporary
/// file in `out`'s folder, which is then renamed to `out`, so a reader never
/// sees a half-written chart and a failure leaves any previous chart intact.
pub fn render_chart(points: &[ChartPoint], metric: &str, out: &Path) -> Result<(), ReportError> {
    let format = Format::of(out).ok_or_else(|| ReportError::UnsupportedFormat {
        path: out.to_path_buf(),
    })?;
    let draw_error = |message: String| ReportError::Draw {
        path: out.to_path_buf(),
        message,
    };
    register_font().map_err(draw_error)?;
    let plan = Plan::new(points, metric);
    let bytes = match format {
        Format::Svg => render_svg(&plan).map_err(draw_error)?.into_bytes(),
        Format::Png => {
            let pixels = render_rgb(&plan).map_err(draw_error)?;
            encode_png(&pixels).map_err(|source| ReportError::Png {
                path: out.to_path_buf(),
                source,
            })?
        }
    };
    write_atomically(out, &bytes)
}

/// Size of the chart, in pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (1280, 720);
/// The font family every text on the chart uses.
const FAMILY: &str = "sans-serif";
/// The embedded font (DejaVu Sans, subset; see `assets/fonts/README.md`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");
/// Values beyond this magnitude are charted as having no value (they would
/// break the axis arithmetic, and no real metric is that large).
const MAX_VALUE: f64 = 1e100;
/// Longest label shown next to a kept point, in characters.
const MAX_LABEL_CHARS: usize = 36;

const BASELINE_COLOR: RGBColor = RGBColor(55, 90, 160);
const KEEP_COLOR: RGBColor = RGBColor(30, 150, 75);
const KEEP_LABEL_COLOR: RGBColor = RGBColor(20, 100, 50);
const DISCARD_COLOR: RGBAColor = RGBAColor(110, 110, 110, 0.4);
const FAIL_COLOR: RGBColor = RGBColor(210, 40, 40);
const NO_VALUE_COLOR: RGBColor = RGBColor(140, 140, 140);
const TEXT_COLOR: RGBColor = RGBColor(40, 40, 40);

/// An output format, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "svg" => Some(Self::Svg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }
}

/// Makes the embedded font available to the drawing library (once per process).
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the embedded font cannot be loaded".to_owned())
    }
}

/// A kept experiment: where its dot goes and what its label says.
#[derive(Clone, Debug, PartialEq)]
struct Kept {
    x: f64,
    y: f64,
    label: String,
    /// How far it moved the running best (labels of bigger steps win when
    /// labels would overlap).
    gain: f64,
}

/// Everything the chart shows, in chart coordinates, computed from the points
/// before any drawing (so the layout can be tested without a backend).
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    title: String,
    metric: String,
    x_range: Range<f64>,
    y_range: Range<f64>,
    /// The first experiment id: x coordinates count from it, so that ids
    /// of any size keep their full precision.
    first_id: u64,
    /// The last experiment id minus the first.
    id_span: u64,
    baseline: Option<(f64, f64)>,
    discarded: Vec<(f64, f64)>,
    kept: Vec<Kept>,
    /// The running best: a step line through the baseline and kept values.
    best: Vec<(f64, f64)>,
    /// Crashed and timed-out experiments (x only: they sit on the bottom edge).
    failed: Vec<f64>,
    /// Other experiments with no finite value (x only, bottom edge too).
    no_value: Vec<f64>,
    /// y of the bottom-edge row of crosses.
    bottom_row: f64,
    /// Shown across an empty chart.
    note: Option<&'static str>,
    legend: SeriesLabelPosition,
}

impl Plan {
    fn new(points: &[ChartPoint], metric: &str) -> Self {
        let mut sorted: Vec<&ChartPoint> = points.iter().collect();
        sorted.sort_by_key(|p| p.experiment_id);
        let value = |p: &ChartPoint| p.value.filter(|v| v.is_finite() && v.abs() <= MAX_VALUE);

        let experiments = sorted
            .iter()
            .filter(|p| p.status != ChartStatus::Baseline)
            .count();
        let kept_count = sorted
            .iter()
            .filter(|p| p.status == ChartStatus::Keep)
            .count();
        let title = format!(
            "{metric}: {experiments} experiment{}, {kept_count} kept",
            if experiments == 1 { "" } else { "s" }
        );

        let (first_id, id_span) = match (sorted.first(), sorted.last()) {
            (Some(first), Some(last)) => (
                first.experiment_id,
                last.experiment_id - first.experiment_id,
            ),
            _ => (0, 0),
        };
        let x_range = -0.6..(id_span.max(1) as f64 + 0.6);

        let values: Vec<f64> = sorted.iter().filter_map(|p| value(p)).collect();
        let (y_range, bottom_row) = y_layout(&values);

        let mut baseline = None;
        let mut discarded = Vec::new();
        let mut kept = Vec::new();
        let mut best: Vec<(f64, f64)> = Vec::new();
        let mut failed = Vec::new();
        let mut no_value = Vec::new();
        for point in &sorted {
            let x = (point.experiment_id - first_id) as f64;
            let failure = matches!(point.status, ChartStatus::Crash | ChartStatus::Timeout);
            let Some(y) = value(point) else {
                if failure {
                    failed.push(x);
                } else {
                    no_value.push(x);
                }
                continue;
            };
            match point.status {
                ChartStatus::Baseline if baseline.is_none() => {
                    baseline = Some((x, y));
                    if best.is_empty() {
                        best.push((x, y));
                    }
                }
                ChartStatus::Keep => {
                    let gain = match best.last() {
                        Some(&(_, previous)) => {
                            best.push((x, previous));
                            (y - previous).abs()
                        }
                        None => f64::INFINITY,
                    };
                    best.push((x, y));
                    kept.push(Kept {
                        x,
                        y,
                        label: short_label(&point.description),
                        gain,
                    });
                }
                // A second baseline, or a failed run that still logged a
                // value: shown like a discarded attempt.
                _ => discarded.push((x, y)),
            }
        }
        if let Some(&(last_x, last_y)) = best.last() {
            let end = id_span as f64;
            if end > last_x {
                best.push((end, last_y));
            }
        }

        let note = if sorted.is_empty() {
            Some("no experiments yet")
        } else if values.is_empty() {
            Some("no experiment produced a value for this metric")
        } else {
            None
        };

        let mut plan = Self {
            title,
            metric: metric.to_owned(),
            x_range,
            y_range,
            first_id,
            id_span,
            baseline,
            discarded,
            kept,
            best,
            failed,
            no_value,
            bottom_row,
            note,
            legend: SeriesLabelPosition::UpperRight,
        };
        plan.legend = plan.emptiest_corner();
        plan
    }

    /// The corner of the plot with the fewest marks, for the legend.
    fn emptiest_corner(&self) -> SeriesLabelPosition {
        let (w, h) = (
            self.x_range.end - self.x_range.start,
            self.y_range.end - self.y_range.start,
        );
        let normalized: Vec<(f64, f64)> = self
            .discarded
            .iter()
            .copied()
            .chain(self.kept.iter().map(|k| (k.x, k.y)))
            .chain(self.baseline)
            .chain(
                self.failed
                    .iter()
                    .chain(&self.no_value)
                    .map(|&x| (x, self.bottom_row)),
            )
            .map(|(x, y)| ((x - self.x_range.start) / w, (y - self.y_range.start) / h))
            .collect();
        // Roughly the legend's size, as a fraction of the plotting area.
        let (legend_w, legend_h) = (0.25, 0.32);
        let corners = [
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::UpperLeft, false, true),
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::LowerLeft, false, false),
        ];
        let crowd = |right: bool, upper: bool| {
            normalized
                .iter()
                .filter(|&&(x, y)| {
                    let in_x = if right {
                        x >= 1.0 - legend_w
                    } else {
                        x <= legend_w
                    };
                    let in_y = if upper {
                        y >= 1.0 - legend_h
                    } else {
                        y <= legend_h
                    };
                    in_x && in_y
                })
                .count()
        };
        corners
            .into_iter()
            .min_by_key(|&(_, right, upper)| crowd(right, upper))
            .map_or(SeriesLabelPosition::UpperRight, |(position, _, _)| position)
    }
}

/// The y range for these values, with room above for labels and below for
/// the row of crosses, and that row's y.
fn y_layout(values: &[f64]) -> (Range<f64>, f64) {
    let (lo, hi) = values
        .iter()
        .fold(None, |acc: Option<(f64, f64)>, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .unwrap_or((0.0, 1.0));
    let mut span = hi - lo;
    // Too narrow a range (relative to the values) leaves no room between
    // representable numbers for ticks: widen it.
    if span <= 1e-9 * hi.abs().max(lo.abs()).max(1.0) {
        span = (hi.abs() * 0.1).max(1.0);
    }
    let bottom = lo - 0.16 * span;
    let top = hi + 0.12 * span;
    (bottom..top, bottom + 0.045 * (top - bottom))
}

/// A description cut to one short line.
fn short_label(description: &str) -> String {
    let one_line: String = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_LABEL_CHARS {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(MAX_LABEL_CHARS - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    }
}

/// A tick label for the x coordinate `x` (counted from `first_id`): the
/// experiment id, on whole numbers within the ids only.
fn id_tick(x: f64, first_id: u64, id_span: u64) -> String {
    let rounded = x.round();
    if (x - rounded).abs() > 1e-6 || rounded < 0.0 || rounded > id_span as f64 {
        return String::new();
    }
    first_id
        .checked_add(rounded as u64)
        .map_or_else(String::new, |id| id.to_string())
}

/// A tick label for a metric value, with as many decimals as the tick
/// spacing needs.
fn value_tick(y: f64, range: &Range<f64>) -> String {
    let step = (range.end - range.start) / 10.0;
    if step.is_finite() && step > 0.0 && !(1e-6..1e6).contains(&step) {
        return format!("{y:.2e}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 8.0) as usize
    } else {
        2
    };
    let text = format!("{y:.decimals$}");
    // Avoid "-0".
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_owned()
    } else {
        text
    }
}

/// Renders the chart as an SVG document.
fn render_svg(plan: &Plan) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, plan).map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Renders the chart into an RGB pixel buffer.
fn render_rgb(plan: &Plan) -> Result<Vec<u8>, String> {
    let font = FontRef::try_from_slice(FONT).map_err(|e| e.to_string())?;
    let mut pixels = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let inner = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut pixels, SIZE)
            .map_err(|e| e.to_string())?;
        let root = canvas::Canvas::new(inner, font).into_drawing_area();
        draw(&root, plan).map_err(|e| e.to_string())?;
    }
    Ok(pixels)
}

/// Encodes an RGB pixel buffer of [`SIZE`] as PNG.
fn encode_png(pixels: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, SIZE.0, SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}

/// Draws the chart on any backend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plan: &Plan,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(&plan.title, (FAMILY, 26).into_font().color(&TEXT_COLOR))
        .margin(18)
        .x_label_area_size(52)
        .y_label_area_size(84)
        .build_cartesian_2d(plan.x_range.clone(), plan.y_range.clone())?;

    let (first_id, id_span) = (plan.first_id, plan.id_span);
    let ids = usize::try_from(id_span).unwrap_or(usize::MAX);
    let y_range = plan.y_range.clone();
    chart
        .configure_mesh()
        .x_desc("experiment")
        .y_desc(plan.metric.as_str())
        .x_labels(ids.saturating_add(1).clamp(2, 16))
        // With no values the y axis has no meaning: no tick labels.
        .y_labels(if plan.note.is_some() { 0 } else { 10 })
        .x_label_formatter(&|x| id_tick(*x, first_id, id_span))
        .y_label_formatter(&|y| value_tick(*y, &y_range))
        .label_style((FAMILY, 14).into_font().color(&TEXT_COLOR))
        .axis_desc_style((FAMILY, 17).into_font().color(&TEXT_COLOR))
        .bold_line_style(BLACK.mix(0.07))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.5))
        .draw()?;

    let mut legend = false;
    if let Some((_, y)) = plan.baseline {
        let style = BASELINE_COLOR.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(plan.x_range.start, y), (plan.x_range.end, y)],
                10,
                6,
                style,
            ))?
            .label("baseline")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (7, 0)], style)
                    + PathElement::new([(12, 0), (20, 0)], style)
            });
        legend = true;
    }

    if !plan.discarded.is_empty() {
        chart
            .draw_series(
                plan.discarded
                    .iter()
                    .map(|&point| Circle::new(point, 4, DISCARD_COLOR.filled())),
            )?
            .label("discarded")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, DISCARD_COLOR.filled()));
        legend = true;
    }

    if plan.best.len() > 1 {
        chart
            .draw_series(LineSeries::new(
                plan.best.iter().copied(),
                KEEP_COLOR.stroke_width(2),
            ))?
            .label("running best")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], KEEP_COLOR.stroke_width(2)));
        legend = true;
    }

    if !plan.failed.is_empty() {
        let row = plan.bottom_row;
        chart
            .draw_series(
                plan.failed
                    .iter()
                    .map(|&x| Cross::new((x, row), 6, FAIL_COLOR.stroke_width(2))),
            )?
            .label("crash / timeout")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, FAIL_COLOR.stroke_width(2)));
        legend = true;
    }

    if !plan.no_value.is_empty() {
        let row = plan.bottom_row;
        chart
            .draw_series(
                plan.no_value
                    .iter()
                    .map(|&x| Cross::new((x, row), 5, NO_VALUE_COLOR.stroke_width(1))),
            )?
            .label("no value")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, NO_VALUE_COLOR.stroke_width(1)));
        legend = true;
    }

    let label_font = |color: &RGBColor, (h, v): (HPos, VPos)| {
        (FAMILY, 13).into_font().color(color).pos(Pos::new(h, v))
    };
    let mut labels = LabelPlacer::new(&chart, root, plan, legend_entries(plan))?;
    if let Some(point) = plan.baseline {
        chart.draw_series(std::iter::once(
            EmptyElement::at(point) + Circle::new((0, 0), 6, BASELINE_COLOR.filled()),
        ))?;
        if let Some(place) = labels.place(&chart, root, point, "baseline")? {
            chart.draw_series(std::iter::once(
                EmptyElement::at(point)
                    + Text::new(
                        "baseline",
                        place.offset,
                        label_font(&BASELINE_COLOR, place.anchor),
                    ),
            ))?;
        }
    }

    if !plan.kept.is_empty() {
        chart
            .draw_series(
                plan.kept
                    .iter()
                    .map(|kept| Circle::new((kept.x, kept.y), 6, KEEP_COLOR.filled())),
            )?
            .label("kept")
            .legend(|(x, y)| Circle::new((x + 10, y), 6, KEEP_COLOR.filled()));
        legend = true;
        // Bigger steps of the running best get their label first; a label
        // that would overlap another one is left out.
        let mut order: Vec<&Kept> = plan.kept.iter().collect();
        order.sort_by(|a, b| b.gain.total_cmp(&a.gain).then(a.x.total_cmp(&b.x)));
        for kept in order {
            let point = (kept.x, kept.y);
            if let Some(place) = labels.place(&chart, root, point, &kept.label)? {
                chart.draw_series(std::iter::once(
                    EmptyElement::at(point)
                        + Text::new(
                            kept.label.clone(),
                            place.offset,
                            label_font(&KEEP_LABEL_COLOR, place.anchor),
                        ),
                ))?;
            }
        }
    }

    if let Some(note) = plan.note {
        let font = (FAMILY, 18)
            .into_font()
            .color(&NO_VALUE_COLOR)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let center = (
            (plan.x_range.start + plan.x_range.end) / 2.0,
            (plan.y_range.start + plan.y_range.end) / 2.0,
        );
        chart.draw_series(std::iter::once(Text::new(note, center, font)))?;
    }

    if legend {
        chart
            .configure_series_labels()
            .position(plan.legend.clone())
            .label_font((FAMILY, 14).into_font().color(&TEXT_COLOR))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.25))
            .draw()?;
    }
    root.present()
}

/// Where a point's label goes: its offset from the point and its anchor.
struct Placement {
    offset: (i32, i32),
    anchor: (HPos, VPos),
}

/// A pixel rectangle: left, top, right, bottom.
type Rect = (i32, i32, i32, i32);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// The legend's labels, in drawing order (to estimate its size).
fn legend_entries(plan: &Plan) -> Vec<&'static str> {
    let mut entries = Vec::new();
    if plan.baseline.is_some() {
        entries.push("baseline");
    }
    if !plan.discarded.is_empty() {
        entries.push("discarded");
    }
    if plan.best.len() > 1 {
        entries.push("running best");
    }
    if !plan.failed.is_empty() {
        entries.push("crash / timeout");
    }
    if !plan.no_value.is_empty() {
        entries.push("no value");
    }
    if !plan.kept.is_empty() {
        entries.push("kept");
    }
    entries
}

/// Places point labels next to their points without overlapping each other,
/// the marked points, or the legend.
struct LabelPlacer {
    /// The plotting area, in pixels.
    area: Rect,
    /// Rectangles already taken.
    taken: Vec<Rect>,
}

impl LabelPlacer {
    /// Gap between a point and its label, in pixels.
    const GAP: (i32, i32) = (9, 7);

    fn new<DB: DrawingBackend>(
        chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
        root: &DrawingArea<DB, Shift>,
        plan: &Plan,
        legend: Vec<&str>,
    ) -> Result<Self, DrawingAreaErrorKind<DB::ErrorType>> {
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let area = (xs.start, ys.start, xs.end, ys.end);
        let mut taken: Vec<Rect> = plan
            .kept
            .iter()
            .map(|k| (k.x, k.y))
            .chain(plan.baseline)
            .map(|point| {
                let (x, y) = chart.backend_coord(&point);
                (x - 7, y - 7, x + 7, y + 7)
            })
            .collect();
        if !legend.is_empty() {
            // The legend: a 30 px key, its text, 10 px margins, one row per entry.
            let font = TextStyle::from((FAMILY, 14).into_font());
            let mut width = 0;
            let mut height = 0;
            for entry in &legend {
                let (w, h) = root.estimate_text_size(entry, &font)?;
                width = width.max(w as i32);
                height += h as i32 + 5;
            }
            let (w, h) = (width + 30 + 25, height + 20);
            let (left, top) = match plan.legend {
                SeriesLabelPosition::UpperLeft => (area.0, area.1),
                SeriesLabelPosition::LowerLeft => (area.0, area.3 - h),
                SeriesLabelPosition::LowerRight => (area.2 - w, area.3 - h),
                _ => (area.2 - w, area.1),
            };
            taken.push((left, top, left + w, top + h));
        }
        Ok(Self { area, taken })
    }

    /// Finds room for `text` next to `point`: to the right (or, near the
    /// right edge, to the left), above or below; `None` if there is none.
    fn place<DB: DrawingBackend>(
        &mut self,
        chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
        root: &DrawingArea<DB, Shift>,
        point: (f64, f64),
        text: &str,
    ) -> Result<Option<Placement>, DrawingAreaErrorKind<DB::ErrorType>> {
        let (w, h) = root.estimate_text_size(text, &TextStyle::from((FAMILY, 13).into_font()))?;
        let (w, h) = (w as i32, h as i32);
        let (x, y) = chart.backend_coord(&point);
        let (gx, gy) = Self::GAP;
        let right_first = x < self.area.0 + 3 * (self.area.2 - self.area.0) / 4;
        let sides = if right_first {
            [HPos::Left, HPos::Right]
        } else {
            [HPos::Right, HPos::Left]
        };
        for h_pos in sides {
            for v_pos in [VPos::Bottom, VPos::Top] {
                let (dx, left) = match h_pos {
                    HPos::Right => (-gx, x - gx - w),
                    _ => (gx, x + gx),
                };
                let (dy, top) = match v_pos {
                    VPos::Bottom => (-gy, y - gy - h),
                    _ => (gy, y + gy),
                };
                // A pixel of room around the text, none towards its own point.
                let rect = (left - 1, top - 1, left + w + 1, top + h + 1);
                let inside = rect.0 >= self.area.0
                    && rect.2 <= self.area.2
                    && rect.1 >= self.area.1
                    && rect.3 <= self.area.3;
                if inside && !self.taken.iter().any(|&t| overlaps(t, rect)) {
                    self.taken.push(rect);
                    return Ok(Some(Placement {
                        offset: (dx, dy),
                        anchor: (h_pos, v_pos),
                    }));
                }
            }
        }
        Ok(None)
    }
}

/// Writes `bytes` to `out` through a temporary file in the same folder.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let write_error = |source| ReportError::Write {
        path: out.to_path_buf(),
        source,
    };
    let dir = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".gluers-chart-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut file = builder.tempfile_in(dir).map_err(write_error)?;
    file.write_all(bytes).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    file.persist(out).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// A bitmap backend that draws text itself (kept apart: its backend traits
/// clash with plotters' style traits).
mod canvas {
    use ab_glyph::{point, Font, FontRef, ScaleFont};
    use plotters::backend::{BitMapBackend, DrawingBackend, RGBPixel};
    use plotters::style::text_anchor::{HPos, VPos};
    use plotters_backend::{
        BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
    };

    /// The bitmap backend with its own text rasterizer.
    ///
    /// plotters' `ab_glyph` text drawing places each glyph at the pen position
    /// without its left side bearing and truncates the pen to whole pixels, which
    /// makes letters visibly unevenly spaced at small sizes. This backend draws
    /// text itself (glyphs at their exact positions, anti-aliased) and passes
    /// everything else through.
    pub(super) struct Canvas<'a> {
        inner: BitMapBackend<'a, RGBPixel>,
        font: FontRef<'static>,
    }

    impl<'a> Canvas<'a> {
        /// Wraps a bitmap backend, drawing text with `font`.
        pub(super) fn new(inner: BitMapBackend<'a, RGBPixel>, font: FontRef<'static>) -> Self {
            Self { inner, font }
        }
    }

    type CanvasResult<'a> =
        Result<(), DrawingErrorKind<<BitMapBackend<'a, RGBPixel> as DrawingBackend>::ErrorType>>;

    impl<'a> DrawingBackend for Canvas<'a> {
        type ErrorType = <BitMapBackend<'a, RGBPixel> as DrawingBackend>::ErrorType;

        fn get_size(&self) -> (u32, u32) {
            self.inner.get_size()
        }

        fn ensure_prepared(&mut self) -> CanvasResult<'a> {
            self.inner.ensure_prepared()
        }

        fn present(&mut self) -> CanvasResult<'a> {
            self.inner.present()
        }

        fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> CanvasResult<'a> {
            self.inner.draw_pixel(point, color)
        }

        fn draw_line<S: BackendStyle>(
            &mut self,
            from: BackendCoord,
            to: BackendCoord,
            style: &S,
        ) -> CanvasResult<'a> {
            self.inner.draw_line(from, to, style)
        }

        fn draw_rect<S: BackendStyle>(
            &mut self,
            upper_left: BackendCoord,
            bottom_right: BackendCoord,
            style: &S,
            fill: bool,
        ) -> CanvasResult<'a> {
            self.inner.draw_rect(upper_left, bottom_right, style, fill)
        }

        fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            path: I,
            style: &S,
        ) -> CanvasResult<'a> {
            self.inner.draw_path(path, style)
        }

        fn draw_circle<S: BackendStyle>(
            &mut self,
            center: BackendCoord,
            radius: u32,
            style: &S,
            fill: bool,
        ) -> CanvasResult<'a> {
            self.inner.draw_circle(center, radius, style, fill)
        }

        fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            vert: I,
            style: &S,
        ) -> CanvasResult<'a> {
            self.inner.fill_polygon(vert, style)
        }

        fn blit_bitmap(
            &mut self,
            pos: BackendCoord,
            size: (u32, u32),
            src: &[u8],
        ) -> CanvasResult<'a> {
            self.inner.blit_bitmap(pos, size, src)
        }

        fn draw_text<TStyle: BackendTextStyle>(
            &mut self,
            text: &str,
            style: &TStyle,
            pos: BackendCoord,
        ) -> CanvasResult<'a> {
            let color = style.color();
            if color.alpha == 0.0 {
                return Ok(());
            }
            // The same scale as plotters' layout estimates, so that anchoring and
            // the space plotters reserves for text agree with what is drawn.
            let font = self.font.as_scaled(style.size() as f32);
            let ((min_x, min_y), (max_x, max_y)) = style
                .layout_box(text)
                .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
            let (width, height) = ((max_x - min_x) as f32, (max_y - min_y) as f32);
            let dx = match style.anchor().h_pos {
                HPos::Left => 0.0,
                HPos::Center => -width / 2.0,
                HPos::Right => -width,
            };
            let dy = match style.anchor().v_pos {
                VPos::Top => 0.0,
                VPos::Center => -height / 2.0,
                VPos::Bottom => -height,
            };
            // The layout box is one em high; the baseline sits where an SVG
            // viewer puts it for plotters' anchors (about 0.76 em below the top).
            let baseline = height * 0.78;
            let mut coverage = Vec::new();
            let mut pen = 0.0f32;
            let mut previous = None;
            for c in text.chars() {
                let id = font.glyph_id(c);
                if let Some(previous) = previous {
                    pen += font.kern(previous, id);
                }
                let glyph =
                    id.with_scale_and_position(font.scale(), point(pen + dx, baseline + dy));
                if let Some(outline) = font.outline_glyph(glyph) {
                    let bounds = outline.px_bounds();
                    outline.draw(|x, y, c| {
                        let x = bounds.min.x as i32 + x as i32;
                        let y = bounds.min.y as i32 + y as i32;
                        coverage.push((x, y, c));
                    });
                }
                pen += font.h_advance(id);
                previous = Some(id);
            }
            let transform = style.transform();
            let (w, h) = self.get_size();
            for (x, y, c) in coverage {
                let (x, y) = transform.transform(x, y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if c > 0.0 && (0..w as i32).contains(&x) && (0..h as i32).contains(&y) {
                    let alpha = color.alpha * f64::from(c.min(1.0));
                    self.inner
                        .draw_pixel((x, y), BackendColor { alpha, ..color })?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
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
        // One dot per point with a value, plus the legend's two dots.
        let dots = svg.matches("<circle").count();
        assert_eq!(dots, 8 + 2, "{svg}");
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
        assert!(plan.y_range.contains(&plan.bottom_row));
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
}
