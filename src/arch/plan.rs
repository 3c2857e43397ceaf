//! The plan's data types and how a model becomes a plan.

use super::fold::{FoldingError, choose_folding};
use super::hardwired::ConstantDot;
use super::rom_tree::{LaneProduct, RomDot};
use super::window::{MaxPoolUnit, Padding, SlidingWindowUnit, pool_timeline, window_timeline};
use crate::bounds::{LayerBounds, ModelBounds, ValueRange, WidthVerdict};
use crate::model::{
    Activation, Dense, Hadamard, IntType, Layer, LayerKind, Model, MultiplierStyle, OverflowMode,
    WeightStorage, WeightsHint, Window, min_signed_bits,
};
use serde::Serialize;

/// Cycles from a fold step's issue to its output beat being valid.
pub const MVAU_LATENCY: u64 = 4;

/// Elements per beat and the element type of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StreamShape {
    pub elements: usize,
    pub element: IntType,
}

impl StreamShape {
    pub fn bits(&self) -> usize {
        self.elements * self.element.bits as usize
    }
}

/// The accumulator of one PE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccumulatorPlan {
    pub bits: u32,
    pub overflow: OverflowMode,
    pub inner: Option<InnerAccumulator>,
}

/// The per-tile accumulator of a tiled layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InnerAccumulator {
    pub tile_size: usize,
    /// Fold steps (chunks of SIMD inputs) per tile.
    pub chunks_per_tile: usize,
    pub bits: u32,
}

/// What the MVAU outputs per channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ActivationPlan {
    /// The accumulator itself.
    None,
    /// `base + #{k : acc >= t[k]}`, compared at `compare_bits` (one more than
    /// the accumulator, so that thresholds above its range stay exact).
    Thresholds {
        output: IntType,
        count: usize,
        compare_bits: u32,
        style: ThresholdStyle,
    },
}

/// Why `hardware.weights = "auto"` chose a layer's storage: the
/// estimator's LUTs for the layer's unit with each (the smaller wins; a
/// tie keeps the ROM).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StorageChoice {
    pub rom_luts: f64,
    pub hardwired_luts: f64,
}

impl StorageChoice {
    pub fn storage(&self) -> WeightStorage {
        if self.hardwired_luts < self.rom_luts {
            WeightStorage::Hardwired
        } else {
            WeightStorage::Rom
        }
    }
}

/// How the comparator bank counts the thresholds at or below the
/// accumulator; both in the output stage's one cycle, with the same
/// result (the thresholds are non-decreasing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdStyle {
    /// `2^B - 1` comparators, each against its threshold of the neuron
    /// fold, and an adder of their results.
    Parallel,
    /// A binary search by `B` comparators in series: bit `b` of the count
    /// compares with a threshold the fold and the bits above select.
    Search,
}

/// A matrix-vector-activation unit for one dense layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mvau {
    pub name: String,
    pub layer: usize,
    pub in_features: usize,
    pub out_features: usize,
    pub pe: usize,
    pub simd: usize,
    /// Neuron folds `out / pe` and synapse folds `in / simd`.
    pub nf: usize,
    pub sf: usize,
    pub input: IntType,
    pub weight: IntType,
    pub multiplier: MultiplierStyle,
    /// A weight ROM per PE, or constant circuits (`constant_dots`).
    pub storage: WeightStorage,
    /// When the model asked for `auto`: the estimates it chose by.
    pub storage_choice: Option<StorageChoice>,
    /// The widest product and dot product of any PE (`rom_dots` and
    /// `constant_dots` hold each one's exact width): over the weights a
    /// lane's ROM holds with LUT products, over the types with DSP
    /// products, over the actual weights when hardwired.
    pub product_bits: u32,
    pub dot_bits: u32,
    pub accumulator: AccumulatorPlan,
    pub activation: ActivationPlan,
    pub output: IntType,
    /// `[pe][nf * sf + sf_index][simd]`: PE `p` at address `a` holds the
    /// weights of channel `(a / sf) * pe + p`, inputs `(a % sf) * simd ..`.
    #[serde(skip)]
    pub weights: Vec<Vec<Vec<i64>>>,
    /// `[pe]` when hardwired, the circuit of each PE over all its
    /// addresses (the ROM words above); empty with a ROM.
    #[serde(skip)]
    pub constant_dots: Vec<ConstantDot>,
    /// `[pe]` with a ROM, the exact widths of each PE's products and adder
    /// tree; empty when hardwired.
    #[serde(skip)]
    pub rom_dots: Vec<RomDot>,
    /// `[pe][nf]` initial accumulator values.
    #[serde(skip)]
    pub bias: Option<Vec<Vec<i64>>>,
    /// `[pe][nf][k]`, clamped into the comparator range.
    #[serde(skip)]
    pub thresholds: Option<Vec<Vec<Vec<i64>>>>,
    /// Hull of the proven channel ranges, for headers and reports.
    pub proven_range: ValueRange,
    pub proven_tile_range: Option<ValueRange>,
}

impl Mvau {
    pub fn cycles_per_vector(&self) -> u64 {
        (self.nf * self.sf) as u64
    }

    pub fn input_shape(&self) -> StreamShape {
        StreamShape {
            elements: self.simd,
            element: self.input,
        }
    }

