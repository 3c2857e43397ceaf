//! The calibration grid: small single-layer (and two-layer, and Hadamard)
//! models built in memory from a handful of parameters, with seeded
//! pseudo-random weights, thresholds and biases, so that every run can be
//! rebuilt exactly from its row in `calibration/yosys_runs.csv`.

use crate::arch::ThresholdStyle;
use crate::estimate::{WIDE_ACCUMULATOR_BITS, widened_model};
use crate::model::{
    Accumulator, Activation, Dense, Hadamard, HardwareHints, IntType, Layer, LayerKind, Model,
    MultiplierStyle, OverflowMode, Tile, WeightsHint,
};
use ndarray::{Array1, Array2};
use std::path::PathBuf;

/// What a calibration model contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// One dense layer: its MVAU is synthesized.
    Mvau,
    /// Two dense layers: the first MVAU, the FIFO and the width converter
    /// between them are synthesized.
    Pipeline,
    /// One Hadamard layer.
    Hadamard,
}

/// How a config's weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightValues {
    /// Uniform over the whole weight type.
    Uniform,
    /// Mostly small, as accumulator-aware quantization leaves them: a
    /// two-sided geometric distribution clipped to a narrower signed
    /// range (`small_weights`), so that many lanes need fewer bits than
    /// the type has.
    Small,
    /// Centred like trained weights: a two-sided geometric distribution
    /// whose mean magnitude is 0.15 to 0.4 times the type's largest value,
    /// clipped to the type (`peaked_weights`).
    Peaked,
}

impl WeightValues {
    pub const ALL: [WeightValues; 3] = [
        WeightValues::Uniform,
        WeightValues::Small,
        WeightValues::Peaked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WeightValues::Uniform => "uniform",
            WeightValues::Small => "small",
            WeightValues::Peaked => "peaked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == text)
    }
}

impl ConfigKind {
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::Mvau => "mvau",
            ConfigKind::Pipeline => "pipeline",
            ConfigKind::Hadamard => "hadamard",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ConfigKind::Mvau, ConfigKind::Pipeline, ConfigKind::Hadamard]
            .into_iter()
            .find(|k| k.name() == text)
    }
}

/// One point of the grid. Dense fields are ignored by Hadamard configs and
/// the Hadamard fields by dense ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub id: usize,
    pub kind: ConfigKind,
    pub input_bits: u32,
    pub input_signed: bool,
    pub weight_bits: u32,
    pub pe: usize,
    pub simd: usize,
    pub nf: usize,
    pub sf: usize,
    pub acc_bits: u32,
    /// Synapse folds per tile (0: untiled) and the inner width.
    pub tile_chunks: usize,
    pub inner_bits: u32,
    pub overflow: OverflowMode,
    /// Threshold output bits (0: raw accumulators).
    pub out_bits: u32,
    pub multiplier: MultiplierStyle,
    pub bias: bool,
    /// SIMD of the second layer of a pipeline config.
    pub next_simd: usize,
    /// Hadamard block size, shift (0: none) and clamp width (0: none).
    pub block: usize,
    pub shift: u32,
    pub clamp_bits: u32,
    pub seed: u64,
    pub weights: WeightValues,
    /// Every accumulator widened to 32 bits, as `estimate` and `synth`
    /// compare a model: the same weights, thresholds and biases at the
    /// baseline's widths.
    pub wide: bool,
    /// The first layer's weights as constants in the Verilog rather than
    /// in a ROM (`hardware.weights = "hardwired"`).
    pub hardwired: bool,
    /// The comparator bank's style, as measured; `None` lets `arch` choose
    /// by its rule (the grid's configs; a recorded run keeps what was
    /// built, so that a later change of the rule cannot silently refit
    /// other designs than those Yosys measured).
    pub thresholds: Option<ThresholdStyle>,
}

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Self {
        Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Uniform in `[lo, hi]`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Upper bound on `pe * simd * weight_bits * input_bits` of a LUT-multiplier
/// config of the first rounds: keeps every Yosys run within well under a
/// minute on one core.
pub const LUT_PRODUCT_BITS_BUDGET: usize = 384;
/// Upper bound on `pe * simd` of a DSP config.
pub const DSP_LANES_BUDGET: usize = 32;

/// How many configs of each kind one round of the grid draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub mvau: usize,
    pub pipeline: usize,
    pub hadamard: usize,
    /// Single-layer MVAU configs with small weights ([`WeightValues::Small`]).
    pub small_mvau: usize,
    /// Single-layer MVAU configs with centred weights ([`WeightValues::Peaked`]).
    pub peaked_mvau: usize,
    /// Single-layer MVAU configs shaped like the hidden layers of an
    /// accumulator-aware quantized network ([`A2Q_LAYERS`]), their weights
    /// alternately small and centred.
    pub a2q_mvau: usize,
    /// Single-layer MVAU configs as [`Round::a2q_mvau`] with up to twice
    /// as many lanes ([`LARGE_A2Q_LAYERS`]), each also with every
    /// accumulator at 32 bits.
    pub large_a2q_mvau: usize,
    /// Single-layer MVAU configs with hardwired weights
    /// ([`HARDWIRED_LAYERS`]), their weights alternately small and
    /// centred, each also with every accumulator at 32 bits.
    pub hardwired: usize,
    /// How many single-layer MVAU configs of the earlier rounds (in id
    /// order, skipping those whose accumulators are 32 bits already) come
    /// again with every accumulator at 32 bits.
    pub widened: usize,
}

