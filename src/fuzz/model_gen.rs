//! The random model generator: seeded, deterministic draws of valid models
//! over the whole space the model format allows, described by a plain
//! [`GenConfig`] of ranges and chances.
//!
//! A model is drawn in this order: a size class (which bounds layer sizes,
//! PE x SIMD and NF x SF so that one model simulates in seconds), the number
//! of layers and which of them are Hadamard rotations, the input type and
//! length, then layer by layer. A dense layer draws its output activation,
//! its size, its folding among the divisors of its sizes, maybe hardwired
//! or `auto` weights (unfolded, sometimes, when the whole array fits the
//! class's lanes), its multiplier (LUTs when hardwired), its weights (one
//! of four styles, then maybe all-zero rows or an all-zero layer), a bias,
//! maybe a tile, and then its accumulator widths from the exact bounds of
//! its input ranges: the proven minimum up to 64 bits, or, when it allows
//! overflow, below the minimum. Thresholds are drawn from the channel's
//! accumulator range, some outside the accumulator type and some repeated.
//! Every drawn model loads and is proven by `check` unless a layer allows
//! overflow.

use super::draw::Draw;
use crate::bounds::{DenseBounds, ValueRange, analyze, dense_bounds};
use crate::model::{
    Accumulator, Activation, Conv, Dense, Hadamard, HardwareHints, IntType, Layer, LayerKind,
    MAX_ELEMENT_BITS, MapShape, MaxPool, Model, MultiplierStyle, OverflowMode, Tile, WeightsHint,
    Window,
};
use ndarray::{Array1, Array2};
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// A class of model sizes, drawn first: it bounds every layer of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeClass {
    pub name: &'static str,
    /// Relative chance of the class.
    pub weight: u32,
    /// Largest input length and layer size.
    pub max_features: usize,
    /// Largest PE x SIMD (multipliers) of a layer.
    pub max_lanes: usize,
    /// Largest NF x SF (cycles per vector) of a layer.
    pub max_folds: usize,
}

/// What the generator draws, and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    pub layers: RangeInclusive<usize>,
    pub input_bits: RangeInclusive<u32>,
    pub weight_bits: RangeInclusive<u32>,
    /// Output bits of thresholded layers with few bits.
    pub threshold_bits: RangeInclusive<u32>,
    /// Output bits of thresholded layers with many bits (2^bits - 1
    /// comparators per channel), drawn with chance `wide_thresholds`: such
    /// layers have at most `max_wide_threshold_channels` channels, PE = 1.
    pub wide_threshold_bits: RangeInclusive<u32>,
    /// Output bits of 11 and more, drawn with chance `eleven_plus`; the
    /// widest take minutes to build, so `widest_threshold_bits` of them
    /// come with chance `widest_thresholds` only.
    pub eleven_plus_threshold_bits: RangeInclusive<u32>,
    pub widest_threshold_bits: RangeInclusive<u32>,
    pub classes: Vec<SizeClass>,
    /// Chance that a layer is a Hadamard rotation.
    pub hadamard: f64,
    /// Chance that a dense layer has thresholds (else raw accumulators).
    pub thresholds: f64,
    pub wide_thresholds: f64,
    pub eleven_plus: f64,
    pub widest_thresholds: f64,
    /// Most channels of a layer with wide thresholds.
    pub max_wide_threshold_channels: usize,
    pub signed_output: f64,
    pub signed_input: f64,
    /// Chance of a data width at either end of its range.
    pub extreme_bits: f64,
    pub prime_size: f64,
    pub bias: f64,
    pub dsp: f64,
    /// Chance of hardwired or `auto` weights for a dense layer (a third of
    /// them `auto`); when its whole array (out x in products) fits the
    /// class's lanes, half of them are unfolded.
    pub hardwired: f64,
    pub tile: f64,
    pub allow_overflow: f64,
    /// Chance of saturation, given that overflow is allowed.
    pub saturate: f64,
    pub accumulator_64: f64,
    pub zero_layer: f64,
    pub zero_rows: f64,
    pub thresholds_outside: f64,
    pub repeated_thresholds: f64,
    pub hadamard_shift: f64,
    pub hadamard_clamp: f64,
    /// Chance that the model takes an NHWC map through one or two window
    /// layers (conv, maybe max pool) before its vector layers; drawn from
    /// a stream of its own so that other models stay what they were.
    pub windows: f64,
    /// Chance that a convolution's kernel is as large as its padded map.
    pub whole_map_kernel: f64,
    /// Chance that a convolution is padded (on one side, or on several).
    pub padding: f64,
    /// Chance that the model carries its float scales (`input.scale`,
    /// `[output] scale`), as an imported one does.
    pub scales: f64,
}

