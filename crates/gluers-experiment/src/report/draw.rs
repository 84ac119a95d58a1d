//! Drawing the chart: axes, points, the running best, labels and legend.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::*;

pub(super) fn draw<DB: DrawingBackend>(
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

    // Over the running best: a discarded run as good as the best stays
    // visible on the line (with a white ring to set it off).
    if !plan.discarded.is_empty() {
        chart
            .draw_series(plan.discarded.iter().map(|&point| {
                EmptyElement::at(point)
                    + Circle::new((0, 0), 5, WHITE.filled())
                    + Circle::new((0, 0), 4, DISCARD_COLOR.filled())
            }))?
            .label("discarded")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, DISCARD_COLOR.filled()));
        legend = true;
    }

    if !plan.failed.is_empty() {
        let row = plan.failure_row;
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
        let row = plan.failure_row;
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

    if !plan.finals.is_empty() {
        chart
            .draw_series(
                plan.finals
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 9, FINAL_COLOR.filled())),
            )?
            .label("final test")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, FINAL_COLOR.filled()));
        legend = true;
        for &(x, y) in &plan.finals {
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, y))
                    + Text::new(
                        format!("final test {}", (y * 1e4).round() / 1e4),
                        (-12, 0),
                        label_font(&FINAL_COLOR, (HPos::Right, VPos::Center)),
                    ),
            ))?;
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
    if !plan.finals.is_empty() {
        entries.push("final test");
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
