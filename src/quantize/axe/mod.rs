//! AXE (Colbert et al., "Accumulator-aware post-training quantization"):
//! the greedy, error-correcting post-training quantizers OPTQ and GPFQ
//! with the accumulator constraint enforced while each channel's weights
//! are fixed one by one, so that every width, and with multi-stage
//! accumulation every tile's inner width, is proven at the end.
//!
//! Per channel and candidate scale, in input order: the error-corrected
//! float weight is soft-thresholded (the channel's zero-centred integer
//! weights projected onto AXE's L1 ball `(2^P - 2) / (max x - min x)`, per
//! tile at `P_I` and for the whole channel at `P`), clamped into what the
//! running exact accumulator ranges still allow (the outer one starting at
//! the bias), and rounded. The scale is the weight bits' (`max|w| /
//! (2^(W-1) - 1)`, as Brevitas does) or, with calibrated scale search, the one among
//! a grid whose channel best reproduces the float pre-activations on the
//! calibration inputs.

mod budget;
mod gpfq;
mod optq;

pub use budget::{ChannelBudget, l1_ball_threshold};
pub use gpfq::Gpfq;
pub use optq::Optq;

use super::layer::{
    FloatParameters, IntegerChannel, LayerPlan, LayerReport, ScaleSearch, assemble_dense,
    constrained_float_parameters, layer_report,
};
use super::project::{ChannelWeights, NormConstraint};
use crate::bounds::ValueRange;
use crate::model::{Activation, Dense, IntType, Tile};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use std::fmt;

/// How `quantize` turns each channel's float weights into integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuantizeMethod {
    /// A2Q's projection: one scale per channel, round to nearest (toward
    /// zero where the budget binds).
    #[default]
    A2q,
    /// AXE on OPTQ (GPTQ): error feedback through the Cholesky factor of
    /// the damped inverse input Hessian.
    AxeOptq,
    /// AXE on GPFQ: error feedback through the running output error.
    AxeGpfq,
}

/// The greedy quantizer of an AXE method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Greedy {
    Optq,
    Gpfq,
}

impl Greedy {
    /// The method that runs this greedy pass.
    pub fn method(self) -> QuantizeMethod {
        match self {
            Greedy::Optq => QuantizeMethod::AxeOptq,
            Greedy::Gpfq => QuantizeMethod::AxeGpfq,
        }
    }
}

impl QuantizeMethod {
    pub const ALL: [QuantizeMethod; 3] = [
        QuantizeMethod::A2q,
        QuantizeMethod::AxeOptq,
        QuantizeMethod::AxeGpfq,
    ];

    /// The greedy pass of an AXE method; `None` for A2Q.
    pub fn greedy(self) -> Option<Greedy> {
        match self {
            QuantizeMethod::A2q => None,
            QuantizeMethod::AxeOptq => Some(Greedy::Optq),
            QuantizeMethod::AxeGpfq => Some(Greedy::Gpfq),
        }
    }

    /// The method's name in the model's description, with its constraint
    /// (A2Q or A2Q+; zero-centred weights for AXE).
    pub(super) fn describe(self, constraint: NormConstraint) -> String {
        let centred = constraint == NormConstraint::A2qPlus;
        match self {
            QuantizeMethod::A2q => constraint.to_string(),
            QuantizeMethod::AxeOptq | QuantizeMethod::AxeGpfq => format!(
                "{}{}",
                self.label(),
                if centred { " (zero-centred)" } else { "" }
            ),
        }
    }

    /// `A2Q`, `AXE-OPTQ`, `AXE-GPFQ`: the method in tables.
    pub fn label(self) -> &'static str {
        match self {
            QuantizeMethod::A2q => "A2Q",
            QuantizeMethod::AxeOptq => "AXE-OPTQ",
            QuantizeMethod::AxeGpfq => "AXE-GPFQ",
        }
    }
}