const NO_CONFIGS: Round = Round {
    mvau: 0,
    pipeline: 0,
    hadamard: 0,
    small_mvau: 0,
    peaked_mvau: 0,
    a2q_mvau: 0,
    large_a2q_mvau: 0,
    hardwired: 0,
    widened: 0,
};

/// The rounds `a2qgen calibrate` runs. A later round only appends configs:
/// the ids (and configs) of earlier rounds never change, so recorded runs
/// stay valid and a calibration resumes.
pub const ROUNDS: [Round; 8] = [
    Round {
        mvau: 60,
        pipeline: 8,
        hadamard: 8,
        ..NO_CONFIGS
    },
    Round {
        mvau: 40,
        pipeline: 8,
        hadamard: 8,
        ..NO_CONFIGS
    },
    // The 32-bit baseline of every single-layer config: its comparators
    // see accumulator bits that the thresholds never reach.
    Round {
        widened: 100,
        ..NO_CONFIGS
    },
    // Weights like those of a model trained or quantized for its
    // accumulator, and their 32-bit baseline.
    Round {
        small_mvau: 40,
        widened: 40,
        ..NO_CONFIGS
    },
    Round {
        peaked_mvau: 40,
        widened: 40,
        ..NO_CONFIGS
    },
    // Where the users' layers are: 2- to 5-bit activations times 3- to
    // 5-bit weights over several folds, larger than the first rounds allow.
    Round {
        a2q_mvau: 40,
        widened: 40,
        ..NO_CONFIGS
    },
    // Hardwired weights (`docs/estimator.md#hardwired-weights`), from
    // unfolded to 64 folds, declared and 32-bit.
    Round {
        hardwired: 40,
        ..NO_CONFIGS
    },
    // Layers as large as a digits MLP's hidden layers (PE x SIMD 8 x 8 of
    // 4-bit weights and activations), beyond the earlier rounds' budget,
    // where the earlier fit overestimated whole designs by 10 to 20%.
    Round {
        large_a2q_mvau: 30,
        ..NO_CONFIGS
    },
];

