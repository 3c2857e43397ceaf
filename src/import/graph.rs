//! Walking an ONNX graph: constants folded, then the dynamic nodes from the
//! one real input mapped onto dense layers (`Quant` of the input, `Gemm` or
//! `MatMul` with quantized weights, a float or quantized bias by `Add` or
//! `Gemm`, `Relu -> Quant` or `MultiThreshold`), ending in raw accumulators
//! or a quantized output.

use super::ImportError;
use super::eval::{check_scales, evaluate};
use super::proto::{ModelProto, NodeProto, attribute};
use super::quant::QuantSpec;
use super::tensor::{QuantInfo, Tensor, dims, flatten_shape, reshape_target};
use super::thresholds::ActivationFunction;
use crate::model::IntType;
use ndarray::Array2;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// A dense layer read from the graph, before its activation.
#[derive(Clone, Debug)]
pub struct GraphLayer {
    /// `[out, in]` integers of the weight `Quant`.
    pub weights: Array2<i64>,
    pub weight_bits: u32,
    /// The input's step (`s_x`), float32.
    pub input_scale: f64,
    /// Per output channel, the weight's step (`s_w[c]`), float32.
    pub weight_scale: Vec<f64>,
    /// Per output channel, the float32 bias (0 without one).
    pub bias: Vec<f64>,
    /// The graph nodes the layer came from, in order.
    pub nodes: Vec<String>,
    pub activation: Option<GraphActivation>,
}

/// A layer's activation: the per-channel function and the output type.
#[derive(Clone, Debug)]
pub struct GraphActivation {
    pub functions: Vec<ActivationFunction>,
    pub output: IntType,
}

/// What the graph computes, as the import understood it.
#[derive(Clone, Debug)]
pub struct GraphModel {
    pub input_length: usize,
    pub input_type: IntType,
    pub input_scale: f64,
    pub layers: Vec<GraphLayer>,
    /// Per output element, float32: the step of the last layer's output.
    pub output_scale: Vec<f64>,
}

/// The value a dynamic tensor holds.
#[derive(Clone, Debug)]
enum Value {
    /// The float graph input, `len` elements.
    Float { len: usize },
    /// Quantized integers of `ty`, each standing for `int * scale`.
    Ints { len: usize, scale: f64 },
    /// The accumulators of the last layer (`layers.last()`), maybe after Relu.
    Acc { relu: bool },
}

struct Walker<'a> {
    model_dir: &'a Path,
    path: &'a Path,
    constants: HashMap<String, Tensor>,
    values: HashMap<String, Value>,
    layers: Vec<GraphLayer>,
    input: Option<(usize, IntType, f64)>,
}

/// Reads the graph of `proto` into layers.
pub fn read_graph(proto: &ModelProto, path: &Path) -> Result<GraphModel, ImportError> {
    let model_dir = path.parent().unwrap_or(Path::new("."));
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| ImportError::file(path, "holds no graph"))?;
    let mut walker = Walker {
        model_dir,
        path,
        constants: HashMap::new(),
        values: HashMap::new(),
        layers: Vec::new(),
        input: None,
    };
    for init in &graph.initializer {
        let tensor = Tensor::from_proto(init, model_dir)
            .map_err(|e| ImportError::file(path, format!("initializer `{}`: {e}", init.name())))?;
        walker.constants.insert(init.name().to_string(), tensor);
    }
    let real_inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !walker.constants.contains_key(i.name()))
        .collect();
    let [input] = real_inputs.as_slice() else {
        let names: Vec<String> = real_inputs
            .iter()
            .map(|i| format!("`{}`", i.name()))
            .collect();
        return Err(ImportError::file(
            path,
            format!(
                "the graph has {} real inputs ({}); exactly one is supported (inputs with an initializer are constants)",
                real_inputs.len(),
                names.join(", ")
            ),
        ));
    };
    let len = input_length(input)
        .map_err(|e| ImportError::file(path, format!("graph input `{}`: {e}", input.name())))?;
    walker
        .values
        .insert(input.name().to_string(), Value::Float { len });
    for node in topological_order(&graph.node, &walker, path)? {
        walker.node(node)?;
    }
    walker.finish(graph)
}

