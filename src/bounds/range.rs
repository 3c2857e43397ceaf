//! Integer value ranges and how each layer kind maps them.

use crate::model::{Hadamard, IntType};
use serde::Serialize;

/// An inclusive range of integers `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ValueRange {
    pub lo: i128,
    pub hi: i128,
}

impl ValueRange {
    pub const ZERO: ValueRange = ValueRange { lo: 0, hi: 0 };

    pub fn new(lo: i128, hi: i128) -> Self {
        debug_assert!(lo <= hi, "empty range [{lo}, {hi}]");
        ValueRange { lo, hi }
    }

    pub fn of_type(t: IntType) -> Self {
        ValueRange::new(t.min(), t.max())
    }

    /// The smallest range holding both.
    pub fn union(self, other: ValueRange) -> Self {
        ValueRange::new(self.lo.min(other.lo), self.hi.max(other.hi))
    }

    /// The range widened to contain 0. Accumulator proofs need every input
    /// range to contain 0 so that partial sums stay within the final range.
    pub fn with_zero(self) -> Self {
        self.union(ValueRange::ZERO)
    }

    pub fn contains(self, value: i128) -> bool {
        (self.lo..=self.hi).contains(&value)
    }

    /// The narrowest integer type holding the range.
    pub fn container(self) -> IntType {
        IntType::containing(self.lo, self.hi)
    }

    /// The union of many ranges (`ZERO` for none).
    pub fn hull(ranges: &[ValueRange]) -> Self {
        ranges
            .iter()
            .copied()
            .reduce(ValueRange::union)
            .unwrap_or(ValueRange::ZERO)
    }
}

/// Exact per-element output ranges of a Hadamard layer, given per-element
/// input ranges: output `j` of a block is `sum_i H[j][i] x_i`, whose extremes
/// take each `x_i` at the end that maximises (or minimises) its signed term.
/// Computed by the butterflies of the transform over ranges, in
/// `O(n log n)`: every output reaches every input along exactly one path of
/// `(a, b) -> (a + b, a - b)`, so adding and subtracting ranges is exact.
/// The rounding shift and the clamp are monotone, so they map the ends.
pub fn hadamard_output_ranges(layer: &Hadamard, inputs: &[ValueRange]) -> Vec<ValueRange> {
    let mut outputs = inputs.to_vec();
    for block in outputs.chunks_exact_mut(layer.block) {
        range_butterflies(block);
    }
    for range in &mut outputs {
        *range = requantize_range(layer, *range);
    }
    outputs
}

/// The Sylvester butterflies of `reference::hadamard`, over ranges.
fn range_butterflies(v: &mut [ValueRange]) {
    let mut half = 1;
    while half < v.len() {
        for pair in v.chunks_exact_mut(2 * half) {
            let (low, high) = pair.split_at_mut(half);
            for (a, b) in low.iter_mut().zip(high) {
                (*a, *b) = (
                    ValueRange::new(a.lo + b.lo, a.hi + b.hi),
                    ValueRange::new(a.lo - b.hi, a.hi - b.lo),
                );
            }
        }
        half *= 2;
    }
}

/// `H_n[j][i]` of the Sylvester Hadamard matrix: `(-1)^popcount(i & j)`.
pub fn sylvester_sign(j: usize, i: usize) -> i64 {
    if (i & j).count_ones().is_multiple_of(2) {
        1
    } else {
        -1
    }
}

fn requantize_range(layer: &Hadamard, range: ValueRange) -> ValueRange {
    let map = |v: i128| {
        let shifted = match layer.shift {
            Some(s) => (v + (1i128 << (s - 1))) >> s,
            None => v,
        };
        match layer.out_bits {
            Some(bits) => shifted.clamp(IntType::signed(bits).min(), IntType::signed(bits).max()),
            None => shifted,
        }
    };
    ValueRange::new(map(range.lo), map(range.hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hadamard_ranges_of_int4_blocks_of_8() {
        let layer = Hadamard {
            block: 8,
            shift: None,
            out_bits: None,
        };
        let inputs = vec![ValueRange::new(-8, 7); 8];
        let out = hadamard_output_ranges(&layer, &inputs);
        assert_eq!(out[0], ValueRange::new(-64, 56));
        assert!(out[1..].iter().all(|r| *r == ValueRange::new(-60, 60)));
    }

    /// The definition, element by element: `O(n^2)`.
    fn ranges_by_the_matrix(n: usize, inputs: &[ValueRange]) -> Vec<ValueRange> {
        let mut outputs = Vec::new();
        for block in inputs.chunks(n) {
            for j in 0..n {
                let (mut lo, mut hi) = (0i128, 0i128);
                for (i, x) in block.iter().enumerate() {
                    if sylvester_sign(j, i) > 0 {
                        lo += x.lo;
                        hi += x.hi;
                    } else {
                        lo -= x.hi;
                        hi -= x.lo;
                    }
                }
                outputs.push(ValueRange::new(lo, hi));
            }
        }
        outputs
    }

    #[test]
    fn butterflies_over_ranges_match_the_matrix() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 41) as i128 - 20
        };
        for block in [2usize, 4, 8, 16, 32] {
            let inputs: Vec<ValueRange> = (0..2 * block)
                .map(|_| {
                    let (a, b) = (next(), next());
                    ValueRange::new(a.min(b), a.max(b))
                })
                .collect();
            let layer = Hadamard {
                block,
                shift: None,
                out_bits: None,
            };
            assert_eq!(
                hadamard_output_ranges(&layer, &inputs),
                ranges_by_the_matrix(block, &inputs),
                "block {block}"
            );
        }
    }

    #[test]
    fn shift_and_clamp_map_the_ends() {
        let layer = Hadamard {
            block: 2,
            shift: Some(1),
            out_bits: Some(3),
        };
        // y0 in [0, 30], y1 in [-15, 15]; >>1 rounding: [0, 15], [-7, 8]; clamp to int3.
        let out = hadamard_output_ranges(&layer, &[ValueRange::new(0, 15); 2]);
        assert_eq!(out, vec![ValueRange::new(0, 3), ValueRange::new(-4, 3)]);
    }
}
