//! A Hadamard layer: `y = H_n x` per block by butterflies, then the optional
//! rounding shift and clamp.

use super::error::{Overwide, narrow};
use crate::model::{Hadamard, IntType};

pub(super) struct HadamardStage {
    block: usize,
    shift: Option<u32>,
    clamp: Option<IntType>,
}

impl HadamardStage {
    pub fn new(hadamard: &Hadamard) -> Self {
        HadamardStage {
            block: hadamard.block,
            shift: hadamard.shift,
            clamp: hadamard.out_bits.map(IntType::signed),
        }
    }

    /// Transforms `x` into `out` (same length); `wide` is scratch of that
    /// length, wide enough that the `k` stages of growth never overflow.
    pub fn apply(&self, x: &[i64], wide: &mut [i128], out: &mut [i64]) -> Result<(), Overwide> {
        for (w, &x) in wide.iter_mut().zip(x) {
            *w = x.into();
        }
        for block in wide.chunks_exact_mut(self.block) {
            butterflies(block);
        }
        for (element, (out, &y)) in out.iter_mut().zip(wide.iter()).enumerate() {
            *out = narrow(element, self.requantize(y))?;
        }
        Ok(())
    }

    fn requantize(&self, y: i128) -> i128 {
        let shifted = match self.shift {
            Some(shift) => round_shift(y, shift),
            None => y,
        };
        match self.clamp {
            Some(range) => shifted.clamp(range.min(), range.max()),
            None => shifted,
        }
    }
}

/// `H_n v` in place for `n = v.len()`, a power of two: `log2(n)` stages of
/// `(a, b) -> (a + b, a - b)` on elements `h` apart. Pairing the low half with
/// the high half at each scale is the Sylvester recursion
/// `H_2m = [[H_m, H_m], [H_m, -H_m]]`, so `y[i] = sum_j (-1)^popcount(i & j) v[j]`.
pub fn butterflies(v: &mut [i128]) {
    debug_assert!(v.len().is_power_of_two());
    let mut half = 1;
    while half < v.len() {
        for pair in v.chunks_exact_mut(2 * half) {
            let (low, high) = pair.split_at_mut(half);
            for (a, b) in low.iter_mut().zip(high) {
                (*a, *b) = (*a + *b, *a - *b);
            }
        }
        half *= 2;
    }
}

/// `(y + 2^(s-1)) >> s` with an arithmetic shift: division by `2^s` rounding
/// halves up (toward +infinity), e.g. -0.5 -> 0 and -1.5 -> -1.
pub fn round_shift(y: i128, shift: u32) -> i128 {
    (y + (1i128 << (shift - 1))) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn transform(hadamard: Hadamard, x: &[i64]) -> Vec<i64> {
        let stage = HadamardStage::new(&hadamard);
        let mut wide = vec![0; x.len()];
        let mut out = vec![0; x.len()];
        stage.apply(x, &mut wide, &mut out).unwrap();
        out
    }

    fn plain(block: usize) -> Hadamard {
        Hadamard {
            block,
            shift: None,
            out_bits: None,
        }
    }

    /// `H_n[i][j] = (-1)^popcount(i & j)`.
    fn sylvester(i: usize, j: usize) -> i128 {
        if (i & j).count_ones().is_multiple_of(2) {
            1
        } else {
            -1
        }
    }

    #[test]
    fn hand_computed_blocks() {
        // H_2 [3, 5] = [8, -2], per block of 2.
        assert_eq!(transform(plain(2), &[3, 5, -1, 4]), vec![8, -2, 3, -5]);
        // H_4 rows: ++++, +-+-, ++--, +--+.
        assert_eq!(transform(plain(4), &[1, 2, 3, 4]), vec![10, -2, -4, 0]);
    }

    #[test]
    fn shift_rounds_half_up_including_negatives() {
        assert_eq!(round_shift(-3, 1), -1); // -1.5 -> -1
        assert_eq!(round_shift(-1, 1), 0); // -0.5 -> 0
        assert_eq!(round_shift(-2, 1), -1);
        assert_eq!(round_shift(3, 1), 2); // 1.5 -> 2
        assert_eq!(round_shift(5, 2), 1); // 1.25 -> 1
        assert_eq!(round_shift(-6, 2), -1); // -1.5 -> -1
        assert_eq!(round_shift(-7, 2), -2); // -1.75 -> -2
    }

    #[test]
    fn shift_and_clamp_apply_to_the_transform() {
        // H_2 [7, 4] = [11, 3]; >> 1 rounds to [6, 2]; int3 clamps 6 to 3.
        let hadamard = Hadamard {
            block: 2,
            shift: Some(1),
            out_bits: Some(3),
        };
        assert_eq!(transform(hadamard, &[7, 4]), vec![3, 2]);
        // H_2 [-2, -1] = [-3, -1] -> [-1, 0].
        assert_eq!(transform(hadamard, &[-2, -1]), vec![-1, 0]);
    }

    #[test]
    fn clamp_applies_without_a_shift() {
        let hadamard = Hadamard {
            block: 2,
            shift: None,
            out_bits: Some(4),
        };
        // [20, -20] clamp to int4: [7, -8].
        assert_eq!(transform(hadamard, &[0, 20]), vec![7, -8]);
    }

    #[test]
    fn outputs_beyond_64_bits_are_refused() {
        let stage = HadamardStage::new(&plain(2));
        let mut wide = [0; 2];
        let mut out = [0; 2];
        let result = stage.apply(&[i64::MAX, 1], &mut wide, &mut out);
        assert_eq!(
            result,
            Err(Overwide {
                element: 0,
                value: i128::from(i64::MAX) + 1
            })
        );
    }

    proptest! {
        #[test]
        fn butterflies_equal_the_sylvester_matrix_product(
            (stages, x) in (0u32..=6).prop_flat_map(|k| {
                (Just(k), proptest::collection::vec(-(1i64 << 40)..(1i64 << 40), 1usize << k))
            })
        ) {
            let n = 1usize << stages;
            let mut v: Vec<i128> = x.iter().map(|&x| x.into()).collect();
            butterflies(&mut v);
            let product: Vec<i128> = (0..n)
                .map(|i| (0..n).map(|j| sylvester(i, j) * i128::from(x[j])).sum())
                .collect();
            prop_assert_eq!(v, product);
        }
    }
}
