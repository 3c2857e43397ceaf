//! `import`: QONNX graphs (as Brevitas exports them, from its TorchScript and
//! its dynamo exporter) to the integer model. Owns the ONNX reading
//! (`proto`), the constant folding (`eval`, `tensor`, `quant`), the mapping
//! of the graph onto dense layers (`graph`) and the thresholds that reproduce
//! the graph's float32 activations (`thresholds`).

mod eval;
mod graph;
pub mod proto;
mod quant;
mod tensor;
mod thresholds;

use crate::bounds::{ValueRange, WidthVerdict, analyze, dense_bounds};
use crate::model::{
    ACCUMULATOR_BITS, Accumulator, Activation, Dense, HardwareHints, Layer, LayerKind, Model,
};
use crate::quantize::largest_power_of_two_dividing;
use graph::{GraphLayer, GraphModel, read_graph};
use ndarray::{Array1, Array2};
use proto::NodeProto;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
pub use thresholds::Ambiguity;
use thresholds::{ChannelFunction, derive};

/// Most accumulator values verified over all channels of all layers.
pub const MAX_VERIFIED_VALUES: i128 = 1 << 28;

/// Why an import failed: bad or unsupported input (exit 2), or declared
/// widths that the exported integers overflow (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Unproven(String),
}

impl ImportError {
    pub fn file(path: &Path, message: impl fmt::Display) -> Self {
        ImportError::Input(format!("{}: {message}", path.display()))
    }

    pub fn node(path: &Path, node: &NodeProto, message: impl fmt::Display) -> Self {
        ImportError::Input(format!(
            "{}: node `{}` (op `{}`): {message}",
            path.display(),
            node.name(),
            node.op_type()
        ))
    }
}

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub name: String,
    /// Every layer's accumulator width; `None`: each layer's proven minimum.
    pub acc_bits: Option<u32>,
    pub acc_bits_per_layer: Vec<(String, u32)>,
    pub max_pe: usize,
    pub max_simd: usize,
}

/// How one layer was mapped.
#[derive(Clone, Debug)]
pub struct LayerReport {
    pub name: String,
    pub nodes: Vec<String>,
    pub min_bits: u32,
    pub declared_bits: u32,
    pub range: ValueRange,
    /// Channels whose bias is an integer number of accumulator steps, and
    /// channels whose bias is folded into the thresholds.
    pub integer_bias: usize,
    pub folded_bias: usize,
    /// `(channel, value)` where float32 rounding decides the output.
    pub ambiguous: Vec<(usize, Ambiguity)>,
}

/// The imported model and what the import found.
#[derive(Clone, Debug)]
pub struct Imported {
    pub model: Model,
    pub layers: Vec<LayerReport>,
}

/// Imports the QONNX model at `path`.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Imported, ImportError> {
    let proto = proto::read_model(path)?;
    let graph = read_graph(&proto, path)?;
    build(path, &graph, options)
}

fn build(
    path: &Path,
    graph: &GraphModel,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut per_layer: HashMap<&str, u32> = HashMap::new();
    for (name, bits) in &options.acc_bits_per_layer {
        per_layer.insert(name.as_str(), *bits);
    }
    let names: Vec<String> = (0..graph.layers.len()).map(|i| format!("fc{i}")).collect();
    if let Some(unknown) = per_layer.keys().find(|n| !names.iter().any(|m| m == *n)) {
        return Err(ImportError::Input(format!(
            "--acc-bits-per-layer: no layer `{unknown}` (the imported layers are {})",
            names.join(", ")
        )));
    }
    for bits in options.acc_bits.iter().chain(per_layer.values()) {
        if !ACCUMULATOR_BITS.contains(bits) {
            return Err(ImportError::Input(format!(
                "--acc-bits: {bits} is outside {}..={}",
                ACCUMULATOR_BITS.start(),
                ACCUMULATOR_BITS.end()
            )));
        }
    }
    let mut model = Model {
        name: options.name.clone(),
        description: Some(format!(
            "imported from the QONNX graph `{}`",
            path.display()
        )),
        source: PathBuf::new(),
        input_length: graph.input_length,
        input: graph.input_type,
        input_shape: None,
        layers: Vec::new(),
        input_scale: Some(graph.input_scale),
        output_scale: Some(graph.output_scale.clone()),
    };
    let mut reports = Vec::new();
    let mut verified = 0i128;
    let mut inputs = vec![ValueRange::of_type(graph.input_type); graph.input_length];
    for (index, layer) in graph.layers.iter().enumerate() {
        let name = &names[index];
        let declared = per_layer.get(name.as_str()).copied().or(options.acc_bits);
        let (dense, report) = dense_layer(
            path,
            name,
            layer,
            &inputs,
            LayerRole {
                declared,
                last: index + 1 == graph.layers.len(),
            },
            options,
            &mut verified,
        )?;
        inputs = match &dense.activation {
            Activation::Thresholds { output, .. } => {
                vec![ValueRange::of_type(*output); dense.out_features]
            }
            Activation::None => Vec::new(),
        };
        model.layers.push(Layer {
            name: name.clone(),
            kind: LayerKind::Dense(Box::new(dense)),
        });
        reports.push(report);
    }
    prove(&model)?;
    Ok(Imported {
        model,
        layers: reports,
    })
}

/// What the user declared for a layer, and whether it is the last one
/// (raw accumulator outputs).
struct LayerRole {
    declared: Option<u32>,
    last: bool,
}

