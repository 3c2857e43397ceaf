//! Post-training accumulator-aware quantization: from a float MLP (dense
//! layers with ReLU between them) to an integer [`Model`] whose every
//! accumulator width `P` is proven by `bounds`.
//!
//! Per layer, with float input = `s_x` * integer input:
//!
//! - each output channel gets its own weight scale (the last layer one
//!   shared scale): `max|w| / (2^(W-1) - 1)` when rounding to nearest
//!   there keeps the A2Q L1 norm (or A2Q+ centred norm) within the budget
//!   of `P` bits; otherwise the budget binds and the scale grows: to A2Q's
//!   projected `norm(w) / budget`, where rounding toward zero is
//!   guaranteed to fit, or (by default) to the candidate scale whose
//!   integer weights and bias best reproduce the float pre-activations on
//!   the calibration inputs. Weights round to nearest when that fits the
//!   exact check, toward zero otherwise;
//! - the bias becomes the accumulator's initial value, clamped so the exact
//!   range still fits `P`;
//! - hidden layers requantize by thresholds implementing the quantized
//!   ReLU with an output scale `s_a` calibrated on sample inputs, which is
//!   the next layer's `s_x`; the last layer outputs raw accumulators.
//!
//! That is the `a2q` [`QuantizeMethod`]. The `axe-optq` and `axe-gpfq`
//! methods (in `axe`) replace the rounding of each channel by a greedy,
//! error-correcting pass over its weights that enforces the accumulator
//! budget as it goes; scales, bias and thresholds are shared with `a2q`.
//!
//! The finished model is checked with `bounds::analyze`; an unproven width
//! is an error, never a silent result.

mod axe;
mod calibrate;
mod evaluate;
mod float;
mod layer;
mod project;
mod requantize;
mod windows;

pub use axe::{Greedy, QuantizeMethod, l1_ball_threshold};
pub use calibrate::{Calibration, InputStatistics, calibrate, percentile_of_sorted};
pub use evaluate::{Accuracy, Comparison, compare_on};
pub use float::{FloatDense, FloatModel, argmax};
pub use layer::{LayerReport, ScaleSearch};
pub use project::{
    ChannelLimits, ChannelWeights, NormConstraint, ScaleBounds, quantize_channel,
    round_toward_zero, scale_bounds, shrink_until_within,
};
pub use requantize::{integer_bias, relu_thresholds};

use crate::bounds::{WidthVerdict, analyze};
use crate::model::{
    ACCUMULATOR_BITS, Conv, HardwareHints, IntType, Layer, LayerKind, MAX_DATA_BITS,
    MAX_THRESHOLD_BITS, Model, Tile, Window, check_identifier,
};
use crate::npyio::NpyError;
use layer::{LayerPlan, quantize_layer};
use ndarray::ArrayView2;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a float model could not be quantized.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("float layer `{layer}` {message}")]
    FloatModel { layer: String, message: String },
    #[error("{0}")]
    Settings(String),
    /// The width leaves a layer a norm budget below 1: every weight would
    /// be zero. Sweeps report it as a width below the usable minimum.
    #[error(
        "layer `{layer}`: a {bits}-bit accumulator leaves {input} inputs an {constraint} budget of {budget:.2} < 1, so every weight would be zero; use at least {least_bits} bits"
    )]
    BelowUsableWidth {
        layer: String,
        bits: u32,
        input: IntType,
        constraint: NormConstraint,
        budget: f64,
        /// The least width whose budget is at least 1.
        least_bits: u32,
    },
    #[error("calibration inputs: {0}")]
    Calibration(String),
    #[error("test set: {0}")]
    Evaluation(String),
    /// The finished model does not prove a width: a bug in the quantizer,
    /// reported rather than written.
    #[error(
        "layer `{layer}` of the quantized model needs a {min_bits}-bit accumulator but declares {declared_bits}: the quantizer failed to meet its own bound"
    )]
    Unproven {
        layer: String,
        declared_bits: u32,
        min_bits: u32,
    },
}

/// The accumulator width of every layer: one default, and overrides by
/// layer name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccumulatorWidths {
    pub default_bits: u32,
    pub per_layer: BTreeMap<String, u32>,
}

impl AccumulatorWidths {
    pub fn uniform(bits: u32) -> Self {
        AccumulatorWidths {
            default_bits: bits,
            per_layer: BTreeMap::new(),
        }
    }

    pub fn bits_of(&self, layer: &str) -> u32 {
        self.per_layer
            .get(layer)
            .copied()
            .unwrap_or(self.default_bits)
    }
}

