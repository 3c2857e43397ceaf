//! Convolutional pipelines built unit by unit (a sliding-window unit, the
//! MVAU of a random dense layer of `kh*kw*C` inputs, optionally a max
//! pool), and a plain im2col + dense + max-pool reference to check them
//! against. Shared by `tests/conv_hw.rs` and `benches/conv.rs`.

#![allow(dead_code)]

use a2qgen::arch::{MaxPoolUnit, Padding, Plan, SlidingWindowUnit, Unit, assemble, dense_mvau};
use a2qgen::model::{
    Accumulator, Activation, Dense, HardwareHints, IntType, MultiplierStyle, OverflowMode,
    WeightsHint,
};
use a2qgen::sim::SplitMix64;
use ndarray::{Array1, Array2};

/// Input elements of every pipeline: unsigned 4-bit.
pub const INPUT: IntType = IntType {
    bits: 4,
    signed: false,
};
/// Weights: signed 4-bit; accumulators: 24 bits, wide enough for every
/// case (no wrap), so the reference is plain integer arithmetic.
pub const WEIGHT_BITS: u32 = 4;
pub const ACCUMULATOR_BITS: u32 = 24;

/// A max pool after the convolution.
#[derive(Clone, Copy, Debug)]
pub struct PoolCase {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub simd: usize,
}

/// A convolution (and optional pooling) with its folding.
#[derive(Clone, Debug)]
pub struct ConvCase {
    pub name: &'static str,
    /// `(H, W, C)`.
    pub map: (usize, usize, usize),
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// Channels per beat of the window unit.
    pub window_simd: usize,
    pub out_channels: usize,
    pub pe: usize,
    pub mvau_simd: usize,
    pub pool: Option<PoolCase>,
}

/// The case's pipeline and its dense layer.
pub struct ConvPipeline {
    pub plan: Plan,
    pub dense: Dense,
    pub window: SlidingWindowUnit,
    pub pool: Option<MaxPoolUnit>,
}

/// A random dense layer of `inputs -> outputs` with a bias.
pub fn random_dense(inputs: usize, outputs: usize, pe: usize, simd: usize, seed: u64) -> Dense {
    let mut rng = SplitMix64::new(seed);
    let w = 1i64 << (WEIGHT_BITS - 1);
    Dense {
        in_features: inputs,
        out_features: outputs,
        weight_bits: WEIGHT_BITS,
        weights: Array2::from_shape_simple_fn((outputs, inputs), || rng.range_inclusive(-w, w - 1)),
        bias: Some(Array1::from_shape_simple_fn(outputs, || {
            rng.range_inclusive(-100, 100)
        })),
        accumulator: Accumulator {
            bits: ACCUMULATOR_BITS,
            tile: None,
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation: Activation::None,
        hardware: HardwareHints {
            pe: Some(pe),
            simd: Some(simd),
            multiplier: MultiplierStyle::Lut,
            weights: WeightsHint::Rom,
        },
    }
}

impl ConvCase {
    pub fn pipeline(&self, seed: u64) -> ConvPipeline {
        let (h, w, c) = self.map;
        let window = SlidingWindowUnit {
            name: "conv_window".into(),
            layer: 0,
            height: h,
            width: w,
            channels: c,
            kernel: self.kernel,
            stride: self.stride,
            padding: Padding::from_array(self.padding),
            simd: self.window_simd,
            element: INPUT,
        };
        assert_eq!(window.problem(), None, "{}", self.name);
        let dense = random_dense(
            window.window_length(),
            self.out_channels,
            self.pe,
            self.mvau_simd,
            seed,
        );
        let mvau = dense_mvau("conv", 0, &dense, INPUT, self.pe, self.mvau_simd);
        let (oh, ow) = window.output();
        let mut units = vec![
            Unit::SlidingWindow(window.clone()),
            Unit::Mvau(Box::new(mvau)),
        ];
        let mut output_length = oh * ow * self.out_channels;
        let pool = self.pool.map(
            |PoolCase {
                 kernel,
                 stride,
                 simd,
             }| {
                let pool = MaxPoolUnit {
                    name: "pool".into(),
                    layer: 1,
                    height: oh,
                    width: ow,
                    channels: self.out_channels,
                    kernel,
                    stride,
                    simd,
                    element: IntType::signed(ACCUMULATOR_BITS),
                };
                assert_eq!(pool.problem(), None, "{}", self.name);
                let (ph, pw) = pool.output();
                output_length = ph * pw * self.out_channels;
                units.push(Unit::MaxPool(pool.clone()));
                pool
            },
        );
        let plan = assemble(self.name, h * w * c, output_length, units);
        ConvPipeline {
            plan,
            dense,
            window,
            pool,
        }
    }
}

/// `count` images of random input elements.
pub fn random_images(plan: &Plan, count: usize, seed: u64) -> Array2<i64> {
    let mut rng = SplitMix64::new(seed);
    let (lo, hi) = (INPUT.min() as i64, INPUT.max() as i64);
    Array2::from_shape_simple_fn((count, plan.input_length), || rng.range_inclusive(lo, hi))
}

/// The windows of one NHWC image, each `kh*kw*C` elements in
/// `(ky, kx, c)` order, zeros in the padding.
pub fn im2col(w: &SlidingWindowUnit, image: &[i64]) -> Vec<Vec<i64>> {
    let (oh, ow) = w.output();
    let (h, wd, c) = (w.height as i64, w.width as i64, w.channels);
    let mut windows = Vec::with_capacity(oh * ow);
    for oy in 0..oh {
        for ox in 0..ow {
            let mut v = Vec::with_capacity(w.window_length());
            for ky in 0..w.kernel.0 {
                for kx in 0..w.kernel.1 {
                    let iy = (oy * w.stride.0 + ky) as i64 - w.padding.top as i64;
                    let ix = (ox * w.stride.1 + kx) as i64 - w.padding.left as i64;
                    for ch in 0..c {
                        let inside = (0..h).contains(&iy) && (0..wd).contains(&ix);
                        v.push(if inside {
                            image[((iy * wd + ix) as usize) * c + ch]
                        } else {
                            0
                        });
                    }
                }
            }
            windows.push(v);
        }
    }
    windows
}

/// The expected output of one image: im2col, the dense layer per window,
/// then the max pool (NHWC throughout).
pub fn reference(p: &ConvPipeline, image: &[i64]) -> Vec<i64> {
    let d = &p.dense;
    let bias = d.bias.as_ref().expect("a bias");
    let conv: Vec<i64> = im2col(&p.window, image)
        .iter()
        .flat_map(|x| {
            (0..d.out_features).map(move |o| {
                bias[o]
                    + d.weights
                        .row(o)
                        .iter()
                        .zip(x)
                        .map(|(w, x)| w * x)
                        .sum::<i64>()
            })
        })
        .collect();
    let Some(pool) = &p.pool else {
        return conv;
    };
    let (ph, pw) = pool.output();
    let c = pool.channels;
    let mut out = Vec::with_capacity(ph * pw * c);
    for py in 0..ph {
        for px in 0..pw {
            for ch in 0..c {
                let max = (0..pool.kernel.0)
                    .flat_map(|ky| (0..pool.kernel.1).map(move |kx| (ky, kx)))
                    .map(|(ky, kx)| {
                        let (y, x) = (py * pool.stride.0 + ky, px * pool.stride.1 + kx);
                        conv[(y * pool.width + x) * c + ch]
                    })
                    .max()
                    .expect("a non-empty window");
                out.push(max);
            }
        }
    }
    out
}
