//! The `estimate` report: resources per unit for the declared widths and
//! for 32-bit accumulators, and where the narrower accumulators save.

use super::{Band, Comparison, Component, PlanEstimate, Resources, UnitEstimate};
use crate::table::{Align, Table};

/// `wide / declared`, the factor 32-bit accumulators cost.
pub fn ratio(declared: f64, wide: f64) -> String {
    if declared <= 0.0 {
        if wide <= 0.0 {
            "-".into()
        } else {
            "inf".into()
        }
    } else {
        format!("{:.2}x", wide / declared)
    }
}

fn round(value: f64) -> String {
    format!("{:.0}", value)
}

/// The main table: one row per unit and a total.
pub fn resource_table(c: &Comparison) -> Table {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("unit", Align::Left),
        ("kind", Align::Left),
        ("LUT", Align::Right),
        ("LUT ±", Align::Right),
        ("LUT 32b", Align::Right),
        ("LUT x", Align::Right),
        ("FF", Align::Right),
        ("FF ±", Align::Right),
        ("FF 32b", Align::Right),
        ("FF x", Align::Right),
        ("CARRY4", Align::Right),
        ("CARRY4 32b", Align::Right),
        ("DSP", Align::Right),
        ("DSP 32b", Align::Right),
        ("BRAM18", Align::Right),
        ("BRAM18 32b", Align::Right),
    ]);
    for (d, w) in c.declared.units.iter().zip(&c.wide.units) {
        table.row(resource_row(
            [&d.index.to_string(), &d.name, d.block.name()],
            (&d.total, d.band),
            &w.total,
        ));
    }
    table.row(resource_row(
        ["", "total", ""],
        (&c.declared.total, c.declared.band),
        &c.wide.total,
    ));
    table
}

/// `±9%`, or `n/c` when the estimate has no calibrated band.
fn band_cell(band: Option<Band>, pick: fn(&Band) -> f64) -> String {
    band.map_or_else(|| "n/c".into(), |b| format!("±{:.0}%", pick(&b)))
}

fn resource_row(
    [index, name, kind]: [&str; 3],
    (d, band): (&Resources, Option<Band>),
    w: &Resources,
) -> Vec<String> {
    vec![
        index.to_string(),
        name.to_string(),
        kind.to_string(),
        round(d.lut),
        band_cell(band, |b| b.lut_percent),
        round(w.lut),
        ratio(d.lut, w.lut),
        round(d.ff),
        band_cell(band, |b| b.ff_percent),
        round(w.ff),
        ratio(d.ff, w.ff),
        round(d.carry4),
        round(w.carry4),
        round(d.dsp),
        round(w.dsp),
        round(d.bram18),
        round(w.bram18),
    ]
}

fn part(u: &UnitEstimate, component: Component) -> Resources {
    u.components.get(&component).copied().unwrap_or_default()
}

/// `declared -> wide` of one quantity, or `-` when both are zero.
fn change(declared: f64, wide: f64) -> String {
    if declared == 0.0 && wide == 0.0 {
        "-".into()
    } else {
        format!("{} -> {}", round(declared), round(wide))
    }
}

/// Where the narrower accumulators save, per unit: accumulator registers
/// and adders, comparators and their threshold memory, the output stream
/// and the FIFOs and converters that carry it.
pub fn savings_table(c: &Comparison) -> Table {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("unit", Align::Left),
        ("acc registers FF", Align::Right),
        ("acc adders LUT", Align::Right),
        ("comparators LUT", Align::Right),
        ("threshold select LUT", Align::Right),
        ("output stream bits", Align::Right),
        ("FIFO/converter LUT+FF", Align::Right),
    ]);
    for (d, w) in c.declared.units.iter().zip(&c.wide.units) {
        let acc = (
            part(d, Component::Accumulator),
            part(w, Component::Accumulator),
        );
        let cmp = (
            part(d, Component::Comparators),
            part(w, Component::Comparators),
        );
        let select = (
            part(d, Component::ThresholdSelect),
            part(w, Component::ThresholdSelect),
        );
        let stream = |u: &UnitEstimate| {
            let r = part(u, Component::Fifo) + part(u, Component::Converter);
            r.lut + r.ff
        };
        table.row([
            d.index.to_string(),
            d.name.clone(),
            change(acc.0.ff, acc.1.ff),
            change(acc.0.lut, acc.1.lut),
            change(cmp.0.lut, cmp.1.lut),
            change(select.0.lut, select.1.lut),
            change(d.output_bits as f64, w.output_bits as f64),
            change(stream(d), stream(w)),
        ]);
    }
    table
}

/// The whole text report.
pub fn render(c: &Comparison, micros: f64) -> String {
    let (d, w) = (&c.declared.total, &c.wide.total);
    format!(
        "model {}: xc7 resources, declared accumulators vs 32-bit (estimated in {:.2} ms)\n\n{}\n\
         {}\
         32-bit accumulators cost {} the LUTs and {} the flip-flops; the declared widths save {:.0} LUTs and {:.0} FFs.\n\n\
         Where the narrower accumulators save (declared -> 32-bit):\n\n{}",
        c.declared.model,
        micros / 1e3,
        resource_table(c),
        band_line(&c.declared),
        ratio(d.lut, w.lut),
        ratio(d.ff, w.ff),
        w.lut - d.lut,
        w.ff - d.ff,
        savings_table(c)
    )
}

/// The total with its error band, and which units the band leaves out.
pub fn band_line(estimate: &PlanEstimate) -> String {
    let total = &estimate.total;
    let uncovered: Vec<&str> = estimate
        .units
        .iter()
        .filter(|u| u.band.is_none())
        .map(|u| u.name.as_str())
        .collect();
    let Some(band) = estimate.band else {
        return "Error band: none (no unit is covered by the calibration).\n".into();
    };
    let range = |value: f64, percent: f64| {
        format!(
            "{:.0} ± {:.0}% ({:.0} to {:.0})",
            value,
            percent,
            value * (1.0 - percent / 100.0),
            value * (1.0 + percent / 100.0)
        )
    };
    let mut line = format!(
        "Error band (p90 of the calibration's errors per kind of unit, weighted by share): LUT {}, FF {}",
        range(total.lut, band.lut_percent),
        range(total.ff, band.ff_percent),
    );
    if !uncovered.is_empty() {
        line += &format!("; not covering {} (uncalibrated)", uncovered.join(", "));
    }
    line + ".\n"
}

/// The JSON document of `--json`.
#[derive(serde::Serialize)]
pub struct EstimateJson<'a> {
    pub model: &'a str,
    pub declared: &'a PlanEstimate,
    pub wide_32: &'a PlanEstimate,
    pub lut_ratio: f64,
    pub ff_ratio: f64,
}

impl<'a> EstimateJson<'a> {
    pub fn new(c: &'a Comparison) -> Self {
        EstimateJson {
            model: &c.declared.model,
            declared: &c.declared,
            wide_32: &c.wide,
            lut_ratio: c.wide.total.lut / c.declared.total.lut.max(1.0),
            ff_ratio: c.wide.total.ff / c.declared.total.ff.max(1.0),
        }
    }
}
