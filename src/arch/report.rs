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
    // Elements per input vector (image) at the unit's input, and per vector.
    let (mut elements, mut length) = (plan.input_length, plan.input_length);
    for unit in &plan.units {
        length = unit.input_vector_length(length);
        let vectors = (elements / length) as u64;
        let (kind, folding, accumulator, cycles, latency) = match unit {
            Unit::Mvau(m) => {
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
                    vectors * m.cycles_per_vector(),
                    MVAU_LATENCY.to_string(),
                )
            }
            Unit::Hadamard(h) => (
                format!("Hadamard x{}", h.block),
                format!("{} stages", h.stages),
                "-".into(),
                vectors * h.cycles_per_vector(),
                h.latency().to_string(),
            ),
            Unit::Fifo(f) => (
                "FIFO".into(),
                format!("depth {}", f.depth),
                "-".into(),
                (elements / f.beat.elements) as u64,
                "1".into(),
            ),
            Unit::Converter(c) => (
                "width converter".into(),
                format!("{} -> {} elements", c.input_elements, c.output_elements),
                "-".into(),
                (elements / c.input_elements.min(c.output_elements)) as u64,
                "-".into(),
            ),
            Unit::SlidingWindow(w) => {
                let (oh, ow) = w.output();
                let p = w.padding;
                (
                    format!("window {}x{}x{}", w.height, w.width, w.channels),
                    format!(
                        "kernel {}x{}, stride {}x{}, pad {},{},{},{} -> {oh}x{ow}; buffer {} rows",
                        w.kernel.0,
                        w.kernel.1,
                        w.stride.0,
                        w.stride.1,
                        p.top,
                        p.left,
                        p.bottom,
                        p.right,
                        w.buffer_rows()
                    ),
                    "-".into(),
                    w.cycles_per_image(),
                    w.latency().to_string(),
                )
            }
            Unit::MaxPool(m) => {
                let (ph, pw) = m.output();
                (
                    format!("max pool {}x{}x{}", m.height, m.width, m.channels),
                    format!(
                        "kernel {}x{}, stride {}x{} -> {ph}x{pw}",
                        m.kernel.0, m.kernel.1, m.stride.0, m.stride.1
                    ),
                    "-".into(),
                    m.cycles_per_image(),
                    m.latency().to_string(),
                )
            }
        };
        elements = unit.output_elements(elements);
        length = unit.output_vector_length(length);
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
