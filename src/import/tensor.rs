//! Constant tensors of a graph and the ops that compute them at import:
//! every value is held as `f64`, and a float32 tensor's values are rounded to
//! float32 after each op, which for `+ - * /` gives exactly float32
//! arithmetic (float64 has more than twice float32's precision, so the double
//! rounding is exact). Integer tensors (shapes, axes) are `i64` values held
//! exactly.

use super::proto::{MAX_TENSOR_ELEMENTS, TensorProto, external_bytes, onnx};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Float32,
    Float64,
    Int,
}

/// A tensor computed from initializers. `quant` is present when the values
/// came out of a `Quant` (or `BipolarQuant`) node and shape ops since: the
/// integers and the scale behind every element.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    pub dtype: DType,
    pub quant: Option<QuantInfo>,
}

/// Integers and per-element scales of a quantized constant (value = int * scale).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantInfo {
    pub ints: Vec<i64>,
    pub scale: Vec<f64>,
    pub bits: u32,
    pub signed: bool,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f64>, dtype: DType) -> Self {
        let mut tensor = Tensor {
            shape,
            data,
            dtype,
            quant: None,
        };
        tensor.round();
        tensor
    }

    pub fn scalar(value: f64, dtype: DType) -> Self {
        Tensor::new(Vec::new(), vec![value], dtype)
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Rounds every value to the tensor's type: float32 values to float32,
    /// integers toward zero (as a cast does).
    fn round(&mut self) {
        match self.dtype {
            DType::Float32 => self.data.iter_mut().for_each(|v| *v = f64::from(*v as f32)),
            DType::Int => self.data.iter_mut().for_each(|v| *v = v.trunc()),
            DType::Float64 => {}
        }
    }

    /// The one value of a tensor with one element.
    pub fn single(&self) -> Option<f64> {
        (self.data.len() == 1).then(|| self.data[0])
    }

    /// Reads an initializer (or a `Constant`'s value).
    pub fn from_proto(tensor: &TensorProto, model_dir: &Path) -> Result<Tensor, String> {
        let shape = dims(&tensor.dims)?;
        let count: usize = shape.iter().product();
        let data_type = onnx::tensor_proto::DataType::try_from(tensor.data_type())
            .map_err(|_| format!("unknown data type {}", tensor.data_type()))?;
        use onnx::tensor_proto::DataType as T;
        let (dtype, width) = match data_type {
            T::Float => (DType::Float32, 4),
            T::Double => (DType::Float64, 8),
            T::Int64 => (DType::Int, 8),
            T::Int32 => (DType::Int, 4),
            T::Int8 => (DType::Int, 1),
            T::Uint8 => (DType::Int, 1),
            T::Bool => (DType::Int, 1),
            other => {
                return Err(format!(
                    "data type {} is not supported",
                    other.as_str_name()
                ));
            }
        };
        let external = tensor.data_location() == onnx::tensor_proto::DataLocation::External
            || !tensor.external_data.is_empty();
        let raw = if external {
            Some(external_bytes(tensor, model_dir, count * width)?)
        } else {
            tensor.raw_data.clone()
        };
        let data: Vec<f64> = match raw {
            Some(bytes) => {
                if bytes.len() != count * width {
                    return Err(format!(
                        "holds {} bytes of data, its shape {shape:?} needs {}",
                        bytes.len(),
                        count * width
                    ));
                }
                bytes
                    .chunks_exact(width)
                    .map(|b| decode(data_type, b))
                    .collect()
            }
            None => {
                let data: Vec<f64> = match data_type {
                    T::Float => tensor.float_data.iter().map(|&v| f64::from(v)).collect(),
                    T::Double => tensor.double_data.clone(),
                    T::Int64 => tensor.int64_data.iter().map(|&v| v as f64).collect(),
                    _ => tensor.int32_data.iter().map(|&v| f64::from(v)).collect(),
                };
                if data.len() != count {
                    return Err(format!(
                        "holds {} values, its shape {shape:?} needs {count}",
                        data.len()
                    ));
                }
                data
            }
        };
        Ok(Tensor::new(shape, data, dtype))
    }

    /// Integer values (shapes, axes, permutations).
    pub fn as_ints(&self) -> Vec<i64> {
        self.data.iter().map(|&v| v as i64).collect()
    }
}

fn decode(data_type: onnx::tensor_proto::DataType, b: &[u8]) -> f64 {
    use onnx::tensor_proto::DataType as T;
    match data_type {
        T::Float => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        T::Double => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        T::Int64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
        T::Int32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        T::Int8 => f64::from(b[0] as i8),
        _ => f64::from(b[0]),
    }
}

/// A shape from ONNX dims: no negative dims, bounded element count.
pub fn dims(dims: &[i64]) -> Result<Vec<usize>, String> {
    let mut count: usize = 1;
    let mut shape = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = usize::try_from(d).map_err(|_| format!("negative dimension {d}"))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| {
                format!("shape {dims:?} has more than {MAX_TENSOR_ELEMENTS} elements")
            })?;
        shape.push(d);
    }
    Ok(shape)
}