/// The grid: per round, single-layer MVAU configs, two-layer `pipeline`
/// ones and Hadamard ones, drawn from the parameter ranges of the
/// calibration (weight and input bits 2/4/8, SIMD 1..32, PE 1..16,
/// accumulators 8..32, 0..4 threshold bits, LUT and DSP multipliers, wrap
/// and saturate, tiles), single-layer ones with small or centred weights,
/// and 32-bit copies of earlier single-layer ones.
pub fn grid(rounds: &[Round]) -> Vec<Config> {
    let mut random = Random::new(2024);
    let mut configs = Vec::new();
    for round in rounds {
        draw(&mut random, &mut configs, round.mvau, ConfigKind::Mvau);
        draw(
            &mut random,
            &mut configs,
            round.pipeline,
            ConfigKind::Pipeline,
        );
        draw(
            &mut random,
            &mut configs,
            round.hadamard,
            ConfigKind::Hadamard,
        );
        for (count, weights) in [
            (round.small_mvau, WeightValues::Small),
            (round.peaked_mvau, WeightValues::Peaked),
        ] {
            let first = configs.len();
            draw(&mut random, &mut configs, count, ConfigKind::Mvau);
            for config in &mut configs[first..] {
                config.weights = weights;
            }
        }
        draw_alternating(&mut random, &mut configs, round.a2q_mvau, &A2Q_LAYERS);
        let first = draw_alternating(
            &mut random,
            &mut configs,
            round.large_a2q_mvau,
            &LARGE_A2Q_LAYERS,
        );
        widen_where(&mut configs, round.large_a2q_mvau, |c| c.id >= first);
        let first = draw_alternating(
            &mut random,
            &mut configs,
            round.hardwired,
            &HARDWIRED_LAYERS,
        );
        for config in &mut configs[first..] {
            config.hardwired = true;
        }
        widen_where(&mut configs, round.hardwired, |c| c.hardwired);
        widen(&mut configs, round.widened);
    }
    configs
}

/// Appends `count` dense configs drawn from `ranges`, their weights
/// alternately small and centred; returns the index of the first.
fn draw_alternating(
    random: &mut Random,
    configs: &mut Vec<Config>,
    count: usize,
    ranges: &DenseRanges,
) -> usize {
    let first = configs.len();
    draw_dense(random, configs, count, ranges);
    for (i, config) in configs[first..].iter_mut().enumerate() {
        config.weights = [WeightValues::Small, WeightValues::Peaked][i % 2];
    }
    first
}

/// Appends 32-bit copies of the first `count` single-layer configs with
/// narrower accumulators that have none yet.
fn widen(configs: &mut Vec<Config>, count: usize) {
    widen_where(configs, count, |_| true);
}

/// [`widen`] among the configs `eligible` accepts.
fn widen_where(configs: &mut Vec<Config>, count: usize, eligible: impl Fn(&Config) -> bool) {
    let has_copy = |c: &Config, all: &[Config]| {
        all.iter()
            .any(|w| w.wide && w.seed == c.seed && w.weights == c.weights)
    };
    let narrow: Vec<Config> = configs
        .iter()
        .filter(|c| {
            c.kind == ConfigKind::Mvau
                && eligible(c)
                && !c.wide
                && c.acc_bits.max(c.inner_bits) < WIDE_ACCUMULATOR_BITS
                && !has_copy(c, configs)
        })
        .take(count)
        .cloned()
        .collect();
    for config in narrow {
        let id = configs.len();
        configs.push(Config {
            id,
            wide: true,
            ..config
        });
    }
}

/// Appends `count` configs of `kind`.
fn draw(random: &mut Random, configs: &mut Vec<Config>, count: usize, kind: ConfigKind) {
    match kind {
        ConfigKind::Hadamard => {
            for _ in 0..count {
                let config = hadamard_config(random, configs.len());
                configs.push(config);
            }
        }
        ConfigKind::Mvau => draw_dense(random, configs, count, &ANY_LAYER),
        ConfigKind::Pipeline => draw_dense(random, configs, count, &ANY_PIPELINE),
    }
}

/// Appends `count` dense configs drawn from `ranges`.
fn draw_dense(random: &mut Random, configs: &mut Vec<Config>, count: usize, ranges: &DenseRanges) {
    let end = configs.len() + count;
    while configs.len() < end {
        let config = dense_config(random, configs.len(), ranges);
        configs.extend(config);
    }
}

/// The parameter ranges a dense config is drawn from.
pub struct DenseRanges {
    pub kind: ConfigKind,
    pub weight_bits: &'static [u32],
    pub input_bits: &'static [u32],
    /// Chance in percent of DSP multipliers.
    pub dsp_percent: u64,
    pub pe: &'static [usize],
    pub simd: &'static [usize],
    /// Upper bound on `pe * simd * weight_bits * input_bits` of a LUT
    /// config: keeps every Yosys run within a minute or so on one core.
    pub lut_product_bits: usize,
    /// Chance in percent of a folding deep enough for block RAM, and the
    /// neuron and synapse folds of the others.
    pub deep_percent: u64,
    pub nf: &'static [usize],
    pub sf: &'static [usize],
    pub acc_bits: &'static [u32],
    /// Chance in percent of a tiled accumulator (when SF allows one).
    pub tile_percent: u64,
    /// Threshold output bits (0: raw accumulators).
    pub out_bits: &'static [u32],
    pub signed_input_percent: u64,
    pub saturate_percent: u64,
}

