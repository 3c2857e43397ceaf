//! What the simulator requires of a plan: parts that fit together, and
//! widths within the model format's (every one it represents exactly).

use super::top::SimError;
use crate::arch::{ActivationPlan, Mvau, Plan, Unit};

/// Refuses plans whose parts do not fit together or exceed what the
/// simulator represents, so that stepping never has to check.
pub(super) fn check_plan(plan: &Plan) -> Result<(), SimError> {
    let fail = |message: String| Err(SimError::Plan(message));
    if plan.units.is_empty() {
        return fail("it has no units".into());
    }
    for pair in plan.units.windows(2) {
        let (out, next) = (pair[0].output_shape(), pair[1].input_shape());
        if out.elements != next.elements {
            return fail(format!(
                "`{}` sends beats of {} elements, `{}` takes {}",
                pair[0].name(),
                out.elements,
                pair[1].name(),
                next.elements
            ));
        }
    }
    if plan.input().elements == 0 || !plan.input_length.is_multiple_of(plan.input().elements) {
        return fail(format!(
            "input vectors of {} elements do not split into beats of {}",
            plan.input_length,
            plan.input().elements
        ));
    }
    if plan.output().elements == 0 || !plan.output_length.is_multiple_of(plan.output().elements) {
        return fail(format!(
            "output vectors of {} elements do not split into beats of {}",
            plan.output_length,
            plan.output().elements
        ));
    }
    for unit in &plan.units {
        if let Some(problem) = unit_problem(unit) {
            return fail(problem);
        }
    }
    if let Some(problem) = vector_problem(plan) {
        return fail(problem);
    }
    Ok(())
}

/// Vectors that do not fit the unit taking them, followed from the input
/// (elements per input vector, and per vector between units): an MVAU
/// takes vectors of its `in_features`, a window or pool unit maps of its
/// `H x W x C`; the last unit gives `output_length` elements.
fn vector_problem(plan: &Plan) -> Option<String> {
    let (mut elements, mut length) = (plan.input_length, plan.input_length);
    for unit in &plan.units {
        let map = match unit {
            Unit::SlidingWindow(w) => Some((w.height * w.width * w.channels, w.channels)),
            Unit::MaxPool(p) => Some((p.height * p.width * p.channels, p.channels)),
            _ => None,
        };
        let fits = match (unit, map) {
            // Behind a map the MVAU takes whole maps, flattened in stream
            // order: several of the vectors (pixels) it is given.
            (Unit::Mvau(m), _) => {
                m.in_features > 0
                    && elements.is_multiple_of(m.in_features)
                    && m.in_features.is_multiple_of(length)
            }
            (_, Some((image, channels))) => elements == image && length.is_multiple_of(channels),
            _ => true,
        };
        if !fits {
            return Some(format!(
                "`{}` takes other vectors than the {length} elements ({elements} per input vector) it is given",
                unit.name()
            ));
        }
        elements = unit.output_elements(elements);
        length = unit.output_vector_length(unit.input_vector_length(length));
    }
    (elements != plan.output_length).then(|| {
        format!(
            "the units give {elements} elements per input vector, the plan declares {}",
            plan.output_length
        )
    })
}

fn unit_problem(unit: &Unit) -> Option<String> {
    match unit {
        Unit::Mvau(m) => mvau_problem(m),
        Unit::Hadamard(h) => {
            let shape_ok = h.stages > 0 && h.block == 1 << h.stages;
            let shift_ok = h.shift.is_none_or(|s| (1..=62).contains(&s));
            (!shape_ok || !shift_ok || h.output.bits > 64).then(|| {
                format!(
                    "`{}`: a block of {} with {} stages, shift {:?}, output {}",
                    h.name, h.block, h.stages, h.shift, h.output
                )
            })
        }
        Unit::Fifo(f) => (f.depth == 0 || f.beat.elements == 0)
            .then(|| format!("`{}`: depth {}", f.name, f.depth)),
        Unit::SlidingWindow(w) => w.problem(),
        Unit::MaxPool(p) => p.problem(),
        Unit::Converter(c) => (c.input_elements == 0 || c.output_elements == 0).then(|| {
            format!(
                "`{}`: {} -> {} elements",
                c.name, c.input_elements, c.output_elements
            )
        }),
    }
}

/// Dimensions of the MVAU's folds and memories that disagree.
fn mvau_problem(m: &Mvau) -> Option<String> {
    let problem = |what: &str| Some(format!("`{}`: {what}", m.name));
    if m.pe * m.nf != m.out_features || m.simd * m.sf != m.in_features || m.nf * m.sf == 0 {
        return problem("PE x NF or SIMD x SF does not match the layer");
    }
    let rom_shape_ok = m.weights.len() == m.pe
        && m.weights
            .iter()
            .all(|rom| rom.len() == m.nf * m.sf && rom.iter().all(|w| w.len() == m.simd));
    if !rom_shape_ok {
        return problem("weight ROMs are not [pe][nf*sf][simd]");
    }
    if let Some(bias) = &m.bias
        && (bias.len() != m.pe || bias.iter().any(|b| b.len() != m.nf))
    {
        return problem("bias is not [pe][nf]");
    }
    let widths_ok = |bits: u32| (1..=64).contains(&bits);
    if !widths_ok(m.accumulator.bits) {
        return problem("accumulator width outside 1..=64");
    }
    if let Some(inner) = &m.accumulator.inner
        && (!widths_ok(inner.bits)
            || inner.chunks_per_tile == 0
            || !m.sf.is_multiple_of(inner.chunks_per_tile))
    {
        return problem("tile does not divide the synapse folds, or its width is outside 1..=64");
    }
    match (&m.activation, &m.thresholds) {
        (ActivationPlan::Thresholds { count, .. }, Some(t)) => {
            let shape_ok = t.len() == m.pe
                && t.iter()
                    .all(|per_nf| per_nf.len() == m.nf && per_nf.iter().all(|k| k.len() == *count));
            (!shape_ok).then(|| format!("`{}`: thresholds are not [pe][nf][{count}]", m.name))
        }
        (ActivationPlan::Thresholds { .. }, None) => {
            problem("thresholds planned without a threshold table")
        }
        (ActivationPlan::None, _) => None,
    }
}
