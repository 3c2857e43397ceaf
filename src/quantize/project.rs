//! Accumulator-aware quantization of one output channel: pick the scale
//! that puts the channel's weights inside the A2Q (or A2Q+) norm budget of
//! the target accumulator width, round to integers, and repair the rare
//! rounding that still breaks the exact integer check.

use crate::bounds::{NormBudget, ValueRange, accumulator_bits, centered_l1_times_count, dot_range};
use crate::model::{IntType, Tile};
use ndarray::{Array1, ArrayView1};
use std::fmt;

/// Which accumulator-aware bound the integer weights are projected onto.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NormConstraint {
    /// A2Q: `||q||_1 <= (2^(P-1) - 1) * 2^(signed(x) - N)`.
    #[default]
    A2q,
    /// A2Q+: `||q - mean(q)||_1 <= (2^P - 2) / (2^N - 1)`. The float weights
    /// are zero-centred per channel before quantization (the caller folds
    /// the removed mean into the bias), which is what lets this bound be
    /// about twice as loose as A2Q's.
    A2qPlus,
}

impl fmt::Display for NormConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NormConstraint::A2q => "A2Q",
            NormConstraint::A2qPlus => "A2Q+",
        })
    }
}

/// What the integer weights of every channel of one layer must satisfy.
#[derive(Clone, Debug)]
pub struct ChannelLimits {
    pub constraint: NormConstraint,
    pub budget: NormBudget,
    pub weight_bits: u32,
    /// Multi-stage accumulation: every tile's exact range must fit its
    /// inner accumulator too.
    pub tile: Option<Tile>,
    /// The range of every input element, for the exact weights-only range.
    inputs: Vec<ValueRange>,
}

impl ChannelLimits {
    pub fn new(
        constraint: NormConstraint,
        input: IntType,
        accumulator_bits: u32,
        weight_bits: u32,
        in_features: usize,
    ) -> Self {
        ChannelLimits {
            constraint,
            budget: NormBudget {
                input,
                accumulator_bits,
            },
            weight_bits,
            tile: None,
            inputs: vec![ValueRange::of_type(input); in_features],
        }
    }

    /// The same limits for tiled accumulation.
    pub fn with_tile(self, tile: Option<Tile>) -> Self {
        ChannelLimits { tile, ..self }
    }

    /// The range of every input element.
    pub fn input_ranges(&self) -> &[ValueRange] {
        &self.inputs
    }

    /// The largest integer magnitude: the range is kept symmetric,
    /// `±(2^(W-1) - 1)`, so one scale maps both signs alike.
    pub fn max_level(&self) -> i64 {
        (1i64 << (self.weight_bits - 1)) - 1
    }

    /// The most the constrained norm of the scaled weights may be: the
    /// A2Q limit rounded down to an integer (integer weights have an
    /// integer L1 norm, so nothing is lost), or the A2Q+ limit.
    pub fn norm_budget(&self) -> f64 {
        match self.constraint {
            NormConstraint::A2q => self.a2q_integer_budget() as f64,
            NormConstraint::A2qPlus => self.budget.a2q_plus_limit(),
        }
    }

    /// `floor((2^(P-1) - 1) / 2^(N - signed(x)))`: the largest `||q||_1`
    /// that `NormBudget::a2q_holds` accepts.
    fn a2q_integer_budget(&self) -> i128 {
        let input = self.budget.input;
        let shift = input.bits - u32::from(input.signed);
        ((1i128 << (self.budget.accumulator_bits - 1)) - 1) >> shift
    }

    /// The norm the constraint limits, of float weights.
    pub fn norm_of(&self, weights: ArrayView1<f64>) -> f64 {
        match self.constraint {
            NormConstraint::A2q => weights.iter().map(|w| w.abs()).sum(),
            NormConstraint::A2qPlus => {
                let mean = weights.mean().unwrap_or(0.0);
                weights.iter().map(|w| (w - mean).abs()).sum()
            }
        }
    }

