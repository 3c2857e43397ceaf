//! Evaluation of the nodes whose inputs are all constants: the subgraphs
//! that compute a scale, a weight or a bias from initializers (`Mul`, `Div`,
//! `Ceil`, `Log`, `Pow`, ..., and `Quant` of a weight), folded at import.

use super::proto::{NodeProto, attribute};
use super::quant::{QuantSpec, Rounding};
use super::tensor::*;
use std::path::Path;

/// The value of `node` given its constant inputs (`None` for an omitted
/// optional input), or why it cannot be computed.
pub fn evaluate(
    node: &NodeProto,
    inputs: &[Option<&Tensor>],
    model_dir: &Path,
) -> Result<Tensor, String> {
    let arg = |i: usize| -> Result<&Tensor, String> {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("input {i} is missing"))
    };
    let f32_op = |f: fn(f64, f64) -> f64| -> Result<Tensor, String> { binary(arg(0)?, arg(1)?, f) };
    match node.op_type() {
        "Identity" => Ok(arg(0)?.clone()),
        "Constant" => constant(node, model_dir),
        "Add" => f32_op(|a, b| a + b),
        "Sub" => f32_op(|a, b| a - b),
        "Mul" => f32_op(|a, b| a * b),
        "Div" => {
            let (a, b) = (arg(0)?, arg(1)?);
            if a.dtype == DType::Int && b.dtype == DType::Int {
                if b.data.contains(&0.0) {
                    return Err("integer division by zero".into());
                }
                return binary(a, b, |x, y| (x / y).trunc());
            }
            binary(a, b, |x, y| x / y)
        }
        "Pow" => {
            let (a, b) = (arg(0)?, arg(1)?);
            let mut out = binary(a, b, f64::powf)?;
            // The result has the base's type.
            out.dtype = a.dtype;
            Ok(Tensor::new(out.shape, out.data, out.dtype))
        }
        "Max" => f32_op(f64::max),
        "Min" => f32_op(f64::min),
        "Ceil" => Ok(unary(arg(0)?, f64::ceil)),
        "Floor" => Ok(unary(arg(0)?, f64::floor)),
        "Round" => Ok(unary(arg(0)?, f64::round_ties_even)),
        "Log" => Ok(unary(arg(0)?, f64::ln)),
        "Exp" => Ok(unary(arg(0)?, f64::exp)),
        "Sqrt" => Ok(unary(arg(0)?, f64::sqrt)),
        "Abs" => Ok(Tensor::new(
            arg(0)?.shape.clone(),
            arg(0)?.data.iter().map(|v| v.abs()).collect(),
            arg(0)?.dtype,
        )),
        "Neg" => Ok(Tensor::new(
            arg(0)?.shape.clone(),
            arg(0)?.data.iter().map(|v| -v).collect(),
            arg(0)?.dtype,
        )),
        "Reciprocal" => Ok(unary(arg(0)?, |v| 1.0 / v)),
        "Relu" => Ok(Tensor::new(
            arg(0)?.shape.clone(),
            arg(0)?.data.iter().map(|v| v.max(0.0)).collect(),
            arg(0)?.dtype,
        )),
        "Cast" => cast(node, arg(0)?),
        "Transpose" => {
            let perm = attribute(node, "perm").map(|a| a.ints.clone());
            transpose(arg(0)?, perm.as_deref())
        }
        "Reshape" => {
            let target = reshape_target(&arg(0)?.shape, &arg(1)?.as_ints())?;
            reshaped(arg(0)?, target)
        }
        "Flatten" => {
            let axis = attribute(node, "axis").map_or(1, |a| a.i());
            reshaped(arg(0)?, flatten_shape(&arg(0)?.shape, axis)?)
        }
        "Quant" => quant(node, arg(0)?, arg(1)?, arg(2)?, arg(3)?),
        "BipolarQuant" => bipolar_quant(arg(0)?, arg(1)?),
        "Trunc" => trunc(node, inputs),
        other => Err(format!(
            "op `{other}` cannot be computed from constants here"
        )),
    }
}

