//! Bounds of one dense layer: exact per-channel accumulator ranges, tile
//! ranges, the A2Q and A2Q+ norm checks and the data-type bound.

use super::range::ValueRange;
use crate::model::{Dense, IntType, min_signed_bits};
use ndarray::ArrayView1;
use serde::Serialize;

/// Smallest accumulator width the hardware accepts.
pub const MIN_ACCUMULATOR_BITS: u32 = 2;

/// The width an accumulator needs for `range`: the least signed width,
/// but never below the smallest legal accumulator.
pub fn accumulator_bits(range: ValueRange) -> u32 {
    min_signed_bits(range.lo, range.hi).max(MIN_ACCUMULATOR_BITS)
}

/// Exact range of `bias + sum_i w_i x_i` over `x_i in inputs[i]`: each term
/// is extremal at one end of its input range, independently of the others.
pub fn dot_range(weights: ArrayView1<i64>, bias: i64, inputs: &[ValueRange]) -> ValueRange {
    let (mut lo, mut hi) = (bias as i128, bias as i128);
    for (&w, x) in weights.iter().zip(inputs) {
        let (a, b) = (w as i128 * x.lo, w as i128 * x.hi);
        lo += a.min(b);
        hi += a.max(b);
    }
    ValueRange::new(lo, hi)
}

/// The input that drives `bias + w.x` to its maximum (`toward_hi`) or
/// minimum: every `x_i` at the end of its range that pushes that way.
pub fn extremal_input(
    weights: ArrayView1<i64>,
    inputs: &[ValueRange],
    toward_hi: bool,
) -> Vec<i64> {
    weights
        .iter()
        .zip(inputs)
        .map(|(&w, x)| {
            let up = (w > 0) == toward_hi;
            let value = if w == 0 {
                0.clamp(x.lo, x.hi)
            } else if up {
                x.hi
            } else {
                x.lo
            };
            value as i64
        })
        .collect()
}

/// One tile's exact range within a channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TileBound {
    pub tile: usize,
    pub lo: i128,
    pub hi: i128,
    pub min_bits: u32,
}

/// Everything proven about one output channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelBound {
    pub channel: usize,
    /// Exact accumulator range, bias included.
    pub lo: i128,
    pub hi: i128,
    pub min_bits: u32,
    /// `||w||_1`.
    pub l1_norm: i128,
    /// `||w - mean(w)||_1`, rounded for reporting (the check is exact).
    pub centered_l1_norm: f64,
    pub a2q_pass: bool,
    pub a2q_plus_pass: bool,
    /// Per-tile ranges (empty when the layer is not tiled).
    pub tiles: Vec<TileBound>,
}

impl ChannelBound {
    pub fn range(&self) -> ValueRange {
        ValueRange::new(self.lo, self.hi)
    }
}

/// The input data type the A2Q formulas speak of: its bits `N` and signedness.
#[derive(Clone, Copy, Debug)]
pub struct NormBudget {
    pub input: IntType,
    pub accumulator_bits: u32,
}

impl NormBudget {
    /// A2Q: `||w||_1 <= (2^(P-1) - 1) * 2^(signed(x) - N)`, compared exactly
    /// as `||w||_1 * 2^(N - signed(x)) <= 2^(P-1) - 1`.
    pub fn a2q_holds(self, l1_norm: i128) -> bool {
        let scale = self.input.bits - u32::from(self.input.signed);
        l1_norm
            .checked_shl(scale)
            .is_some_and(|s| s < (1i128 << (self.accumulator_bits - 1)))
    }

    /// The A2Q limit on `||w||_1`, for reporting.
    pub fn a2q_limit(self) -> f64 {
        let signed = f64::from(u8::from(self.input.signed));
        ((2f64).powi(self.accumulator_bits as i32 - 1) - 1.0)
            * (2f64).powf(signed - f64::from(self.input.bits))
    }

    /// A2Q+: `||w - mean(w)||_1 <= (2^P - 2) / (2^N - 1)`. With `K` weights
    /// summing to `S`, `K * ||w - mean(w)||_1 = sum |K w_i - S|`, so the check
    /// is `sum |K w_i - S| * (2^N - 1) <= (2^P - 2) * K` in integers.
    pub fn a2q_plus_holds(self, centered_sum: i128, count: usize) -> bool {
        let lhs = centered_sum.checked_mul((1i128 << self.input.bits) - 1);
        let rhs = ((1i128 << self.accumulator_bits) - 2) * count as i128;
        lhs.is_some_and(|l| l <= rhs)
    }

    /// The A2Q+ limit on `||w - mean(w)||_1`, for reporting.
    pub fn a2q_plus_limit(self) -> f64 {
        ((2f64).powi(self.accumulator_bits as i32) - 2.0)
            / ((2f64).powi(self.input.bits as i32) - 1.0)
    }
}

/// `sum_i |K w_i - S|` for `K` weights summing to `S` (`K` times the
/// zero-centred L1 norm, kept an integer).
pub fn centered_l1_times_count(weights: ArrayView1<i64>) -> i128 {
    let count = weights.len() as i128;
    let sum: i128 = weights.iter().map(|&w| w as i128).sum();
    weights
        .iter()
        .map(|&w| (count * w as i128 - sum).abs())
        .sum()
}

/// The width the data types alone require, for `MW` worst-case weights:
/// `ceil(alpha + log2(1 + 2^-alpha) + 1)`,
/// `alpha = log2(MW) + W + N - 1 - signed(x)`.
pub fn data_type_bits(in_features: usize, weight_bits: u32, input: IntType) -> u32 {
    let alpha = (in_features as f64).log2() + f64::from(weight_bits) + f64::from(input.bits)
        - 1.0
        - f64::from(u8::from(input.signed));
    (alpha + (1.0 + (-alpha).exp2()).log2() + 1.0).ceil() as u32
}

