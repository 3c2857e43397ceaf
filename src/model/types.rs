//! Plain data types of a validated model: integer types, layers, accumulators.

use ndarray::{Array1, Array2};
use std::fmt;
use std::path::PathBuf;

/// An integer data type: `bits` wide, two's complement when `signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntType {
    pub bits: u32,
    pub signed: bool,
}

impl IntType {
    pub const fn signed(bits: u32) -> Self {
        IntType { bits, signed: true }
    }

    pub const fn unsigned(bits: u32) -> Self {
        IntType {
            bits,
            signed: false,
        }
    }

    /// Smallest representable value.
    pub fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    /// Largest representable value.
    pub fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    pub fn contains(self, value: i128) -> bool {
        (self.min()..=self.max()).contains(&value)
    }

    /// The narrowest type holding every value of `[lo, hi]`: unsigned when
    /// `lo >= 0`, otherwise signed. Never narrower than one bit.
    pub fn containing(lo: i128, hi: i128) -> Self {
        if lo >= 0 {
            let mut bits = 1;
            while IntType::unsigned(bits).max() < hi {
                bits += 1;
            }
            IntType::unsigned(bits)
        } else {
            IntType::signed(min_signed_bits(lo, hi))
        }
    }
}

impl serde::Serialize for IntType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for IntType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.signed { "int" } else { "uint" };
        write!(f, "{prefix}{}", self.bits)
    }
}

/// Least `P >= 1` with `-2^(P-1) <= lo` and `hi <= 2^(P-1) - 1`.
pub fn min_signed_bits(lo: i128, hi: i128) -> u32 {
    let mut bits = 1;
    while !(IntType::signed(bits).contains(lo) && IntType::signed(bits).contains(hi)) {
        bits += 1;
    }
    bits
}

/// What an accumulator does when a sum leaves its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowMode {
    /// Two's complement wrap-around: the natural behaviour of an adder.
    #[default]
    Wrap,
    /// Clamp to the representable range after every addition.
    Saturate,
}

impl fmt::Display for OverflowMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OverflowMode::Wrap => "wrap",
            OverflowMode::Saturate => "saturate",
        })
    }
}

/// Multi-stage accumulation: `size` inputs go into an inner accumulator of
/// `inner_bits`; each finished tile is added to the outer accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub size: usize,
    pub inner_bits: u32,
}

/// The accumulator of a dense layer. `bits` is the width of the (outer)
/// accumulator, the one that starts at the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accumulator {
    pub bits: u32,
    pub tile: Option<Tile>,
    pub overflow: OverflowMode,
    /// Accept widths below the proven minimum (trade-off studies only).
    pub allow_overflow: bool,
}

/// How a dense layer turns accumulators into outputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// Output the raw accumulators.
    None,
    /// FINN-style multi-threshold: `out = base + #{k : acc >= t[c][k]}`.
    Thresholds {
        output: IntType,
        /// `[out_features, 2^bits - 1]`, non-decreasing along each row.
        thresholds: Array2<i64>,
    },
}

/// Multiplier implementation style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MultiplierStyle {
    #[default]
    Lut,
    Dsp,
}

impl fmt::Display for MultiplierStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MultiplierStyle::Lut => "lut",
            MultiplierStyle::Dsp => "dsp",
        })
    }
}

/// Where a dense layer's weights live in the hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightStorage {
    /// A weight ROM per PE feeding generic multipliers.
    #[default]
    Rom,
    /// Constants in the Verilog: each product a constant-coefficient
    /// circuit and an adder tree over the nonzero products only.
    Hardwired,
}

impl fmt::Display for WeightStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightStorage::Rom => "rom",
            WeightStorage::Hardwired => "hardwired",
        })
    }
}

/// What a model asks for a dense layer's weights: a storage, or `Auto`,
/// the one of the two the estimator counts fewer LUTs for (decided in
/// `arch`, per layer, after folding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsHint {
    #[default]
    Rom,
    Hardwired,
    Auto,
}