fn constant(node: &NodeProto, model_dir: &Path) -> Result<Tensor, String> {
    let Some(a) = node.attribute.first() else {
        return Err("a Constant without a value".into());
    };
    match a.name() {
        "value" => {
            let t = a.t.as_ref().ok_or("attribute `value` holds no tensor")?;
            Tensor::from_proto(t, model_dir)
        }
        "value_float" => Ok(Tensor::scalar(f64::from(a.f()), DType::Float32)),
        "value_int" => Ok(Tensor::scalar(a.i() as f64, DType::Int)),
        "value_floats" => Ok(Tensor::new(
            vec![a.floats.len()],
            a.floats.iter().map(|&v| f64::from(v)).collect(),
            DType::Float32,
        )),
        "value_ints" => Ok(Tensor::new(
            vec![a.ints.len()],
            a.ints.iter().map(|&v| v as f64).collect(),
            DType::Int,
        )),
        other => Err(format!("Constant attribute `{other}` is not supported")),
    }
}

fn cast(node: &NodeProto, a: &Tensor) -> Result<Tensor, String> {
    use super::proto::onnx::tensor_proto::DataType as T;
    let to = attribute(node, "to")
        .map(|a| a.i())
        .ok_or("attribute `to` is missing")?;
    let dtype = match T::try_from(to as i32) {
        Ok(T::Float) => DType::Float32,
        Ok(T::Double) => DType::Float64,
        Ok(T::Int64 | T::Int32 | T::Int8 | T::Uint8) => DType::Int,
        _ => return Err(format!("Cast to data type {to} is not supported")),
    };
    Ok(Tensor::new(a.shape.clone(), a.data.clone(), dtype))
}

/// `Quant` of constants: the dequantized values, and the integers and
/// scales behind them when the zero point is 0.
pub fn quant(
    node: &NodeProto,
    x: &Tensor,
    scale: &Tensor,
    zero_point: &Tensor,
    bit_width: &Tensor,
) -> Result<Tensor, String> {
    let bits = bit_width
        .single()
        .ok_or("the bit width must be a single value")?;
    let spec = QuantSpec::of_node(node, bits)?;
    check_scales(scale)?;
    let shape = broadcast_shape(&broadcast_shape(&x.shape, &scale.shape)?, &zero_point.shape)?;
    let xs = expand(x, &shape);
    let ss = expand(scale, &shape);
    let zs = expand(zero_point, &shape);
    let ints: Vec<i64> = (0..xs.len())
        .map(|i| spec.integer(xs[i], ss[i], zs[i]))
        .collect();
    let values = (0..xs.len())
        .map(|i| f64::from(((ints[i] as f32) - (zs[i] as f32)) * (ss[i] as f32)))
        .collect();
    let mut out = Tensor::new(shape, values, DType::Float32);
    if zs.iter().all(|&z| z == 0.0) {
        out.quant = Some(QuantInfo {
            ints,
            scale: ss,
            bits: spec.bits,
            signed: spec.signed,
        });
    }
    Ok(out)
}

/// Scales must be finite and above zero.
pub fn check_scales(scale: &Tensor) -> Result<(), String> {
    match scale.data.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        Some(s) => Err(format!("scale {s} is not a finite number above 0")),
        None => Ok(()),
    }
}

/// `BipolarQuant`: `+scale` where `x / scale >= 0`, else `-scale`.
fn bipolar_quant(x: &Tensor, scale: &Tensor) -> Result<Tensor, String> {
    check_scales(scale)?;
    let shape = broadcast_shape(&x.shape, &scale.shape)?;
    let (xs, ss) = (expand(x, &shape), expand(scale, &shape));
    let ints: Vec<i64> = xs
        .iter()
        .zip(&ss)
        .map(|(&v, &s)| {
            if (v as f32) / (s as f32) >= 0.0 {
                1
            } else {
                -1
            }
        })
        .collect();
    let values = ints.iter().zip(&ss).map(|(&i, &s)| i as f64 * s).collect();
    let mut out = Tensor::new(shape, values, DType::Float32);
    out.quant = Some(QuantInfo {
        ints,
        scale: ss,
        // Signed 2 bits hold -1 and +1.
        bits: 2,
        signed: true,
    });
    Ok(out)
}