/// The first rounds: anything the generator can build, kept small.
const ANY_LAYER: DenseRanges = DenseRanges {
    kind: ConfigKind::Mvau,
    weight_bits: &[2, 4, 8],
    input_bits: &[2, 4, 8],
    dsp_percent: 30,
    pe: &[1, 2, 4, 8, 16],
    simd: &[1, 2, 4, 8, 16, 32],
    lut_product_bits: LUT_PRODUCT_BITS_BUDGET,
    deep_percent: 8,
    nf: &[1, 2, 4, 8],
    sf: &[1, 2, 4, 8, 32],
    acc_bits: &[8, 10, 12, 16, 20, 24, 32],
    tile_percent: 20,
    out_bits: &[0, 1, 2, 3, 4, 4],
    signed_input_percent: 40,
    saturate_percent: 20,
};

const ANY_PIPELINE: DenseRanges = DenseRanges {
    kind: ConfigKind::Pipeline,
    out_bits: &[0, 2, 4],
    ..ANY_LAYER
};

/// Hardwired hidden layers of accumulator-aware quantized MLPs: as
/// [`A2Q_LAYERS`], with LUT multipliers only (hardwired products are
/// constant-coefficient circuits) and from one fold to 64, across the
/// crossover where a ROM becomes cheaper.
pub const HARDWIRED_LAYERS: DenseRanges = DenseRanges {
    dsp_percent: 0,
    nf: &[1, 2, 4, 8],
    sf: &[1, 2, 4, 8],
    ..A2Q_LAYERS
};

/// [`A2Q_LAYERS`] with 4 to 16 PEs of 8 or 16 lanes and up to four times
/// the first rounds' product bits, LUT multipliers only.
pub const LARGE_A2Q_LAYERS: DenseRanges = DenseRanges {
    weight_bits: &[3, 4, 4, 5],
    input_bits: &[3, 4, 4, 5],
    dsp_percent: 0,
    pe: &[4, 8, 8, 16],
    simd: &[8, 16],
    lut_product_bits: 4 * LUT_PRODUCT_BITS_BUDGET,
    ..A2Q_LAYERS
};

/// Hidden layers of accumulator-aware quantized MLPs (as the bundled
/// examples): unsigned low-bit activations from thresholds, 3- to 5-bit
/// weights, several neuron and synapse folds, 8- to 16-bit accumulators,
/// LUT multipliers mostly, up to twice the first rounds' product bits.
pub const A2Q_LAYERS: DenseRanges = DenseRanges {
    kind: ConfigKind::Mvau,
    weight_bits: &[3, 4, 4, 5],
    input_bits: &[2, 3, 4, 5],
    dsp_percent: 10,
    pe: &[2, 4, 8],
    simd: &[4, 8, 16],
    lut_product_bits: 2 * LUT_PRODUCT_BITS_BUDGET,
    deep_percent: 0,
    nf: &[2, 4, 8],
    sf: &[2, 4, 8],
    acc_bits: &[8, 10, 12, 14, 16],
    tile_percent: 10,
    out_bits: &[2, 3, 4, 4],
    signed_input_percent: 15,
    saturate_percent: 10,
};

