//! The quantized series: the float model quantized again at each width.

use super::measure::{LabelledSet, measure};
use super::resources::Pricing;
use super::{Outcome, Series, SweepError, SweepRow};
use crate::quantize::{AccumulatorWidths, FloatModel, QuantizeError, QuantizeSettings, quantize};
use ndarray::ArrayView2;

/// Quantizes `float` with `template` at `acc_bits` in every layer (the
/// model is named `<template name>_p<acc_bits>`) and measures it. A width
/// whose norm budget leaves some layer no weight is a row saying so, not
/// an error: a sweep is expected to run into it.
pub fn quantized_point(
    float: &FloatModel,
    calibration: ArrayView2<i64>,
    template: &QuantizeSettings,
    acc_bits: u32,
    test: LabelledSet,
    pricing: &Pricing,
) -> Result<SweepRow, SweepError> {
    let settings = settings_at(template, acc_bits);
    let outcome = match quantize(float, calibration, &settings) {
        Ok(quantized) => Outcome::Measured(Box::new(measure(&quantized.model, test, pricing)?)),
        Err(QuantizeError::BelowUsableWidth {
            layer, least_bits, ..
        }) => Outcome::BelowUsable { layer, least_bits },
        Err(source) => return Err(SweepError::Quantize { acc_bits, source }),
    };
    Ok(SweepRow {
        series: Series::Quantized,
        acc_bits,
        outcome,
    })
}

/// `template` with every accumulator at `acc_bits`.
fn settings_at(template: &QuantizeSettings, acc_bits: u32) -> QuantizeSettings {
    QuantizeSettings {
        name: format!("{}_p{acc_bits}", template.name),
        accumulator: AccumulatorWidths::uniform(acc_bits),
        ..template.clone()
    }
}