impl Default for GenConfig {
    /// The whole space of the format, small models mostly.
    fn default() -> Self {
        GenConfig {
            layers: 1..=5,
            input_bits: 1..=16,
            weight_bits: 1..=16,
            threshold_bits: 1..=6,
            wide_threshold_bits: 7..=10,
            eleven_plus_threshold_bits: 11..=12,
            widest_threshold_bits: 13..=16,
            classes: vec![
                SizeClass {
                    name: "tiny",
                    weight: 60,
                    max_features: 16,
                    max_lanes: 64,
                    max_folds: 256,
                },
                SizeClass {
                    name: "small",
                    weight: 30,
                    max_features: 64,
                    max_lanes: 128,
                    max_folds: 1024,
                },
                SizeClass {
                    name: "large",
                    weight: 10,
                    max_features: 256,
                    max_lanes: 256,
                    max_folds: 4096,
                },
            ],
            hadamard: 0.2,
            thresholds: 0.55,
            wide_thresholds: 0.08,
            eleven_plus: 0.045,
            widest_thresholds: 0.25,
            max_wide_threshold_channels: 2,
            signed_output: 0.5,
            signed_input: 0.5,
            extreme_bits: 0.15,
            prime_size: 0.3,
            bias: 0.6,
            dsp: 0.25,
            hardwired: 0.3,
            tile: 0.25,
            allow_overflow: 0.12,
            saturate: 0.5,
            accumulator_64: 0.07,
            zero_layer: 0.04,
            zero_rows: 0.12,
            thresholds_outside: 0.35,
            repeated_thresholds: 0.35,
            hadamard_shift: 0.5,
            hadamard_clamp: 0.5,
            windows: 0.3,
            whole_map_kernel: 0.2,
            padding: 0.5,
            scales: 0.3,
        }
    }
}

/// The name every model drawn from `seed` has.
pub fn model_name(seed: u64) -> String {
    format!("fuzz_{seed:016x}")
}

/// Draws one valid model from `seed`.
pub fn draw_model(config: &GenConfig, seed: u64) -> Model {
    let mut d = Draw::new(seed);
    let weights: Vec<u32> = config.classes.iter().map(|c| c.weight).collect();
    let class = config.classes[d.weighted(&weights)].clone();
    let count = d.size(*config.layers.start(), *config.layers.end());
    let hadamard: Vec<bool> = (0..count).map(|_| d.chance(config.hadamard)).collect();
    let input = IntType {
        bits: data_bits(&mut d, config, &config.input_bits),
        signed: d.chance(config.signed_input),
    };
    let mut draw = ModelDraw { config, class, d };
    let mut w = Draw::new(seed ^ 0x3c0f_3c0f_3c0f_3c0f);
    let map = w.chance(config.windows).then(|| MapShape {
        height: w.size(1, 6),
        width: w.size(1, 6),
        channels: w.size(1, 3),
    });
    let window_layers = map.map_or(0, |_| w.size(1, count.min(2)));
    let input_length = match map {
        Some(m) => m.len(),
        None => draw.length(hadamard[0], draw.class.max_features),
    };
    let name = model_name(seed);
    let mut model = Model {
        description: Some(format!(
            "drawn by a2qgen fuzz from model seed {seed:#018x}, size class {}",
            draw.class.name
        )),
        source: PathBuf::from(format!("{name}.toml")),
        name,
        input_length,
        input,
        input_shape: map,
        layers: Vec::with_capacity(count),
        input_scale: None,
        output_scale: None,
    };
    for index in 0..window_layers {
        let layer = draw_window_layer(&mut draw, &mut w, &model, index);
        model.layers.push(layer);
    }
    for index in window_layers..count {
        let length = model.input_length_of(index);
        let next_is_hadamard = hadamard.get(index + 1).copied().unwrap_or(false);
        let rotation = if hadamard[index] {
            draw.hadamard(length, element_bits(&model))
        } else {
            None
        };
        let layer = match rotation {
            Some(h) => Layer {
                name: format!("had{index}"),
                kind: LayerKind::Hadamard(h),
            },
            None => {
                let inputs = input_ranges(&model);
                Layer {
                    name: format!("fc{index}"),
                    kind: LayerKind::Dense(Box::new(draw.dense(length, &inputs, next_is_hadamard))),
                }
            }
        };
        model.layers.push(layer);
    }
    draw_scales(config, seed, &mut model);
    model
}