impl fmt::Display for QuantizeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantizeMethod::A2q => "a2q",
            QuantizeMethod::AxeOptq => "axe-optq",
            QuantizeMethod::AxeGpfq => "axe-gpfq",
        })
    }
}

impl std::str::FromStr for QuantizeMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        QuantizeMethod::ALL
            .into_iter()
            .find(|m| m.to_string() == text)
            .ok_or_else(|| format!("`{text}` is not a method (a2q, axe-optq, axe-gpfq)"))
    }
}

/// A tile must split the layer's inputs evenly, and its inner accumulator
/// be no wider than the outer one it feeds.
pub(super) fn check_tile(
    tile: Tile,
    layer: &str,
    in_features: usize,
    bits: u32,
) -> Result<(), String> {
    if tile.size == 0 || !in_features.is_multiple_of(tile.size) {
        return Err(format!(
            "tile size {} does not divide the {in_features} inputs of layer `{layer}`",
            tile.size
        ));
    }
    if tile.inner_bits > bits {
        return Err(format!(
            "layer `{layer}`: inner accumulator bits {} exceed the accumulator's {bits}",
            tile.inner_bits
        ));
    }
    if !crate::model::ACCUMULATOR_BITS.contains(&tile.inner_bits) {
        return Err(format!(
            "inner accumulator bits {} not in {}..={}",
            tile.inner_bits,
            crate::model::ACCUMULATOR_BITS.start(),
            crate::model::ACCUMULATOR_BITS.end()
        ));
    }
    Ok(())
}

/// A layer's inputs over the calibration set, `[n, in_features]`: the
/// float network's, and those the quantized layers before it produce (in
/// float units).
pub(super) struct LayerInputs<'a> {
    pub float: ArrayView2<'a, f64>,
    pub quantized: ArrayView2<'a, f64>,
}

/// Second moments of the calibration inputs, over the vectors.
struct Moments {
    /// `E[x x^T]` of the float inputs.
    float_float: Array2<f64>,
    /// `E[x~ x^T]`.
    quantized_float: Array2<f64>,
    /// `E[x~ x~^T]`: the Hessian of the quantized layer's output error.
    quantized_quantized: Array2<f64>,
    float_mean: Array1<f64>,
    quantized_mean: Array1<f64>,
}

impl Moments {
    fn of(inputs: &LayerInputs) -> Self {
        let count = inputs.float.nrows().max(1) as f64;
        let (x, q) = (inputs.float, inputs.quantized);
        Moments {
            float_float: x.t().dot(&x) / count,
            quantized_float: q.t().dot(&x) / count,
            quantized_quantized: q.t().dot(&q) / count,
            float_mean: x.sum_axis(Axis(0)) / count,
            quantized_mean: q.sum_axis(Axis(0)) / count,
        }
    }

    /// `E[(w . x + b - (v . x~ + c))^2]`: the mean squared error of a
    /// channel's pre-activation, float weights `w` and bias `b` on the float
    /// inputs against the quantized `v` and `c` on the quantized inputs.
    fn output_error(&self, w: ArrayView1<f64>, b: f64, v: ArrayView1<f64>, c: f64) -> f64 {
        let weights_part = w.dot(&self.float_float.dot(&w))
            - 2.0 * v.dot(&self.quantized_float.dot(&w))
            + v.dot(&self.quantized_quantized.dot(&v));
        let mean_part = self.float_mean.dot(&w) - self.quantized_mean.dot(&v);
        let d = b - c;
        weights_part + 2.0 * d * mean_part + d * d
    }
}

/// The greedy pass with what it corrects through.
enum Solver {
    Optq(Optq),
    Gpfq(Gpfq),
}