impl fmt::Display for WeightsHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightsHint::Rom => "rom",
            WeightsHint::Hardwired => "hardwired",
            WeightsHint::Auto => "auto",
        })
    }
}

/// Folding and implementation hints; `None` means chosen by the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HardwareHints {
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    pub multiplier: MultiplierStyle,
    pub weights: WeightsHint,
}

/// A fully connected layer with integer weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub in_features: usize,
    pub out_features: usize,
    pub weight_bits: u32,
    /// `[out_features, in_features]`, each fitting signed `weight_bits`.
    pub weights: Array2<i64>,
    pub bias: Option<Array1<i64>>,
    pub accumulator: Accumulator,
    pub activation: Activation,
    pub hardware: HardwareHints,
}

impl Dense {
    pub fn weight_type(&self) -> IntType {
        IntType::signed(self.weight_bits)
    }

    /// Signed bits that hold every output: the thresholded type's, or the
    /// accumulator's.
    pub fn output_bits(&self) -> u32 {
        match &self.activation {
            Activation::Thresholds { output, .. } => output.bits + u32::from(!output.signed),
            Activation::None => self.accumulator.bits,
        }
    }

    pub fn bias_of(&self, channel: usize) -> i64 {
        self.bias.as_ref().map_or(0, |b| b[channel])
    }

    /// Number of zero weights over all weights, in `[0, 1]`.
    pub fn zero_weight_fraction(&self) -> f64 {
        let zeros = self.weights.iter().filter(|&&w| w == 0).count();
        zeros as f64 / self.weights.len() as f64
    }
}

/// A Walsh-Hadamard transform over blocks of `block` consecutive elements,
/// with optional rounding shift and clamp to signed `out_bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hadamard {
    pub block: usize,
    pub shift: Option<u32>,
    pub out_bits: Option<u32>,
}

impl Hadamard {
    /// Number of butterfly stages, `log2(block)`.
    pub fn stages(&self) -> u32 {
        self.block.trailing_zeros()
    }

    /// Signed bits that hold every output, given inputs of `input_bits`
    /// signed bits: one more per stage, `shift - 1` fewer after the
    /// rounding shift, or the clamp's.
    pub fn output_bits(&self, input_bits: u32) -> u32 {
        let butterflies = input_bits + self.stages();
        match (self.out_bits, self.shift) {
            (Some(bits), _) => bits,
            (None, Some(shift)) => butterflies.saturating_sub(shift - 1).max(2),
            (None, None) => butterflies,
        }
    }
}

/// A feature map in NHWC order: `height x width` pixels of `channels`
/// elements each, channel fastest when streamed or flattened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl MapShape {
    /// Elements of the map, `H * W * C` (validated not to overflow).
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of element `(y, x, c)` in the flattened map.
    pub fn index(&self, y: usize, x: usize, c: usize) -> usize {
        (y * self.width + x) * self.channels + c
    }
}

impl fmt::Display for MapShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.height, self.width, self.channels)
    }
}

/// A sliding window over an input map: `kernel = [kh, kw]` pixels, moved by
/// `stride = [sh, sw]`, over the map surrounded by `padding = [top, left,
/// bottom, right]` pixels of zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub input: MapShape,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 4],
}

impl Window {
    /// Output rows: `(H + top + bottom - kh) / sh + 1`.
    pub fn out_height(&self) -> usize {
        (self.input.height + self.padding[0] + self.padding[2] - self.kernel[0]) / self.stride[0]
            + 1
    }

    /// Output columns: `(W + left + right - kw) / sw + 1`.
    pub fn out_width(&self) -> usize {
        (self.input.width + self.padding[1] + self.padding[3] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Elements of one window, `kh * kw * C`.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1] * self.input.channels
    }