fn dense_config(random: &mut Random, id: usize, ranges: &DenseRanges) -> Option<Config> {
    let kind = ranges.kind;
    let weight_bits = random.pick(ranges.weight_bits);
    let input_bits = random.pick(ranges.input_bits);
    let multiplier = if random.chance(ranges.dsp_percent) {
        MultiplierStyle::Dsp
    } else {
        MultiplierStyle::Lut
    };
    let pe = random.pick(ranges.pe);
    let simd = random.pick(ranges.simd);
    let within_budget = match multiplier {
        MultiplierStyle::Lut => {
            pe * simd * (weight_bits * input_bits) as usize <= ranges.lut_product_bits
        }
        MultiplierStyle::Dsp => pe * simd <= DSP_LANES_BUDGET,
    };
    if !within_budget {
        return None;
    }
    // Mostly shallow ROMs, sometimes deep enough for block RAM.
    let (nf, sf) = if random.chance(ranges.deep_percent) {
        (random.pick(&[8, 16]), random.pick(&[64, 128]))
    } else {
        (random.pick(ranges.nf), random.pick(ranges.sf))
    };
    let acc_bits = random.pick(ranges.acc_bits);
    let tile_chunks = if sf >= 2 && random.chance(ranges.tile_percent) {
        random.pick(&[1, 2]).min(sf / 2)
    } else {
        0
    };
    let inner_bits = if tile_chunks > 0 {
        acc_bits - random.pick(&[0, 2, 4]).min(acc_bits - 6)
    } else {
        0
    };
    let out_bits = random.pick(ranges.out_bits);
    Some(Config {
        id,
        kind,
        input_bits,
        input_signed: random.chance(ranges.signed_input_percent),
        weight_bits,
        pe,
        simd,
        nf,
        sf,
        acc_bits,
        tile_chunks,
        inner_bits,
        overflow: if random.chance(ranges.saturate_percent) {
            OverflowMode::Saturate
        } else {
            OverflowMode::Wrap
        },
        out_bits,
        multiplier,
        bias: random.chance(50),
        next_simd: if kind == ConfigKind::Pipeline {
            random.pick(&[1, 2, 4, 8]).min(pe * nf)
        } else {
            0
        },
        block: 0,
        shift: 0,
        clamp_bits: 0,
        seed: random.next() >> 1,
        weights: WeightValues::Uniform,
        wide: false,
        hardwired: false,
        thresholds: None,
    })
}

fn hadamard_config(random: &mut Random, id: usize) -> Config {
    let input_bits = random.pick(&[2, 4, 8]);
    let block = random.pick(&[2, 4, 8, 16]);
    let clamp_bits = if random.chance(60) {
        random.pick(&[4, 6, 8])
    } else {
        0
    };
    Config {
        id,
        kind: ConfigKind::Hadamard,
        input_bits,
        input_signed: random.chance(50),
        weight_bits: 0,
        pe: 0,
        simd: 0,
        nf: 0,
        sf: 0,
        acc_bits: 0,
        tile_chunks: 0,
        inner_bits: 0,
        overflow: OverflowMode::Wrap,
        out_bits: 0,
        multiplier: MultiplierStyle::Lut,
        bias: false,
        next_simd: 0,
        block,
        shift: if random.chance(60) {
            random.pick(&[1, 2])
        } else {
            0
        },
        clamp_bits,
        seed: random.next() >> 1,
        weights: WeightValues::Uniform,
        wide: false,
        hardwired: false,
        thresholds: None,
    }
}

impl Config {
    pub fn name(&self) -> String {
        format!("cal{:03}", self.id)
    }

    /// Every 5th config is held out of the fit.
    pub fn held_out(&self) -> bool {
        self.id % 5 == 4
    }

    fn input_type(&self) -> IntType {
        IntType {
            bits: self.input_bits,
            signed: self.input_signed,
        }
    }

    /// The model of this config.
    pub fn model(&self) -> Model {
        let mut random = Random::new(self.seed);
        let layers = match self.kind {
            ConfigKind::Hadamard => vec![self.hadamard_layer()],
            ConfigKind::Mvau => vec![self.first_layer(&mut random)],
            ConfigKind::Pipeline => {
                let first = self.first_layer(&mut random);
                let second = self.second_layer(&mut random);
                vec![first, second]
            }
        };
        let input_length = match self.kind {
            ConfigKind::Hadamard => self.block * 2,
            _ => self.simd * self.sf,
        };
        let model = Model {
            name: self.name(),
            description: None,
            source: PathBuf::new(),
            input_length,
            input: self.input_type(),
            input_shape: None,
            layers,
            input_scale: None,
            output_scale: None,
        };
        if self.wide {
            widened_model(&model)
        } else {
            model
        }
    }