/// A window layer over the map the model has so far: a max pool (after a
/// convolution, with chance 0.35) or a convolution of 1 to 4 channels,
/// its kernel up to the padded map, stride 1 to 3, padding on any sides.
fn draw_window_layer(draw: &mut ModelDraw, w: &mut Draw, model: &Model, index: usize) -> Layer {
    let input = match index {
        0 => model.input_shape.expect("a window model has a map"),
        _ => model
            .output_map(index - 1)
            .expect("window layers give maps"),
    };
    let axis = |w: &mut Draw, size: usize, whole: bool| {
        let kernel = if whole { size } else { w.size(1, size.min(4)) };
        (kernel, w.size(1, 3))
    };
    if index > 0 && w.chance(0.35) {
        let (kh, sh) = axis(w, input.height, false);
        let (kw, sw) = axis(w, input.width, false);
        let window = Window {
            input,
            kernel: [kh, kw],
            stride: [sh, sw],
            padding: [0; 4],
        };
        return Layer {
            name: format!("pool{index}"),
            kind: LayerKind::MaxPool(MaxPool { window }),
        };
    }
    let mut padding = [0usize; 4];
    if w.chance(draw.config.padding) {
        let sides = if w.chance(0.5) { 1 } else { 4 };
        for _ in 0..sides {
            padding[w.size(0, 3)] = 1;
        }
    }
    let whole = w.chance(draw.config.whole_map_kernel);
    let (kh, sh) = axis(w, input.height + padding[0] + padding[2], whole);
    let (kw, sw) = axis(w, input.width + padding[1] + padding[3], whole);
    // Padding the kernel never reaches is refused by the format.
    padding[0] = padding[0].min(kh - 1);
    padding[2] = padding[2].min(kh - 1);
    padding[1] = padding[1].min(kw - 1);
    padding[3] = padding[3].min(kw - 1);
    let (kh, kw) = (
        kh.min(input.height + padding[0] + padding[2]),
        kw.min(input.width + padding[1] + padding[3]),
    );
    let window = Window {
        input,
        kernel: [kh, kw],
        stride: [sh, sw],
        padding,
    };
    // Every tap takes a value of the map's range, or a padding zero.
    let hull = ValueRange::hull(&input_ranges(model));
    let tap = if window.has_padding() {
        ValueRange::new(hull.lo.min(0), hull.hi.max(0))
    } else {
        hull
    };
    let max_features = draw.class.max_features;
    draw.class.max_features = 4;
    let mut dense = draw.dense(window.taps(), &vec![tap; window.taps()], false);
    draw.class.max_features = max_features;
    // Convolutions are drawn with weight ROMs only (hardwired ones are not
    // verified behind a window unit yet).
    dense.hardware.weights = WeightsHint::Rom;
    // A convolution's SIMD divides its channels or is a multiple of them
    // dividing the window; their common divisor keeps any tile a multiple.
    let channels = input.channels;
    if let Some(simd) = dense.hardware.simd
        && !channels.is_multiple_of(simd)
        && !simd.is_multiple_of(channels)
    {
        dense.hardware.simd = Some(gcd(simd, channels));
    }
    Layer {
        name: format!("conv{index}"),
        kind: LayerKind::Conv(Box::new(Conv { window, dense })),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Float scales, from a draw stream of their own so that every other draw
/// of a seed (and so every recorded reproducer) stays what it was: powers of
/// two and arbitrary reals over many decades, as quantizers produce.
fn draw_scales(config: &GenConfig, seed: u64, model: &mut Model) {
    let mut d = Draw::new(seed ^ 0x5ca1_e5ca_1e5c_a1e5);
    if !d.chance(config.scales) {
        return;
    }
    let scale = |d: &mut Draw| {
        if d.chance(0.3) {
            2f64.powi(d.int(-20, 4) as i32)
        } else {
            10f64.powf(d.real(-8.0, 3.0))
        }
    };
    model.input_scale = Some(scale(&mut d));
    let outputs = model.output_length(model.layers.len() - 1);
    model.output_scale = Some((0..outputs).map(|_| scale(&mut d)).collect());
}

/// The ranges of the input elements of the layer after the last one.
fn input_ranges(model: &Model) -> Vec<ValueRange> {
    if model.layers.is_empty() {
        return vec![ValueRange::of_type(model.input); model.input_length];
    }
    analyze(model).layers.pop().expect("a layer").output_ranges
}

/// Signed bits that hold every element the last layer passes on, by the
/// declared types (the loader's rule for how wide a Hadamard layer may grow).
fn element_bits(model: &Model) -> u32 {
    let input = model.input.bits + u32::from(!model.input.signed);
    model
        .layers
        .iter()
        .fold(input, |bits, layer| match &layer.kind {
            LayerKind::Dense(d) => d.output_bits(),
            LayerKind::Hadamard(h) => h.output_bits(bits),
            LayerKind::Conv(c) => c.dense.output_bits(),
            LayerKind::MaxPool(_) => bits,
        })
}

/// A data width: at an end of `range` now and then, else uniform.
fn data_bits(d: &mut Draw, config: &GenConfig, range: &RangeInclusive<u32>) -> u32 {
    let (lo, hi) = (*range.start(), *range.end());
    if d.chance(config.extreme_bits) {
        if d.chance(0.5) { lo } else { hi }
    } else {
        d.bits(lo, hi)
    }
}

const PRIMES: [usize; 54] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251,
];

pub fn is_prime(n: usize) -> bool {
    n >= 2
        && (2..n)
            .take_while(|k| k * k <= n)
            .all(|k| !n.is_multiple_of(k))
}

pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|k| n.is_multiple_of(*k)).collect()
}