/// One dense layer: integer bias where the float bias is a whole number of
/// accumulator steps, thresholds from the graph's activation, the width.
fn dense_layer(
    path: &Path,
    name: &str,
    layer: &GraphLayer,
    inputs: &[ValueRange],
    LayerRole { declared, last }: LayerRole,
    options: &ImportOptions,
    verified: &mut i128,
) -> Result<(Dense, LayerReport), ImportError> {
    let layer_error = |message: String| {
        ImportError::Input(format!(
            "{}: layer `{name}` (nodes {}): {message}",
            path.display(),
            layer.nodes.join(", ")
        ))
    };
    let (outs, ins) = layer.weights.dim();
    let steps: Vec<f64> = layer
        .weight_scale
        .iter()
        .map(|&w| f64::from((layer.input_scale as f32) * (w as f32)))
        .collect();
    let mut integer_bias = vec![0i64; outs];
    let mut residual = vec![0f64; outs];
    for c in 0..outs {
        match whole_steps(layer.bias[c], steps[c]) {
            Some(k) => integer_bias[c] = k,
            None => residual[c] = layer.bias[c],
        }
    }
    let folded = residual.iter().filter(|&&r| r != 0.0).count();
    if last && layer.activation.is_none() && folded > 0 {
        let c = residual.iter().position(|&r| r != 0.0).expect("a residual");
        return Err(layer_error(format!(
            "the bias of output channel {c} ({}) is not a whole number of accumulator steps ({}), and a layer with raw accumulator outputs has no thresholds to fold it into",
            layer.bias[c], steps[c]
        )));
    }
    let has_bias = integer_bias.iter().any(|&b| b != 0);
    let mut dense = Dense {
        in_features: ins,
        out_features: outs,
        weight_bits: layer.weight_bits,
        weights: layer.weights.clone(),
        bias: has_bias.then(|| Array1::from(integer_bias.clone())),
        accumulator: Accumulator {
            bits: *ACCUMULATOR_BITS.end(),
            tile: None,
            overflow: Default::default(),
            allow_overflow: false,
        },
        activation: Activation::None,
        hardware: HardwareHints {
            pe: Some(largest_power_of_two_dividing(outs, options.max_pe)),
            simd: Some(largest_power_of_two_dividing(ins, options.max_simd)),
            ..HardwareHints::default()
        },
    };
    if inputs.len() != ins {
        return Err(layer_error(format!(
            "takes {ins} inputs but receives {}",
            inputs.len()
        )));
    }
    let bounds = dense_bounds(&dense, inputs);
    if bounds.min_bits > *ACCUMULATOR_BITS.end() {
        return Err(layer_error(format!(
            "the accumulator needs {} bits, more than {}",
            bounds.min_bits,
            ACCUMULATOR_BITS.end()
        )));
    }
    let mut ambiguous = Vec::new();
    if let Some(activation) = &layer.activation {
        // Every accumulator value is checked: bound the work a graph can ask for.
        *verified += bounds
            .channels
            .iter()
            .map(|c| c.hi - c.lo + 1)
            .sum::<i128>();
        if *verified > MAX_VERIFIED_VALUES {
            return Err(layer_error(format!(
                "the thresholded layers have more than {MAX_VERIFIED_VALUES} accumulator values to verify"
            )));
        }
        let bits = activation.output.bits;
        let base = activation.output.min() as i64;
        let mut rows = Vec::with_capacity(outs);
        for (c, function) in activation.functions.iter().enumerate() {
            let channel = ChannelFunction {
                step: steps[c],
                exact_step: layer.input_scale * layer.weight_scale[c],
                residual_bias: residual[c],
                activation: function.clone(),
            };
            let range = &bounds.channels[c];
            let found = derive(&channel, range.lo as i64, range.hi as i64, base, bits)
                .map_err(|e| layer_error(format!("output channel {c}: {e}")))?;
            ambiguous.extend(found.ambiguous.into_iter().map(|a| (c, a)));
            rows.push(found.thresholds);
        }
        let width = rows.first().map_or(0, Vec::len);
        let thresholds = Array2::from_shape_fn((outs, width), |(c, k)| rows[c][k]);
        dense.activation = Activation::Thresholds {
            output: activation.output,
            thresholds,
        };
    }
    dense.accumulator.bits = declared.unwrap_or(bounds.min_bits);
    let report = LayerReport {
        name: name.to_string(),
        nodes: layer.nodes.clone(),
        min_bits: bounds.min_bits,
        declared_bits: dense.accumulator.bits,
        range: bounds.range,
        integer_bias: integer_bias.iter().filter(|&&b| b != 0).count(),
        folded_bias: folded,
        ambiguous,
    };
    Ok((dense, report))
}

/// `bias / step` when it is a whole number `k` whose float32 product
/// `k * step` is the bias exactly.
fn whole_steps(bias: f64, step: f64) -> Option<i64> {
    let k = (bias / step).round();
    (k.abs() < 2f64.powi(31) && f64::from((k as f32) * (step as f32)) == bias).then_some(k as i64)
}

/// Every declared width must hold the exported integers: the analysis of
/// `check`, and its layer and channel when one does not.
fn prove(model: &Model) -> Result<(), ImportError> {
    let bounds = analyze(model);
    for layer in &bounds.layers {
        let Some(dense) = &layer.dense else { continue };
        if dense.verdict() == WidthVerdict::Proven {
            continue;
        }
        // The widest need names the width to declare.
        let channel = &dense.channels[dense.worst_channel];
        let overflowing = dense
            .channels
            .iter()
            .filter(|c| c.min_bits > dense.declared_bits)
            .count();
        return Err(ImportError::Unproven(format!(
            "layer {} (`{}`): channel {}: accumulator range [{}, {}] of the exported integers needs {} bits, declared {} ({overflowing} of {} channels overflow)",
            layer.index,
            layer.name,
            channel.channel,
            channel.lo,
            channel.hi,
            channel.min_bits,
            dense.declared_bits,
            dense.channels.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