/// The broadcast shape of two shapes (numpy rules).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let mut shape = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        shape[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    Ok(shape)
}

/// `tensor`'s values broadcast to `shape` (which it broadcasts to).
pub fn expand(tensor: &Tensor, shape: &[usize]) -> Vec<f64> {
    let count: usize = shape.iter().product();
    let rank = shape.len();
    let offset = rank - tensor.shape.len();
    let mut strides = vec![0usize; rank];
    let mut stride = 1;
    for i in (0..tensor.shape.len()).rev() {
        strides[i + offset] = if tensor.shape[i] == 1 { 0 } else { stride };
        stride *= tensor.shape[i];
    }
    let mut out = Vec::with_capacity(count);
    let mut index = vec![0usize; rank];
    for _ in 0..count {
        let at: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out.push(tensor.data[at]);
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// The wider of two types: float64 over float32 over integers.
fn result_type(a: DType, b: DType) -> DType {
    match (a, b) {
        (DType::Float64, _) | (_, DType::Float64) => DType::Float64,
        (DType::Float32, _) | (_, DType::Float32) => DType::Float32,
        _ => DType::Int,
    }
}

/// An elementwise binary op with broadcasting.
pub fn binary(a: &Tensor, b: &Tensor, op: impl Fn(f64, f64) -> f64) -> Result<Tensor, String> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    let (x, y) = (expand(a, &shape), expand(b, &shape));
    let data = x.iter().zip(&y).map(|(&p, &q)| op(p, q)).collect();
    Ok(Tensor::new(shape, data, result_type(a.dtype, b.dtype)))
}

/// An elementwise unary op on a float tensor.
pub fn unary(a: &Tensor, op: impl Fn(f64) -> f64) -> Tensor {
    let dtype = if a.dtype == DType::Int {
        DType::Float32
    } else {
        a.dtype
    };
    Tensor::new(
        a.shape.clone(),
        a.data.iter().map(|&v| op(v)).collect(),
        dtype,
    )
}

/// Permutes the axes; `perm` defaults to reversing them.
pub fn transpose(a: &Tensor, perm: Option<&[i64]>) -> Result<Tensor, String> {
    let rank = a.shape.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p.iter().map(|&v| v as usize).collect(),
        None => (0..rank).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    let shape: Vec<usize> = perm.iter().map(|&p| a.shape[p]).collect();
    let mut strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * a.shape[i + 1];
    }
    let count = a.len();
    let mut source = Vec::with_capacity(count);
    let mut index = vec![0usize; rank];
    for _ in 0..count {
        source.push(
            index
                .iter()
                .enumerate()
                .map(|(i, &x)| x * strides[perm[i]])
                .sum::<usize>(),
        );
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    let gather = |values: &[f64]| source.iter().map(|&s| values[s]).collect::<Vec<f64>>();
    let mut out = Tensor::new(shape, gather(&a.data), a.dtype);
    out.quant = a.quant.as_ref().map(|q| QuantInfo {
        ints: source.iter().map(|&s| q.ints[s]).collect(),
        scale: gather(&q.scale),
        ..q.clone()
    });
    Ok(out)
}

/// The same values under another shape (Reshape, Flatten).
pub fn reshaped(a: &Tensor, shape: Vec<usize>) -> Result<Tensor, String> {
    if shape.iter().product::<usize>() != a.len() {
        return Err(format!(
            "cannot reshape {:?} ({} elements) to {shape:?}",
            a.shape,
            a.len()
        ));
    }
    Ok(Tensor { shape, ..a.clone() })
}

/// ONNX Reshape's target: `0` copies the input's dimension, one `-1` is inferred.
pub fn reshape_target(input: &[usize], target: &[i64]) -> Result<Vec<usize>, String> {
    let count: usize = input.iter().product();
    let mut shape = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => shape.push(*input.get(i).ok_or("a 0 past the input's rank")?),
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            d if d > 0 => shape.push(d as usize),
            d => return Err(format!("dimension {d} is not allowed")),
        }
    }
    if let Some(i) = infer {
        let known: usize = shape.iter().product();
        if known == 0 || !count.is_multiple_of(known) {
            return Err(format!(
                "cannot infer -1 in {target:?} for {count} elements"
            ));
        }
        shape[i] = count / known;
    }
    Ok(shape)
}

/// ONNX Flatten: `[d0 * .. * d(axis-1), d(axis) * ..]`.
pub fn flatten_shape(input: &[usize], axis: i64) -> Result<Vec<usize>, String> {
    let rank = input.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(format!("axis {axis} is outside rank {rank}"));
    }
    let (head, tail) = input.split_at(axis as usize);
    Ok(vec![head.iter().product(), tail.iter().product()])
}