    pub fn output_shape(&self) -> StreamShape {
        StreamShape {
            elements: self.pe,
            element: self.output,
        }
    }

    /// Output channel of element `pe` of the beat of neuron fold `nf`.
    pub fn channel(&self, nf: usize, pe: usize) -> usize {
        nf * self.pe + pe
    }

    /// The weights lane `lane` of PE `pe` multiplies by, one per address.
    pub fn lane_weights(&self, pe: usize, lane: usize) -> impl Iterator<Item = i64> + '_ {
        self.weights[pe].iter().map(move |word| word[lane])
    }

    /// Whether every weight of a lane is zero: synthesis removes its
    /// product and the adders that read it (common for the peaked weights
    /// accumulator-aware quantization leaves).
    pub fn lane_is_zero(&self, pe: usize, lane: usize) -> bool {
        self.lane_weights(pe, lane).all(|w| w == 0)
    }

    /// Signed width of every weight of a lane: its multiplier needs no
    /// more (the bits above repeat the sign in every word of its ROM).
    /// Accumulator-aware quantization keeps most weights small, so lanes
    /// are often narrower than the declared weight type.
    pub fn lane_weight_bits(&self, pe: usize, lane: usize) -> u32 {
        let (lo, hi) = self
            .lane_weights(pe, lane)
            .fold((0i64, 0i64), |(lo, hi), w| (lo.min(w), hi.max(w)));
        min_signed_bits(lo.into(), hi.into()).min(self.weight.bits)
    }

    /// Width of PE `pe`'s registered dot product, which its accumulator
    /// adds: its tree's root with a ROM, `dot_bits` when hardwired.
    pub fn pe_dot_bits(&self, pe: usize) -> u32 {
        self.rom_dots
            .get(pe)
            .map_or(self.dot_bits, |d| d.root().bits)
    }

    /// How the LUT product of a lane is built.
    pub fn lut_product(&self, pe: usize, lane: usize) -> LutProduct {
        let weight_bits = self.lane_weight_bits(pe, lane);
        LutProduct {
            weight_bits,
            by_weight: weight_bits <= self.input.bits,
        }
    }
}

/// The shift-and-add of one LUT product, as `rtl::mvau` writes it and
/// `estimate` counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LutProduct {
    /// The lane's weight width ([`Mvau::lane_weight_bits`]).
    pub weight_bits: u32,
    /// Whether the partial products are selected by the weight's bits
    /// (else by the input's): the narrower operand's, the weight's on a
    /// tie, so that weight bits that are zero in every word drop out.
    pub by_weight: bool,
}

/// A Walsh-Hadamard unit: one block of `block` elements per beat.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HadamardUnit {
    pub name: String,
    pub layer: usize,
    pub block: usize,
    pub stages: u32,
    /// Elements per vector.
    pub length: usize,
    pub input: IntType,
    /// Width after stage `j` (index 0: the input made signed).
    pub stage_bits: Vec<u32>,
    pub shift: Option<u32>,
    /// The clamp range, when the layer declares `out_bits`.
    pub clamp: Option<IntType>,
    pub output: IntType,
}

impl HadamardUnit {
    pub fn cycles_per_vector(&self) -> u64 {
        (self.length / self.block) as u64
    }

    pub fn latency(&self) -> u64 {
        u64::from(self.stages) + 1
    }

    pub fn input_shape(&self) -> StreamShape {
        StreamShape {
            elements: self.block,
            element: self.input,
        }
    }

    pub fn output_shape(&self) -> StreamShape {
        StreamShape {
            elements: self.block,
            element: self.output,
        }
    }
}

/// A stream FIFO between units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fifo {
    pub name: String,
    pub beat: StreamShape,
    pub depth: usize,
}

/// A stream width converter (elements per beat in and out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Converter {
    pub name: String,
    pub element: IntType,
    pub input_elements: usize,
    pub output_elements: usize,
}

impl Converter {
    pub fn capacity(&self) -> usize {
        self.input_elements + self.output_elements
    }
}

/// One block of the pipeline, in stream order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Unit {
    Mvau(Box<Mvau>),
    Hadamard(HadamardUnit),
    Fifo(Fifo),
    Converter(Converter),
    SlidingWindow(SlidingWindowUnit),
    MaxPool(MaxPoolUnit),
}

impl Unit {
    pub fn name(&self) -> &str {
        match self {
            Unit::Mvau(u) => &u.name,
            Unit::Hadamard(u) => &u.name,
            Unit::Fifo(u) => &u.name,
            Unit::Converter(u) => &u.name,
            Unit::SlidingWindow(u) => &u.name,
            Unit::MaxPool(u) => &u.name,
        }
    }

    /// Elements of one vector this unit emits (an MVAU's output, a window,
    /// a pixel of the pooled map); `input` is the length of the vectors it
    /// takes (kept by stream plumbing).
    /// Length of the vectors this unit works on when given vectors of
    /// `given` elements: an MVAU's `in_features` (behind a map, the whole
    /// map flattened in stream order, several pixels or windows), any
    /// other unit's `given`.
    pub fn input_vector_length(&self, given: usize) -> usize {
        match self {
            Unit::Mvau(m) => m.in_features,
            _ => given,
        }
    }

