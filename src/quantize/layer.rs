//! Quantizing one float dense layer into an integer `Dense` layer.

use super::axe::QuantizeMethod;
use super::calibrate::InputStatistics;
use super::float::FloatDense;
use super::project::{
    ChannelLimits, ChannelWeights, NormConstraint, ScaleBounds, quantize_channel, scale_bounds,
};
use super::requantize::{integer_bias, relu_thresholds};
use crate::bounds::ValueRange;
use crate::model::{Accumulator, Activation, Dense, HardwareHints, IntType, OverflowMode};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use rayon::prelude::*;

/// How a channel's scale is chosen once the norm budget binds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScaleSearch {
    /// A2Q's projected scale, `norm(w) / budget`, rounding toward zero.
    Projected,
    /// Among the projected scale and a grid around it, the one whose
    /// integer weights and bias reproduce the float pre-activations on the
    /// calibration inputs with the least mean squared error.
    #[default]
    Calibrated,
}

impl std::fmt::Display for ScaleSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScaleSearch::Projected => "projected",
            ScaleSearch::Calibrated => "calibrated",
        })
    }
}

/// Everything needed to quantize one layer.
#[derive(Clone, Debug)]
pub(super) struct LayerPlan<'a> {
    pub float: &'a FloatDense,
    /// Integer input type and its scale: float input = scale * integer.
    pub input: IntType,
    pub input_scale: f64,
    /// The layer's float inputs over the calibration set.
    pub statistics: &'a InputStatistics,
    /// A hidden layer's output type and scale; `None` for the last layer,
    /// whose raw accumulators are the output.
    pub output: Option<(IntType, f64)>,
    pub limits: ChannelLimits,
    pub scale_search: ScaleSearch,
    pub hardware: HardwareHints,
}

/// How the quantization of one layer went.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    pub name: String,
    pub in_features: usize,
    pub out_features: usize,
    pub weight_bits: u32,
    pub input: IntType,
    pub accumulator_bits: u32,
    pub constraint: NormConstraint,
    /// How the channels were rounded.
    pub method: QuantizeMethod,
    /// The limit on the constrained norm at `accumulator_bits`: A2Q's
    /// integer L1 budget, or A2Q+'s centred L1 limit; for AXE the L1 bound
    /// its per-weight limits imply, `(2^P - 1) / (max x - min x)`.
    pub norm_budget: f64,
    /// The largest constrained norm over the integer channels.
    pub max_norm: f64,
    /// Channels the norm budget limits: rounding to nearest at the weight
    /// bits' scale breaks it, so the scale grows.
    pub projected_channels: usize,
    /// Channels rounded toward zero because nearest broke the budget.
    pub toward_zero_channels: usize,
    /// Channels that needed unit steps toward zero after rounding.
    pub repaired_channels: usize,
    /// Biases clamped to fit the accumulator beside the weights.
    pub clamped_biases: usize,
    pub zero_weight_fraction: f64,
    /// Float value of one output step, for hidden layers.
    pub output_scale: Option<f64>,
    /// Float value of one accumulator step, per channel: the last layer's
    /// are the model's output scales.
    pub accumulator_scales: Vec<f64>,
    /// The mean squared error of the integer pre-activations against the
    /// float layer's over the calibration inputs, relative to the float
    /// pre-activations' mean square: a second-order figure, exact for the
    /// layer's own quadratic loss (Hessian `E[x x^T]`), with the float
    /// network's inputs to the layer.
    pub relative_error: f64,
}

/// The float parameters the integer ones are rounded from: the layer's
/// own, or zero-centred for A2Q+. Errors are measured against the
/// layer's own either way.
pub(super) struct FloatParameters {
    pub weights: Array2<f64>,
    pub bias: Array1<f64>,
}

/// One channel's integer weights and bias at some scale.
pub(super) struct IntegerChannel {
    pub weights: ChannelWeights,
    /// The exact range of `w . x`, before the bias.
    pub weights_range: ValueRange,
    pub bias: i64,
    pub bias_clamped: bool,
    /// `float accumulator = acc_scale * integer accumulator`.
    pub acc_scale: f64,
}

