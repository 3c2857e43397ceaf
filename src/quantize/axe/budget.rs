//! AXE's accumulator constraints on one channel during a greedy pass: the
//! hard limits that keep the exact accumulator range within its width as
//! weights are fixed one by one, and the soft threshold that spreads the
//! budget over the whole channel instead of spending it on the first
//! weights.

use crate::bounds::ValueRange;
use crate::model::{IntType, Tile};

/// The running exact range of one accumulator (the whole channel, or one
/// tile) as its weights are fixed, against the signed width it must fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stage {
    lo: i128,
    hi: i128,
    min: i128,
    max: i128,
}

impl Stage {
    fn new(bits: u32, start: i128) -> Self {
        let width = IntType::signed(bits);
        Stage {
            lo: start,
            hi: start,
            min: width.min(),
            max: width.max(),
        }
    }

    /// The largest positive weight and the largest negative magnitude an
    /// input of range `x` (`x.lo <= 0 <= x.hi`) can still take: a positive
    /// `q` adds `q * x.hi` to the top and `q * x.lo` to the bottom, a
    /// negative one `q * x.lo` and `q * x.hi`.
    fn room(&self, x: ValueRange) -> (i128, i128) {
        let (up, down) = (self.max - self.hi, self.lo - self.min);
        let limit = |room: i128, per_unit: i128| {
            if per_unit == 0 {
                i128::MAX
            } else {
                room.max(0) / per_unit
            }
        };
        let positive = limit(up, x.hi).min(limit(down, -x.lo));
        let negative = limit(up, -x.lo).min(limit(down, x.hi));
        (positive, negative)
    }

    fn add(&mut self, q: i64, x: ValueRange) {
        let (a, b) = (i128::from(q) * x.lo, i128::from(q) * x.hi);
        self.lo += a.min(b);
        self.hi += a.max(b);
    }
}

/// The limits of one channel while its weights are fixed greedily: the
/// outer accumulator (which starts at the bias) and, for multi-stage
/// accumulation, the inner accumulator of every tile. Whatever order the
/// weights are fixed in, every integer weight taken inside
/// [`ChannelBudget::interval`] keeps each exact range within its width, so
/// the finished channel is proven by construction.
#[derive(Clone, Debug)]
pub struct ChannelBudget<'a> {
    inputs: &'a [ValueRange],
    max_level: i64,
    outer: Stage,
    tile_size: usize,
    tiles: Vec<Stage>,
}

impl<'a> ChannelBudget<'a> {
    /// A channel with no weight fixed yet: `bias` already in the outer
    /// accumulator of `bits`, which it must fit.
    pub fn new(
        inputs: &'a [ValueRange],
        weight_bits: u32,
        bits: u32,
        tile: Option<Tile>,
        bias: i64,
    ) -> Self {
        let tile_size = tile.map_or(inputs.len().max(1), |t| t.size);
        let tiles = match tile {
            Some(tile) => vec![Stage::new(tile.inner_bits, 0); inputs.len().div_ceil(tile.size)],
            None => Vec::new(),
        };
        ChannelBudget {
            inputs,
            max_level: (1i64 << (weight_bits - 1)) - 1,
            outer: Stage::new(bits, i128::from(bias)),
            tile_size,
            tiles,
        }
    }

    /// The integer weights element `i` may still take, `lo <= 0 <= hi`,
    /// within the weight bits' symmetric range.
    pub fn interval(&self, i: usize) -> (i64, i64) {
        let x = self.inputs[i];
        let (mut positive, mut negative) = self.outer.room(x);
        if let Some(tile) = self.tiles.get(i / self.tile_size) {
            let (p, n) = tile.room(x);
            (positive, negative) = (positive.min(p), negative.min(n));
        }
        let level = i128::from(self.max_level);
        (-(negative.min(level) as i64), positive.min(level) as i64)
    }

    /// Fixes element `i` at `q`, which must lie in its interval.
    pub fn take(&mut self, i: usize, q: i64) {
        debug_assert!({
            let (lo, hi) = self.interval(i);
            lo <= q && q <= hi
        });
        let x = self.inputs[i];
        self.outer.add(q, x);
        if let Some(tile) = self.tiles.get_mut(i / self.tile_size) {
            tile.add(q, x);
        }
    }
}

/// The soft-thresholding radius that projects the magnitudes `v` onto the
/// L1 ball of `radius` (Duchi et al.): the `theta` with `sum max(v_i -
/// theta, 0) = radius`, or 0 when the magnitudes are inside already.
pub fn l1_ball_threshold(magnitudes: &[f64], radius: f64) -> f64 {
    let total: f64 = magnitudes.iter().sum();
    if total <= radius {
        return 0.0;
    }
    let mut sorted = magnitudes.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut cumulative = 0.0;
    let mut theta = 0.0;
    for (k, &v) in sorted.iter().enumerate() {
        cumulative += v;
        let candidate = (cumulative - radius) / (k + 1) as f64;
        if v > candidate {
            theta = candidate;
        }
    }
    theta.max(0.0)
}

/// AXE's L1 radius for zero-centred integer weights over inputs of width
/// `x.hi - x.lo`: `(2^P - 2) / (x.hi - x.lo)`.
pub fn l1_radius(bits: u32, x: ValueRange) -> f64 {
    let span = (x.hi - x.lo).max(1) as f64;
    ((1u128 << bits) - 2) as f64 / span
}