/// How to quantize.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeSettings {
    /// The model name (an identifier).
    pub name: String,
    /// The integer input type (e.g. uint5 for pixels 0..16).
    pub input: IntType,
    /// Float input = `input_scale` * integer input.
    pub input_scale: f64,
    /// Signed weight bits `W` of every layer.
    pub weight_bits: u32,
    /// Unsigned output bits `B` of every hidden layer.
    pub activation_bits: u32,
    pub accumulator: AccumulatorWidths,
    pub constraint: NormConstraint,
    pub scale_search: ScaleSearch,
    /// Hidden outputs are scaled so this percentile (in `(0, 100]`) of the
    /// calibration activations maps to the top output level.
    pub percentile: f64,
    /// Folding: per layer the largest power of two up to these dividing
    /// `out_features` (PE) and `in_features` (SIMD).
    pub max_pe: usize,
    pub max_simd: usize,
    /// How each channel's weights are rounded: A2Q's projection or an AXE
    /// greedy pass.
    pub method: QuantizeMethod,
    /// Multi-stage accumulation in every dense layer: tiles of `size`
    /// inputs in an inner accumulator of `inner_bits`, the tiles and bias
    /// summed in the layer's accumulator.
    pub tile: Option<Tile>,
}

impl QuantizeSettings {
    /// W4 A4 A2Q at `accumulator_bits` everywhere, calibrated scale search,
    /// the 99.9th percentile, folding up to 8 x 8.
    pub fn new(
        name: impl Into<String>,
        input: IntType,
        input_scale: f64,
        accumulator_bits: u32,
    ) -> Self {
        QuantizeSettings {
            name: name.into(),
            input,
            input_scale,
            weight_bits: 4,
            activation_bits: 4,
            accumulator: AccumulatorWidths::uniform(accumulator_bits),
            constraint: NormConstraint::A2q,
            scale_search: ScaleSearch::Calibrated,
            percentile: 99.9,
            max_pe: 8,
            max_simd: 8,
            method: QuantizeMethod::A2q,
            tile: None,
        }
    }

    /// A one-line account of the settings, for the model's description.
    pub fn describe(&self, calibration_inputs: usize) -> String {
        let overrides: Vec<String> = self
            .accumulator
            .per_layer
            .iter()
            .map(|(layer, bits)| format!("{layer} {bits}"))
            .collect();
        let overrides = if overrides.is_empty() {
            String::new()
        } else {
            format!(" ({})", overrides.join(", "))
        };
        let tiles = match self.tile {
            Some(tile) => format!(
                " in tiles of {} inputs of {} bits",
                tile.size, tile.inner_bits
            ),
            None => String::new(),
        };
        format!(
            "post-training {} quantization ({} scales): int{} weights, uint{} hidden outputs, {}-bit accumulators{tiles}{overrides}; input {} at scale {}; output scales from the {}th percentile over {calibration_inputs} calibration inputs",
            self.method.describe(self.constraint),
            self.scale_search,
            self.weight_bits,
            self.activation_bits,
            self.accumulator.default_bits,
            self.input,
            self.input_scale,
            self.percentile
        )
    }

    fn validate(&self, float: &FloatModel) -> Result<(), QuantizeError> {
        let fail = |message: String| Err(QuantizeError::Settings(message));
        check_identifier(&self.name).or_else(|m| fail(format!("model name: {m}")))?;
        if !(1..=MAX_DATA_BITS).contains(&self.input.bits) {
            return fail(format!(
                "input bits {} not in 1..={MAX_DATA_BITS}",
                self.input.bits
            ));
        }
        if !(self.input_scale.is_finite() && self.input_scale > 0.0) {
            return fail(format!("input scale {} is not positive", self.input_scale));
        }
        if !(2..=MAX_DATA_BITS).contains(&self.weight_bits) {
            return fail(format!(
                "weight bits {} not in 2..={MAX_DATA_BITS} (signed, symmetric)",
                self.weight_bits
            ));
        }
        if !(1..=MAX_THRESHOLD_BITS).contains(&self.activation_bits) {
            return fail(format!(
                "activation bits {} not in 1..={MAX_THRESHOLD_BITS}",
                self.activation_bits
            ));
        }
        if !(self.percentile > 0.0 && self.percentile <= 100.0) {
            return fail(format!("percentile {} not in (0, 100]", self.percentile));
        }
        if self.max_pe == 0 || self.max_simd == 0 {
            return fail("PE and SIMD limits must be at least 1".into());
        }
        if let Some(unknown) = self
            .accumulator
            .per_layer
            .keys()
            .find(|name| !float.layers.iter().any(|l| &l.name == *name))
        {
            let names: Vec<&str> = float.layers.iter().map(|l| l.name.as_str()).collect();
            return fail(format!(
                "accumulator width for unknown layer `{unknown}` (layers: {})",
                names.join(", ")
            ));
        }
        for layer in &float.layers {
            let bits = self.accumulator.bits_of(&layer.name);
            if !ACCUMULATOR_BITS.contains(&bits) {
                return fail(format!(
                    "layer `{}`: accumulator bits {bits} not in {}..={}",
                    layer.name,
                    ACCUMULATOR_BITS.start(),
                    ACCUMULATOR_BITS.end()
                ));
            }
            if let Some(tile) = self.tile {
                axe::check_tile(tile, &layer.name, layer.in_features(), bits).or_else(fail)?;
            }
        }
        Ok(())
    }
}