/// qonnx `Trunc` (both versions) of constants.
fn trunc(node: &NodeProto, inputs: &[Option<&Tensor>]) -> Result<Tensor, String> {
    let get = |i: usize| {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or(format!("input {i} is missing"))
    };
    let (x, scale, zero_point) = (get(0)?, get(1)?, get(2)?);
    check_scales(scale)?;
    let rounding = match attribute(node, "rounding_mode") {
        None => Rounding::Floor,
        Some(a) => {
            let text = String::from_utf8_lossy(a.s()).to_string();
            Rounding::parse(&text).ok_or(format!(
                "attribute `rounding_mode` = \"{text}\" is not supported"
            ))?
        }
    };
    let single =
        |t: &Tensor, what: &str| t.single().ok_or(format!("{what} must be a single value"));
    let in_bits = single(get(3)?, "the input bit width")?;
    let (out_scale, out_bits, clip) = match inputs.len() {
        5 => (None, single(get(4)?, "the output bit width")?, None),
        6 => {
            let out_scale = single(get(4)?, "the output scale")?;
            let out_bits = single(get(5)?, "the output bit width")?;
            let spec = QuantSpec::of_node(node, out_bits)?;
            (Some(out_scale), out_bits, Some(spec))
        }
        n => return Err(format!("{n} inputs, expected 5 or 6")),
    };
    let shape = broadcast_shape(&broadcast_shape(&x.shape, &scale.shape)?, &zero_point.shape)?;
    let (xs, ss, zs) = (
        expand(x, &shape),
        expand(scale, &shape),
        expand(zero_point, &shape),
    );
    let values = (0..xs.len())
        .map(|i| {
            let f = |v: f64| f64::from(v as f32);
            let y = f(f(xs[i] / ss[i]) + zs[i]).round_ties_even();
            let trunc_scale = match out_scale {
                Some(os) => 2f64.powf((os / ss[i]).log2().round_ties_even()),
                None => 2f64.powf(in_bits - out_bits),
            };
            let mut y = f(y / trunc_scale);
            if let Some(spec) = clip {
                y = y.clamp(spec.min_int() as f64, spec.max_int() as f64);
            }
            let y = rounding.apply(y);
            let zp = f(zs[i] / trunc_scale);
            f(f(y - zp) * out_scale.unwrap_or(ss[i]))
        })
        .collect();
    Ok(Tensor::new(shape, values, DType::Float32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::proto::onnx::{AttributeProto, attribute_proto::AttributeType};

    pub fn node(op: &str, attributes: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            name: Some(format!("n_{op}")),
            attribute: attributes,
            ..Default::default()
        }
    }

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            i: Some(v),
            r#type: Some(AttributeType::Int as i32),
            ..Default::default()
        }
    }

    fn str_attr(name: &str, v: &str) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            s: Some(v.as_bytes().to_vec()),
            r#type: Some(AttributeType::String as i32),
            ..Default::default()
        }
    }

    fn f(shape: &[usize], data: &[f64]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec(), DType::Float32)
    }

    fn run(n: &NodeProto, inputs: &[&Tensor]) -> Result<Tensor, String> {
        let inputs: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
        evaluate(n, &inputs, Path::new("."))
    }

    #[test]
    fn arithmetic_broadcasts_and_rounds_to_float32() {
        let a = f(&[2, 1], &[1.0, 2.0]);
        let b = f(&[3], &[10.0, 20.0, 30.0]);
        let sum = run(&node("Add", vec![]), &[&a, &b]).unwrap();
        assert_eq!(sum.shape, vec![2, 3]);
        assert_eq!(sum.data, vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        let third = run(&node("Div", vec![]), &[&f(&[], &[1.0]), &f(&[], &[3.0])]).unwrap();
        assert_eq!(third.data[0], f64::from(1f32 / 3f32));
        let mul = run(&node("Mul", vec![]), &[&a, &f(&[], &[0.5])]).unwrap();
        assert_eq!(mul.data, vec![0.5, 1.0]);
        assert!(run(&node("Add", vec![]), &[&f(&[2], &[1.0, 2.0]), &b]).is_err());
    }

    #[test]
    fn unary_ops_compute_scales() {
        let x = f(&[3], &[0.3, 1.0, 4.0]);
        assert_eq!(
            run(&node("Ceil", vec![]), &[&x]).unwrap().data,
            vec![1.0, 1.0, 4.0]
        );
        assert_eq!(
            run(&node("Floor", vec![]), &[&x]).unwrap().data,
            vec![0.0, 1.0, 4.0]
        );
        let log = run(&node("Log", vec![]), &[&x]).unwrap();
        assert_eq!(log.data[1], 0.0);
        assert_eq!(log.data[2], f64::from(4f64.ln() as f32));
        let pow = run(&node("Pow", vec![]), &[&f(&[], &[2.0]), &f(&[], &[-4.0])]).unwrap();
        assert_eq!(pow.data, vec![0.0625]);
        assert_eq!(run(&node("Neg", vec![]), &[&x]).unwrap().data[1], -1.0);
    }

    #[test]
    fn shape_ops_move_the_integers_with_the_values() {
        let w = f(&[2, 3], &[0.5, -1.0, 1.5, 2.0, 0.0, -0.5]);
        let scale = f(&[2, 1], &[0.5, 0.5]);
        let zero = f(&[], &[0.0]);
        let bits = f(&[], &[4.0]);
        let q = run(
            &node(
                "Quant",
                vec![
                    int_attr("signed", 1),
                    int_attr("narrow", 1),
                    str_attr("rounding_mode", "ROUND"),
                ],
            ),
            &[&w, &scale, &zero, &bits],
        )
        .unwrap();
        assert_eq!(q.quant.as_ref().unwrap().ints, vec![1, -2, 3, 4, 0, -1]);
        let t = run(&node("Transpose", vec![]), &[&q]).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(t.quant.as_ref().unwrap().ints, vec![1, 4, -2, 0, 3, -1]);
        assert_eq!(t.data, vec![0.5, 2.0, -1.0, 0.0, 1.5, -0.5]);
        let shape = Tensor::new(vec![1], vec![-1.0], DType::Int);
        let r = run(&node("Reshape", vec![]), &[&t, &shape]).unwrap();
        assert_eq!(r.shape, vec![6]);
        let fl = run(&node("Flatten", vec![]), &[&w]).unwrap();
        assert_eq!(fl.shape, vec![2, 3]);
    }

    #[test]
    fn quant_clips_rounds_and_refuses_bad_attributes() {
        let x = f(&[4], &[-9.0, 2.5, 3.5, 100.0]);
        let one = f(&[], &[1.0]);
        let zero = f(&[], &[0.0]);
        let q = |attrs| run(&node("Quant", attrs), &[&x, &one, &zero, &f(&[], &[4.0])]);
        let signed = q(vec![int_attr("signed", 1)]).unwrap();
        assert_eq!(signed.quant.unwrap().ints, vec![-8, 2, 4, 7]);
        let floor = q(vec![
            int_attr("signed", 0),
            str_attr("rounding_mode", "FLOOR"),
        ])
        .unwrap();
        assert_eq!(floor.data, vec![0.0, 2.0, 3.0, 15.0]);
        assert!(
            q(vec![str_attr("rounding_mode", "STOCHASTIC")])
                .unwrap_err()
                .contains("rounding_mode")
        );
        assert!(
            q(vec![int_attr("signed", 2)])
                .unwrap_err()
                .contains("signed")
        );
        let half = run(&node("Quant", vec![]), &[&x, &one, &zero, &f(&[], &[2.5])]);
        assert!(half.unwrap_err().contains("bit width"));
        let negative = run(
            &node("Quant", vec![]),
            &[&x, &f(&[], &[-1.0]), &zero, &f(&[], &[4.0])],
        );
        assert!(negative.unwrap_err().contains("scale"));
    }

    #[test]
    fn bipolar_quant_and_trunc() {
        let x = f(&[3], &[-0.2, 0.0, 3.0]);
        let b = run(&node("BipolarQuant", vec![]), &[&x, &f(&[], &[0.5])]).unwrap();
        assert_eq!(b.data, vec![-0.5, 0.5, 0.5]);
        assert_eq!(b.quant.unwrap().ints, vec![-1, 1, 1]);
        // 8-bit values 0, 1, 17, 100 truncated to 4 bits (divide by 16, floor).
        let v = f(&[4], &[0.0, 1.0, 17.0, 100.0]);
        let t = run(
            &node("Trunc", vec![str_attr("rounding_mode", "FLOOR")]),
            &[
                &v,
                &f(&[], &[1.0]),
                &f(&[], &[0.0]),
                &f(&[], &[8.0]),
                &f(&[], &[4.0]),
            ],
        )
        .unwrap();
        assert_eq!(t.data, vec![0.0, 0.0, 1.0, 6.0]);
    }

    #[test]
    fn unknown_ops_are_named() {
        let e = run(&node("Softmax", vec![]), &[&f(&[1], &[1.0])]).unwrap_err();
        assert!(e.contains("Softmax"));
    }
}