/// Per tile (one tile when not tiled), the soft threshold of one channel
/// in float units: the integer weights `target / scale`, zero-centred per
/// tile, projected onto the tile's L1 radius at `P_I` and the whole
/// channel's at `P`; the larger threshold of the two applies.
pub fn thresholds(
    target: &[f64],
    scale: f64,
    input: ValueRange,
    bits: u32,
    tile: Option<Tile>,
) -> Vec<f64> {
    let centred_magnitudes = |values: &[f64]| -> Vec<f64> {
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        values
            .iter()
            .map(|v| (v / scale - mean / scale).abs())
            .collect()
    };
    let whole = l1_ball_threshold(&centred_magnitudes(target), l1_radius(bits, input));
    match tile {
        None => vec![whole * scale],
        Some(tile) => target
            .chunks(tile.size)
            .map(|t| {
                let inner =
                    l1_ball_threshold(&centred_magnitudes(t), l1_radius(tile.inner_bits, input));
                inner.max(whole) * scale
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn threshold_projects_onto_the_ball() {
        // [3, 1, 0.5] onto radius 2: theta = 1 keeps [2, 0, 0].
        assert!((l1_ball_threshold(&[3.0, 1.0, 0.5], 2.0) - 1.0).abs() < 1e-12);
        // [3, 2, 1] onto 3: theta = 1 gives [2, 1, 0].
        assert!((l1_ball_threshold(&[3.0, 2.0, 1.0], 3.0) - 1.0).abs() < 1e-12);
        assert_eq!(l1_ball_threshold(&[0.5, 0.25], 1.0), 0.0);
    }

    #[test]
    fn unsigned_inputs_budget_each_sign_separately() {
        // uint4 inputs (0..15), P = 8: 127 up, 128 down.
        let inputs = vec![ValueRange::of_type(IntType::unsigned(4)); 4];
        let mut budget = ChannelBudget::new(&inputs, 8, 8, None, 0);
        assert_eq!(budget.interval(0), (-8, 8));
        budget.take(0, 7);
        // 105 used of 127: one more unit of 15 up is 120, two are 135.
        assert_eq!(budget.interval(1), (-8, 1));
        budget.take(1, 1);
        budget.take(2, -8);
        // 120 down used of 128: nothing more below.
        assert_eq!(budget.interval(3), (0, 0));
    }

    #[test]
    fn the_bias_and_the_tiles_take_their_share() {
        let inputs = vec![ValueRange::of_type(IntType::unsigned(2)); 4];
        // Bias 100 leaves 27 up at P = 8: 9 units of 3, clipped to 7.
        let budget = ChannelBudget::new(&inputs, 4, 8, None, 100);
        assert_eq!(budget.interval(0), (-7, 7));
        let budget = ChannelBudget::new(&inputs, 8, 8, None, 100);
        assert_eq!(budget.interval(0), (-76, 9));
        // Tiles of 2 at 4 bits: 7 up, 8 down, so 2 units each way.
        let tile = Some(Tile {
            size: 2,
            inner_bits: 4,
        });
        let mut budget = ChannelBudget::new(&inputs, 8, 16, tile, 0);
        assert_eq!(budget.interval(0), (-2, 2));
        budget.take(0, 2);
        assert_eq!(budget.interval(1), (-2, 0));
        assert_eq!(budget.interval(2), (-2, 2));
    }

    proptest! {
        /// Any weights drawn inside the intervals, in any order, give a
        /// channel whose exact ranges fit every width.
        #[test]
        fn weights_inside_the_intervals_always_fit(
            signed in any::<bool>(),
            input_bits in 1u32..6,
            bits in 4u32..14,
            inner in 3u32..10,
            tiled in any::<bool>(),
            bias in -50i64..50,
            picks in proptest::collection::vec((any::<bool>(), 0.0f64..1.0), 8),
        ) {
            let input = if signed { IntType::signed(input_bits.max(2)) } else { IntType::unsigned(input_bits) };
            let inputs = vec![ValueRange::of_type(input); 8];
            let outer = IntType::signed(bits);
            let bias = bias.clamp(outer.min() as i64 / 2, outer.max() as i64 / 2);
            let tile = tiled.then_some(Tile { size: 4, inner_bits: inner });
            let mut budget = ChannelBudget::new(&inputs, 6, bits, tile, bias);
            let mut q = [0i64; 8];
            for (i, &(upward, fraction)) in picks.iter().enumerate().rev() {
                let (lo, hi) = budget.interval(i);
                prop_assert!(lo <= 0 && 0 <= hi);
                let end = if upward { hi } else { lo };
                q[i] = (end as f64 * fraction).round() as i64;
                budget.take(i, q[i]);
            }
            let range = crate::bounds::dot_range(ndarray::ArrayView1::from(&q[..]), bias, &inputs);
            prop_assert!(range.lo >= outer.min() && range.hi <= outer.max());
            if let Some(tile) = tile {
                let width = IntType::signed(tile.inner_bits);
                for (w, x) in q.chunks(4).zip(inputs.chunks(4)) {
                    let range = crate::bounds::dot_range(ndarray::ArrayView1::from(w), 0, x);
                    prop_assert!(range.lo >= width.min() && range.hi <= width.max());
                }
            }
        }
    }
}