/// One element of the greedy pass: soft-threshold the corrected float
/// weight `value`, clamp it into the budget's interval and round. Returns
/// the clamped float value and the integer weight, which the budget takes.
pub(super) fn fix(
    value: f64,
    threshold: f64,
    scale: f64,
    budget: &mut ChannelBudget,
    i: usize,
) -> (f64, i64) {
    let shrunk = value.signum() * (value.abs() - threshold).max(0.0);
    let (lo, hi) = budget.interval(i);
    let clamped = shrunk.clamp(lo as f64 * scale, hi as f64 * scale);
    let q = ((clamped / scale).round() as i64).clamp(lo, hi);
    budget.take(i, q);
    (clamped, q)
}

/// Everything one layer's channels share.
struct LayerContext<'a> {
    plan: &'a LayerPlan<'a>,
    target: FloatParameters,
    moments: Moments,
    solver: Solver,
    input_range: ValueRange,
}

/// Quantizes one layer with an AXE method.
pub(super) fn quantize_layer(
    plan: &LayerPlan,
    greedy: Greedy,
    inputs: &LayerInputs,
) -> (Dense, LayerReport) {
    let moments = Moments::of(inputs);
    let solver = match greedy {
        Greedy::Optq => Solver::Optq(Optq::new(moments.quantized_quantized.view())),
        Greedy::Gpfq => Solver::Gpfq(Gpfq::new(
            moments.quantized_float.clone(),
            moments.quantized_quantized.clone(),
        )),
    };
    let context = LayerContext {
        plan,
        target: constrained_float_parameters(plan),
        moments,
        solver,
        input_range: ValueRange::of_type(plan.input),
    };
    let (integer, grown) = context.solve();
    let dense = assemble_dense(plan, &integer);
    let report = axe_report(&context, greedy, &dense, &integer, grown);
    (dense, report)
}

/// The layer's report, with AXE's norm: the largest integer L1 norm
/// against the bound the hard limits imply. They keep both ends of the
/// range within P bits, so their sum bounds `||q||_1 (max x - min x)` by
/// `2^P - 1`.
fn axe_report(
    context: &LayerContext,
    greedy: Greedy,
    dense: &Dense,
    channels: &[IntegerChannel],
    grown: usize,
) -> LayerReport {
    let plan = context.plan;
    let mut report = layer_report(plan, dense, channels, grown);
    report.method = greedy.method();
    let span = (context.input_range.hi - context.input_range.lo).max(1) as f64;
    report.norm_budget = ((1u128 << plan.limits.budget.accumulator_bits) - 1) as f64 / span;
    report.max_norm = dense
        .weights
        .outer_iter()
        .map(|row| row.iter().map(|w| w.unsigned_abs() as f64).sum::<f64>())
        .fold(0.0, f64::max);
    report
}