    pub fn output_vector_length(&self, input: usize) -> usize {
        match self {
            Unit::Mvau(m) => m.out_features,
            Unit::Hadamard(_) | Unit::Fifo(_) | Unit::Converter(_) => input,
            Unit::SlidingWindow(w) => w.window_length(),
            Unit::MaxPool(p) => p.channels,
        }
    }

    /// Elements this unit emits for `elements` it takes: MVAUs change the
    /// vector length, the window unit repeats elements over windows, the
    /// pool keeps one pixel of each window.
    pub fn output_elements(&self, elements: usize) -> usize {
        match self {
            Unit::Mvau(m) => elements / m.in_features * m.out_features,
            Unit::Hadamard(_) | Unit::Fifo(_) | Unit::Converter(_) => elements,
            Unit::SlidingWindow(w) => {
                elements / w.input_beats_per_image() / w.simd * w.output_beats_per_image() * w.simd
            }
            Unit::MaxPool(p) => {
                let window = p.window();
                elements / window.input_beats_per_image() / p.simd
                    * p.output_beats_per_image()
                    * p.simd
            }
        }
    }

    pub fn input_shape(&self) -> StreamShape {
        match self {
            Unit::Mvau(u) => u.input_shape(),
            Unit::Hadamard(u) => u.input_shape(),
            Unit::Fifo(u) => u.beat,
            Unit::Converter(u) => StreamShape {
                elements: u.input_elements,
                element: u.element,
            },
            Unit::SlidingWindow(u) => u.input_shape(),
            Unit::MaxPool(u) => u.shape(),
        }
    }

    pub fn output_shape(&self) -> StreamShape {
        match self {
            Unit::Mvau(u) => u.output_shape(),
            Unit::Hadamard(u) => u.output_shape(),
            Unit::Fifo(u) => u.beat,
            Unit::Converter(u) => StreamShape {
                elements: u.output_elements,
                element: u.element,
            },
            Unit::SlidingWindow(u) => u.input_shape(),
            Unit::MaxPool(u) => u.shape(),
        }
    }
}

/// The whole accelerator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub model: String,
    pub input_length: usize,
    pub output_length: usize,
    pub units: Vec<Unit>,
    /// Cycles between consecutive input vectors in steady state.
    pub initiation_interval: u64,
    /// Cycles from the first input beat to the first output beat, with no
    /// gaps and no back-pressure.
    pub latency: u64,
}

impl Plan {
    pub fn input(&self) -> StreamShape {
        self.units[0].input_shape()
    }

    pub fn output(&self) -> StreamShape {
        self.units.last().expect("a plan has units").output_shape()
    }

    pub fn input_beats_per_vector(&self) -> usize {
        self.input_length / self.input().elements
    }

    pub fn output_beats_per_vector(&self) -> usize {
        self.output_length / self.output().elements
    }

    pub fn mvaus(&self) -> impl Iterator<Item = &Mvau> {
        self.units.iter().filter_map(|u| match u {
            Unit::Mvau(m) => Some(m.as_ref()),
            _ => None,
        })
    }
}

/// How the plan is to be built.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// Fold dense layers without `pe`/`simd` to meet this many cycles per vector.
    pub target_cycles: Option<u64>,
    /// Build every comparator bank in this style instead of the measured
    /// rule: the calibration grid's runs were recorded with parallel banks,
    /// and its plans must be the designs it measured.
    pub thresholds: Option<ThresholdStyle>,
}

/// Why a model has no plan.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    #[error("layer {index} (`{name}`): {source}")]
    Folding {
        index: usize,
        name: String,
        source: FoldingError,
    },
    #[error("layer {index} (`{name}`): {problem}")]
    Window {
        index: usize,
        name: String,
        problem: String,
    },
    #[error(
        "layer {index} (`{name}`): accumulator width not proven (run `a2qgen check`); set allow_overflow = true to build it anyway"
    )]
    Unproven { index: usize, name: String },
}

/// Builds the plan of `model` from its proven `bounds`: one MVAU per dense
/// layer, a sliding-window unit then an MVAU per convolution, a max-pool
/// unit per pooling layer, a Hadamard unit per transform.
pub fn build_plan(
    model: &Model,
    bounds: &ModelBounds,
    options: PlanOptions,
) -> Result<Plan, ArchError> {
    let mut compute: Vec<Unit> = Vec::with_capacity(model.layers.len() + 2);
    let mut element = model.input;
    for (index, layer) in model.layers.iter().enumerate() {
        let layer_bounds = &bounds.layers[index];
        let units = match &layer.kind {
            LayerKind::Conv(conv) => {
                let windows = (conv.window.out_height() * conv.window.out_width()) as u64;
                let target = options.target_cycles.map(|t| (t / windows).max(1));
                let mvau = proven_mvau(
                    layer,
                    index,
                    &conv.dense,
                    layer_bounds,
                    element,
                    target,
                    options.thresholds,
                )?;
                let window = conv_window(&layer.name, index, &conv.window, mvau.simd, element);
                checked_window(index, &layer.name, window.problem())?;
                vec![Unit::SlidingWindow(window), Unit::Mvau(Box::new(mvau))]
            }
            LayerKind::MaxPool(pool) => {
                let previous = compute.last().map(|u| u.output_shape().elements);
                let pool = pool_unit(&layer.name, index, &pool.window, previous, element);
                checked_window(index, &layer.name, pool.problem())?;
                vec![Unit::MaxPool(pool)]
            }
            LayerKind::Dense(dense) => {
                let mvau = proven_mvau(
                    layer,
                    index,
                    dense,
                    layer_bounds,
                    element,
                    options.target_cycles,
                    options.thresholds,
                )?;
                vec![Unit::Mvau(Box::new(mvau))]
            }
            LayerKind::Hadamard(h) => {
                let range = ValueRange::hull(&layer_bounds.output_ranges);
                vec![Unit::Hadamard(hadamard(
                    &layer.name,
                    index,
                    h,
                    element,
                    model.input_length_of(index),
                    range,
                ))]
            }
        };
        element = units
            .last()
            .expect("a layer has units")
            .output_shape()
            .element;
        compute.extend(units);
    }
    let output_length = model.output_length(model.layers.len() - 1);
    Ok(assemble(
        &model.name,
        model.input_length,
        output_length,
        compute,
    ))
}