    /// The constrained norm of integer weights, for reports.
    pub fn integer_norm(&self, weights: ArrayView1<i64>) -> f64 {
        match self.constraint {
            NormConstraint::A2q => weights.iter().map(|w| w.unsigned_abs() as f64).sum(),
            NormConstraint::A2qPlus => {
                centered_l1_times_count(weights) as f64 / weights.len() as f64
            }
        }
    }

    /// Whether integer weights pass the exact norm check of `bounds` and
    /// their range without bias fits the accumulator. A2Q implies the
    /// latter; A2Q+ does not when rounding leaves a non-zero mean, and the
    /// model must pass `bounds` whatever the norm check says.
    pub fn holds(&self, weights: ArrayView1<i64>) -> bool {
        let norm_holds = match self.constraint {
            NormConstraint::A2q => {
                let l1: i128 = weights.iter().map(|&w| i128::from(w).abs()).sum();
                self.budget.a2q_holds(l1)
            }
            NormConstraint::A2qPlus => self
                .budget
                .a2q_plus_holds(centered_l1_times_count(weights), weights.len()),
        };
        norm_holds
            && accumulator_bits(dot_range(weights, 0, &self.inputs)) <= self.budget.accumulator_bits
            && self.tiles_fit(weights)
    }

    /// Every tile's exact range fits the inner accumulator.
    fn tiles_fit(&self, weights: ArrayView1<i64>) -> bool {
        let Some(tile) = self.tile else {
            return true;
        };
        self.inputs
            .chunks(tile.size)
            .enumerate()
            .all(|(t, inputs)| {
                let span = t * tile.size..(t + 1) * tile.size;
                let range = dot_range(weights.slice(ndarray::s![span]), 0, inputs);
                accumulator_bits(range) <= tile.inner_bits
            })
    }

    /// The exact range `w . x` reaches over the layer's inputs.
    pub fn weights_range(&self, weights: ArrayView1<i64>) -> ValueRange {
        dot_range(weights, 0, &self.inputs)
    }
}

/// The scales that matter for one channel (`float weight ≈ scale *
/// integer weight`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleBounds {
    /// `max|w| / (2^(W-1) - 1)`: the finest scale that needs no clipping.
    pub bits: f64,
    /// A2Q's projection: the scale grown until the scaled weights' norm is
    /// the budget, `max(bits, norm(w) / budget)`. Rounding toward zero
    /// there is guaranteed to fit.
    pub projected: f64,
    /// Rounding to nearest at `bits` breaks the exact check: the budget,
    /// not the weight bits, limits this channel.
    pub budget_binds: bool,
}

impl ScaleBounds {
    /// The bounds of a group of channels sharing one scale: the largest
    /// of each, so every member is within its bits and its budget.
    pub fn shared(members: impl IntoIterator<Item = ScaleBounds>) -> Option<ScaleBounds> {
        members.into_iter().reduce(|a, b| ScaleBounds {
            bits: a.bits.max(b.bits),
            projected: a.projected.max(b.projected),
            budget_binds: a.budget_binds || b.budget_binds,
        })
    }

    /// Scales to try when the budget binds: A2Q's projected scale first,
    /// then a geometric grid from `bits` to twice `projected`. Below the
    /// projected scale rounding to nearest can still fit (many small
    /// weights round to zero and leave budget unused); above it, nearest
    /// rounding may beat rounding toward zero at it.
    pub fn candidates(&self) -> Vec<f64> {
        const GRID_POINTS: usize = 64;
        let (low, high) = (self.bits, 2.0 * self.projected);
        std::iter::once(self.projected)
            .chain(
                (0..=GRID_POINTS).map(|i| low * (high / low).powf(i as f64 / GRID_POINTS as f64)),
            )
            .collect()
    }
}

/// The scale bounds of one channel; `None` for an all-zero channel, which
/// any scale represents.
pub fn scale_bounds(weights: ArrayView1<f64>, limits: &ChannelLimits) -> Option<ScaleBounds> {
    let largest = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    if largest == 0.0 {
        return None;
    }
    let bits = largest / limits.max_level() as f64;
    let nearest = round_to_nearest(weights, bits, limits.max_level());
    Some(ScaleBounds {
        bits,
        projected: (limits.norm_of(weights) / limits.norm_budget()).max(bits),
        budget_binds: !limits.holds(nearest.view()),
    })
}