/// A quantized model and how each layer went.
#[derive(Clone, Debug)]
pub struct Quantized {
    pub model: Model,
    pub layers: Vec<LayerReport>,
    pub calibration: Calibration,
}

/// Quantizes `float` for the integer inputs `calibration` (`[n,
/// input_length]`, each fitting `settings.input`), returning a model whose
/// accumulator widths `bounds::analyze` proves.
pub fn quantize(
    float: &FloatModel,
    calibration: ArrayView2<i64>,
    settings: &QuantizeSettings,
) -> Result<Quantized, QuantizeError> {
    settings.validate(float)?;
    check_calibration(calibration, float.input_length(), settings.input)?;
    if let (Some(windows), Some(_)) = (&float.windows, settings.method.greedy()) {
        // AXE corrects against the layer's float inputs row by row; over
        // the windows of a convolution that is not implemented.
        if let Some(index) = windows.conv.iter().position(Option::is_some) {
            return Err(QuantizeError::Settings(format!(
                "layer `{}` is a convolution: method {} is implemented for dense layers only (use a2q)",
                float.layers[index].name, settings.method
            )));
        }
    }
    let float_inputs = calibration.mapv(|v| v as f64 * settings.input_scale);
    let calibrated = calibrate(
        float,
        float_inputs.view(),
        settings.activation_bits,
        settings.percentile,
    );
    // The AXE methods correct each layer's error against its float inputs
    // as the quantized layers before it actually produce them.
    let mut axe_inputs = settings.method.greedy().map(|_| {
        (
            float.activations(float_inputs.view()),
            calibration.to_owned(),
        )
    });
    let hidden_output = IntType::unsigned(settings.activation_bits);
    let (mut input, mut input_scale) = (settings.input, settings.input_scale);
    let mut layers = Vec::with_capacity(float.layers.len());
    let mut reports = Vec::with_capacity(float.layers.len());
    for (index, float_layer) in float.layers.iter().enumerate() {
        let limits = layer_limits(settings, float_layer, input)?.with_tile(settings.tile);
        let output = calibrated
            .activation_scales
            .get(index)
            .map(|&scale| (hidden_output, scale));
        let plan = LayerPlan {
            float: float_layer,
            input,
            input_scale,
            statistics: &calibrated.inputs[index],
            output,
            limits,
            scale_search: settings.scale_search,
            hardware: folding(float_layer, window_of(float, index), settings),
        };
        let (dense, report) = match (settings.method.greedy(), &mut axe_inputs) {
            (Some(greedy), Some((float_values, integer_inputs))) => {
                let quantized_inputs = integer_inputs.mapv(|v| v as f64 * input_scale);
                let inputs = axe::LayerInputs {
                    float: float_values[index].view(),
                    quantized: quantized_inputs.view(),
                };
                let quantized = axe::quantize_layer(&plan, greedy, &inputs);
                if output.is_some() {
                    *integer_inputs = axe::integer_outputs(&quantized.0, integer_inputs.view());
                }
                quantized
            }
            _ => quantize_layer(&plan),
        };
        let kind = match window_of(float, index) {
            Some(window) => LayerKind::Conv(Box::new(Conv { window, dense })),
            None => LayerKind::Dense(Box::new(dense)),
        };
        layers.push(Layer {
            name: float_layer.name.clone(),
            kind,
        });
        // Max pools keep the type and the scale of what they pool.
        for (name, pool) in float.windows.iter().flat_map(|w| &w.pools_after[index]) {
            layers.push(Layer {
                name: name.clone(),
                kind: LayerKind::MaxPool(*pool),
            });
        }
        reports.push(report);
        if let Some((output, scale)) = output {
            (input, input_scale) = (output, scale);
        }
    }
    let model = Model {
        name: settings.name.clone(),
        description: Some(settings.describe(calibration.nrows())),
        source: PathBuf::new(),
        input_length: float.input_length(),
        input: settings.input,
        input_shape: float.windows.as_ref().map(|w| w.input),
        layers,
        // The float values the integers stand for, so that `infer
        // --dequantize` writes the float model's outputs.
        input_scale: Some(settings.input_scale),
        output_scale: reports.last().map(|r| {
            // A convolution's output repeats its channels at every pixel.
            let pixels = model_output_pixels(float);
            r.accumulator_scales.repeat(pixels)
        }),
    };
    prove_widths(&model)?;
    Ok(Quantized {
        model,
        layers: reports,
        calibration: calibrated,
    })
}