pub(super) fn quantize_layer(plan: &LayerPlan) -> (Dense, LayerReport) {
    let target = constrained_float_parameters(plan);
    let bounds: Vec<Option<ScaleBounds>> = target
        .weights
        .outer_iter()
        .map(|row| scale_bounds(row, &plan.limits))
        .collect();
    let scales = channel_scales(plan, &target, &bounds);
    let channels: Vec<IntegerChannel> = (0..target.weights.nrows())
        .map(|c| integer_channel(plan, &target, c, scales[c]))
        .collect();
    let dense = assemble_dense(plan, &channels);
    let projected = bounds.iter().flatten().filter(|b| b.budget_binds).count();
    let report = layer_report(plan, &dense, &channels, projected);
    (dense, report)
}

/// How the layer went, from its integer channels; `projected_channels`
/// counts the channels whose scale the budget set.
pub(super) fn layer_report(
    plan: &LayerPlan,
    dense: &Dense,
    channels: &[IntegerChannel],
    projected_channels: usize,
) -> LayerReport {
    LayerReport {
        name: plan.float.name.clone(),
        in_features: dense.in_features,
        out_features: dense.out_features,
        weight_bits: dense.weight_bits,
        input: plan.input,
        accumulator_bits: dense.accumulator.bits,
        constraint: plan.limits.constraint,
        method: QuantizeMethod::A2q,
        norm_budget: plan.limits.norm_budget(),
        max_norm: dense
            .weights
            .outer_iter()
            .map(|row| plan.limits.integer_norm(row))
            .fold(0.0, f64::max),
        projected_channels,
        toward_zero_channels: channels
            .iter()
            .filter(|c| c.weights.rounded_toward_zero)
            .count(),
        repaired_channels: channels
            .iter()
            .filter(|c| c.weights.repair_steps > 0)
            .count(),
        clamped_biases: channels.iter().filter(|c| c.bias_clamped).count(),
        zero_weight_fraction: dense.zero_weight_fraction(),
        output_scale: plan.output.map(|(_, scale)| scale),
        accumulator_scales: channels.iter().map(|c| c.acc_scale).collect(),
        relative_error: relative_error(plan, channels),
    }
}

/// The pre-activation error summed over the channels, over the float
/// pre-activations' mean square summed the same way (0 when those are 0).
fn relative_error(plan: &LayerPlan, channels: &[IntegerChannel]) -> f64 {
    let error: f64 = channels
        .iter()
        .enumerate()
        .map(|(c, channel)| pre_activation_error(plan, c, channel))
        .sum();
    let signal: f64 = (0..channels.len())
        .map(|c| {
            plan.statistics
                .mean_squared_error(plan.float.weights.row(c), plan.float.bias[c])
        })
        .sum();
    if signal > 0.0 { error / signal } else { 0.0 }
}

/// The float weights and biases the integer ones approximate. For A2Q+
/// each channel's weights are zero-centred, and the removed part
/// `mean(w) * sum(x)` is folded into the bias at the calibration mean of
/// `sum(x)`: that is the only input-independent share of it.
pub(super) fn constrained_float_parameters(plan: &LayerPlan) -> FloatParameters {
    let (mut weights, mut bias) = (plan.float.weights.clone(), plan.float.bias.clone());
    if plan.limits.constraint == NormConstraint::A2qPlus {
        let means = weights.mean_axis(Axis(1)).expect("at least one input");
        weights -= &means.view().insert_axis(Axis(1));
        bias += &(means * plan.statistics.mean_sum());
    }
    FloatParameters { weights, bias }
}

/// The scale of every channel. Hidden layers scale each channel on its
/// own; the last layer gives all channels one scale, because its raw
/// accumulators are compared by argmax, which ranks the float logits only
/// if every channel has the same scale. An all-zero channel is zero at any
/// scale; its scale only sets the resolution of its bias and thresholds,
/// and the layer's largest keeps their integers small.
fn channel_scales(
    plan: &LayerPlan,
    target: &FloatParameters,
    bounds: &[Option<ScaleBounds>],
) -> Vec<f64> {
    let channels: Vec<usize> = (0..bounds.len()).collect();
    let groups: Vec<&[usize]> = match plan.output {
        Some(_) => channels.chunks(1).collect(),
        None => vec![&channels[..]],
    };
    let group_scales: Vec<Option<f64>> = groups
        .par_iter()
        .map(|group| group_scale(plan, target, group, bounds))
        .collect();
    let fallback = group_scales.iter().flatten().copied().reduce(f64::max);
    let mut scales = vec![fallback.unwrap_or(1.0); bounds.len()];
    for (group, scale) in groups.iter().zip(group_scales) {
        for &c in *group {
            scales[c] = scale.or(fallback).unwrap_or(1.0);
        }
    }
    scales
}

