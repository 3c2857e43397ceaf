//! The on-disk model description: TOML tables as serde types. Unknown keys
//! are rejected everywhere so that a typo never passes silently.

use serde::Deserialize;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    pub length: usize,
    pub bits: u32,
    pub signed: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub name: String,
    pub in_features: usize,
    pub out_features: usize,
    pub weight_bits: u32,
    /// A `.npy` path (relative to the TOML file) or an inline 2-D array.
    pub weights: toml::Value,
    #[serde(default)]
    pub bias: Option<toml::Value>,
    pub accumulator: AccumulatorSpec,
    #[serde(default)]
    pub activation: Option<ActivationSpec>,
    #[serde(default)]
    pub hardware: Option<HardwareSpec>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AccumulatorSpec {
    pub bits: u32,
    #[serde(default)]
    pub tile: Option<TileSpec>,
    #[serde(default)]
    pub overflow: Option<OverflowSpec>,
    #[serde(default)]
    pub allow_overflow: bool,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum OverflowSpec {
    Wrap,
    Saturate,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TileSpec {
    pub size: usize,
    pub inner_bits: u32,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ActivationSpec {
    pub kind: ActivationKind,
    #[serde(default)]
    pub bits: Option<u32>,
    #[serde(default)]
    pub signed: Option<bool>,
    #[serde(default)]
    pub thresholds: Option<toml::Value>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActivationKind {
    Thresholds,
    None,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct HardwareSpec {
    #[serde(default)]
    pub pe: Option<usize>,
    #[serde(default)]
    pub simd: Option<usize>,
    #[serde(default)]
    pub multiplier: Option<MultiplierSpec>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum MultiplierSpec {
    Lut,
    Dsp,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct HadamardSpec {
    pub name: String,
    pub block: usize,
    #[serde(default)]
    pub shift: Option<u32>,
    #[serde(default)]
    pub out_bits: Option<u32>,
}