/// One channel's integer weights and how they were obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelWeights {
    pub weights: Array1<i64>,
    /// Rounding to nearest broke the budget, so the weights were rounded
    /// toward zero instead.
    pub rounded_toward_zero: bool,
    /// Unit steps toward zero the exact check still needed afterwards.
    pub repair_steps: usize,
}

/// Integer weights for `weights / scale`: rounded to nearest when that
/// passes the exact check, else rounded toward zero. At or above the
/// projected scale rounding toward zero fits A2Q by construction: it
/// cannot grow any magnitude, so `||q||_1 <= ||w / scale||_1 <= budget`.
/// Below it (a candidate scale), or when A2Q+'s integer mean or the exact
/// range objects, the largest magnitudes are repaired toward zero until
/// the exact check holds.
pub fn quantize_channel(
    weights: ArrayView1<f64>,
    scale: f64,
    limits: &ChannelLimits,
) -> ChannelWeights {
    let max_level = limits.max_level();
    let nearest = round_to_nearest(weights, scale, max_level);
    if limits.holds(nearest.view()) {
        return ChannelWeights {
            weights: nearest,
            rounded_toward_zero: false,
            repair_steps: 0,
        };
    }
    let scaled = weights.mapv(|w| w / scale);
    let mut toward_zero = round_toward_zero(scaled.view(), max_level);
    let repair_steps = shrink_until_within(&mut toward_zero, limits);
    ChannelWeights {
        weights: toward_zero,
        rounded_toward_zero: true,
        repair_steps,
    }
}

/// `round(w / scale)` (half away from zero) clamped to `±max_level`.
fn round_to_nearest(weights: ArrayView1<f64>, scale: f64, max_level: i64) -> Array1<i64> {
    weights.mapv(|w| ((w / scale).round() as i64).clamp(-max_level, max_level))
}

/// `trunc(v)` clamped to `±max_level`: every magnitude shrinks or stays.
pub fn round_toward_zero(scaled: ArrayView1<f64>, max_level: i64) -> Array1<i64> {
    scaled.mapv(|v| (v.trunc() as i64).clamp(-max_level, max_level))
}

