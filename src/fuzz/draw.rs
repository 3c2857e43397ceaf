//! Seeded draws on top of [`SplitMix64`]: chances, integers, picks, and the
//! derivation of one model's seed from a run's seed and the model's index.

use crate::sim::SplitMix64;

/// A seeded source of the draws the generator makes.
#[derive(Clone, Debug)]
pub struct Draw {
    rng: SplitMix64,
}

impl Draw {
    pub fn new(seed: u64) -> Self {
        Draw {
            rng: SplitMix64::new(seed),
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    /// A uniform integer in `[lo, hi]`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.range_inclusive(lo, hi)
    }

    /// A uniform `usize` in `[lo, hi]`.
    pub fn size(&mut self, lo: usize, hi: usize) -> usize {
        self.int(lo as i64, hi as i64) as usize
    }

    /// A uniform `u32` in `[lo, hi]`.
    pub fn bits(&mut self, lo: u32, hi: u32) -> u32 {
        self.int(i64::from(lo), i64::from(hi)) as u32
    }

    /// A uniform double in `[lo, hi)`.
    pub fn real(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.next_f64()
    }

    /// A uniform `i128` in `[lo, hi]`, for ranges wider than 64 bits.
    pub fn wide(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo) as u128;
        if span < u64::MAX as u128 {
            return lo + self.below(span as u64 + 1) as i128;
        }
        let draw = (u128::from(self.rng.next_u64()) << 64) | u128::from(self.rng.next_u64());
        lo + (draw % (span + 1)) as i128
    }

    /// A uniform integer in `[0, count)` (`count >= 1`).
    fn below(&mut self, count: u64) -> u64 {
        self.rng.range_inclusive(0, (count - 1) as i64) as u64
    }

    /// One element of a non-empty slice, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.size(0, items.len() - 1)]
    }

    /// An index drawn with the given (not all zero) weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut ticket = self.bits(0, total - 1);
        for (index, &w) in weights.iter().enumerate() {
            if ticket < w {
                return index;
            }
            ticket -= w;
        }
        weights.len() - 1
    }
}

/// The seed of model `index` of a run seeded `run_seed`: the first output of
/// a [`SplitMix64`] started at `run_seed * 0x9E3779B97F4A7C15 + index`
/// (wrapping), so that every model can be drawn alone.
pub fn model_seed(run_seed: u64, index: usize) -> u64 {
    SplitMix64::new(
        run_seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index as u64),
    )
    .next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_draws_follow_their_weights() {
        let mut d = Draw::new(3);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[d.weighted(&[1, 0, 3])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(
            (counts[2] as f64 / counts[0] as f64 - 3.0).abs() < 0.3,
            "{counts:?}"
        );
    }

    #[test]
    fn wide_draws_stay_in_range() {
        let mut d = Draw::new(5);
        for _ in 0..1000 {
            let v = d.wide(-(1i128 << 70), 1i128 << 70);
            assert!(v.abs() <= 1i128 << 70);
            assert!((-3..=4).contains(&d.wide(-3, 4)));
        }
    }

    #[test]
    fn model_seeds_differ_by_index_and_run() {
        assert_ne!(model_seed(1, 0), model_seed(1, 1));
        assert_ne!(model_seed(1, 0), model_seed(2, 0));
        assert_eq!(model_seed(7, 3), model_seed(7, 3));
    }
}
