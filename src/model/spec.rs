//! The on-disk model description: TOML tables as serde types. Unknown keys
//! are rejected everywhere so that a typo never passes silently. The writer
//! serializes the same types, so what it writes is what the reader expects;
//! optional fields that are absent are left out rather than written empty.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    pub length: usize,
    pub bits: u32,
    pub signed: bool,
    /// `[H, W, C]`: the input is an NHWC map of `length = H * W * C`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<usize>>,
    /// The real value of one input step: float input = integer * scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

/// `[output]`: the real value of one step of each element of the model's
/// output, so that outputs can be written as the floats they stand for.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    pub scale: Vec<f64>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub name: String,
    pub in_features: usize,
    pub out_features: usize,
    pub weight_bits: u32,
    /// A `.npy` path (relative to the TOML file) or an inline 2-D array.
    pub weights: toml::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<toml::Value>,
    pub accumulator: AccumulatorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareSpec>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AccumulatorSpec {
    pub bits: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile: Option<TileSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<OverflowSpec>,
    #[serde(default)]
    pub allow_overflow: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum OverflowSpec {
    Wrap,
    Saturate,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TileSpec {
    pub size: usize,
    pub inner_bits: u32,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ActivationSpec {
    pub kind: ActivationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<toml::Value>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActivationKind {
    Thresholds,
    None,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct HardwareSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simd: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<MultiplierSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsSpec>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum WeightsSpec {
    Rom,
    Hardwired,
    Auto,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum MultiplierSpec {
    Lut,
    Dsp,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct HadamardSpec {
    pub name: String,
    pub block: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_bits: Option<u32>,
}

/// A convolution: the dense fields of [`DenseSpec`] with the window instead
/// of `in_features`/`out_features`; weights `[out_channels, kh, kw, in_channels]`.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    pub name: String,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<Vec<usize>>,
    pub weight_bits: u32,
    pub weights: toml::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<toml::Value>,
    pub accumulator: AccumulatorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareSpec>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct MaxPoolSpec {
    pub name: String,
    pub kernel: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Vec<usize>>,
}

/// One `[[layers]]` table as the writer emits it: `kind` selects the layer
/// type. The reader dispatches on `kind` by hand instead, so that its errors
/// can name the layer.
#[derive(Serialize, Debug)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LayerSpec {
    Dense(DenseSpec),
    Hadamard(HadamardSpec),
    Conv(ConvSpec),
    MaxPool(MaxPoolSpec),
}

/// A whole model file as the writer emits it.
#[derive(Serialize, Debug)]
pub struct ModelFile {
    pub model: ModelSection,
    pub input: InputSection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSection>,
    pub layers: Vec<LayerSpec>,
}