/// The integer inputs must be the model's: the right length, each value
/// of the input type (the float inputs are derived from them).
fn check_calibration(
    calibration: ArrayView2<i64>,
    input_length: usize,
    input: IntType,
) -> Result<(), QuantizeError> {
    let fail = |message: String| Err(QuantizeError::Calibration(message));
    if calibration.nrows() == 0 {
        return fail("no samples".into());
    }
    if calibration.ncols() != input_length {
        return fail(format!(
            "{} values per sample, the float model takes {input_length}",
            calibration.ncols()
        ));
    }
    match calibration
        .indexed_iter()
        .find(|(_, v)| !input.contains(i128::from(**v)))
    {
        Some(((sample, element), value)) => fail(format!(
            "sample {sample} element {element} = {value} does not fit the input type {input}"
        )),
        None => Ok(()),
    }
}

/// The limits of one layer, refusing a width whose norm budget is below
/// 1: every weight would have to be zero.
fn layer_limits(
    settings: &QuantizeSettings,
    layer: &FloatDense,
    input: IntType,
) -> Result<ChannelLimits, QuantizeError> {
    let limits_at = |bits| {
        ChannelLimits::new(
            settings.constraint,
            input,
            bits,
            settings.weight_bits,
            layer.in_features(),
        )
    };
    let bits = settings.accumulator.bits_of(&layer.name);
    let limits = limits_at(bits);
    if limits.norm_budget() >= 1.0 {
        return Ok(limits);
    }
    let least_bits = (bits..=*ACCUMULATOR_BITS.end())
        .find(|&b| limits_at(b).norm_budget() >= 1.0)
        .unwrap_or(*ACCUMULATOR_BITS.end());
    Err(QuantizeError::BelowUsableWidth {
        layer: layer.name.clone(),
        bits,
        input,
        constraint: settings.constraint,
        budget: limits.norm_budget(),
        least_bits,
    })
}

/// The window of accumulating layer `index` when it is a convolution.
fn window_of(float: &FloatModel, index: usize) -> Option<Window> {
    float.windows.as_ref().and_then(|w| w.conv[index])
}

/// Pixels of the last layer's output: 1 for a dense layer.
fn model_output_pixels(float: &FloatModel) -> usize {
    match window_of(float, float.layers.len() - 1) {
        Some(window) => window.out_height() * window.out_width(),
        None => 1,
    }
}

/// PE and SIMD: the largest powers of two within the limits that divide
/// the layer's output and input counts (always at least 1). A
/// convolution's SIMD also divides its input channels or is a multiple of
/// them (a chunk within a pixel or of whole pixels).
fn folding(
    layer: &FloatDense,
    window: Option<Window>,
    settings: &QuantizeSettings,
) -> HardwareHints {
    // SIMD must divide the tile too; the tile divides the input count.
    let simd_of = settings.tile.map_or(layer.in_features(), |tile| tile.size);
    let mut simd = largest_power_of_two_dividing(simd_of, settings.max_simd);
    if let Some(window) = window {
        let channels = window.input.channels;
        while !(channels.is_multiple_of(simd) || simd.is_multiple_of(channels)) {
            simd /= 2;
        }
    }
    HardwareHints {
        pe: Some(largest_power_of_two_dividing(
            layer.out_features(),
            settings.max_pe,
        )),
        simd: Some(simd),
        ..HardwareHints::default()
    }
}

/// The largest `2^k <= limit` dividing `n` (`n >= 1`, `limit >= 1`).
pub fn largest_power_of_two_dividing(n: usize, limit: usize) -> usize {
    let mut best = 1;
    while best * 2 <= limit && n.is_multiple_of(best * 2) {
        best *= 2;
    }
    best
}

/// Every width of the finished model must be proven by the exact ranges.
fn prove_widths(model: &Model) -> Result<(), QuantizeError> {
    let bounds = analyze(model);
    match bounds.layers.iter().find_map(|l| {
        l.dense
            .as_ref()
            .filter(|d| d.verdict() != WidthVerdict::Proven)
            .map(|d| (l, d))
    }) {
        Some((layer, dense)) => Err(QuantizeError::Unproven {
            layer: layer.name.clone(),
            declared_bits: dense.declared_bits,
            min_bits: dense.min_bits,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
