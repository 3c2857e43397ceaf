//! `study.svg`: test accuracy against Yosys LUTs (left) and FFs (right),
//! one marker per measured design: colour by method, filled for proven
//! accumulators and hollow for 32-bit ones, circles for ROMs and triangles
//! for hardwired weights, labelled with the width A2Q / A2Q+ trained for.

use super::{Accumulators, Status, StudyRow, Weights};
use crate::sweep::{LABEL_SIZE, LabelPlacer};
use plotters::prelude::*;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 560;
const FONT: &str = "sans-serif";
/// Designs below this accuracy (collapsed trainings) are left off the
/// plot, so the others can be told apart; the table lists them.
pub const PLOT_FLOOR: f64 = 90.0;

#[derive(Debug, thiserror::Error)]
pub enum StudyPlotError {
    #[error("no measured design to plot")]
    NothingToPlot,
    #[error("drawing the plot: {0}")]
    Draw(String),
}

#[derive(Clone, Debug)]
struct Point {
    lut: f64,
    ff: f64,
    accuracy: f64,
    label: String,
    method: String,
    weights: Weights,
    accumulators: Accumulators,
}

fn points(rows: &[StudyRow]) -> Vec<Point> {
    rows.iter()
        .filter(|r| r.status == Status::Measured)
        .filter_map(|r| {
            let m = r.yosys?;
            let accuracy = r.infer_percent()?;
            (accuracy >= PLOT_FLOOR).then(|| Point {
                lut: m.lut as f64,
                ff: m.ff as f64,
                accuracy,
                label: r
                    .target_bits
                    .map_or_else(|| "base".into(), |b| b.to_string()),
                method: r.method.clone(),
                weights: r.variant.weights,
                accumulators: r.variant.accumulators,
            })
        })
        .collect()
}

fn color_of(method: &str) -> RGBColor {
    match method {
        "baseline" => RGBColor(0, 0, 0),
        "a2q" => RGBColor(31, 119, 180),
        _ => RGBColor(214, 39, 40),
    }
}

fn method_name(method: &str) -> &str {
    match method {
        "baseline" => "baseline (per tensor)",
        "a2q" => "A2Q",
        "a2qplus" => "A2Q+",
        other => other,
    }
}

/// The SVG of the measured designs of `rows`.
pub fn svg(rows: &[StudyRow]) -> Result<String, StudyPlotError> {
    let points = points(rows);
    if points.is_empty() {
        return Err(StudyPlotError::NothingToPlot);
    }
    let mut text = String::new();
    draw(&mut text, &points).map_err(|e| StudyPlotError::Draw(e.to_string()))?;
    Ok(text)
}

fn axis(values: impl Iterator<Item = f64> + Clone) -> std::ops::Range<f64> {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let room = ((hi - lo) * 0.08).max(10.0);
    (lo - room).max(0.0)..hi + room
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(out: &mut String, points: &[Point]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "digits 64-64-32-10 W4A4: test accuracy against Yosys (xc7); designs below {PLOT_FLOOR:.0}% left off"
        ),
        (FONT, 18),
    )?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    panel(&left, points, "LUTs (Yosys)", |p| p.lut, true)?;
    panel(&right, points, "FFs (Yosys)", |p| p.ff, false)?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &Area,
    points: &[Point],
    x_desc: &str,
    x_of: fn(&Point) -> f64,
    legend: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let worst = points.iter().map(|p| p.accuracy).fold(100.0, f64::min);
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(
            axis(points.iter().map(x_of)),
            (worst.floor() - 0.5).max(0.0)..100.5,
        )?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("test accuracy, infer (%)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()?;
    let mut labels = LabelPlacer::default();
    for p in points {
        let color = color_of(&p.method);
        let style = match p.accumulators {
            Accumulators::Proven => color.filled(),
            Accumulators::Wide32 => color.stroke_width(2),
        };
        let at = (x_of(p), p.accuracy);
        match p.weights {
            Weights::Rom => {
                chart.draw_series(std::iter::once(Circle::new(at, 5, style)))?;
            }
            Weights::Hardwired => {
                chart.draw_series(std::iter::once(TriangleMarker::new(at, 6, style)))?;
            }
        }
        let anchor = chart.backend_coord(&at);
        let offset = labels.place(anchor, &p.label);
        chart.draw_series(std::iter::once(
            EmptyElement::at(at)
                + Text::new(
                    p.label.clone(),
                    offset,
                    (FONT, LABEL_SIZE).into_font().color(&color),
                ),
        ))?;
    }
    if legend {
        let mut methods: Vec<&str> = Vec::new();
        for p in points {
            if !methods.contains(&p.method.as_str()) {
                methods.push(&p.method);
            }
        }
        for method in methods {
            let color = color_of(method);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(method_name(method))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        }
        let black = RGBColor(0, 0, 0);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("proven accumulators (filled)")
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, black.filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("32-bit accumulators (hollow)")
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, black.stroke_width(2)));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("hardwired weights (triangle)")
            .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 6, black.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}