/// The scale of a group of channels sharing one; `None` when they are
/// all zero. The weight bits' scale when rounding to nearest fits every
/// member; otherwise the projected scale, or the best candidate.
fn group_scale(
    plan: &LayerPlan,
    target: &FloatParameters,
    group: &[usize],
    bounds: &[Option<ScaleBounds>],
) -> Option<f64> {
    let shared = ScaleBounds::shared(group.iter().filter_map(|&c| bounds[c]))?;
    let at = |scale: f64| -> Vec<IntegerChannel> {
        group
            .iter()
            .map(|&c| integer_channel(plan, target, c, scale))
            .collect()
    };
    if at(shared.bits)
        .iter()
        .all(|c| !c.weights.rounded_toward_zero)
    {
        return Some(shared.bits);
    }
    if plan.scale_search == ScaleSearch::Projected {
        return Some(shared.projected);
    }
    // The projected scale comes first, so it wins ties.
    let error = |scale: f64| -> f64 {
        group
            .iter()
            .zip(at(scale))
            .map(|(&c, channel)| pre_activation_error(plan, c, &channel))
            .sum()
    };
    shared
        .candidates()
        .into_iter()
        .map(|scale| (error(scale), scale))
        .reduce(|best, next| if next.0 < best.0 { next } else { best })
        .map(|(_, scale)| scale)
}

/// The mean squared error, over the calibration inputs, between the
/// original float pre-activation of channel `c` and the integer channel's.
fn pre_activation_error(plan: &LayerPlan, c: usize, channel: &IntegerChannel) -> f64 {
    let weight_scale = channel.acc_scale / plan.input_scale;
    let weight_error: Array1<f64> = plan
        .float
        .weights
        .row(c)
        .iter()
        .zip(&channel.weights.weights)
        .map(|(w, &q)| w - weight_scale * q as f64)
        .collect();
    let bias_error = plan.float.bias[c] - channel.acc_scale * channel.bias as f64;
    plan.statistics
        .mean_squared_error(weight_error.view(), bias_error)
}

fn integer_channel(
    plan: &LayerPlan,
    target: &FloatParameters,
    c: usize,
    scale: f64,
) -> IntegerChannel {
    let weights = quantize_channel(target.weights.row(c), scale, &plan.limits);
    let weights_range = plan.limits.weights_range(weights.weights.view());
    let acc_scale = plan.input_scale * scale;
    let bits = plan.limits.budget.accumulator_bits;
    let (bias, bias_clamped) = integer_bias(target.bias[c], acc_scale, weights_range, bits);
    IntegerChannel {
        weights,
        weights_range,
        bias,
        bias_clamped,
        acc_scale,
    }
}

impl IntegerChannel {
    /// The exact accumulator range, bias included.
    fn reachable(&self) -> ValueRange {
        let bias = i128::from(self.bias);
        ValueRange::new(self.weights_range.lo + bias, self.weights_range.hi + bias)
    }

    fn thresholds(&self, output: IntType, output_scale: f64) -> Array1<i64> {
        relu_thresholds(self.acc_scale, output_scale, output.bits, self.reachable())
    }
}

pub(super) fn assemble_dense(plan: &LayerPlan, channels: &[IntegerChannel]) -> Dense {
    let stack = |rows: Vec<Array1<i64>>| {
        let views: Vec<ArrayView1<i64>> = rows.iter().map(|r| r.view()).collect();
        ndarray::stack(Axis(0), &views).expect("every row has the same length")
    };
    let activation = match plan.output {
        Some((output, output_scale)) => Activation::Thresholds {
            output,
            thresholds: stack(
                channels
                    .iter()
                    .map(|c| c.thresholds(output, output_scale))
                    .collect(),
            ),
        },
        None => Activation::None,
    };
    Dense {
        in_features: plan.float.in_features(),
        out_features: plan.float.out_features(),
        weight_bits: plan.limits.weight_bits,
        weights: stack(channels.iter().map(|c| c.weights.weights.clone()).collect()),
        bias: Some(channels.iter().map(|c| c.bias).collect()),
        accumulator: Accumulator {
            bits: plan.limits.budget.accumulator_bits,
            tile: plan.limits.tile,
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation,
        hardware: plan.hardware,
    }
}
