//! The plan as a table, for `a2qgen gen --plan` and the generated README.

use super::plan::{MVAU_LATENCY, Mvau, Plan, StreamShape, Unit};
use crate::model::WeightStorage;
use crate::table::{Align, Table};

fn shape(s: StreamShape) -> String {
    format!("{} x {}", s.elements, s.element)
}

/// The multiplier style of a ROM layer; the storage of a hardwired one;
/// for `auto`, the choice and the two LUT estimates it was made from.
fn weights(m: &Mvau) -> String {
    match (&m.storage_choice, m.storage) {
        (None, WeightStorage::Rom) => m.multiplier.to_string(),
        (None, WeightStorage::Hardwired) => "hardwired".to_string(),
        (Some(c), storage) => format!(
            "{storage} (auto: est. {:.0} LUT as rom, {:.0} hardwired)",
            c.rom_luts, c.hardwired_luts
        ),
    }
}

/// One row per unit, then the pipeline's II and latency.
pub fn plan_table(plan: &Plan) -> String {
    let mut table = Table::new(&[
        ("unit", Align::Left),
        ("kind", Align::Left),
        ("in beat", Align::Left),
        ("out beat", Align::Left),
        ("folding", Align::Left),
        ("accumulator", Align::Left),
        ("cycles/vector", Align::Right),
        ("latency", Align::Right),
    ]);
    let mut length = plan.input_length;
    for unit in &plan.units {
        let (kind, folding, accumulator, cycles, latency) = match unit {
            Unit::Mvau(m) => {
                length = m.out_features;
                let acc = match &m.accumulator.inner {
                    Some(i) => format!(
                        "{}b tiles of {} into {}b {}",
                        i.bits, i.tile_size, m.accumulator.bits, m.accumulator.overflow
                    ),
                    None => format!("{}b {}", m.accumulator.bits, m.accumulator.overflow),
                };
                (
                    format!("MVAU {} -> {}", m.in_features, m.out_features),
                    format!(
                        "PE {} x SIMD {} (NF {}, SF {}), {}",
                        m.pe,
                        m.simd,
                        m.nf,
                        m.sf,
                        weights(m)
                    ),
                    acc,
                    m.cycles_per_vector(),
                    MVAU_LATENCY.to_string(),
                )
            }
            Unit::Hadamard(h) => (
                format!("Hadamard x{}", h.block),
                format!("{} stages", h.stages),
                "-".into(),
                h.cycles_per_vector(),
                h.latency().to_string(),
            ),
            Unit::Fifo(f) => (
                "FIFO".into(),
                format!("depth {}", f.depth),
                "-".into(),
                (length / f.beat.elements) as u64,
                "1".into(),
            ),
            Unit::Converter(c) => (
                "width converter".into(),
                format!("{} -> {} elements", c.input_elements, c.output_elements),
                "-".into(),
                (length / c.input_elements.min(c.output_elements)) as u64,
                "-".into(),
            ),
        };
        table.row([
            unit.name().to_string(),
            kind,
            shape(unit.input_shape()),
            shape(unit.output_shape()),
            folding,
            accumulator,
            cycles.to_string(),
            latency,
        ]);
    }
    format!(
        "{table}\ninitiation interval: {} cycles per vector; latency (first input to first output): {} cycles\n",
        plan.initiation_interval, plan.latency
    )
}