/// The draws of one model, with its size class.
struct ModelDraw<'a> {
    config: &'a GenConfig,
    class: SizeClass,
    d: Draw,
}

/// A dense layer's output activation before its thresholds are drawn.
#[derive(Clone, Copy)]
struct ActivationChoice {
    output: Option<IntType>,
}

impl ModelDraw<'_> {
    /// A vector length up to `max`; a multiple of a power of two >= 2 when
    /// a Hadamard layer follows.
    fn length(&mut self, for_hadamard: bool, max: usize) -> usize {
        let d = &mut self.d;
        if for_hadamard && max >= 2 {
            let stages = d.bits(1, max.ilog2());
            let block = 1usize << stages;
            return block * d.size(1, max / block);
        }
        if d.chance(self.config.prime_size) {
            let primes: Vec<usize> = PRIMES.iter().copied().filter(|&p| p <= max).collect();
            if !primes.is_empty() {
                return d.pick(&primes);
            }
        }
        match d.weighted(&[1, 1, 8]) {
            0 => 1,
            1 => max,
            _ => d.size(1, max),
        }
    }

    /// A Hadamard layer over `length` elements of `input_bits` signed bits,
    /// if a block divides it whose butterflies stay within 64 bits.
    fn hadamard(&mut self, length: usize, input_bits: u32) -> Option<Hadamard> {
        let most_stages = MAX_ELEMENT_BITS.saturating_sub(input_bits);
        let blocks: Vec<usize> = (1..=length.ilog2().min(most_stages))
            .map(|s| 1usize << s)
            .filter(|b| length.is_multiple_of(*b))
            .collect();
        if blocks.is_empty() {
            return None;
        }
        let d = &mut self.d;
        let block = d.pick(&blocks);
        let stages = block.trailing_zeros();
        let shift = d.chance(self.config.hadamard_shift).then(|| {
            if d.chance(0.85) {
                d.bits(1, stages + 1)
            } else {
                d.bits(1, 62)
            }
        });
        let out_bits = d.chance(self.config.hadamard_clamp).then(|| d.bits(1, 16));
        Some(Hadamard {
            block,
            shift,
            out_bits,
        })
    }

    fn activation(&mut self) -> ActivationChoice {
        let config = self.config;
        let d = &mut self.d;
        if !d.chance(config.thresholds) {
            return ActivationChoice { output: None };
        }
        let range = if d.chance(config.eleven_plus) {
            if d.chance(config.widest_thresholds) {
                &config.widest_threshold_bits
            } else {
                &config.eleven_plus_threshold_bits
            }
        } else if d.chance(config.wide_thresholds) {
            &config.wide_threshold_bits
        } else {
            &config.threshold_bits
        };
        let bits = d.bits(*range.start(), *range.end());
        ActivationChoice {
            output: Some(IntType {
                bits,
                signed: d.chance(config.signed_output),
            }),
        }
    }

    /// PE and SIMD among the divisors, within the class's limits.
    fn folding(&mut self, in_features: usize, out_features: usize) -> (usize, usize) {
        let (pes, simds) = (divisors(out_features), divisors(in_features));
        let class = &self.class;
        let cost = |p: usize, s: usize| {
            let lanes = (p * s) as f64 / class.max_lanes as f64;
            let folds = ((out_features / p) * (in_features / s)) as f64 / class.max_folds as f64;
            lanes.max(folds)
        };
        for _ in 0..8 {
            let (p, s) = (self.d.pick(&pes), self.d.pick(&simds));
            if cost(p, s) <= 1.0 {
                return (p, s);
            }
        }
        let pairs: Vec<(usize, usize)> = pes
            .iter()
            .flat_map(|&p| simds.iter().map(move |&s| (p, s)))
            .collect();
        let fitting: Vec<(usize, usize)> = pairs
            .iter()
            .copied()
            .filter(|&(p, s)| cost(p, s) <= 1.0)
            .collect();
        if fitting.is_empty() {
            pairs
                .into_iter()
                .min_by(|a, b| cost(a.0, a.1).total_cmp(&cost(b.0, b.1)))
                .expect("1 divides everything")
        } else {
            self.d.pick(&fitting)
        }
    }

    fn weights(&mut self, out_features: usize, in_features: usize, bits: u32) -> Array2<i64> {
        let weight = IntType::signed(bits);
        let (lo, hi) = (weight.min() as i64, weight.max() as i64);
        let d = &mut self.d;
        let small = (hi / 4).max(1);
        let style = d.weighted(&[3, 3, 3, 1]);
        let mut w = Array2::from_shape_simple_fn((out_features, in_features), || match style {
            // Uniform over the whole type.
            0 => d.int(lo, hi),
            // Sparse.
            1 => {
                if d.chance(0.7) {
                    0
                } else {
                    d.int(lo, hi)
                }
            }
            // Small magnitudes, as accumulator-aware quantization leaves them.
            2 => d.int((-small).max(lo), small.min(hi)),
            // Only the extremes and zero.
            _ => d.pick(&[lo, hi, 0]),
        });
        if d.chance(self.config.zero_rows) {
            for _ in 0..d.size(1, out_features.div_ceil(2)) {
                let row = d.size(0, out_features - 1);
                w.row_mut(row).fill(0);
            }
        }
        if d.chance(self.config.zero_layer) {
            w.fill(0);
        }
        w
    }

    /// A bias per channel within the magnitude of the dot products.
    fn bias(&mut self, dot: ValueRange, out_features: usize) -> Option<Array1<i64>> {
        if !self.d.chance(self.config.bias) {
            return None;
        }
        let limit = 1i128 << 62;
        let magnitude = dot.lo.abs().max(dot.hi.abs()).clamp(1, limit);
        let d = &mut self.d;
        Some(Array1::from_shape_simple_fn(out_features, || {
            if d.chance(0.2) {
                0
            } else {
                d.wide(-magnitude, magnitude) as i64
            }
        }))
    }

    /// A tile size: a multiple of SIMD dividing `in_features`, below it.
    fn tile_size(&mut self, in_features: usize, simd: usize) -> Option<usize> {
        if !self.d.chance(self.config.tile) {
            return None;
        }
        let sizes: Vec<usize> = (1..in_features)
            .map(|k| k * simd)
            .take_while(|&t| t < in_features)
            .filter(|t| in_features.is_multiple_of(*t))
            .collect();
        (!sizes.is_empty()).then(|| self.d.pick(&sizes))
    }

    /// A proven width: the minimum, a little above it, anything up to 64,
    /// or 64 itself.
    fn proven_width(&mut self, min: u32) -> u32 {
        let d = &mut self.d;
        if d.chance(self.config.accumulator_64) {
            return 64;
        }
        match d.weighted(&[5, 3, 2]) {
            0 => min,
            1 => (min + d.bits(1, 4)).min(64),
            _ => d.bits(min, 64),
        }
    }

    /// A width below the proven minimum (the minimum when it is 2).
    fn narrow_width(&mut self, min: u32) -> u32 {
        if min <= 2 {
            min
        } else {
            self.d.bits(min.saturating_sub(6).max(2), min - 1)
        }
    }

    fn dense(
        &mut self,
        in_features: usize,
        inputs: &[ValueRange],
        next_is_hadamard: bool,
    ) -> Dense {
        let choice = self.activation();
        let max_out = match choice.output {
            Some(t) if t.bits >= *self.config.wide_threshold_bits.start() => self
                .config
                .max_wide_threshold_channels
                .min(self.class.max_features),
            _ => self.class.max_features,
        };
        let out_features = self.length(next_is_hadamard, max_out);
        let (mut pe, mut simd) = self.folding(in_features, out_features);
        if max_out < self.class.max_features {
            pe = 1;
        }
        let weights_hint = if self.d.chance(self.config.hardwired) {
            if in_features * out_features <= self.class.max_lanes && self.d.chance(0.5) {
                (pe, simd) = (out_features, in_features);
            }
            self.d.pick(&[
                WeightsHint::Hardwired,
                WeightsHint::Hardwired,
                WeightsHint::Auto,
            ])
        } else {
            WeightsHint::Rom
        };
        let hardwired = weights_hint != WeightsHint::Rom;
        let multiplier = if !hardwired && self.d.chance(self.config.dsp) {
            MultiplierStyle::Dsp
        } else {
            MultiplierStyle::Lut
        };
        let tile = self.tile_size(in_features, simd);
        let mut weight_bits = data_bits(&mut self.d, self.config, &self.config.weight_bits);
        let mut layer = Dense {
            in_features,
            out_features,
            weight_bits,
            weights: Array2::zeros((out_features, in_features)),
            bias: None,
            accumulator: Accumulator {
                bits: 64,
                tile: tile.map(|size| Tile {
                    size,
                    inner_bits: 64,
                }),
                overflow: OverflowMode::Wrap,
                allow_overflow: false,
            },
            activation: Activation::None,
            hardware: HardwareHints {
                pe: Some(pe),
                simd: Some(simd),
                multiplier,
                weights: weights_hint,
            },
        };
        // Wide inputs can need more than 64 bits: narrower weights, and at
        // last none at all, always fit.
        let mut bounds = None;
        for attempt in 0..6 {
            layer.weight_bits = weight_bits;
            layer.weights = if attempt < 5 {
                self.weights(out_features, in_features, weight_bits)
            } else {
                Array2::zeros((out_features, in_features))
            };
            layer.bias = None;
            let dot = dense_bounds(&layer, inputs).range;
            layer.bias = if attempt < 5 {
                self.bias(dot, out_features)
            } else {
                None
            };
            let b = dense_bounds(&layer, inputs);
            if b.min_bits <= 64 && b.inner.as_ref().is_none_or(|i| i.min_bits <= 64) {
                bounds = Some(b);
                break;
            }
            weight_bits = (weight_bits / 2).max(1);
        }
        let bounds = bounds.expect("zero weights and no bias need 2 bits");
        self.widths(&mut layer, &bounds);
        let bounds = dense_bounds(&layer, inputs);
        if let Some(output) = choice.output {
            layer.activation = Activation::Thresholds {
                output,
                thresholds: self.thresholds(&layer, &bounds, output.bits),
            };
        }
        layer
    }

    /// Accumulator widths (outer and inner) and overflow, from the bounds
    /// at 64 bits; the bias is clamped to a narrowed accumulator.
    fn widths(&mut self, layer: &mut Dense, bounds: &DenseBounds) {
        let inner_min = bounds.inner.as_ref().map(|i| i.min_bits);
        let allow = self.d.chance(self.config.allow_overflow);
        let acc = &mut layer.accumulator;
        acc.allow_overflow = allow;
        if allow {
            acc.overflow = if self.d.chance(self.config.saturate) {
                OverflowMode::Saturate
            } else {
                OverflowMode::Wrap
            };
            let narrow_outer = self.d.chance(0.8);
            acc.bits = if narrow_outer {
                self.narrow_width(bounds.min_bits)
            } else {
                self.proven_width(bounds.min_bits)
            };
            if let (Some(tile), Some(min)) = (acc.tile.as_mut(), inner_min) {
                tile.inner_bits = if !narrow_outer || self.d.chance(0.5) {
                    self.narrow_width(min)
                } else {
                    self.proven_width(min)
                };
            }
        } else {
            acc.bits = self.proven_width(bounds.min_bits);
            if let (Some(tile), Some(min)) = (acc.tile.as_mut(), inner_min) {
                tile.inner_bits = self.proven_width(min);
            }
        }
        let accumulator = IntType::signed(acc.bits);
        if let Some(bias) = layer.bias.as_mut() {
            bias.mapv_inplace(|b| (b as i128).clamp(accumulator.min(), accumulator.max()) as i64);
        }
    }

    /// `[out_features, 2^bits - 1]` non-decreasing thresholds per channel,
    /// drawn over the channel's accumulator range; maybe some outside the
    /// accumulator type, maybe repeated ones.
    fn thresholds(&mut self, layer: &Dense, bounds: &DenseBounds, bits: u32) -> Array2<i64> {
        let count = (1usize << bits) - 1;
        let accumulator = IntType::signed(layer.accumulator.bits);
        let (a_lo, a_hi) = (accumulator.min(), accumulator.max());
        let outside = self.d.chance(self.config.thresholds_outside);
        let repeats = self.d.chance(self.config.repeated_thresholds);
        let to_i64 = |v: i128| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
        let mut thresholds = Array2::zeros((layer.out_features, count));
        for (c, mut row) in thresholds.outer_iter_mut().enumerate() {
            let channel = &bounds.channels[c];
            let (lo, hi) = if layer.accumulator.allow_overflow {
                (a_lo, a_hi)
            } else {
                (channel.lo - 1, channel.hi + 1)
            };
            let d = &mut self.d;
            let mut values: Vec<i64> = (0..count)
                .map(|_| {
                    if outside && d.chance(0.15) {
                        let beyond = i128::from(d.int(1, 1000));
                        if d.chance(0.5) {
                            to_i64(a_lo - beyond)
                        } else {
                            to_i64(a_hi + beyond)
                        }
                    } else {
                        to_i64(d.wide(lo, hi))
                    }
                })
                .collect();
            values.sort_unstable();
            if repeats {
                for k in 1..count {
                    if d.chance(0.3) {
                        values[k] = values[k - 1];
                    }
                }
            }
            row.iter_mut().zip(values).for_each(|(t, v)| *t = v);
        }
        thresholds
    }
}

#[cfg(test)]
mod tests;