fn checked_window(index: usize, name: &str, problem: Option<String>) -> Result<(), ArchError> {
    match problem {
        Some(problem) => Err(ArchError::Window {
            index,
            name: name.to_string(),
            problem,
        }),
        None => Ok(()),
    }
}

/// The MVAU of a dense layer or a convolution's dense part, folded from its
/// hints or to `target_cycles` per vector (window), refused when its width
/// is not proven.
fn proven_mvau(
    layer: &Layer,
    index: usize,
    dense: &Dense,
    layer_bounds: &LayerBounds,
    element: IntType,
    target_cycles: Option<u64>,
    thresholds: Option<ThresholdStyle>,
) -> Result<Mvau, ArchError> {
    let proof = layer_bounds
        .dense
        .as_ref()
        .expect("dense and convolution layers have bounds");
    if proof.verdict() == WidthVerdict::TooNarrow {
        return Err(ArchError::Unproven {
            index,
            name: layer.name.clone(),
        });
    }
    let (pe, simd) = choose_folding(dense, target_cycles).map_err(|source| ArchError::Folding {
        index,
        name: layer.name.clone(),
        source,
    })?;
    let build = |storage: WeightStorage| {
        let mut m = mvau(
            &layer.name,
            index,
            dense,
            element,
            (pe, simd),
            storage,
            thresholds,
        );
        m.proven_range = proof.range;
        m.proven_tile_range = proof.inner.as_ref().map(|i| {
            let t = &proof.channels[i.worst_channel].tiles[i.worst_tile];
            ValueRange::new(t.lo, t.hi)
        });
        m
    };
    Ok(built_as_hinted(dense.hardware.weights, build))
}

/// The MVAU `build` makes with the storage `hint` asks for; `auto` builds
/// both and keeps the smaller estimate ([`choose_storage`]).
fn built_as_hinted(hint: WeightsHint, build: impl Fn(WeightStorage) -> Mvau) -> Mvau {
    match hint {
        WeightsHint::Rom => build(WeightStorage::Rom),
        WeightsHint::Hardwired => build(WeightStorage::Hardwired),
        WeightsHint::Auto => choose_storage(build),
    }
}

/// The largest divisor of `channels` not above `wanted`: a window or pool
/// unit's beat takes whole pixels' channels in equal parts, and the link
/// inserts a converter where its neighbour's beat differs.
fn window_simd(channels: usize, wanted: usize) -> usize {
    (1..=wanted.clamp(1, channels))
        .rev()
        .find(|s| channels.is_multiple_of(*s))
        .unwrap_or(1)
}

/// The window unit of a convolution whose MVAU reads `mvau_simd` elements
/// per beat.
fn conv_window(
    name: &str,
    layer: usize,
    window: &Window,
    mvau_simd: usize,
    element: IntType,
) -> SlidingWindowUnit {
    SlidingWindowUnit {
        name: format!("{name}_window"),
        layer,
        height: window.input.height,
        width: window.input.width,
        channels: window.input.channels,
        kernel: (window.kernel[0], window.kernel[1]),
        stride: (window.stride[0], window.stride[1]),
        padding: Padding::from_array(window.padding),
        simd: window_simd(window.input.channels, mvau_simd),
        element,
    }
}

/// The max-pool unit of a pooling layer, its beat as wide as the unit
/// before it gives (`previous`, or one channel at the top) where it can be.
fn pool_unit(
    name: &str,
    layer: usize,
    window: &Window,
    previous: Option<usize>,
    element: IntType,
) -> MaxPoolUnit {
    MaxPoolUnit {
        name: name.to_string(),
        layer,
        height: window.input.height,
        width: window.input.width,
        channels: window.input.channels,
        kernel: (window.kernel[0], window.kernel[1]),
        stride: (window.stride[0], window.stride[1]),
        simd: window_simd(window.input.channels, previous.unwrap_or(1)),
        element,
    }
}

