//! Accumulator bounds (`docs/design.md#3-accumulator-bounds`): exact per-channel ranges
//! propagated layer to layer, the widths they need, the A2Q / A2Q+ norm checks
//! and the data-type bound beside them, and the concrete input that
//! overflows a width that is too small. The exact range decides.

mod conv;
mod dense;
mod range;

pub use conv::{DistinctWindows, distinct_windows, maxpool_output_ranges};
pub use dense::{
    ChannelBound, MIN_ACCUMULATOR_BITS, NormBudget, TileBound, accumulator_bits,
    centered_l1_times_count, channel_bounds, data_type_bits, dot_range, extremal_input,
};
pub use range::{ValueRange, hadamard_output_ranges, sylvester_sign};

use crate::model::{Activation, Conv, Dense, IntType, Layer, LayerKind, Model};
use serde::Serialize;

/// How a norm check fared over a layer's channels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NormSummary {
    /// The limit on the norm at the declared width.
    pub limit: f64,
    /// The largest norm over the channels, and where.
    pub worst_norm: f64,
    pub worst_channel: usize,
    pub failing_channels: usize,
}

impl NormSummary {
    pub fn pass(&self) -> bool {
        self.failing_channels == 0
    }
}

/// The inner (per-tile) accumulator of a tiled layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InnerBound {
    pub tile_size: usize,
    pub declared_bits: u32,
    pub min_bits: u32,
    pub worst_channel: usize,
    pub worst_tile: usize,
}

/// Whether a layer's declared widths are safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WidthVerdict {
    /// Every declared width is at least the proven minimum.
    Proven,
    /// Some width is too small but the layer says `allow_overflow`.
    OverflowAllowed,
    /// Some width is too small: the model is refused.
    TooNarrow,
}

/// The certificate of one dense layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DenseBounds {
    /// The input data type the A2Q formulas use (the narrowest type holding
    /// every input element's range).
    pub input_type: IntType,
    pub in_features: usize,
    pub declared_bits: u32,
    pub min_bits: u32,
    pub worst_channel: usize,
    /// Hull of the channel ranges.
    pub range: ValueRange,
    pub inner: Option<InnerBound>,
    pub a2q: NormSummary,
    pub a2q_plus: NormSummary,
    pub data_type_bits: u32,
    pub allow_overflow: bool,
    pub channels: Vec<ChannelBound>,
}

impl DenseBounds {
    pub fn outer_proven(&self) -> bool {
        self.declared_bits >= self.min_bits
    }

    pub fn inner_proven(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|i| i.declared_bits >= i.min_bits)
    }

    pub fn verdict(&self) -> WidthVerdict {
        if self.outer_proven() && self.inner_proven() {
            WidthVerdict::Proven
        } else if self.allow_overflow {
            WidthVerdict::OverflowAllowed
        } else {
            WidthVerdict::TooNarrow
        }
    }
}

/// What is known about one layer's values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerBounds {
    pub index: usize,
    pub name: String,
    /// Range of every element of the layer's input vector.
    pub input_ranges: Vec<ValueRange>,
    /// Range of every element of the layer's output vector.
    pub output_ranges: Vec<ValueRange>,
    /// Present for dense and convolution layers.
    pub dense: Option<DenseBounds>,
}

impl LayerBounds {
    /// The narrowest type holding every output element.
    pub fn output_type(&self) -> IntType {
        ValueRange::hull(&self.output_ranges).container()
    }

    pub fn input_type(&self) -> IntType {
        ValueRange::hull(&self.input_ranges).container()
    }
}

/// Bounds of every layer of a model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelBounds {
    pub model: String,
    pub layers: Vec<LayerBounds>,
}

impl ModelBounds {
    /// Layers whose widths are too small and not allowed to overflow.
    pub fn refused(&self) -> impl Iterator<Item = &LayerBounds> {
        self.layers.iter().filter(|l| {
            l.dense
                .as_ref()
                .is_some_and(|d| d.verdict() == WidthVerdict::TooNarrow)
        })
    }