    /// The output map with `channels` channels.
    pub fn output(&self, channels: usize) -> MapShape {
        MapShape {
            height: self.out_height(),
            width: self.out_width(),
            channels,
        }
    }

    pub fn has_padding(&self) -> bool {
        self.padding.iter().any(|&p| p > 0)
    }

    /// The input element each tap of the window at output pixel `(oy, ox)`
    /// reads, in `(ky, kx, c)` order with `c` fastest; `None` for a padded
    /// position (which reads zero).
    pub fn taps_at(&self, oy: usize, ox: usize) -> impl Iterator<Item = Option<usize>> + '_ {
        let [kh, kw] = self.kernel;
        let channels = self.input.channels;
        (0..kh).flat_map(move |ky| {
            (0..kw).flat_map(move |kx| {
                let pixel = self.pixel(oy, ox, ky, kx);
                (0..channels).map(move |c| pixel.map(|(y, x)| self.input.index(y, x, c)))
            })
        })
    }

    /// The input pixel under tap `(ky, kx)` of the window at `(oy, ox)`, or
    /// `None` when it falls in the padding.
    pub fn pixel(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        Some((self.pixel_axis(oy, ky, 0)?, self.pixel_axis(ox, kx, 1)?))
    }

    /// Along `axis` (0 rows, 1 columns): the input coordinate under kernel
    /// offset `k` of output coordinate `o`, or `None` in the padding.
    pub fn pixel_axis(&self, o: usize, k: usize, axis: usize) -> Option<usize> {
        let size = [self.input.height, self.input.width][axis];
        let at = (o * self.stride[axis] + k).checked_sub(self.padding[axis])?;
        (at < size).then_some(at)
    }
}

/// A convolution: the dense layer `dense` applied to every window. Its
/// `in_features` is `kh * kw * C`, its `out_features` the output channels,
/// and its weight rows are flattened in `(ky, kx, c)` order, `c` fastest:
/// the order the window is streamed and accumulated in.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub window: Window,
    pub dense: Dense,
}

impl Conv {
    pub fn output_map(&self) -> MapShape {
        self.window.output(self.dense.out_features)
    }
}

/// Max pooling over windows without padding; the output type is the input's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool {
    pub window: Window,
}

impl MaxPool {
    pub fn output_map(&self) -> MapShape {
        self.window.output(self.window.input.channels)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    Dense(Box<Dense>),
    Hadamard(Hadamard),
    Conv(Box<Conv>),
    MaxPool(MaxPool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
}

impl Layer {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            LayerKind::Dense(_) => "dense",
            LayerKind::Hadamard(_) => "hadamard",
            LayerKind::Conv(_) => "conv",
            LayerKind::MaxPool(_) => "maxpool",
        }
    }

    /// The layer when it is a dense layer proper (its input is the vector).
    pub fn as_dense(&self) -> Option<&Dense> {
        match &self.kind {
            LayerKind::Dense(d) => Some(d.as_ref()),
            _ => None,
        }
    }

    /// The dense computation of a layer that accumulates: a dense layer, or
    /// the per-window dense layer of a convolution.
    pub fn accumulating(&self) -> Option<&Dense> {
        match &self.kind {
            LayerKind::Dense(d) => Some(d.as_ref()),
            LayerKind::Conv(c) => Some(&c.dense),
            LayerKind::Hadamard(_) | LayerKind::MaxPool(_) => None,
        }
    }

    /// [`accumulating`](Self::accumulating), mutable.
    pub fn accumulating_mut(&mut self) -> Option<&mut Dense> {
        match &mut self.kind {
            LayerKind::Dense(d) => Some(d.as_mut()),
            LayerKind::Conv(c) => Some(&mut c.dense),
            LayerKind::Hadamard(_) | LayerKind::MaxPool(_) => None,
        }
    }

