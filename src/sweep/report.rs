//! The sweep as CSV (one row per point, every figure) and as a Markdown
//! table (what a reader compares).

use super::resources::{Pair, ResourceComparison};
use super::{Measurement, Outcome, SweepRow};
use crate::table::{Align, Table};
use std::fmt::Write as _;

/// Names of the dense layers in order of first appearance over `rows`
/// (the two series may come from different models).
fn layer_names(rows: &[SweepRow]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for layer in rows
        .iter()
        .filter_map(SweepRow::measurement)
        .flat_map(|m| &m.layers)
    {
        if !names.contains(&layer.name) {
            names.push(layer.name.clone());
        }
    }
    names
}

fn any_synthesized(rows: &[SweepRow]) -> bool {
    rows.iter()
        .any(|r| resources_of(r).is_some_and(|c| c.synthesized.is_some()))
}

fn resources_of(row: &SweepRow) -> Option<&ResourceComparison> {
    row.measurement().map(|m| &m.resources)
}

/// The CSV header for `rows`: fixed columns, two per dense layer, the
/// estimated resources, and the measured ones when synthesized.
pub fn csv_columns(rows: &[SweepRow]) -> Vec<String> {
    let mut columns: Vec<String> = [
        "series",
        "acc_bits",
        "status",
        "least_usable_bits",
        "correct",
        "total",
        "accuracy_percent",
        "proven",
        "overflow_events",
    ]
    .map(String::from)
    .to_vec();
    for layer in layer_names(rows) {
        columns.push(format!("{layer}_min_bits"));
        columns.push(format!("{layer}_overflow_events"));
    }
    columns.extend(pair_columns(""));
    if any_synthesized(rows) {
        columns.extend(pair_columns("yosys_"));
    }
    columns
}

/// Resource columns of one [`Pair`]: declared widths, 32-bit
/// accumulators, and the ratios of the two.
fn pair_columns(prefix: &str) -> Vec<String> {
    ["lut", "ff", "carry4", "dsp", "bram18"]
        .iter()
        .flat_map(|r| [format!("{prefix}{r}"), format!("{prefix}{r}_32")])
        .chain(["lut", "ff"].map(|r| format!("{prefix}{r}_ratio")))
        .collect()
}

fn pair_cells(pair: Option<&Pair>) -> Vec<String> {
    let Some(pair) = pair else {
        return vec![String::new(); pair_columns("").len()];
    };
    let (d, w) = (&pair.declared, &pair.wide);
    let mut cells: Vec<String> = [
        (d.lut, w.lut),
        (d.ff, w.ff),
        (d.carry4, w.carry4),
        (d.dsp, w.dsp),
        (d.bram18, w.bram18),
    ]
    .iter()
    .flat_map(|&(declared, wide)| [count(declared), count(wide)])
    .collect();
    cells.push(ratio(d.lut, w.lut));
    cells.push(ratio(d.ff, w.ff));
    cells
}

/// A resource figure: estimates are fractional, one decimal is plenty.
fn count(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// `declared / wide` to three decimals, empty when the wide figure is 0.
fn ratio(declared: f64, wide: f64) -> String {
    if wide > 0.0 {
        format!("{:.3}", declared / wide)
    } else {
        String::new()
    }
}

/// One CSV line per row, under [`csv_columns`].
pub fn csv(rows: &[SweepRow]) -> String {
    let layers = layer_names(rows);
    let synthesized = any_synthesized(rows);
    let mut text = csv_line(&csv_columns(rows));
    for row in rows {
        let mut cells = vec![row.series.key().to_string(), row.acc_bits.to_string()];
        cells.extend(outcome_cells(&row.outcome));
        cells.extend(layer_cells(row.measurement(), &layers));
        cells.extend(pair_cells(resources_of(row).map(|c| &c.estimated)));
        if synthesized {
            cells.extend(pair_cells(
                resources_of(row).and_then(|c| c.synthesized.as_ref()),
            ));
        }
        text.push_str(&csv_line(&cells));
    }
    text
}

/// `status` through `overflow_events`.
fn outcome_cells(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Measured(m) => vec![
            "measured".into(),
            String::new(),
            m.accuracy.correct.to_string(),
            m.accuracy.total.to_string(),
            format!("{:.4}", m.accuracy.percent()),
            m.proven().to_string(),
            m.overflow_events().to_string(),
        ],
        Outcome::BelowUsable { least_bits, .. } => {
            let mut cells = vec!["below-usable".into(), least_bits.to_string()];
            cells.resize(7, String::new());
            cells
        }
    }
}