    pub fn all_proven(&self) -> bool {
        self.layers.iter().all(|l| {
            l.dense
                .as_ref()
                .is_none_or(|d| d.verdict() == WidthVerdict::Proven)
        })
    }
}

/// Propagates value ranges through the model and bounds every dense layer.
pub fn analyze(model: &Model) -> ModelBounds {
    let mut inputs = vec![ValueRange::of_type(model.input); model.input_length];
    let mut layers = Vec::with_capacity(model.layers.len());
    for (index, layer) in model.layers.iter().enumerate() {
        let (outputs, dense) = match &layer.kind {
            LayerKind::Dense(d) => {
                let bounds = dense_bounds(d, &inputs);
                (dense_output_ranges(d, &bounds), Some(bounds))
            }
            LayerKind::Hadamard(h) => (hadamard_output_ranges(h, &inputs), None),
            LayerKind::Conv(c) => {
                let (bounds, outputs) = conv_bounds(c, &inputs);
                (outputs, Some(bounds))
            }
            LayerKind::MaxPool(p) => (maxpool_output_ranges(p, &inputs), None),
        };
        layers.push(LayerBounds {
            index,
            name: layer.name.clone(),
            input_ranges: std::mem::replace(&mut inputs, outputs.clone()),
            output_ranges: outputs,
            dense,
        });
    }
    ModelBounds {
        model: model.name.clone(),
        layers,
    }
}

/// The certificate of a dense layer for per-element input ranges.
pub fn dense_bounds(layer: &Dense, inputs: &[ValueRange]) -> DenseBounds {
    // Partial sums stay within the final range only if every input range
    // contains 0; model types always do, derived ranges are widened.
    let inputs: Vec<ValueRange> = inputs.iter().map(|r| r.with_zero()).collect();
    let input_type = ValueRange::hull(&inputs).container();
    let channels = channel_bounds(layer, &inputs, input_type);
    summarize(layer, channels, input_type)
}

/// The certificate of a convolution for per-element ranges of its input
/// map, with the ranges of its output map: every channel's range is the
/// union over the distinct windows (padding fixed at zero), and each output
/// pixel's accumulator range is its own window's.
pub fn conv_bounds(conv: &Conv, inputs: &[ValueRange]) -> (DenseBounds, Vec<ValueRange>) {
    let input_type = ValueRange::hull(inputs).with_zero().container();
    let windows = distinct_windows(&conv.window, inputs);
    let (channels, per_window) = conv::conv_channel_bounds(conv, &windows, input_type);
    let bounds = summarize(&conv.dense, channels, input_type);
    let dense = &conv.dense;
    let outputs = match &dense.activation {
        Activation::Thresholds { output, .. } => {
            vec![ValueRange::of_type(*output); conv.output_map().len()]
        }
        Activation::None if bounds.verdict() == WidthVerdict::Proven => windows
            .of_pixel
            .iter()
            .flat_map(|&w| per_window[w].iter().map(|r| r.with_zero()))
            .collect(),
        Activation::None => vec![
            ValueRange::of_type(IntType::signed(dense.accumulator.bits));
            conv.output_map().len()
        ],
    };
    (bounds, outputs)
}

/// A layer's certificate from its channel bounds.
fn summarize(layer: &Dense, channels: Vec<ChannelBound>, input_type: IntType) -> DenseBounds {
    let worst = channels
        .iter()
        .max_by_key(|c| (c.min_bits, std::cmp::Reverse(c.channel)))
        .expect("at least one channel");
    let budget = NormBudget {
        input: input_type,
        accumulator_bits: layer.accumulator.bits,
    };
    DenseBounds {
        input_type,
        in_features: layer.in_features,
        declared_bits: layer.accumulator.bits,
        min_bits: worst.min_bits,
        worst_channel: worst.channel,
        range: ValueRange::hull(&channels.iter().map(ChannelBound::range).collect::<Vec<_>>()),
        inner: inner_bound(layer, &channels),
        a2q: norm_summary(&channels, budget.a2q_limit(), |c| {
            (c.l1_norm as f64, c.a2q_pass)
        }),
        a2q_plus: norm_summary(&channels, budget.a2q_plus_limit(), |c| {
            (c.centered_l1_norm, c.a2q_plus_pass)
        }),
        data_type_bits: data_type_bits(layer.in_features, layer.weight_bits, input_type),
        allow_overflow: layer.accumulator.allow_overflow,
        channels,
    }
}