/// The plan of a chain of compute units (stream order) taking input
/// vectors (images) of `input_length` elements and giving `output_length`:
/// FIFOs and converters between them, the initiation interval and the
/// latency.
pub fn assemble(
    model: &str,
    input_length: usize,
    output_length: usize,
    compute: Vec<Unit>,
) -> Plan {
    let units = link(compute, input_length);
    let initiation_interval = initiation_interval(&units, input_length);
    let mut plan = Plan {
        model: model.to_string(),
        input_length,
        output_length,
        units,
        initiation_interval,
        latency: 0,
    };
    plan.latency = first_output_cycle(&plan);
    if let Some(spacing) = startup_spacing(&plan) {
        plan.initiation_interval = plan.initiation_interval.max(spacing);
    }
    plan
}

/// Images the plan's timeline follows to find the start-up spacing of a
/// chain with window or pool units.
pub const STARTUP_IMAGES: usize = 3;

/// The largest spacing of the first output beats of the first
/// [`STARTUP_IMAGES`] images offered back to back, for chains with window
/// or pool units. The first image's first window row starts as soon as its
/// rows arrive; a later image's may wait for the window side to finish the
/// image before it, so the first spacing can exceed the steady rate.
fn startup_spacing(plan: &Plan) -> Option<u64> {
    let windowed = plan
        .units
        .iter()
        .any(|u| matches!(u, Unit::SlidingWindow(_) | Unit::MaxPool(_)));
    if !windowed {
        return None;
    }
    let beats = plan.output_beats_per_vector();
    let times = output_timeline(plan, STARTUP_IMAGES);
    (1..STARTUP_IMAGES)
        .map(|k| times[k * beats] - times[(k - 1) * beats])
        .max()
}

/// The MVAU of a dense layer folded `pe x simd`, taking `input` elements:
/// `build_plan`'s, for plans built unit by unit (a convolution's dense
/// part behind a sliding-window unit).
pub fn dense_mvau(
    name: &str,
    layer: usize,
    dense: &Dense,
    input: IntType,
    pe: usize,
    simd: usize,
) -> Mvau {
    built_as_hinted(dense.hardware.weights, |storage| {
        mvau(name, layer, dense, input, (pe, simd), storage, None)
    })
}

/// The MVAU of `build(storage)` for the storage the estimator counts
/// fewer LUTs for, with both counts.
fn choose_storage(build: impl Fn(WeightStorage) -> Mvau) -> Mvau {
    let luts = |m: &Mvau| {
        let unit = Unit::Mvau(Box::new(m.clone()));
        crate::estimate::estimate_unit(&unit, crate::estimate::Constants::bundled())
            .0
            .lut
    };
    let (rom, hardwired) = (build(WeightStorage::Rom), build(WeightStorage::Hardwired));
    let choice = StorageChoice {
        rom_luts: luts(&rom),
        hardwired_luts: luts(&hardwired),
    };
    let mut chosen = match choice.storage() {
        WeightStorage::Rom => rom,
        WeightStorage::Hardwired => hardwired,
    };
    chosen.storage_choice = Some(choice);
    chosen
}