/// Bounds of every channel of `layer` for per-element `inputs` ranges
/// (each containing 0), with the norm checks at the declared width.
pub fn channel_bounds(
    layer: &Dense,
    inputs: &[ValueRange],
    input_type: IntType,
) -> Vec<ChannelBound> {
    let budget = NormBudget {
        input: input_type,
        accumulator_bits: layer.accumulator.bits,
    };
    (0..layer.out_features)
        .map(|c| {
            let w = layer.weights.row(c);
            let range = dot_range(w, layer.bias_of(c), inputs);
            let l1_norm: i128 = w.iter().map(|&v| (v as i128).abs()).sum();
            let centered = centered_l1_times_count(w);
            ChannelBound {
                channel: c,
                lo: range.lo,
                hi: range.hi,
                min_bits: accumulator_bits(range),
                l1_norm,
                centered_l1_norm: centered as f64 / w.len() as f64,
                a2q_pass: budget.a2q_holds(l1_norm),
                a2q_plus_pass: budget.a2q_plus_holds(centered, w.len()),
                tiles: tile_bounds(layer, c, inputs),
            }
        })
        .collect()
}

fn tile_bounds(layer: &Dense, channel: usize, inputs: &[ValueRange]) -> Vec<TileBound> {
    let Some(tile) = layer.accumulator.tile else {
        return Vec::new();
    };
    let w = layer.weights.row(channel);
    (0..layer.in_features / tile.size)
        .map(|t| {
            let span = t * tile.size..(t + 1) * tile.size;
            let range = dot_range(w.slice(ndarray::s![span.clone()]), 0, &inputs[span]);
            TileBound {
                tile: t,
                lo: range.lo,
                hi: range.hi,
                min_bits: accumulator_bits(range),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_range() {
        // w = [2, -3, 0], x in [0, 15], b = 1: lo = 1 - 45, hi = 1 + 30.
        let w = array![2i64, -3, 0];
        let r = dot_range(w.view(), 1, &[ValueRange::new(0, 15); 3]);
        assert_eq!(r, ValueRange::new(-44, 31));
        assert_eq!(accumulator_bits(r), 7);
        assert_eq!(
            extremal_input(w.view(), &[ValueRange::new(0, 15); 3], true),
            vec![15, 0, 0]
        );
        assert_eq!(
            extremal_input(w.view(), &[ValueRange::new(0, 15); 3], false),
            vec![0, 15, 0]
        );
    }

    #[test]
    fn all_zero_row_needs_the_smallest_legal_width() {
        let w = array![0i64, 0, 0, 0];
        let r = dot_range(w.view(), 0, &[ValueRange::new(-8, 7); 4]);
        assert_eq!(r, ValueRange::ZERO);
        assert_eq!(accumulator_bits(r), MIN_ACCUMULATOR_BITS);
    }

    #[test]
    fn only_negative_weights_with_signed_inputs() {
        // w = [-1, -4], x in [-8, 7]: lo = -7 - 28 = -35, hi = 8 + 32 = 40.
        let w = array![-1i64, -4];
        let r = dot_range(w.view(), 0, &[ValueRange::new(-8, 7); 2]);
        assert_eq!(r, ValueRange::new(-35, 40));
        assert_eq!(accumulator_bits(r), 7);
        // With unsigned inputs only the low end moves.
        let r = dot_range(w.view(), 0, &[ValueRange::new(0, 15); 2]);
        assert_eq!(r, ValueRange::new(-75, 0));
        assert_eq!(accumulator_bits(r), 8);
    }

    #[test]
    fn a2q_bound_at_the_edge() {
        // Unsigned 4-bit inputs, P = 10: ||w||_1 <= 511 / 16 = 31.94.
        let budget = NormBudget {
            input: IntType::unsigned(4),
            accumulator_bits: 10,
        };
        assert!(budget.a2q_holds(31));
        assert!(!budget.a2q_holds(32));
        // Signed 4-bit inputs: ||w||_1 <= 511 / 8 = 63.875.
        let budget = NormBudget {
            input: IntType::signed(4),
            ..budget
        };
        assert!(budget.a2q_holds(63));
        assert!(!budget.a2q_holds(64));
    }

    #[test]
    fn a2q_plus_bound_at_the_edge() {
        // P = 8, N = 4: limit (256 - 2) / 15 = 16.93.
        let budget = NormBudget {
            input: IntType::unsigned(4),
            accumulator_bits: 8,
        };
        // w = [8, -8, 0, 0]: mean 0, centred L1 = 16.
        let w = array![8i64, -8, 0, 0];
        let c = centered_l1_times_count(w.view());
        assert_eq!(c, 64);
        assert!(budget.a2q_plus_holds(c, 4));
        // w = [9, -8, 0, 0]: mean 1/4, centred L1 = 8.75 + 8.25 + 0.25 + 0.25 = 17.5.
        let w = array![9i64, -8, 0, 0];
        let c = centered_l1_times_count(w.view());
        assert_eq!(c, 70);
        assert!(!budget.a2q_plus_holds(c, 4));
    }

    #[test]
    fn data_type_bound_examples() {
        // MW = 16, W4, uint4: alpha = 4 + 4 + 4 - 1 = 11 -> ceil(12.0007) = 13.
        assert_eq!(data_type_bits(16, 4, IntType::unsigned(4)), 13);
        // MW = 1, W2, int2: alpha = 0 + 2 + 2 - 1 - 1 = 2 -> ceil(2 + 0.32 + 1) = 4.
        assert_eq!(data_type_bits(1, 2, IntType::signed(2)), 4);
    }
}