impl LayerContext<'_> {
    /// Every channel of the layer, and how many got a scale above the
    /// weight bits'. As for A2Q, hidden channels scale on their own and the
    /// last layer's share one scale, so that argmax ranks its outputs as
    /// the float ones.
    fn solve(&self) -> (Vec<IntegerChannel>, usize) {
        let out_features = self.plan.float.out_features();
        let channels: Vec<usize> = (0..out_features).collect();
        let groups: Vec<&[usize]> = match self.plan.output {
            Some(_) => channels.chunks(1).collect(),
            None => vec![&channels[..]],
        };
        let solved: Vec<Option<(f64, Vec<IntegerChannel>)>> = groups
            .par_iter()
            .map(|group| self.best_group(group))
            .collect();
        let fallback = solved
            .iter()
            .flatten()
            .map(|(scale, _)| *scale)
            .reduce(f64::max)
            .unwrap_or(1.0);
        let mut integer: Vec<Option<IntegerChannel>> = (0..out_features).map(|_| None).collect();
        let mut grown = 0;
        for (group, solution) in groups.iter().zip(solved) {
            let group_channels = match solution {
                Some((scale, group_channels)) => {
                    let bits = self.bits_scale(group).unwrap_or(scale);
                    grown += usize::from(scale > bits) * group.len();
                    group_channels
                }
                // All-zero channels: zero at any scale; the layer's largest
                // keeps their bias and threshold integers small.
                None => group.iter().map(|&c| self.channel(c, fallback)).collect(),
            };
            for (&c, channel) in group.iter().zip(group_channels) {
                integer[c] = Some(channel);
            }
        }
        (integer.into_iter().flatten().collect(), grown)
    }

    /// The weight bits' scale of a group, `max|w| / (2^(W-1) - 1)`; `None`
    /// when every weight is zero.
    fn bits_scale(&self, group: &[usize]) -> Option<f64> {
        let largest = group
            .iter()
            .flat_map(|&c| self.target.weights.row(c).to_vec())
            .fold(0.0f64, |m, w| m.max(w.abs()));
        (largest > 0.0).then(|| largest / self.plan.limits.max_level() as f64)
    }

    /// The scales to try for a group: the weight bits' one, and with
    /// calibrated search a geometric grid from it to four times the scale
    /// at which the zero-centred float weights' L1 norm meets AXE's radius
    /// (per tile too), when that is larger.
    fn candidates(&self, group: &[usize]) -> Option<Vec<f64>> {
        const GRID_POINTS: usize = 40;
        let bits = self.bits_scale(group)?;
        if self.plan.scale_search == ScaleSearch::Projected {
            return Some(vec![bits]);
        }
        let projected = group
            .iter()
            .map(|&c| self.projected_scale(self.target.weights.row(c)))
            .fold(bits, f64::max);
        if projected <= bits {
            return Some(vec![bits]);
        }
        let high = 4.0 * projected;
        Some(
            (0..=GRID_POINTS)
                .map(|i| bits * (high / bits).powf(i as f64 / GRID_POINTS as f64))
                .collect(),
        )
    }

    /// The scale at which the channel's zero-centred L1 norm equals AXE's
    /// radius, the tightest over the whole channel and its tiles.
    fn projected_scale(&self, row: ArrayView1<f64>) -> f64 {
        let centred_l1 = |values: &[f64]| {
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            values.iter().map(|v| (v - mean).abs()).sum::<f64>()
        };
        let row = row.to_vec();
        let bits = self.plan.limits.budget.accumulator_bits;
        let whole = centred_l1(&row) / budget::l1_radius(bits, self.input_range);
        match self.plan.limits.tile {
            None => whole,
            Some(tile) => row
                .chunks(tile.size)
                .map(|t| centred_l1(t) / budget::l1_radius(tile.inner_bits, self.input_range))
                .fold(whole, f64::max),
        }
    }

    /// The best scale of a group and its channels; `None` when the group's
    /// weights are all zero.
    fn best_group(&self, group: &[usize]) -> Option<(f64, Vec<IntegerChannel>)> {
        let candidates = self.candidates(group)?;
        candidates
            .into_iter()
            .map(|scale| {
                let channels: Vec<IntegerChannel> =
                    group.iter().map(|&c| self.channel(c, scale)).collect();
                let error: f64 = group
                    .iter()
                    .zip(&channels)
                    .map(|(&c, channel)| self.error(c, channel))
                    .sum();
                (error, scale, channels)
            })
            // The first (finest) scale wins ties.
            .reduce(|best, next| if next.0 < best.0 { next } else { best })
            .map(|(_, scale, channels)| (scale, channels))
    }

    /// Channel `c` at `scale` through the greedy pass. The bias is placed
    /// first, taking at most half of either side of the accumulator, so
    /// the weights cannot crowd it out; it is then rounded again into
    /// whatever room the weights left.
    fn channel(&self, c: usize, scale: f64) -> IntegerChannel {
        let plan = self.plan;
        let limits = &plan.limits;
        let bits = limits.budget.accumulator_bits;
        let acc_scale = plan.input_scale * scale;
        let accumulator = IntType::signed(bits);
        let reserved = (self.target.bias[c] / acc_scale).round().clamp(
            (accumulator.min() / 2) as f64,
            (accumulator.max() / 2) as f64,
        ) as i64;
        let mut budget = ChannelBudget::new(
            limits.input_ranges(),
            limits.weight_bits,
            bits,
            limits.tile,
            reserved,
        );
        let target = self.target.weights.row(c);
        let tile_size = limits.tile.map_or(target.len().max(1), |t| t.size);
        let thresholds = budget::thresholds(
            target.as_slice().expect("rows of a standard-layout array"),
            scale,
            self.input_range,
            bits,
            limits.tile,
        );
        let weights = match &self.solver {
            Solver::Optq(optq) => optq.channel(target, scale, &thresholds, tile_size, &mut budget),
            Solver::Gpfq(gpfq) => gpfq.channel(target, scale, &thresholds, tile_size, &mut budget),
        };
        let weights = Array1::from(weights);
        let weights_range = limits.weights_range(weights.view());
        let (bias, bias_clamped) =
            bias_in_room(self.target.bias[c] / acc_scale, weights_range, accumulator);
        IntegerChannel {
            weights: ChannelWeights {
                weights,
                rounded_toward_zero: false,
                repair_steps: 0,
            },
            weights_range,
            bias,
            bias_clamped,
            acc_scale,
        }
    }

    /// The channel's pre-activation error on the calibration inputs,
    /// against the float layer's own weights and bias.
    fn error(&self, c: usize, channel: &IntegerChannel) -> f64 {
        let weight_scale = channel.acc_scale / self.plan.input_scale;
        let quantized = channel.weights.weights.mapv(|q| q as f64 * weight_scale);
        self.moments.output_error(
            self.plan.float.weights.row(c),
            self.plan.float.bias[c],
            quantized.view(),
            channel.acc_scale * channel.bias as f64,
        )
    }
}