    fn hadamard_layer(&self) -> Layer {
        Layer {
            name: "rot".into(),
            kind: LayerKind::Hadamard(Hadamard {
                block: self.block,
                shift: (self.shift > 0).then_some(self.shift),
                out_bits: (self.clamp_bits > 0).then_some(self.clamp_bits),
            }),
        }
    }

    fn first_layer(&self, random: &mut Random) -> Layer {
        let (rows, cols) = (self.pe * self.nf, self.simd * self.sf);
        let tile = (self.tile_chunks > 0).then_some(Tile {
            size: self.tile_chunks * self.simd,
            inner_bits: self.inner_bits,
        });
        let dense = dense_layer(
            random,
            DenseShape {
                weights: self.weights,
                rows,
                cols,
                weight_bits: self.weight_bits,
                acc_bits: self.acc_bits,
                out_bits: self.out_bits,
                bias: self.bias,
            },
            Accumulator {
                bits: self.acc_bits,
                tile,
                overflow: self.overflow,
                allow_overflow: true,
            },
            HardwareHints {
                pe: Some(self.pe),
                simd: Some(self.simd),
                multiplier: self.multiplier,
                weights: if self.hardwired {
                    WeightsHint::Hardwired
                } else {
                    WeightsHint::Rom
                },
            },
        );
        Layer {
            name: "fc0".into(),
            kind: LayerKind::Dense(Box::new(dense)),
        }
    }

    /// A small follow-on layer: one output per PE, `next_simd` inputs per
    /// cycle, so that a FIFO and (usually) a width converter sit between.
    fn second_layer(&self, random: &mut Random) -> Layer {
        let dense = dense_layer(
            random,
            DenseShape {
                weights: WeightValues::Uniform,
                rows: 1,
                cols: self.pe * self.nf,
                weight_bits: 2,
                acc_bits: 32,
                out_bits: 0,
                bias: false,
            },
            Accumulator {
                bits: 32,
                tile: None,
                overflow: OverflowMode::Wrap,
                allow_overflow: true,
            },
            HardwareHints {
                pe: Some(1),
                simd: Some(self.next_simd),
                multiplier: MultiplierStyle::Lut,
                ..HardwareHints::default()
            },
        );
        Layer {
            name: "fc1".into(),
            kind: LayerKind::Dense(Box::new(dense)),
        }
    }
}

struct DenseShape {
    weights: WeightValues,
    rows: usize,
    cols: usize,
    weight_bits: u32,
    acc_bits: u32,
    out_bits: u32,
    bias: bool,
}

/// Weights of [`WeightValues::Small`]: magnitudes from a geometric
/// distribution (mostly 0, 1 and 2), random signs, clipped to a signed
/// range of `2..=bits` bits drawn per layer.
fn small_weights(random: &mut Random, rows: usize, cols: usize, bits: u32) -> Array2<i64> {
    let range = IntType::signed(random.between(2, i64::from(bits)) as u32);
    let continue_percent = random.between(35, 65) as u64;
    Array2::from_shape_simple_fn((rows, cols), || {
        signed_geometric(random, continue_percent, range)
    })
}

/// Weights of [`WeightValues::Peaked`]: magnitudes from a geometric
/// distribution whose mean is 0.15 to 0.4 times the type's largest value,
/// random signs, clipped to the type.
fn peaked_weights(random: &mut Random, rows: usize, cols: usize, bits: u32) -> Array2<i64> {
    let range = IntType::signed(bits);
    let mean = range.max() as f64 * random.between(15, 40) as f64 / 100.0;
    // A geometric distribution of mean `m` continues with `m / (1 + m)`.
    let continue_percent = (100.0 * mean / (1.0 + mean)).round() as u64;
    Array2::from_shape_simple_fn((rows, cols), || {
        signed_geometric(random, continue_percent, range)
    })
}

/// A magnitude that grows by one while a `continue_percent` chance holds
/// (stopping once past `range`), a random sign, clipped to `range`.
fn signed_geometric(random: &mut Random, continue_percent: u64, range: IntType) -> i64 {
    let mut magnitude = 0i64;
    while magnitude <= range.max() as i64 && random.chance(continue_percent) {
        magnitude += 1;
    }
    let value = if random.chance(50) {
        -magnitude
    } else {
        magnitude
    };
    value.clamp(range.min() as i64, range.max() as i64)
}