/// Moves the largest magnitude (lowest index among equals) one step toward
/// zero until the exact check holds, and returns the number of steps. It
/// terminates: every step lowers `||q||_1`, and all zeros pass.
pub fn shrink_until_within(weights: &mut Array1<i64>, limits: &ChannelLimits) -> usize {
    let mut steps = 0;
    while !limits.holds(weights.view()) {
        let (index, _) = weights
            .iter()
            .enumerate()
            .max_by_key(|&(i, w)| (w.unsigned_abs(), std::cmp::Reverse(i)))
            .expect("a channel has at least one weight");
        weights[index] -= weights[index].signum();
        steps += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use proptest::prelude::*;

    fn a2q(input: IntType, p: u32, in_features: usize) -> ChannelLimits {
        ChannelLimits::new(NormConstraint::A2q, input, p, 4, in_features)
    }

    #[test]
    fn a2q_integer_budget_is_the_edge_of_the_exact_check() {
        for (input, p) in [
            (IntType::unsigned(5), 12),
            (IntType::unsigned(4), 10),
            (IntType::signed(4), 10),
            (IntType::unsigned(1), 2),
        ] {
            let limits = a2q(input, p, 1);
            let budget = limits.a2q_integer_budget();
            assert!(limits.budget.a2q_holds(budget), "{input} P={p}");
            assert!(!limits.budget.a2q_holds(budget + 1), "{input} P={p}");
        }
        // uint5 at P = 12: 2047 / 32 = 63.97.
        assert_eq!(a2q(IntType::unsigned(5), 12, 1).a2q_integer_budget(), 63);
    }

    #[test]
    fn scale_comes_from_the_bits_when_the_budget_is_loose() {
        // uint4, P = 16: budget 2047; W4: max level 7.
        let limits = a2q(IntType::unsigned(4), 16, 3);
        let bounds = scale_bounds(array![0.7, -0.35, 0.1].view(), &limits).unwrap();
        assert!((bounds.bits - 0.1).abs() < 1e-12);
        assert_eq!(bounds.projected, bounds.bits);
        assert!(!bounds.budget_binds);
        let q = quantize_channel(array![0.7, -0.35, 0.1].view(), bounds.bits, &limits);
        assert_eq!(q.weights, array![7, -4, 1]);
        assert!(!q.rounded_toward_zero);
    }

    #[test]
    fn projection_grows_the_scale_to_the_l1_budget() {
        // uint4, P = 8: budget floor(127 / 16) = 7, but the bits allow
        // |q| up to 7 each: the L1 budget decides.
        let limits = a2q(IntType::unsigned(4), 8, 4);
        let w = array![0.6, -0.5, 0.3, 0.2];
        let bounds = scale_bounds(w.view(), &limits).unwrap();
        // At the bits scale 0.6 / 7 the nearest L1 is 7 + 6 + 4 + 2 = 19.
        assert!(bounds.budget_binds);
        assert!((bounds.projected - 1.6 / 7.0).abs() < 1e-12);
        // w / s = [2.625, -2.1875, 1.3125, 0.875]: nearest [3, -2, 1, 1]
        // has L1 7 and passes, so it is kept.
        let q = quantize_channel(w.view(), bounds.projected, &limits);
        assert_eq!(q.weights, array![3, -2, 1, 1]);
        assert!(limits.budget.a2q_holds(7));
    }

    #[test]
    fn rounding_toward_zero_is_used_when_nearest_breaks_the_budget() {
        // Budget 7; w / s = [1.5, 1.5, 1.5, 2.5] (L1 7): nearest gives
        // [2, 2, 2, 3] = 9 > 7, toward zero [1, 1, 1, 2] = 5.
        let limits = a2q(IntType::unsigned(4), 8, 4);
        let w = array![1.5, 1.5, 1.5, 2.5];
        let bounds = scale_bounds(w.view(), &limits).unwrap();
        assert_eq!(bounds.projected, 1.0);
        let q = quantize_channel(w.view(), bounds.projected, &limits);
        assert_eq!(q.weights, array![1, 1, 1, 2]);
        assert!(q.rounded_toward_zero);
        assert_eq!(q.repair_steps, 0);
    }

    #[test]
    fn repair_shrinks_the_largest_magnitude_first() {
        let limits = a2q(IntType::unsigned(4), 8, 4);
        let mut q = array![3, -5, 2, 1];
        // L1 11 > 7: -5 -> -4 -> -3, then 3 (index 0) before -3 -> 2, -3 -> -2.
        assert_eq!(shrink_until_within(&mut q, &limits), 4);
        assert_eq!(q, array![2, -2, 2, 1]);
        assert!(limits.holds(q.view()));
    }

    #[test]
    fn all_zero_channel_has_no_scale() {
        let limits = a2q(IntType::unsigned(4), 8, 2);
        assert_eq!(scale_bounds(array![0.0, -0.0].view(), &limits), None);
    }

    #[test]
    fn candidates_start_with_the_projected_scale_and_span_the_grid() {
        let bounds = ScaleBounds {
            bits: 0.1,
            projected: 0.4,
            budget_binds: true,
        };
        let candidates = bounds.candidates();
        assert_eq!(candidates[0], 0.4);
        assert!((candidates[1] - 0.1).abs() < 1e-15);
        assert!((candidates.last().unwrap() - 0.8).abs() < 1e-12);
        assert!(candidates[1..].windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn shared_bounds_take_the_largest_of_each() {
        let a = ScaleBounds {
            bits: 0.1,
            projected: 0.5,
            budget_binds: false,
        };
        let b = ScaleBounds {
            bits: 0.2,
            projected: 0.3,
            budget_binds: true,
        };
        let shared = ScaleBounds::shared([a, b]).unwrap();
        assert_eq!(
            (shared.bits, shared.projected, shared.budget_binds),
            (0.2, 0.5, true)
        );
        assert_eq!(ScaleBounds::shared([]), None);
    }

    #[test]
    fn a2q_plus_budget_is_about_twice_a2q() {
        let plus = ChannelLimits::new(NormConstraint::A2qPlus, IntType::unsigned(4), 12, 4, 8);
        // (4096 - 2) / 15 = 272.9 against A2Q's 2047 / 16 = 127.9.
        assert!((plus.norm_budget() - 4094.0 / 15.0).abs() < 1e-9);
        assert_eq!(a2q(IntType::unsigned(4), 12, 8).norm_budget(), 127.0);
    }

    #[test]
    fn a2q_plus_checks_the_range_beside_the_centred_norm() {
        // uint4, P = 6: A2Q+ limit 62 / 15 = 4.13. q = [4, 0, 0, 0] has
        // centred L1 3 + 3 * 1 = 6 > 4.13; q = [2, -2, 0, 0] has 4 and
        // range [-30, 30], which fits 6 bits.
        let plus = ChannelLimits::new(NormConstraint::A2qPlus, IntType::unsigned(4), 6, 4, 4);
        assert!(!plus.holds(array![4, 0, 0, 0].view()));
        assert!(plus.holds(array![2, -2, 0, 0].view()));
        // [3, 0, 0, 0]: centred L1 4.5 > 4.13 as well; [2, 0, 0, 0] has
        // centred L1 3 and range [0, 30]: passes.
        assert!(!plus.holds(array![3, 0, 0, 0].view()));
        assert!(plus.holds(array![2, 0, 0, 0].view()));
    }

    fn weights_strategy() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-2.0f64..2.0, 1..80)
    }

    proptest! {
        /// Rounding toward zero at the projected scale never exceeds the A2Q
        /// budget: no repair is ever needed.
        #[test]
        fn toward_zero_at_the_projected_scale_is_within_the_a2q_budget(
            w in weights_strategy(),
            bits in 1u32..8,
            signed in any::<bool>(),
            extra in 1u32..12,
            weight_bits in 2u32..9,
        ) {
            let input = IntType { bits, signed };
            let p = bits - u32::from(signed) + 1 + extra;
            let limits = ChannelLimits::new(NormConstraint::A2q, input, p, weight_bits, w.len());
            let w = Array1::from(w);
            if let Some(bounds) = scale_bounds(w.view(), &limits) {
                let q = round_toward_zero(w.mapv(|v| v / bounds.projected).view(), limits.max_level());
                prop_assert!(limits.holds(q.view()), "{q} at P={p}");
            }
        }

        /// Whatever the constraint, quantized channels pass the exact check
        /// of `bounds` and fit the weight bits.
        #[test]
        fn quantized_channels_pass_the_exact_check(
            w in weights_strategy(),
            bits in 1u32..8,
            extra in 1u32..12,
            weight_bits in 2u32..9,
            plus in any::<bool>(),
        ) {
            let input = IntType::unsigned(bits);
            let p = bits + 1 + extra;
            let constraint = if plus { NormConstraint::A2qPlus } else { NormConstraint::A2q };
            let limits = ChannelLimits::new(constraint, input, p, weight_bits, w.len());
            let mut w = Array1::from(w);
            if plus {
                let mean = w.mean().unwrap();
                w.mapv_inplace(|v| v - mean);
            }
            let Some(bounds) = scale_bounds(w.view(), &limits) else { return Ok(()) };
            // Candidate scales on both sides of the projected one (every
            // eighth: the repair loop is slow in debug builds).
            for scale in bounds.candidates().into_iter().step_by(8) {
            let q = quantize_channel(w.view(), scale, &limits);
            let l1: i128 = q.weights.iter().map(|&v| i128::from(v).abs()).sum();
            match constraint {
                NormConstraint::A2q => prop_assert!(limits.budget.a2q_holds(l1)),
                NormConstraint::A2qPlus => prop_assert!(limits.budget.a2q_plus_holds(
                    centered_l1_times_count(q.weights.view()),
                    q.weights.len()
                )),
            }
            prop_assert!(accumulator_bits(limits.weights_range(q.weights.view())) <= p);
            prop_assert!(q.weights.iter().all(|v| v.abs() <= limits.max_level()));
            }
        }
    }
}