fn mvau(
    name: &str,
    layer: usize,
    dense: &Dense,
    input: IntType,
    (pe, simd): (usize, usize),
    storage: WeightStorage,
    style: Option<ThresholdStyle>,
) -> Mvau {
    let (nf, sf) = (dense.out_features / pe, dense.in_features / simd);
    let weight = dense.weight_type();
    let accumulator = AccumulatorPlan {
        bits: dense.accumulator.bits,
        overflow: dense.accumulator.overflow,
        inner: dense.accumulator.tile.map(|t| InnerAccumulator {
            tile_size: t.size,
            chunks_per_tile: t.size / simd,
            bits: t.inner_bits,
        }),
    };
    let (activation, output) = match &dense.activation {
        Activation::None => (
            ActivationPlan::None,
            IntType::signed(dense.accumulator.bits),
        ),
        Activation::Thresholds { output, thresholds } => (
            ActivationPlan::Thresholds {
                output: *output,
                count: thresholds.ncols(),
                compare_bits: dense.accumulator.bits + 1,
                style: style.unwrap_or_else(|| threshold_style(output.bits, nf)),
            },
            *output,
        ),
    };
    let per_pe = |p: usize| (0..nf).map(move |n| n * pe + p);
    let weights: Vec<Vec<Vec<i64>>> = (0..pe)
        .map(|p| {
            per_pe(p)
                .flat_map(|c| {
                    (0..sf).map(move |s| {
                        dense
                            .weights
                            .row(c)
                            .iter()
                            .skip(s * simd)
                            .take(simd)
                            .copied()
                            .collect()
                    })
                })
                .collect()
        })
        .collect();
    let bias = dense
        .bias
        .as_ref()
        .map(|b| (0..pe).map(|p| per_pe(p).map(|c| b[c]).collect()).collect());
    let constant_dots: Vec<ConstantDot> = match storage {
        WeightStorage::Rom => Vec::new(),
        WeightStorage::Hardwired => weights
            .iter()
            .map(|words| ConstantDot::new(words, input))
            .collect(),
    };
    let rom_dots: Vec<RomDot> = match storage {
        WeightStorage::Rom => weights
            .iter()
            .map(|words| rom_dot(words, simd, input, weight, dense.hardware.multiplier))
            .collect(),
        WeightStorage::Hardwired => Vec::new(),
    };
    let (product_bits, dot_bits) = match storage {
        WeightStorage::Rom => rom_dots.iter().fold((1, 1), |(p, d), dot| {
            let widest = dot.products.iter().map(|l| l.bits).max().unwrap_or(1);
            (p.max(widest), d.max(dot.root().bits))
        }),
        WeightStorage::Hardwired => {
            let dot = constant_dots.iter().fold(ValueRange::ZERO, |hull, d| {
                let r = d.range();
                ValueRange::new(hull.lo.min(r.lo), hull.hi.max(r.hi))
            });
            let product = product_range(input, weight);
            (
                min_signed_bits(product.lo, product.hi),
                min_signed_bits(dot.lo, dot.hi),
            )
        }
    };
    let acc = IntType::signed(dense.accumulator.bits);
    // A threshold below the accumulator range always passes and one above it
    // never does; clamping to [min, max + 1] keeps that with one extra bit.
    let thresholds = match &dense.activation {
        Activation::None => None,
        Activation::Thresholds { thresholds, .. } => Some(
            (0..pe)
                .map(|p| {
                    per_pe(p)
                        .map(|c| {
                            thresholds
                                .row(c)
                                .iter()
                                .map(|&t| {
                                    (t as i128)
                                        .clamp(acc.min(), (acc.max() + 1).min(i64::MAX.into()))
                                        as i64
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        ),
    };
    Mvau {
        name: name.to_string(),
        layer,
        in_features: dense.in_features,
        out_features: dense.out_features,
        pe,
        simd,
        nf,
        sf,
        input,
        weight,
        multiplier: dense.hardware.multiplier,
        storage,
        storage_choice: None,
        product_bits,
        dot_bits,
        accumulator,
        activation,
        output,
        weights,
        constant_dots,
        rom_dots,
        bias,
        thresholds,
        proven_range: ValueRange::ZERO,
        proven_tile_range: None,
    }
}

/// The exact widths of one PE's dot product over its ROM words: a LUT
/// product spans its lane's weights; a DSP product keeps the types' width,
/// because Yosys puts a product on a DSP48E1 only from 9 bits on
/// (`docs/design.md#8-toolchain-facts`) and narrowing it would move it to
/// LUTs, not make it cheaper.
fn rom_dot(
    words: &[Vec<i64>],
    simd: usize,
    input: IntType,
    weight: IntType,
    multiplier: MultiplierStyle,
) -> RomDot {
    let products = (0..simd)
        .map(|lane| match multiplier {
            MultiplierStyle::Lut => {
                let (lo, hi) = words
                    .iter()
                    .map(|word| word[lane])
                    .fold((0i64, 0i64), |(lo, hi), w| (lo.min(w), hi.max(w)));
                LaneProduct::new(lo.into(), hi.into(), input)
            }
            MultiplierStyle::Dsp => LaneProduct::new(weight.min(), weight.max(), input),
        })
        .collect();
    RomDot::new(products)
}

/// Most thresholds one stage of a binary search selects from: its last
/// stage's chain of constants holds `NF * 2^(B-1)`, Verilator 5.006's
/// parser runs out of memory on a conditional chain of a few thousand, and
/// parallel comparators' chains reach `NF` = 256 at most.
const SEARCH_MAX_SELECTED: usize = 256;

/// The comparator bank of `bits`-bit outputs over `nf` neuron folds: Yosys
/// measured the binary search cheaper than parallel comparators in every
/// case tried, with thresholds selected per fold and with one shared row
/// (`docs/design.md#thresholds-measured`); with one output bit both are the
/// same single comparator, and beyond [`SEARCH_MAX_SELECTED`] the parallel
/// comparators' chains of `NF` constants remain.
fn threshold_style(bits: u32, nf: usize) -> ThresholdStyle {
    let last_stage = nf.saturating_mul(1usize << (bits.saturating_sub(1)).min(40));
    if bits >= 2 && last_stage <= SEARCH_MAX_SELECTED {
        ThresholdStyle::Search
    } else {
        ThresholdStyle::Parallel
    }
}

/// Range of `w * x` over the two types.
fn product_range(x: IntType, w: IntType) -> ValueRange {
    let corners = [
        x.min() * w.min(),
        x.min() * w.max(),
        x.max() * w.min(),
        x.max() * w.max(),
    ];
    ValueRange::new(
        *corners.iter().min().unwrap(),
        *corners.iter().max().unwrap(),
    )
}

fn hadamard(
    name: &str,
    layer: usize,
    h: &Hadamard,
    input: IntType,
    length: usize,
    range: ValueRange,
) -> HadamardUnit {
    let first = if input.signed {
        input.bits
    } else {
        input.bits + 1
    };
    let stages = h.stages();
    let clamp = h.out_bits.map(IntType::signed);
    HadamardUnit {
        name: name.to_string(),
        layer,
        block: h.block,
        stages,
        length,
        input,
        stage_bits: (0..=stages).map(|j| first + j).collect(),
        shift: h.shift,
        clamp,
        output: clamp.unwrap_or_else(|| IntType::signed(min_signed_bits(range.lo, range.hi))),
    }
}

/// After every compute unit but the last: a width converter when the next
/// unit takes another beat width, then a FIFO of the next unit's beats. The
/// FIFO sits after the converter so that it holds whole beats of the
/// consumer: an MVAU reads its `SF` beats back to back, which a converter
/// with room for one beat could not feed. The FIFO holds two of the
/// vectors the unit emits (an MVAU's output, a window, a pixel).
fn link(compute: Vec<Unit>, input_length: usize) -> Vec<Unit> {
    let mut units = Vec::with_capacity(compute.len() * 3);
    let count = compute.len();
    let next_inputs: Vec<StreamShape> = compute.iter().skip(1).map(Unit::input_shape).collect();
    let next_lengths: Vec<usize> = compute
        .iter()
        .skip(1)
        .map(|u| u.input_vector_length(0))
        .collect();
    let mut length = input_length;
    for (i, unit) in compute.into_iter().enumerate() {
        let out = unit.output_shape();
        let name = unit.name().to_string();
        length = unit.output_vector_length(unit.input_vector_length(length));
        units.push(unit);
        if i + 1 == count {
            break;
        }
        let next = next_inputs[i];
        if next.elements != out.elements {
            units.push(Unit::Converter(Converter {
                name: format!("{name}_converter"),
                element: out.element,
                input_elements: out.elements,
                output_elements: next.elements,
            }));
        }
        let beat = StreamShape {
            elements: next.elements,
            element: out.element,
        };
        // An MVAU behind a map takes the whole map as its vector.
        let beats_per_vector = length.max(next_lengths[i]) / beat.elements;
        units.push(Unit::Fifo(Fifo {
            name: format!("{name}_fifo"),
            beat,
            depth: (2 * beats_per_vector).max(2),
        }));
    }
    units
}

/// The slowest unit's cycles per input vector (image); a stream moves at
/// most one beat per cycle, so the top input and each converter count too.
/// Elements per image are followed through the chain: a window unit
/// multiplies them, a pool and an MVAU change them.
fn initiation_interval(units: &[Unit], input_length: usize) -> u64 {
    let mut elements = input_length;
    let mut length = input_length;
    let mut worst = (input_length / units[0].input_shape().elements) as u64;
    for unit in units {
        length = unit.input_vector_length(length);
        let vectors = (elements / length) as u64;
        let cycles = match unit {
            Unit::Mvau(m) => vectors * m.cycles_per_vector(),
            Unit::Hadamard(h) => vectors * h.cycles_per_vector(),
            Unit::Fifo(f) => (elements / f.beat.elements) as u64,
            Unit::Converter(c) => (elements / c.input_elements.min(c.output_elements)) as u64,
            Unit::SlidingWindow(w) => {
                (elements / (w.input_beats_per_image() * w.simd)) as u64 * w.cycles_per_image()
            }
            Unit::MaxPool(p) => {
                let images = elements / (p.window().input_beats_per_image() * p.simd);
                images as u64 * p.cycles_per_image()
            }
        };
        worst = worst.max(cycles);
        elements = unit.output_elements(elements);
        length = unit.output_vector_length(length);
    }
    worst
}

/// The cycle at which the first output beat is valid when the input beats
/// of the first vector are offered from cycle 0 on and the output is always
/// ready: each unit's timing rule of the module documentation, applied to
/// the beat arrival times of the unit before it.
fn first_output_cycle(plan: &Plan) -> u64 {
    output_timeline(plan, 1)[0]
}

/// The valid cycle of every output beat of `vectors` input vectors offered
/// back to back from cycle 0, the output always ready.
fn output_timeline(plan: &Plan, vectors: usize) -> Vec<u64> {
    let mut arrivals: Vec<u64> = (0..(plan.input_beats_per_vector() * vectors) as u64).collect();
    for unit in &plan.units {
        arrivals = match unit {
            Unit::Mvau(m) => mvau_timeline(m, &arrivals),
            Unit::Hadamard(h) => accept_one_per_cycle(&arrivals)
                .iter()
                .map(|c| c + h.latency())
                .collect(),
            Unit::Fifo(_) => arrivals.iter().map(|c| c + 1).collect(),
            Unit::Converter(c) => converter_timeline(c, &arrivals),
            Unit::SlidingWindow(w) => window_timeline(w, &arrivals),
            Unit::MaxPool(p) => pool_timeline(p, &arrivals),
        };
    }
    arrivals
}

/// Accept times of beats offered at `arrivals`, at most one per cycle.
fn accept_one_per_cycle(arrivals: &[u64]) -> Vec<u64> {
    let mut accepted = Vec::with_capacity(arrivals.len());
    for &a in arrivals {
        let earliest = accepted.last().map_or(0, |&l: &u64| l + 1);
        accepted.push(a.max(earliest));
    }
    accepted
}

/// Output valid times of an MVAU for input beats arriving at `arrivals`
/// (whole vectors of `SF` beats): during a vector's first neuron fold each
/// step issues when its beat is there, the later folds' steps follow one
/// per cycle, and the next vector's first step comes after the last.
fn mvau_timeline(m: &Mvau, arrivals: &[u64]) -> Vec<u64> {
    let mut outputs = Vec::with_capacity(arrivals.len() / m.sf * m.nf);
    let mut next_free = 0u64;
    for vector in arrivals.chunks(m.sf) {
        let mut issue = 0;
        for &a in vector {
            issue = a.max(next_free);
            next_free = issue + 1;
        }
        outputs.push(issue + MVAU_LATENCY);
        for _ in 1..m.nf {
            issue += m.sf as u64;
            outputs.push(issue + MVAU_LATENCY);
        }
        next_free = issue + 1;
    }
    outputs
}

fn converter_timeline(c: &Converter, arrivals: &[u64]) -> Vec<u64> {
    let outputs = arrivals.len() * c.input_elements / c.output_elements;
    let mut result = Vec::with_capacity(outputs);
    let (mut fill, mut next_in, mut cycle) = (0usize, 0usize, 0u64);
    // Step cycle by cycle: the converter's rule is simple enough.
    while result.len() < outputs {
        let out_fire = fill >= c.output_elements;
        let in_fire =
            next_in < arrivals.len() && arrivals[next_in] <= cycle && fill <= c.output_elements;
        // Removal first, then the append, as in the hardware.
        if out_fire {
            result.push(cycle);
            fill -= c.output_elements;
        }
        if in_fire {
            fill += c.input_elements;
            next_in += 1;
        }
        cycle += 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::analyze;
    use crate::model::load_model;
    use std::path::Path;

    fn plan_of(example: &str) -> Plan {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(example);
        let model = load_model(&path).unwrap();
        build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap()
    }

    #[test]
    fn mlp3_plan() {
        let plan = plan_of("mlp3.toml");
        let names: Vec<&str> = plan.units.iter().map(Unit::name).collect();
        assert_eq!(
            names,
            [
                "fc0",
                "fc0_converter",
                "fc0_fifo",
                "fc1",
                "fc1_converter",
                "fc1_fifo",
                "fc2"
            ]
        );
        let Unit::Mvau(fc0) = &plan.units[0] else {
            panic!()
        };
        assert_eq!((fc0.nf, fc0.sf), (4, 4));
        // uint4 x int4 products lie in [-120, 105] (8 bits), but every
        // lane's weights lie in [-4, 3]: [-60, 45], 7 bits; four of them 9.
        assert_eq!((fc0.product_bits, fc0.dot_bits), (7, 9));
        // fc2 multiplies on DSP slices: its products keep the types' width.
        let Unit::Mvau(fc2) = &plan.units[6] else {
            panic!()
        };
        assert_eq!((fc2.product_bits, fc2.dot_bits), (10, 13));
        // PE 1 at neuron fold 2, synapse fold 3 holds channel 9, inputs 12..16.
        let model =
            load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mlp3.toml")).unwrap();
        let w = &model.layers[0].as_dense().unwrap().weights;
        assert_eq!(
            fc0.weights[1][2 * 4 + 3],
            w.row(9).iter().skip(12).copied().collect::<Vec<_>>()
        );
        assert_eq!(fc0.channel(2, 1), 9);
        // fc0 takes 16 cycles, fc1 2 x 2 = 4, fc2 2 x 1 = 2: the II is 16.
        assert_eq!(plan.initiation_interval, 16);
        assert_eq!(plan.input().elements, 4);
        assert_eq!(plan.output().elements, 2);
    }

    #[test]
    fn lanes_are_as_wide_as_their_weights() {
        let plan = plan_of("mlp3.toml");
        let Unit::Mvau(fc0) = &plan.units[0] else {
            panic!()
        };
        // int4 weights, but every lane's lie in [-4, 3].
        for pe in 0..fc0.pe {
            for lane in 0..fc0.simd {
                let (lo, hi) = fc0
                    .lane_weights(pe, lane)
                    .fold((0, 0), |(lo, hi), w| (w.min(lo), w.max(hi)));
                assert!(lo >= -4 && hi <= 3, "PE {pe} lane {lane}: {lo}..{hi}");
                assert_eq!(fc0.lane_weight_bits(pe, lane), 3, "PE {pe} lane {lane}");
            }
        }
        // fc2's int8 weights reach -67 and 44 in some lane: all 8 bits.
        let Unit::Mvau(fc2) = &plan.units[6] else {
            panic!()
        };
        let widest = (0..fc2.pe)
            .flat_map(|pe| (0..fc2.simd).map(move |lane| (pe, lane)))
            .map(|(pe, lane)| fc2.lane_weight_bits(pe, lane))
            .max();
        assert_eq!(widest, Some(8));
    }

    #[test]
    fn latency_of_a_single_mvau() {
        let mut plan = plan_of("mlp3.toml");
        plan.units.truncate(1);
        plan.output_length = 16;
        // 4 input beats accepted in cycles 0..3; fold 0's last step issues in
        // cycle 3 and its output is valid 4 cycles later.
        assert_eq!(first_output_cycle(&plan), 7);
    }

    #[test]
    fn hadamard_plan() {
        let plan = plan_of("hadamard_tiled.toml");
        let Unit::Hadamard(rot) = &plan.units[0] else {
            panic!()
        };
        assert_eq!(rot.stage_bits, vec![4, 5, 6, 7]);
        assert_eq!(rot.output, IntType::signed(6));
        let Unit::Mvau(fc0) = &plan.units[3] else {
            panic!()
        };
        assert_eq!(fc0.accumulator.inner.as_ref().unwrap().chunks_per_tile, 2);
        assert_eq!(fc0.input, IntType::signed(6));
        let ActivationPlan::Thresholds { compare_bits, .. } = fc0.activation else {
            panic!()
        };
        assert_eq!(compare_bits, 13);
    }
}
