//! A dense layer: accumulation in the hardware order (SIMD chunks, tiles,
//! bias first) through the run's registers, then thresholds or raw output.

use super::OverflowEvents;
use super::accumulator::{LayerAccumulation, Settle};
use super::error::{Overwide, narrow};
use crate::model::{Activation, Dense};

/// A dense layer laid out for the inner loop.
pub(super) struct DenseStage {
    in_features: usize,
    out_features: usize,
    /// Row-major `[out_features, in_features]`.
    weights: Vec<i64>,
    /// Zero where the model has no bias.
    bias: Vec<i64>,
    simd: usize,
    outer: Settle,
    /// Tile size and inner register.
    inner: Option<(usize, Settle)>,
    thresholds: Option<Thresholds>,
}

/// FINN multi-threshold: `base + #{k : acc >= t[c][k]}`.
struct Thresholds {
    base: i64,
    per_channel: usize,
    /// Row-major `[out_features, per_channel]`, non-decreasing along rows.
    values: Vec<i64>,
}

impl DenseStage {
    pub fn new(dense: &Dense, accumulation: &LayerAccumulation) -> Self {
        let thresholds = match &dense.activation {
            Activation::None => None,
            Activation::Thresholds { output, thresholds } => Some(Thresholds {
                base: output.min() as i64,
                per_channel: thresholds.ncols(),
                values: thresholds.iter().copied().collect(),
            }),
        };
        DenseStage {
            in_features: dense.in_features,
            out_features: dense.out_features,
            // `iter()` walks in logical row-major order whatever the layout.
            weights: dense.weights.iter().copied().collect(),
            bias: (0..dense.out_features).map(|c| dense.bias_of(c)).collect(),
            simd: accumulation.simd,
            outer: Settle::new(accumulation.outer),
            inner: accumulation
                .tile
                .map(|tile| (tile.size, Settle::new(tile.register))),
            thresholds,
        }
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }

    pub fn macs(&self) -> usize {
        self.weights.len()
    }

    /// Every channel's final accumulator for the input `x`.
    pub fn accumulate(&self, x: &[i64], acc: &mut [i128], events: &mut OverflowEvents) {
        let rows = self.weights.chunks_exact(self.in_features);
        for ((acc, row), &bias) in acc.iter_mut().zip(rows).zip(&self.bias) {
            *acc = self.channel(row, x, bias, events);
        }
    }

    fn channel(&self, row: &[i64], x: &[i64], bias: i64, events: &mut OverflowEvents) -> i128 {
        // The bias is loaded into the register, so it is settled like a sum.
        let mut outer = self.outer.settle(bias.into(), &mut events.outer);
        match self.inner {
            None => {
                for (w, x) in row.chunks_exact(self.simd).zip(x.chunks_exact(self.simd)) {
                    outer = self
                        .outer
                        .settle(outer + chunk_sum(w, x), &mut events.outer);
                }
            }
            Some((tile_size, inner)) => {
                let tiles = row.chunks_exact(tile_size).zip(x.chunks_exact(tile_size));
                for (w, x) in tiles {
                    let tile = self.tile_sum(inner, w, x, &mut events.inner);
                    outer = self.outer.settle(outer + tile, &mut events.outer);
                }
            }
        }
        outer
    }

    /// One tile through the inner register, which starts at 0.
    fn tile_sum(&self, inner: Settle, w: &[i64], x: &[i64], events: &mut u64) -> i128 {
        let chunks = w.chunks_exact(self.simd).zip(x.chunks_exact(self.simd));
        chunks.fold(0, |sum, (w, x)| inner.settle(sum + chunk_sum(w, x), events))
    }

    /// The layer's outputs from its accumulators.
    pub fn activate(&self, acc: &[i128], out: &mut [i64]) -> Result<(), Overwide> {
        match &self.thresholds {
            Some(thresholds) => {
                for (c, (out, &acc)) in out.iter_mut().zip(acc).enumerate() {
                    *out = thresholds.apply(c, acc);
                }
            }
            None => {
                for (c, (out, &acc)) in out.iter_mut().zip(acc).enumerate() {
                    *out = narrow(c, acc)?;
                }
            }
        }
        Ok(())
    }
}

impl Thresholds {
    fn apply(&self, channel: usize, acc: i128) -> i64 {
        let start = channel * self.per_channel;
        let row = &self.values[start..start + self.per_channel];
        // The row is non-decreasing, so the thresholds passed form a prefix.
        let passed = row.partition_point(|&t| i128::from(t) <= acc);
        self.base + passed as i64
    }
}