/// A dense layer with random weights (see [`WeightValues`]),
/// random biases and ascending random thresholds inside the accumulator.
fn dense_layer(
    random: &mut Random,
    shape: DenseShape,
    accumulator: Accumulator,
    hardware: HardwareHints,
) -> Dense {
    let weights = match shape.weights {
        WeightValues::Uniform => {
            let w = IntType::signed(shape.weight_bits);
            Array2::from_shape_simple_fn((shape.rows, shape.cols), || {
                random.between(w.min() as i64, w.max() as i64)
            })
        }
        WeightValues::Small => small_weights(random, shape.rows, shape.cols, shape.weight_bits),
        WeightValues::Peaked => peaked_weights(random, shape.rows, shape.cols, shape.weight_bits),
    };
    // Values well inside the accumulator, as trained thresholds would be.
    let spread = 1i64 << (shape.acc_bits.min(20) - 3);
    let bias = shape
        .bias
        .then(|| Array1::from_shape_simple_fn(shape.rows, || random.between(-spread, spread)));
    let activation = if shape.out_bits == 0 {
        Activation::None
    } else {
        let count = (1usize << shape.out_bits) - 1;
        let mut thresholds = Array2::zeros((shape.rows, count));
        for mut row in thresholds.rows_mut() {
            let mut values: Vec<i64> = (0..count)
                .map(|_| random.between(-spread, spread))
                .collect();
            values.sort_unstable();
            row.assign(&Array1::from(values));
        }
        Activation::Thresholds {
            output: IntType::unsigned(shape.out_bits),
            thresholds,
        }
    };
    Dense {
        in_features: shape.cols,
        out_features: shape.rows,
        weight_bits: shape.weight_bits,
        weights,
        bias,
        accumulator,
        activation,
        hardware,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{PlanOptions, build_plan};
    use crate::bounds::analyze;

    #[test]
    fn every_config_builds_a_plan() {
        for config in grid(&ROUNDS) {
            let model = config.model();
            let plan = build_plan(&model, &analyze(&model), PlanOptions::default());
            assert!(plan.is_ok(), "{config:?}: {:?}", plan.err());
        }
    }

    /// The styles the estimator fits are in the grid: hardwired weights
    /// from unfolded to folded, declared and 32-bit, and both comparator
    /// banks.
    #[test]
    fn the_grid_builds_every_fitted_style() {
        use crate::arch::{ActivationPlan, ThresholdStyle, Unit};
        use crate::model::WeightStorage;
        let mut hardwired_folds = std::collections::BTreeSet::new();
        let mut styles = std::collections::BTreeSet::new();
        let mut hardwired_wide = 0;
        for config in grid(&ROUNDS) {
            let model = config.model();
            let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
            let Some(Unit::Mvau(mvau)) = plan.units.first() else {
                continue;
            };
            assert_eq!(
                mvau.storage == WeightStorage::Hardwired,
                config.hardwired,
                "{config:?}"
            );
            if config.hardwired {
                hardwired_folds.insert(config.nf * config.sf);
                hardwired_wide += usize::from(config.wide);
            }
            if let ActivationPlan::Thresholds { style, .. } = mvau.activation {
                styles.insert(format!("{style:?}"));
            }
        }
        assert!(hardwired_folds.contains(&1) && hardwired_folds.iter().any(|&f| f >= 16));
        assert!(hardwired_wide >= 20, "{hardwired_wide}");
        let both = [ThresholdStyle::Parallel, ThresholdStyle::Search].map(|s| format!("{s:?}"));
        assert!(both.iter().all(|s| styles.contains(s)), "{styles:?}");
    }

    #[test]
    fn the_grid_is_deterministic_and_rounds_only_append() {
        assert_eq!(grid(&ROUNDS), grid(&ROUNDS));
        let first = grid(&ROUNDS[..1]);
        assert_eq!(grid(&ROUNDS)[..first.len()], first[..]);
        let config = &first[2];
        assert_eq!(config.model(), config.model());
    }
}
