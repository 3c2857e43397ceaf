//! The fixed-model series: one integer model with its accumulators
//! narrowed to each width, overflowing where the width is too small.

use super::measure::{LabelledSet, measure};
use super::resources::Pricing;
use super::{Outcome, Series, SweepError, SweepRow};
use crate::model::{Model, OverflowMode};

/// `model` with every accumulator at most `acc_bits` wide: each outer
/// accumulator at exactly `acc_bits`, each tile's inner one at the smaller
/// of its width and `acc_bits`; all overflowing as `overflow` says.
/// `allow_overflow` is set on every layer, because narrowing below the
/// proven width is the point of the study.
pub fn narrowed(model: &Model, acc_bits: u32, overflow: OverflowMode) -> Model {
    let mut narrow = model.clone();
    narrow.name = format!("{}_p{acc_bits}_{overflow}", model.name);
    for layer in &mut narrow.layers {
        if let Some(dense) = layer.accumulating_mut() {
            let accumulator = &mut dense.accumulator;
            accumulator.bits = acc_bits;
            if let Some(tile) = &mut accumulator.tile {
                tile.inner_bits = tile.inner_bits.min(acc_bits);
            }
            accumulator.overflow = overflow;
            accumulator.allow_overflow = true;
        }
    }
    narrow
}

/// Measures `model` narrowed to `acc_bits` with `overflow` accumulators.
/// Saturation depends on the order of the adds, so it needs
/// `hardware.simd` on every dense layer (the quantizer sets it).
pub fn fixed_point(
    model: &Model,
    acc_bits: u32,
    overflow: OverflowMode,
    test: LabelledSet,
    pricing: &Pricing,
) -> Result<SweepRow, SweepError> {
    let narrow = narrowed(model, acc_bits, overflow);
    Ok(SweepRow {
        series: Series::Fixed(overflow),
        acc_bits,
        outcome: Outcome::Measured(Box::new(measure(&narrow, test, pricing)?)),
    })
}