fn inner_bound(layer: &Dense, channels: &[ChannelBound]) -> Option<InnerBound> {
    let tile = layer.accumulator.tile?;
    let (channel, worst) = channels
        .iter()
        .flat_map(|c| c.tiles.iter().map(move |t| (c.channel, t)))
        .max_by_key(|(c, t)| (t.min_bits, std::cmp::Reverse((*c, t.tile))))?;
    Some(InnerBound {
        tile_size: tile.size,
        declared_bits: tile.inner_bits,
        min_bits: worst.min_bits,
        worst_channel: channel,
        worst_tile: worst.tile,
    })
}

fn norm_summary(
    channels: &[ChannelBound],
    limit: f64,
    norm: impl Fn(&ChannelBound) -> (f64, bool),
) -> NormSummary {
    let mut summary = NormSummary {
        limit,
        worst_norm: f64::NEG_INFINITY,
        worst_channel: 0,
        failing_channels: 0,
    };
    for channel in channels {
        let (value, pass) = norm(channel);
        if value > summary.worst_norm {
            summary.worst_norm = value;
            summary.worst_channel = channel.channel;
        }
        summary.failing_channels += usize::from(!pass);
    }
    summary
}

/// Output element ranges of a dense layer: the threshold output type, or the
/// accumulator ranges themselves (the whole accumulator type when the width
/// may overflow).
fn dense_output_ranges(layer: &Dense, bounds: &DenseBounds) -> Vec<ValueRange> {
    match &layer.activation {
        Activation::Thresholds { output, .. } => {
            vec![ValueRange::of_type(*output); layer.out_features]
        }
        Activation::None if bounds.verdict() == WidthVerdict::Proven => bounds
            .channels
            .iter()
            .map(|c| c.range().with_zero())
            .collect(),
        Activation::None => {
            vec![ValueRange::of_type(IntType::signed(layer.accumulator.bits)); layer.out_features]
        }
    }
}

/// Which accumulator a counterexample overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The (outer) accumulator.
    Accumulator,
    /// The inner accumulator of one tile.
    Tile(usize),
}

/// A concrete layer input that drives an accumulator beyond its width.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counterexample {
    pub channel: usize,
    pub stage: Stage,
    pub range: ValueRange,
    pub needed_bits: u32,
    pub declared_bits: u32,
    /// The value the accumulator reaches on `input`.
    pub reached: i128,
    /// The layer's input vector.
    pub input: Vec<i64>,
}

/// The worst overflow of an accumulating layer (dense or convolution), if
/// any width is too small.
pub fn layer_counterexample(layer: &Layer, bounds: &LayerBounds) -> Option<Counterexample> {
    match &layer.kind {
        LayerKind::Dense(d) => counterexample(d, bounds),
        LayerKind::Conv(c) => conv_counterexample(c, bounds),
        LayerKind::Hadamard(_) | LayerKind::MaxPool(_) => None,
    }
}