/// The exact sum of one chunk of products: the hardware's adder tree never
/// overflows. A product of a 32-bit weight and a 64-bit value fits 95 bits,
/// so `i128` holds it and the sums of any layer.
#[inline]
fn chunk_sum(w: &[i64], x: &[i64]) -> i128 {
    w.iter()
        .zip(x)
        .map(|(&w, &x)| i128::from(w) * i128::from(x))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Accumulator, HardwareHints, IntType, OverflowMode, Tile};
    use crate::reference::accumulator::{Register, TileRegister};
    use ndarray::{Array2, array};

    fn dense(weights: Array2<i64>, bias: Option<Vec<i64>>, activation: Activation) -> Dense {
        let (out_features, in_features) = weights.dim();
        Dense {
            in_features,
            out_features,
            weight_bits: 8,
            weights,
            bias: bias.map(Into::into),
            accumulator: Accumulator {
                bits: 16,
                tile: None,
                overflow: OverflowMode::Wrap,
                allow_overflow: false,
            },
            activation,
            hardware: HardwareHints::default(),
        }
    }

    fn plain(outer: Register, simd: usize) -> LayerAccumulation {
        LayerAccumulation {
            outer,
            tile: None,
            simd,
        }
    }

    fn bits(bits: u32, overflow: OverflowMode) -> Register {
        Register::Bounded { bits, overflow }
    }

    /// Accumulators and overflow events of a layer on one input.
    fn run(
        dense: &Dense,
        accumulation: LayerAccumulation,
        x: &[i64],
    ) -> (Vec<i128>, OverflowEvents) {
        let stage = DenseStage::new(dense, &accumulation);
        let mut acc = vec![0; dense.out_features];
        let mut events = OverflowEvents::default();
        stage.accumulate(x, &mut acc, &mut events);
        (acc, events)
    }

    #[test]
    fn dense_is_bias_plus_dot_product() {
        let layer = dense(
            array![[1, -2, 3], [0, 4, -1]],
            Some(vec![10, -5]),
            Activation::None,
        );
        let (acc, events) = run(&layer, plain(Register::Exact, 1), &[2, 3, -1]);
        // 10 + 2 - 6 - 3 = 3; -5 + 0 + 12 + 1 = 8
        assert_eq!(acc, vec![3, 8]);
        assert_eq!(events, OverflowEvents::default());
        let stage = DenseStage::new(&layer, &plain(Register::Exact, 1));
        let mut out = [0; 2];
        stage.activate(&acc, &mut out).unwrap();
        assert_eq!(out, [3, 8]);
    }

    #[test]
    fn thresholds_count_passed_levels_from_the_base() {
        let thresholds = array![[-3, 0, 0, 5, 9, 9, 20], [0, 1, 2, 3, 4, 5, 6]];
        let unsigned = Activation::Thresholds {
            output: IntType::unsigned(3),
            thresholds: thresholds.clone(),
        };
        let signed = Activation::Thresholds {
            output: IntType::signed(3),
            thresholds,
        };
        let weights = array![[1], [1]];
        let cases: [(i128, [i64; 2]); 5] = [
            (-4, [0, 0]), // below every threshold
            (0, [3, 1]),  // equal counts as passed: -3, 0, 0
            (9, [6, 7]),  // 9 passes both 9s
            (19, [6, 7]),
            (20, [7, 7]), // the top level
        ];
        for (acc, expected) in cases {
            let mut out = [0; 2];
            let stage = DenseStage::new(
                &dense(weights.clone(), None, unsigned.clone()),
                &plain(Register::Exact, 1),
            );
            stage.activate(&[acc, acc], &mut out).unwrap();
            assert_eq!(out, expected, "unsigned, acc = {acc}");
            let stage = DenseStage::new(
                &dense(weights.clone(), None, signed.clone()),
                &plain(Register::Exact, 1),
            );
            stage.activate(&[acc, acc], &mut out).unwrap();
            assert_eq!(out, expected.map(|o| o - 4), "signed, acc = {acc}");
        }
    }

    #[test]
    fn wrap_is_applied_after_every_add_and_counted() {
        // 7 + 7 = 14 leaves int4 and wraps to -2.
        let layer = dense(array![[7, 7, 1]], None, Activation::None);
        let wrap4 = bits(4, OverflowMode::Wrap);
        let (acc, events) = run(&layer, plain(wrap4, 1), &[1, 1, 1]);
        assert_eq!(acc, vec![-1]);
        assert_eq!(events.outer, 1);
        // Wrapped values do not depend on the order: one add of 15 gives -1 too.
        let (acc, events) = run(&layer, plain(wrap4, 3), &[1, 1, 1]);
        assert_eq!(acc, vec![-1]);
        assert_eq!(events.outer, 1);
    }

    #[test]
    fn the_bias_is_settled_as_the_initial_value() {
        let layer = dense(array![[1]], Some(vec![100]), Activation::None);
        // 100 in int6 wraps to 100 - 128 = -28, then + 1.
        let (acc, events) = run(&layer, plain(bits(6, OverflowMode::Wrap), 1), &[1]);
        assert_eq!((acc[0], events.outer), (-27, 1));
        // Saturated to 31, then 32 saturates again.
        let (acc, events) = run(&layer, plain(bits(6, OverflowMode::Saturate), 1), &[1]);
        assert_eq!((acc[0], events.outer), (31, 2));
    }

    #[test]
    fn saturation_depends_on_simd_order() {
        // int4 holds -8..=7. Exact sum: 0 + 4 + 4 - 4 = 4.
        let layer = dense(array![[0, 4, 4, -4]], None, Activation::None);
        let saturate4 = bits(4, OverflowMode::Saturate);
        // SIMD = 1: 0, 4, 8 -> 7 (clamped), 3.
        let (acc, events) = run(&layer, plain(saturate4, 1), &[1, 1, 1, 1]);
        assert_eq!((acc[0], events.outer), (3, 1));
        // SIMD = 2: chunks (0 + 4) and (4 - 4): 4, 4, never out of range.
        let (acc, events) = run(&layer, plain(saturate4, 2), &[1, 1, 1, 1]);
        assert_eq!((acc[0], events.outer), (4, 0));
    }

    #[test]
    fn tiles_wrap_inside_and_add_outside() {
        let mut layer = dense(array![[7, 7, 1, 1]], Some(vec![3]), Activation::None);
        layer.accumulator.tile = Some(Tile {
            size: 2,
            inner_bits: 4,
        });
        let accumulation = LayerAccumulation {
            outer: bits(8, OverflowMode::Wrap),
            tile: Some(TileRegister {
                size: 2,
                register: bits(4, OverflowMode::Wrap),
            }),
            simd: 1,
        };
        // Tile 1: 7, 14 -> -2 (inner wrap). Tile 2: 1, 2. Outer: 3 - 2 + 2 = 3,
        // where a single 8-bit accumulator would give 3 + 16 = 19.
        let (acc, events) = run(&layer, accumulation, &[1, 1, 1, 1]);
        assert_eq!(acc, vec![3]);
        assert_eq!(events, OverflowEvents { inner: 1, outer: 0 });
        let (acc, _) = run(&layer, plain(bits(8, OverflowMode::Wrap), 1), &[1, 1, 1, 1]);
        assert_eq!(acc, vec![19]);
    }

    #[test]
    fn tiles_saturate_inside_then_outer_saturates() {
        let mut layer = dense(array![[7, 7, 7, 7]], None, Activation::None);
        layer.accumulator.tile = Some(Tile {
            size: 2,
            inner_bits: 4,
        });
        let accumulation = LayerAccumulation {
            outer: bits(5, OverflowMode::Saturate),
            tile: Some(TileRegister {
                size: 2,
                register: bits(4, OverflowMode::Saturate),
            }),
            simd: 2,
        };
        // Each tile: one chunk of 14 -> 7. Outer (int5, max 15): 7, 14.
        let (acc, events) = run(&layer, accumulation, &[1, 1, 1, 1]);
        assert_eq!(acc, vec![14]);
        assert_eq!(events, OverflowEvents { inner: 2, outer: 0 });
    }

    #[test]
    fn raw_outputs_beyond_64_bits_are_refused() {
        let layer = dense(array![[1]], None, Activation::None);
        let stage = DenseStage::new(&layer, &plain(Register::Exact, 1));
        let mut out = [0];
        let too_big = i128::from(i64::MAX) + 1;
        assert_eq!(
            stage.activate(&[too_big], &mut out),
            Err(Overwide {
                element: 0,
                value: too_big
            })
        );
    }
}
