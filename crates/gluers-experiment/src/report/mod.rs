//! The experiment progress chart.
//!
//! One picture of a whole experiment: every experiment's metric value over
//! time (x is the experiment id), the kept ones marked and labelled with their
//! description, the running best as a step line through the kept values, the
//! baseline as a dashed reference line, and the runs that crashed or timed out
//! (which have no value) as red crosses along the edge that means worst
//! (the top, unless higher is better).
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
use plotters::prelude::*;

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
    /// `finish`: the best kept commit scored on the final test (not an
    /// experiment of the loop; drawn as a triangle with its value).
    Final,
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
/// are drawn as crosses along the top edge (the bottom one when higher is
/// better). An empty slice gives an empty chart saying so.
///
/// The file is written atomically: the chart is rendered into a temporary
/// file in `out`'s folder, which is then renamed to `out`, so a reader never
/// sees a half-written chart and a failure leaves any previous chart intact.
pub fn render_chart(points: &[ChartPoint], metric: &str, out: &Path) -> Result<(), ReportError> {
    render_chart_directed(points, metric, None, out)
}

/// [`render_chart`] for a metric whose better direction is known: the
/// running best steps only at kept values that beat it in `direction`
/// (`None`: every kept value is the new best).
pub fn render_chart_directed(
    points: &[ChartPoint],
    metric: &str,
    direction: Option<gluers_formats::Direction>,
    out: &Path,
) -> Result<(), ReportError> {
    let format = Format::of(out).ok_or_else(|| ReportError::UnsupportedFormat {
        path: out.to_path_buf(),
    })?;
    let draw_error = |message: String| ReportError::Draw {
        path: out.to_path_buf(),
        message,
    };
    register_font().map_err(draw_error)?;
    let plan = Plan::build(points, metric, direction);
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
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
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
const FINAL_COLOR: RGBColor = RGBColor(140, 60, 170);

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
    /// Crashed and timed-out experiments (x only: they sit on the worst edge).
    failed: Vec<f64>,
    /// Final-test scores (`finish`).
    finals: Vec<(f64, f64)>,
    /// Other experiments with no finite value (x only, worst edge too).
    no_value: Vec<f64>,
    /// y of the row of crosses: at the top unless higher is better.
    failure_row: f64,
    /// Shown across an empty chart.
    note: Option<&'static str>,
    legend: SeriesLabelPosition,
}

impl Plan {
    #[cfg(test)]
    fn new(points: &[ChartPoint], metric: &str) -> Self {
        Self::build(points, metric, None)
    }

    fn build(
        points: &[ChartPoint],
        metric: &str,
        direction: Option<gluers_formats::Direction>,
    ) -> Self {
        let mut sorted: Vec<&ChartPoint> = points.iter().collect();
        sorted.sort_by_key(|p| p.experiment_id);
        let value = |p: &ChartPoint| p.value.filter(|v| v.is_finite() && v.abs() <= MAX_VALUE);

        let experiments = sorted
            .iter()
            .filter(|p| !matches!(p.status, ChartStatus::Baseline | ChartStatus::Final))
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
        // Runs without a value sit at the edge that means "worst", never at
        // the one a better value moves towards.
        let worst_at_bottom = matches!(direction, Some(gluers_formats::Direction::Higher));
        let (y_range, failure_row) = y_layout(&values, worst_at_bottom);

        let mut baseline = None;
        let mut discarded = Vec::new();
        let mut kept = Vec::new();
        let mut best: Vec<(f64, f64)> = Vec::new();
        let mut failed = Vec::new();
        let mut finals = Vec::new();
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
                ChartStatus::Final => finals.push((x, y)),
                ChartStatus::Keep => {
                    let steps = match (best.last(), direction) {
                        (Some(&(_, previous)), Some(d)) => d.is_better(y, previous),
                        _ => true,
                    };
                    let gain = match best.last() {
                        Some(&(_, previous)) if steps => {
                            best.push((x, previous));
                            (y - previous).abs()
                        }
                        Some(_) => 0.0,
                        None => f64::INFINITY,
                    };
                    if steps {
                        best.push((x, y));
                    }
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
            finals,
            no_value,
            failure_row,
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
            .chain(self.finals.iter().copied())
            .chain(self.baseline)
            .chain(
                self.failed
                    .iter()
                    .chain(&self.no_value)
                    .map(|&x| (x, self.failure_row)),
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

/// The y range for these values, with room above for labels and, at the
/// bottom (`worst_at_bottom`) or the top, for the row of crosses of runs
/// without a value; and that row's y.
fn y_layout(values: &[f64], worst_at_bottom: bool) -> (Range<f64>, f64) {
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
    if worst_at_bottom {
        let bottom = lo - 0.16 * span;
        let top = hi + 0.12 * span;
        (bottom..top, bottom + 0.045 * (top - bottom))
    } else {
        let bottom = lo - 0.08 * span;
        let top = hi + 0.22 * span;
        (bottom..top, top - 0.045 * (top - bottom))
    }
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
mod canvas;
mod draw;
#[cfg(test)]
mod tests;

use draw::draw;