    /// The sliding window of a convolution or pooling layer.
    pub fn window(&self) -> Option<&Window> {
        match &self.kind {
            LayerKind::Conv(c) => Some(&c.window),
            LayerKind::MaxPool(p) => Some(&p.window),
            LayerKind::Dense(_) | LayerKind::Hadamard(_) => None,
        }
    }
}

/// A validated quantized model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub description: Option<String>,
    /// The TOML file the model was read from (for messages and rewriting).
    pub source: PathBuf,
    pub input_length: usize,
    pub input: IntType,
    /// `[input] shape`: the input as an NHWC map of `input_length` elements.
    pub input_shape: Option<MapShape>,
    pub layers: Vec<Layer>,
    /// Real value of one input step (float input = integer * scale), when
    /// the model came from a float one.
    pub input_scale: Option<f64>,
    /// Real value of one step of each output element: the float output the
    /// integer one stands for is `scale[c] * out[c]`.
    pub output_scale: Option<Vec<f64>>,
}

impl Model {
    /// Length of the vector a layer produces.
    pub fn output_length(&self, layer: usize) -> usize {
        match &self.layers[layer].kind {
            LayerKind::Dense(d) => d.out_features,
            LayerKind::Hadamard(_) => self.input_length_of(layer),
            LayerKind::Conv(c) => c.output_map().len(),
            LayerKind::MaxPool(p) => p.output_map().len(),
        }
    }

    /// The map a layer produces: a convolution's or pooling's output map;
    /// `None` for vector layers.
    pub fn output_map(&self, layer: usize) -> Option<MapShape> {
        match &self.layers[layer].kind {
            LayerKind::Conv(c) => Some(c.output_map()),
            LayerKind::MaxPool(p) => Some(p.output_map()),
            LayerKind::Dense(_) | LayerKind::Hadamard(_) => None,
        }
    }

    /// Whether any layer slides a window (convolution or pooling).
    pub fn has_windows(&self) -> bool {
        self.layers.iter().any(|l| l.window().is_some())
    }

    /// Layers that accumulate (dense and convolution), with their dense
    /// computation.
    pub fn accumulating_layers(&self) -> impl Iterator<Item = (usize, &Layer, &Dense)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.accumulating().map(|d| (i, l, d)))
    }

    /// Length of the vector a layer consumes.
    pub fn input_length_of(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_length
        } else {
            self.output_length(layer - 1)
        }
    }

    pub fn dense_layers(&self) -> impl Iterator<Item = (usize, &Layer, &Dense)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_dense().map(|d| (i, l, d)))
    }

    /// Index of the layer named `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_type_ranges() {
        assert_eq!(IntType::signed(4).min(), -8);
        assert_eq!(IntType::signed(4).max(), 7);
        assert_eq!(IntType::unsigned(4).max(), 15);
        assert_eq!(IntType::signed(64).min(), i64::MIN as i128);
        assert_eq!(IntType::unsigned(1).max(), 1);
    }

    #[test]
    fn containing_picks_the_narrowest_type() {
        assert_eq!(IntType::containing(0, 15), IntType::unsigned(4));
        assert_eq!(IntType::containing(0, 16), IntType::unsigned(5));
        assert_eq!(IntType::containing(0, 0), IntType::unsigned(1));
        assert_eq!(IntType::containing(-8, 7), IntType::signed(4));
        assert_eq!(IntType::containing(-9, 7), IntType::signed(5));
        assert_eq!(IntType::containing(-1, 8), IntType::signed(5));
    }

    #[test]
    fn min_signed_bits_matches_definition() {
        assert_eq!(min_signed_bits(0, 0), 1);
        assert_eq!(min_signed_bits(-1, 0), 1);
        assert_eq!(min_signed_bits(0, 1), 2);
        assert_eq!(min_signed_bits(-128, 127), 8);
        assert_eq!(min_signed_bits(-129, 0), 9);
        assert_eq!(min_signed_bits(0, 128), 9);
    }
}