/// `<layer>_min_bits` and `<layer>_overflow_events` for each of `layers`.
fn layer_cells(measurement: Option<&Measurement>, layers: &[String]) -> Vec<String> {
    layers
        .iter()
        .flat_map(|name| {
            let point = measurement.and_then(|m| m.layers.iter().find(|l| &l.name == name));
            match point {
                Some(p) => [p.min_bits.to_string(), p.overflow_events.to_string()],
                None => [String::new(), String::new()],
            }
        })
        .collect()
}

/// Cells joined by commas; a cell with a comma or a quote is quoted.
fn csv_line(cells: &[String]) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if cell.contains([',', '"', '\n']) {
            let _ = write!(line, "\"{}\"", cell.replace('"', "\"\""));
        } else {
            line.push_str(cell);
        }
    }
    line.push('\n');
    line
}

/// The Markdown table: one row per point, per-layer figures joined by `/`
/// in layer order.
pub fn markdown(rows: &[SweepRow]) -> String {
    let layers = layer_names(rows);
    let joined = layers.join("/");
    let min_header = format!("min P ({joined})");
    let overflow_header = format!("overflow events ({joined})");
    let mut columns = vec![
        ("series", Align::Left),
        ("P", Align::Right),
        ("accuracy", Align::Right),
        (overflow_header.as_str(), Align::Right),
        (min_header.as_str(), Align::Right),
    ];
    columns.extend([
        ("LUT", Align::Right),
        ("FF", Align::Right),
        ("DSP", Align::Right),
        ("LUT vs 32-bit acc", Align::Right),
        ("FF vs 32-bit acc", Align::Right),
    ]);
    let synthesized = any_synthesized(rows);
    if synthesized {
        columns.extend([
            ("Yosys LUT", Align::Right),
            ("Yosys FF", Align::Right),
            ("Yosys LUT vs 32-bit acc", Align::Right),
        ]);
    }
    let mut table = Table::new(&columns);
    for row in rows {
        table.row(markdown_row(row, &layers, synthesized));
    }
    table.to_string()
}

fn markdown_row(row: &SweepRow, layers: &[String], synthesized: bool) -> Vec<String> {
    let mut cells = vec![row.series.to_string(), row.acc_bits.to_string()];
    match &row.outcome {
        Outcome::Measured(m) => {
            cells.push(m.accuracy.to_string());
            cells.push(per_layer(m, layers, |l| l.overflow_events.to_string()));
            cells.push(per_layer(m, layers, |l| l.min_bits.to_string()));
        }
        Outcome::BelowUsable { layer, least_bits } => {
            cells.push(format!(
                "below the usable minimum: `{layer}` needs P >= {least_bits}"
            ));
            cells.extend([String::from("-"), String::from("-")]);
        }
    }
    let resources = resources_of(row);
    cells.extend(estimate_cells(resources.map(|c| &c.estimated)));
    if synthesized {
        cells.extend(synthesized_cells(
            resources.and_then(|c| c.synthesized.as_ref()),
        ));
    }
    cells
}

/// Per-layer values joined by `/` in `layers` order; `-` for a layer the
/// model lacks.
fn per_layer(
    m: &Measurement,
    layers: &[String],
    value: impl Fn(&super::LayerPoint) -> String,
) -> String {
    layers
        .iter()
        .map(|name| {
            m.layers
                .iter()
                .find(|l| &l.name == name)
                .map_or("-".to_string(), &value)
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn estimate_cells(pair: Option<&Pair>) -> Vec<String> {
    match pair {
        Some(p) => vec![
            format!("{:.0}", p.declared.lut),
            format!("{:.0}", p.declared.ff),
            format!("{:.0}", p.declared.dsp),
            times(p.declared.lut, p.wide.lut),
            times(p.declared.ff, p.wide.ff),
        ],
        None => vec!["-".into(); 5],
    }
}

fn synthesized_cells(pair: Option<&Pair>) -> Vec<String> {
    match pair {
        Some(p) => vec![
            format!("{:.0}", p.declared.lut),
            format!("{:.0}", p.declared.ff),
            times(p.declared.lut, p.wide.lut),
        ],
        None => vec!["-".into(); 3],
    }
}

/// `0.85x`: the declared design's share of the 32-bit one.
fn times(declared: f64, wide: f64) -> String {
    if wide > 0.0 {
        format!("{:.2}x", declared / wide)
    } else {
        "-".into()
    }
}