/// `round(wanted)` clamped into the room the weights' exact range leaves
/// in the accumulator, and whether it was clamped. The room holds the
/// reserved bias the weights were fixed around, so it is never empty; it
/// need not hold 0, since the weights may use the side the bias leaves.
fn bias_in_room(wanted: f64, weights_range: ValueRange, accumulator: IntType) -> (i64, bool) {
    let lowest = accumulator.min() - weights_range.lo;
    let highest = accumulator.max() - weights_range.hi;
    debug_assert!(lowest <= highest, "the weights overflow with any bias");
    let rounded = wanted.round();
    let clamped = (rounded.clamp(lowest as f64, highest as f64) as i128).clamp(lowest, highest);
    (clamped as i64, clamped as f64 != rounded)
}

/// The integer outputs of a quantized hidden layer on integer inputs
/// `[n, in_features]`: the next layer's quantized inputs.
pub(super) fn integer_outputs(dense: &Dense, inputs: ArrayView2<i64>) -> Array2<i64> {
    let bias = dense
        .bias
        .clone()
        .unwrap_or_else(|| Array1::zeros(dense.out_features));
    let Activation::Thresholds { output, thresholds } = &dense.activation else {
        unreachable!("hidden layers requantize by thresholds");
    };
    let base = output.min() as i64;
    let mut out = Array2::<i64>::zeros((inputs.nrows(), dense.out_features));
    for (x, mut y) in inputs.outer_iter().zip(out.outer_iter_mut()) {
        for (c, value) in y.iter_mut().enumerate() {
            let acc: i128 = i128::from(bias[c])
                + dense
                    .weights
                    .row(c)
                    .iter()
                    .zip(x.iter())
                    .map(|(&w, &v)| i128::from(w) * i128::from(v))
                    .sum::<i128>();
            let passed = thresholds
                .row(c)
                .iter()
                .filter(|&&t| i128::from(t) <= acc)
                .count();
            *value = base + passed as i64;
        }
    }
    out
}

#[cfg(test)]
mod tests;