/// The worst overflow of a convolution: the window where the worst channel
/// (or tile) reaches the end of its range outside the width, set to the
/// dense counterexample's values, in an input map of zeros.
pub fn conv_counterexample(conv: &Conv, bounds: &LayerBounds) -> Option<Counterexample> {
    let dense_bounds = bounds.dense.as_ref()?;
    let windows = distinct_windows(&conv.window, &bounds.input_ranges);
    let taps = conv.window.taps();
    let (channel, stage, range, needed_bits, declared_bits, span) = if !dense_bounds.outer_proven()
    {
        let c = &dense_bounds.channels[dense_bounds.worst_channel];
        (
            c.channel,
            Stage::Accumulator,
            c.range(),
            c.min_bits,
            dense_bounds.declared_bits,
            0..taps,
        )
    } else {
        let inner = dense_bounds
            .inner
            .as_ref()
            .filter(|i| i.declared_bits < i.min_bits)?;
        let tile = &dense_bounds.channels[inner.worst_channel].tiles[inner.worst_tile];
        (
            inner.worst_channel,
            Stage::Tile(tile.tile),
            ValueRange::new(tile.lo, tile.hi),
            tile.min_bits,
            inner.declared_bits,
            tile.tile * inner.tile_size..(tile.tile + 1) * inner.tile_size,
        )
    };
    let toward_hi = !IntType::signed(declared_bits).contains(range.hi);
    let bias = match stage {
        Stage::Accumulator => conv.dense.bias_of(channel),
        Stage::Tile(_) => 0,
    };
    let window = conv::window_reaching(conv, &windows, channel, span.clone(), bias, toward_hi);
    let ranges = &windows.windows[window];
    let row = conv.dense.weights.row(channel);
    let values = extremal_input(
        row.slice(ndarray::s![span.clone()]),
        &ranges[span.clone()],
        toward_hi,
    );
    let (oy, ox) = windows.first_pixel[window];
    let mut input = vec![0i64; bounds.input_ranges.len()];
    let placed = conv.window.taps_at(oy, ox).skip(span.start);
    for (tap, value) in placed.zip(values) {
        // Padded taps have the range [0, 0], so their value is 0 already.
        if let Some(element) = tap {
            input[element] = value;
        }
    }
    Some(Counterexample {
        channel,
        stage,
        range,
        needed_bits,
        declared_bits,
        reached: if toward_hi { range.hi } else { range.lo },
        input,
    })
}

/// The worst overflow of a dense layer, if any width is too small: the
/// outer accumulator first, else the narrowest-fitting tile.
pub fn counterexample(layer: &Dense, bounds: &LayerBounds) -> Option<Counterexample> {
    let dense = bounds.dense.as_ref()?;
    let inputs: Vec<ValueRange> = bounds.input_ranges.iter().map(|r| r.with_zero()).collect();
    if !dense.outer_proven() {
        let channel = &dense.channels[dense.worst_channel];
        let range = channel.range();
        let toward_hi = !IntType::signed(dense.declared_bits).contains(range.hi);
        return Some(Counterexample {
            channel: channel.channel,
            stage: Stage::Accumulator,
            range,
            needed_bits: channel.min_bits,
            declared_bits: dense.declared_bits,
            reached: if toward_hi { range.hi } else { range.lo },
            input: extremal_input(layer.weights.row(channel.channel), &inputs, toward_hi),
        });
    }
    let inner = dense
        .inner
        .as_ref()
        .filter(|i| i.declared_bits < i.min_bits)?;
    let tile = &dense.channels[inner.worst_channel].tiles[inner.worst_tile];
    let range = ValueRange::new(tile.lo, tile.hi);
    let toward_hi = !IntType::signed(inner.declared_bits).contains(range.hi);
    let span = tile.tile * inner.tile_size..(tile.tile + 1) * inner.tile_size;
    let mut input = vec![0i64; layer.in_features];
    let weights = layer.weights.row(inner.worst_channel);
    input[span.clone()].copy_from_slice(&extremal_input(
        weights.slice(ndarray::s![span.clone()]),
        &inputs[span],
        toward_hi,
    ));
    Some(Counterexample {
        channel: inner.worst_channel,
        stage: Stage::Tile(tile.tile),
        range,
        needed_bits: tile.min_bits,
        declared_bits: inner.declared_bits,
        reached: if toward_hi { range.hi } else { range.lo },
        input,
    })
}

#[cfg(test)]
mod tests;
