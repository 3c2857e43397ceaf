//! `sweep.svg`: test accuracy (y) against estimated LUTs (x), one marker
//! per width labelled with `P`, one line per series.

use super::{Series, SweepRow};
use plotters::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("no measured point to plot")]
    NothingToPlot,
    #[error("drawing the plot: {0}")]
    Draw(String),
}

/// One plotted point: LUTs, accuracy in percent, and `P`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    luts: f64,
    accuracy: f64,
    acc_bits: u32,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 600;
const FONT: &str = "sans-serif";
pub(crate) const LABEL_SIZE: u32 = 12;

/// Places point labels where they overlap no earlier label: points of a
/// sweep crowd together where accuracy has not moved yet, and labels
/// printed on top of each other cannot be read.
#[derive(Default)]
pub(crate) struct LabelPlacer {
    /// Boxes already taken, in pixels: (left, top, right, bottom).
    taken: Vec<(i32, i32, i32, i32)>,
}

impl LabelPlacer {
    /// The offset from `anchor` (pixels) of the text's top-left corner:
    /// the first free spot right, left, above or below the marker, moving
    /// further out row by row; the first candidate when none is free.
    pub(crate) fn place(&mut self, anchor: (i32, i32), text: &str) -> (i32, i32) {
        // The SVG backend has no font metrics: about 0.6 em per digit.
        let width = (text.len() as f64 * f64::from(LABEL_SIZE) * 0.6).ceil() as i32;
        let height = LABEL_SIZE as i32;
        let candidates = (0..4).flat_map(|row| {
            let up = -height - 4 - row * height;
            let down = 4 + row * height;
            [(5, up), (-width - 5, up), (5, down), (-width - 5, down)]
        });
        let free = |(dx, dy): &(i32, i32)| {
            let (left, top) = (anchor.0 + dx, anchor.1 + dy);
            let rect = (left, top, left + width, top + height);
            !self.taken.iter().any(|t| overlaps(*t, rect))
        };
        let offset = candidates
            .into_iter()
            .find(free)
            .unwrap_or((5, -height - 4));
        let (left, top) = (anchor.0 + offset.0, anchor.1 + offset.1);
        self.taken.push((left, top, left + width, top + height));
        offset
    }
}

fn overlaps(a: (i32, i32, i32, i32), b: (i32, i32, i32, i32)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// The SVG of `rows` (widths below the usable minimum are left out),
/// titled `title`.
pub fn svg(rows: &[SweepRow], title: &str) -> Result<String, PlotError> {
    let series = plotted_series(rows);
    if series.is_empty() {
        return Err(PlotError::NothingToPlot);
    }
    let mut text = String::new();
    draw(&mut text, title, &series).map_err(|e| PlotError::Draw(e.to_string()))?;
    Ok(text)
}

/// Each series' measured, priced points, series and points in the order
/// of `rows`.
fn plotted_series(rows: &[SweepRow]) -> Vec<(Series, Vec<Point>)> {
    let mut series: Vec<(Series, Vec<Point>)> = Vec::new();
    for row in rows {
        let Some(m) = row.measurement() else { continue };
        let point = Point {
            luts: m.resources.estimated.declared.lut,
            accuracy: m.accuracy.percent(),
            acc_bits: row.acc_bits,
        };
        match series.iter_mut().find(|(s, _)| *s == row.series) {
            Some((_, points)) => points.push(point),
            None => series.push((row.series, vec![point])),
        }
    }
    series
}

fn all_points(series: &[(Series, Vec<Point>)]) -> impl Iterator<Item = &Point> + Clone {
    series.iter().flat_map(|(_, points)| points)
}

fn color_of(series: Series) -> RGBColor {
    match series {
        Series::Quantized => RGBColor(31, 119, 180),
        Series::Fixed(crate::model::OverflowMode::Wrap) => RGBColor(214, 39, 40),
        Series::Fixed(crate::model::OverflowMode::Saturate) => RGBColor(255, 127, 14),
    }
}

/// The LUT axis: every point with 5% room on both sides (at least one LUT,
/// so a single point still has a range).
fn lut_axis(series: &[(Series, Vec<Point>)]) -> std::ops::Range<f64> {
    let luts = all_points(series).map(|p| p.luts);
    let lo = luts.clone().fold(f64::INFINITY, f64::min);
    let hi = luts.fold(f64::NEG_INFINITY, f64::max);
    let room = ((hi - lo) * 0.05).max(1.0);
    (lo - room).max(0.0)..hi + room
}

/// The accuracy axis: from the decade below the worst point to 100%.
fn accuracy_axis(series: &[(Series, Vec<Point>)]) -> std::ops::Range<f64> {
    let worst = all_points(series).map(|p| p.accuracy).fold(100.0, f64::min);
    ((worst / 10.0).floor() * 10.0 - 2.0).max(0.0)..104.0
}

fn draw(
    out: &mut String,
    title: &str,
    series: &[(Series, Vec<Point>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(lut_axis(series), accuracy_axis(series))?;
    chart
        .configure_mesh()
        .x_desc("LUTs (estimated, xc7); markers labelled with the accumulator width P")
        .y_desc("test accuracy (%)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let mut labels = LabelPlacer::default();
    for &(which, ref points) in series {
        let color = color_of(which);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.luts, p.accuracy)),
                color.stroke_width(2),
            ))?
            .label(which.legend())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.luts, p.accuracy), 4, color.filled())),
        )?;
        for p in points {
            let text = p.acc_bits.to_string();
            let anchor = chart.backend_coord(&(p.luts, p.accuracy));
            let offset = labels.place(anchor, &text);
            chart.draw_series(std::iter::once(
                EmptyElement::at((p.luts, p.accuracy))
                    + Text::new(text, offset, (FONT, LABEL_SIZE).into_font().color(&color)),
            ))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