/// `[N]`, `[1, N]` or `[batch, N]` with a symbolic batch: `N`.
fn input_length(input: &super::proto::onnx::ValueInfoProto) -> Result<usize, String> {
    use super::proto::onnx::{
        tensor_shape_proto::dimension::Value as Dim, type_proto::Value as Type,
    };
    let Some(Type::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err("is not a tensor".into());
    };
    let shape = tensor.shape.as_ref().ok_or("has no shape")?;
    let known: Vec<Option<i64>> = shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(Dim::DimValue(v)) => Some(*v),
            _ => None,
        })
        .collect();
    let last = match known.as_slice() {
        [Some(n)] | [_, Some(n)] => *n,
        _ => return Err(format!("shape {known:?} is not [N] or [batch, N]")),
    };
    let len = dims(&[last])?[0];
    crate::model::MAX_VECTOR_LENGTH
        .checked_sub(len)
        .filter(|_| len > 0)
        .map(|_| len)
        .ok_or_else(|| {
            format!(
                "length {len} is outside 1..={}",
                crate::model::MAX_VECTOR_LENGTH
            )
        })
}

/// The nodes in an order where every input is computed first; a name no
/// node, initializer or input provides, and cycles, are refused.
fn topological_order<'n>(
    nodes: &'n [NodeProto],
    walker: &Walker,
    path: &Path,
) -> Result<Vec<&'n NodeProto>, ImportError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(output, index).is_some() {
                return Err(ImportError::node(
                    path,
                    node,
                    format!("output `{output}` is produced twice"),
                ));
            }
        }
    }
    let mut waiting = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            match producer.get(input.as_str()) {
                Some(&from) => {
                    waiting[index] += 1;
                    consumers[from].push(index);
                }
                None if walker.constants.contains_key(input)
                    || walker.values.contains_key(input) => {}
                None => {
                    return Err(ImportError::node(
                        path,
                        node,
                        format!(
                            "input `{input}` is missing: no initializer, graph input or node provides it"
                        ),
                    ));
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..nodes.len())
        .filter(|&i| waiting[i] == 0)
        .rev()
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(index) = ready.pop() {
        order.push(&nodes[index]);
        for &next in consumers[index].iter().rev() {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    if order.len() < nodes.len() {
        let stuck = (0..nodes.len())
            .find(|&i| waiting[i] > 0)
            .expect("a waiting node");
        return Err(ImportError::node(
            path,
            &nodes[stuck],
            "is part of a cycle in the graph",
        ));
    }
    Ok(order)
}

impl Walker<'_> {
    fn error(&self, node: &NodeProto, message: impl fmt::Display) -> ImportError {
        ImportError::node(self.path, node, message)
    }

    fn constant(&self, node: &NodeProto, index: usize) -> Result<&Tensor, ImportError> {
        let name = node.input.get(index).map(String::as_str).unwrap_or("");
        self.constants.get(name).ok_or_else(|| {
            self.error(node, format!("input {index} (`{name}`) must be a constant (an initializer or computed from them)"))
        })
    }

    fn node(&mut self, node: &NodeProto) -> Result<(), ImportError> {
        let all_constant = node
            .input
            .iter()
            .all(|i| i.is_empty() || self.constants.contains_key(i));
        if all_constant {
            let inputs: Vec<Option<&Tensor>> =
                node.input.iter().map(|i| self.constants.get(i)).collect();
            let value = evaluate(node, &inputs, self.model_dir).map_err(|e| self.error(node, e))?;
            let output = node
                .output
                .first()
                .ok_or_else(|| self.error(node, "has no output"))?;
            self.constants.insert(output.clone(), value);
            return Ok(());
        }
        let value = self.dynamic(node)?;
        let output = node
            .output
            .first()
            .ok_or_else(|| self.error(node, "has no output"))?;
        self.values.insert(output.clone(), value);
        Ok(())
    }

    /// The one dynamic input of `node`, at position `index`.
    fn value(&self, node: &NodeProto, index: usize) -> Result<Value, ImportError> {
        let name = node.input.get(index).map(String::as_str).unwrap_or("");
        self.values.get(name).cloned().ok_or_else(|| {
            self.error(
                node,
                format!("input {index} (`{name}`) must be the data path"),
            )
        })
    }

    fn dynamic(&mut self, node: &NodeProto) -> Result<Value, ImportError> {
        match node.op_type() {
            "Identity" => self.value(node, 0),
            "Reshape" | "Flatten" => {
                let value = self.value(node, 0)?;
                let len = self.length(node, &value)?;
                let shape = if node.op_type() == "Reshape" {
                    let target = self.constant(node, 1)?.as_ints();
                    reshape_target(&[1, len], &target)
                } else {
                    let axis = attribute(node, "axis").map_or(1, |a| a.i());
                    flatten_shape(&[1, len], axis)
                }
                .map_err(|e| self.error(node, e))?;
                if shape.iter().filter(|&&d| d != 1).count() > 1
                    || shape.iter().product::<usize>() != len
                {
                    return Err(self.error(node, format!("reshapes the {len}-element vector to {shape:?}: only a vector is supported")));
                }
                Ok(value)
            }
            "Quant" => self.quant(node),
            "Gemm" | "MatMul" => self.matmul(node),
            "Add" => self.add(node),
            "Relu" => match self.value(node, 0)? {
                Value::Acc { relu: false } => {
                    self.last_layer().nodes.push(node.name().to_string());
                    Ok(Value::Acc { relu: true })
                }
                _ => Err(self.error(
                    node,
                    "Relu is supported only on a layer's accumulators (before its Quant)",
                )),
            },
            "MultiThreshold" => self.multithreshold(node),
            other => Err(self.error(
                node,
                format!("op `{other}` on the data path is not supported"),
            )),
        }
    }

    fn last_layer(&mut self) -> &mut GraphLayer {
        self.layers
            .last_mut()
            .expect("an accumulator value comes from a layer")
    }

    fn length(&self, node: &NodeProto, value: &Value) -> Result<usize, ImportError> {
        match value {
            Value::Float { len } | Value::Ints { len, .. } => Ok(*len),
            Value::Acc { .. } => self
                .layers
                .last()
                .map(|l| l.weights.nrows())
                .ok_or_else(|| self.error(node, "no layer")),
        }
    }

    /// Scalar bit width and zero point, and a scale that is one value.
    fn quant_inputs(&self, node: &NodeProto) -> Result<(QuantSpec, f64), ImportError> {
        let scale = self.constant(node, 1)?;
        let zero_point = self.constant(node, 2)?;
        let bits = self.constant(node, 3)?;
        let bits = bits
            .single()
            .ok_or_else(|| self.error(node, "the bit width must be one value"))?;
        let spec = QuantSpec::of_node(node, bits).map_err(|e| self.error(node, e))?;
        check_scales(scale).map_err(|e| self.error(node, e))?;
        if zero_point.data.iter().any(|&z| z != 0.0) {
            return Err(self.error(
                node,
                "a zero point other than 0 cannot be mapped to the integer model",
            ));
        }
        let first = scale.data[0];
        if scale.data.iter().any(|&s| s != first) {
            return Err(self.error(node, "an activation scale that differs per element cannot be mapped (one scale per tensor is supported)"));
        }
        Ok((spec, first))
    }

    fn quant(&mut self, node: &NodeProto) -> Result<Value, ImportError> {
        let value = self.value(node, 0)?;
        let (spec, scale) = self.quant_inputs(node)?;
        let ty = IntType {
            bits: spec.bits.max(if spec.signed { 2 } else { 1 }),
            signed: spec.signed,
        };
        match value {
            Value::Float { len } => {
                if self.input.is_some() || !self.layers.is_empty() {
                    return Err(self.error(node, "a second input quantizer"));
                }
                self.input = Some((len, ty, scale));
                Ok(Value::Ints { len, scale })
            }
            Value::Acc { relu } => {
                let out = self.last_layer();
                if out.activation.is_some() {
                    return Err(self.error(node, "the layer is already quantized"));
                }
                let channels = out.weights.nrows();
                out.nodes.push(node.name().to_string());
                out.activation = Some(GraphActivation {
                    functions: vec![ActivationFunction::Quant { relu, spec, scale }; channels],
                    output: ty,
                });
                Ok(Value::Ints {
                    len: channels,
                    scale,
                })
            }
            Value::Ints { .. } => Err(self.error(
                node,
                "a Quant of values that are already quantized is not supported",
            )),
        }
    }

    fn matmul(&mut self, node: &NodeProto) -> Result<Value, ImportError> {
        let Value::Ints { len, scale, .. } = self.value(node, 0)? else {
            return Err(self.error(
                node,
                "the data input must be quantized integers (a Quant before it)",
            ));
        };
        let weight = self.constant(node, 1)?.clone();
        let mut transposed = false;
        if node.op_type() == "Gemm" {
            let int = |name: &str| attribute(node, name).map_or(0, |a| a.i());
            let float = |name: &str| attribute(node, name).map_or(1.0, |a| a.f());
            if int("transA") != 0 || float("alpha") != 1.0 || float("beta") != 1.0 {
                return Err(self.error(
                    node,
                    "only Gemm with transA = 0, alpha = 1 and beta = 1 is supported",
                ));
            }
            transposed = int("transB") != 0;
        }
        if weight.shape.len() != 2 {
            return Err(self.error(
                node,
                format!("weight shape {:?} is not a matrix", weight.shape),
            ));
        }
        let (rows, cols) = (weight.shape[0], weight.shape[1]);
        let (outs, ins) = if transposed {
            (rows, cols)
        } else {
            (cols, rows)
        };
        if ins != len {
            return Err(self.error(
                node,
                format!(
                    "weight shape {:?} does not take the {len}-element input",
                    weight.shape
                ),
            ));
        }
        let Some(QuantInfo {
            ints,
            scale: weight_scales,
            bits,
            signed,
        }) = weight.quant.clone()
        else {
            return Err(self.error(
                node,
                "the weight is not the output of a Quant (with zero point 0) of constants",
            ));
        };
        let at = |o: usize, i: usize| {
            if transposed {
                o * cols + i
            } else {
                i * cols + o
            }
        };
        let weights = Array2::from_shape_fn((outs, ins), |(o, i)| ints[at(o, i)]);
        let mut per_channel = Vec::with_capacity(outs);
        for o in 0..outs {
            let s = weight_scales[at(o, 0)];
            if (0..ins).any(|i| weight_scales[at(o, i)] != s) {
                return Err(self.error(node, format!("the weight scale of output channel {o} differs along the input: only per-tensor or per-output-channel scales can be mapped")));
            }
            per_channel.push(s);
        }
        let weight_bits = if signed { bits.max(2) } else { bits + 1 };
        let mut layer = GraphLayer {
            weights,
            weight_bits,
            input_scale: scale,
            weight_scale: per_channel,
            bias: vec![0.0; outs],
            nodes: vec![node.name().to_string()],
            activation: None,
        };
        if node.op_type() == "Gemm" && node.input.get(2).is_some_and(|n| !n.is_empty()) {
            let bias = self.constant(node, 2)?.clone();
            add_bias(&mut layer, &bias).map_err(|e| self.error(node, e))?;
        }
        self.layers.push(layer);
        Ok(Value::Acc { relu: false })
    }

    fn add(&mut self, node: &NodeProto) -> Result<Value, ImportError> {
        let (value_index, bias_index) = if self
            .values
            .contains_key(node.input.first().map(String::as_str).unwrap_or(""))
        {
            (0, 1)
        } else {
            (1, 0)
        };
        let Value::Acc { relu: false } = self.value(node, value_index)? else {
            return Err(self.error(
                node,
                "Add is supported only as the bias of a layer's accumulators",
            ));
        };
        let bias = self.constant(node, bias_index)?.clone();
        let layer = self.last_layer();
        add_bias(layer, &bias).map_err(|e| ImportError::node(self.path, node, e))?;
        self.last_layer().nodes.push(node.name().to_string());
        Ok(Value::Acc { relu: false })
    }

    fn multithreshold(&mut self, node: &NodeProto) -> Result<Value, ImportError> {
        let Value::Acc { relu: false } = self.value(node, 0)? else {
            return Err(self.error(
                node,
                "MultiThreshold is supported only on a layer's accumulators",
            ));
        };
        let thresholds = self.constant(node, 1)?.clone();
        let out_scale = attribute(node, "out_scale").map_or(1.0, |a| f64::from(a.f()));
        let out_bias = attribute(node, "out_bias").map_or(0.0, |a| f64::from(a.f()));
        let dtype = attribute(node, "out_dtype")
            .map(|a| String::from_utf8_lossy(a.s()).to_string())
            .ok_or_else(|| self.error(node, "attribute `out_dtype` is missing"))?;
        let ty = parse_dtype(&dtype).ok_or_else(|| {
            self.error(
                node,
                format!("attribute `out_dtype` = \"{dtype}\" is not INTn, UINTn or BIPOLAR"),
            )
        })?;
        if !(out_scale.is_finite() && out_scale > 0.0) {
            return Err(self.error(
                node,
                format!("attribute `out_scale` = {out_scale} is not a finite number above 0"),
            ));
        }
        let base = out_bias / out_scale;
        if base != ty.min() as f64 {
            return Err(self.error(
                node,
                format!(
                    "out_bias / out_scale = {base} is not the lowest value {} of {dtype}",
                    ty.min()
                ),
            ));
        }
        let channels = self.last_layer().weights.nrows();
        let [rows, steps] = thresholds.shape[..] else {
            return Err(self.error(
                node,
                format!(
                    "thresholds of shape {:?}, expected [channels, steps]",
                    thresholds.shape
                ),
            ));
        };
        if (rows != channels && rows != 1) || steps as i128 > ty.max() - ty.min() {
            return Err(self.error(
                node,
                format!(
                    "thresholds of shape {:?} do not fit {channels} channels of {dtype}",
                    thresholds.shape
                ),
            ));
        }
        let functions = (0..channels)
            .map(|c| {
                let row = if rows == 1 { 0 } else { c };
                ActivationFunction::MultiThreshold {
                    thresholds: thresholds.data[row * steps..(row + 1) * steps].to_vec(),
                    base: ty.min() as i64,
                }
            })
            .collect();
        let layer = self.last_layer();
        layer.nodes.push(node.name().to_string());
        layer.activation = Some(GraphActivation {
            functions,
            output: ty,
        });
        Ok(Value::Ints {
            len: channels,
            scale: out_scale,
        })
    }

    fn finish(self, graph: &super::proto::onnx::GraphProto) -> Result<GraphModel, ImportError> {
        let [output] = graph.output.as_slice() else {
            return Err(ImportError::file(
                self.path,
                format!(
                    "the graph has {} outputs; exactly one is supported",
                    graph.output.len()
                ),
            ));
        };
        let Some((input_length, input_type, input_scale)) = self.input else {
            return Err(ImportError::file(
                self.path,
                "no Quant of the graph input: the input must be quantized",
            ));
        };
        if self.layers.is_empty() {
            return Err(ImportError::file(
                self.path,
                "the graph has no Gemm or MatMul layer",
            ));
        }
        let last = self.layers.last().expect("a layer");
        let output_scale = match self.values.get(output.name()) {
            Some(Value::Acc { relu: false }) => last
                .weight_scale
                .iter()
                .map(|&w| f64::from((last.input_scale as f32) * (w as f32)))
                .collect(),
            Some(Value::Ints { len, scale, .. }) if last.activation.is_some() => vec![*scale; *len],
            _ => {
                return Err(ImportError::file(
                    self.path,
                    format!(
                        "graph output `{}` is not the last layer's accumulators or its quantized output",
                        output.name()
                    ),
                ));
            }
        };
        Ok(GraphModel {
            input_length,
            input_type,
            input_scale,
            layers: self.layers,
            output_scale,
        })
    }
}

/// Adds a constant `[out]` (or `[1, out]`, or one value) to a layer's bias.
fn add_bias(layer: &mut GraphLayer, bias: &Tensor) -> Result<(), String> {
    let outs = layer.weights.nrows();
    let values: Vec<f64> = match bias.len() {
        1 => vec![bias.data[0]; outs],
        n if n == outs && bias.shape.iter().filter(|&&d| d != 1).count() <= 1 => bias.data.clone(),
        _ => {
            return Err(format!(
                "bias of shape {:?} does not match {outs} output channels",
                bias.shape
            ));
        }
    };
    for (b, v) in layer.bias.iter_mut().zip(values) {
        *b = f64::from((*b as f32) + (v as f32));
    }
    Ok(())
}

/// `INT4`, `UINT4`, `BIPOLAR` (FINN's data type names).
fn parse_dtype(text: &str) -> Option<IntType> {
    let upper = text.to_ascii_uppercase();
    if upper == "BIPOLAR" {
        return None;
    }
    let (signed, bits) = match upper.strip_prefix("UINT") {
        Some(bits) => (false, bits),
        None => (true, upper.strip_prefix("INT")?),
    };
    let bits: u32 = bits.parse().ok()?;
    let ok = if signed {
        (2..=16).contains(&bits)
    } else {
        (1..=16).contains(&bits)
    };
    ok.then_some(IntType { bits, signed })
}
