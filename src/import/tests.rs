//! The mapping of small graphs built with the ONNX types.

use super::proto::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataType,
    tensor_shape_proto::Dimension, tensor_shape_proto::dimension::Value as DimValue, type_proto,
};
use super::*;
use crate::model::IntType;

fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        float_data: values.to_vec(),
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

fn node(op: &str, name: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        attribute: attributes,
        ..Default::default()
    }
}

fn vector_input(name: &str, length: i64) -> ValueInfoProto {
    let dim = |v| Dimension {
        value: Some(DimValue::DimValue(v)),
        ..Default::default()
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: vec![dim(1), dim(length)],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `x (2 elements) -> Quant uint2 @ 0.5 -> Gemm(W, b) -> Relu -> Quant uint2 @ 0.25`,
/// `W = [[1, -1], [2, 0]] * [[0.25], [0.5]]` (signed narrow 4-bit), with
/// `edit` applied to the nodes.
fn one_layer(bias: [f32; 2], edit: impl Fn(&mut Vec<NodeProto>)) -> ModelProto {
    let initializer = vec![
        tensor("s_in", &[], &[0.5]),
        tensor("zero", &[], &[0.0]),
        tensor("two", &[], &[2.0]),
        tensor("four", &[], &[4.0]),
        tensor("w", &[2, 2], &[0.25, -0.25, 1.0, 0.0]),
        tensor("s_w", &[2, 1], &[0.25, 0.5]),
        tensor("b", &[2], &bias),
        tensor("s_out", &[], &[0.25]),
    ];
    let signed = |s: i64, n: i64| vec![int_attr("signed", s), int_attr("narrow", n)];
    let mut nodes = vec![
        node("Quant", "in_q", &["x", "s_in", "zero", "two"], signed(0, 0)),
        node("Quant", "w_q", &["w", "s_w", "zero", "four"], signed(1, 1)),
        node(
            "Gemm",
            "fc",
            &["in_q_out", "w_q_out", "b"],
            vec![int_attr("transB", 1)],
        ),
        node("Relu", "relu", &["fc_out"], vec![]),
        node(
            "Quant",
            "out_q",
            &["relu_out", "s_out", "zero", "two"],
            signed(0, 0),
        ),
    ];
    edit(&mut nodes);
    ModelProto {
        graph: Some(GraphProto {
            node: nodes,
            initializer,
            input: vec![vector_input("x", 2)],
            output: vec![ValueInfoProto {
                name: Some("out_q_out".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn options() -> ImportOptions {
    ImportOptions {
        name: "t".into(),
        acc_bits: None,
        acc_bits_per_layer: Vec::new(),
        max_pe: 8,
        max_simd: 8,
    }
}

fn imported(proto: &ModelProto) -> Result<Imported, ImportError> {
    let path = Path::new("t.onnx");
    build(path, &read_graph(proto, path)?, &options())
}

#[test]
fn a_gemm_layer_maps_weights_bias_and_thresholds() {
    // Steps s_x * s_w: 0.125 and 0.25. Bias 0.375 is 3 steps of channel 0;
    // 0.1 is no whole number of channel 1's steps and stays in float.
    let result = imported(&one_layer([0.375, 0.1], |_| {})).unwrap();
    let model = &result.model;
    assert_eq!(model.input, IntType::unsigned(2));
    assert_eq!(model.input_scale, Some(0.5));
    assert_eq!(model.output_scale, Some(vec![0.25, 0.25]));
    let dense = model.layers[0].as_dense().unwrap();
    assert_eq!(dense.weights, ndarray::array![[1, -1], [2, 0]]);
    assert_eq!(dense.weight_bits, 4);
    assert_eq!(dense.bias, Some(ndarray::array![3, 0]));
    assert_eq!(
        (result.layers[0].integer_bias, result.layers[0].folded_bias),
        (1, 1)
    );
    let Activation::Thresholds { output, thresholds } = &dense.activation else {
        panic!("thresholds expected");
    };
    assert_eq!(*output, IntType::unsigned(2));
    // Channel 0: v = 0.125 * A (A includes the bias 3), out = round(v / 0.25)
    // = round(A / 2): level 1 from A = 2 (1.0; A = 1 is the tie 0.5 -> 0),
    // level 2 from A = 3 (1.5 -> 2), level 3 from A = 6 (3.0; 5 is 2.5 -> 2).
    assert_eq!(thresholds.row(0).to_vec(), vec![2, 3, 6]);
    // Channel 1: v = 0.25 * A + 0.1, out = round(A + 0.4): levels from A = 1, 2, 3.
    assert_eq!(thresholds.row(1).to_vec(), vec![1, 2, 3]);
    // The ties of channel 0 in its range [3 - 3, 3 + 3] are reported.
    let ties: Vec<(usize, i64)> = result.layers[0]
        .ambiguous
        .iter()
        .filter(|(_, a)| a.tie)
        .map(|(c, a)| (*c, a.accumulator))
        .collect();
    assert_eq!(ties, vec![(0, 1), (0, 3), (0, 5)]);
}

#[test]
fn transpose_and_matmul_map_like_gemm_with_trans_b() {
    let via_matmul = one_layer([0.0, 0.0], |nodes| {
        nodes[2] = node("Transpose", "t", &["w_q_out"], vec![]);
        nodes.insert(3, node("MatMul", "fc", &["in_q_out", "t_out"], vec![]));
    });
    let gemm = imported(&one_layer([0.0, 0.0], |_| {})).unwrap();
    let matmul = imported(&via_matmul).unwrap();
    assert_eq!(gemm.model.layers, matmul.model.layers);
}

#[test]
fn graphs_outside_the_mapping_name_the_node() {
    let cases: Vec<(ModelProto, &str)> = vec![
        (
            one_layer([0.0, 0.0], |nodes| nodes[4].input[2] = "s_out".into()),
            "node `out_q` (op `Quant`): a zero point other than 0",
        ),
        (
            one_layer([0.0, 0.0], |nodes| {
                nodes[3].op_type = Some("Sigmoid".into())
            }),
            "node `relu` (op `Sigmoid`): op `Sigmoid` on the data path is not supported",
        ),
        (
            one_layer([0.0, 0.0], |nodes| {
                nodes[2].attribute.push(int_attr("transA", 1))
            }),
            "node `fc` (op `Gemm`): only Gemm with transA = 0",
        ),
        (
            one_layer([0.0, 0.0], |nodes| nodes[1].input[0] = "nowhere".into()),
            "node `w_q` (op `Quant`): input `nowhere` is missing",
        ),
        (
            one_layer([0.0, 0.0], |nodes| nodes[0].input[3] = "s_out".into()),
            "node `in_q` (op `Quant`): bit width 0.25 is not a whole number of bits",
        ),
    ];
    for (proto, message) in cases {
        let error = imported(&proto).unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
        assert!(error.starts_with("t.onnx: "), "{error}");
    }
}

#[test]
fn declared_widths_are_proven_and_overflow_names_the_channel() {
    let proto = one_layer([0.0, 0.0], |_| {});
    let path = Path::new("t.onnx");
    let graph = read_graph(&proto, path).unwrap();
    // Channel 1 reaches 2 * 3 = 6 and needs 4 bits.
    let narrow = ImportOptions {
        acc_bits: Some(3),
        ..options()
    };
    let error = build(path, &graph, &narrow).unwrap_err();
    assert!(matches!(error, ImportError::Unproven(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("channel 1: accumulator range [0, 6]"),
        "{error}"
    );
    let wide = ImportOptions {
        acc_bits_per_layer: vec![("fc0".into(), 9)],
        ..options()
    };
    let model = build(path, &graph, &wide).unwrap().model;
    assert_eq!(model.layers[0].as_dense().unwrap().accumulator.bits, 9);
}

#[test]
fn accumulator_ranges_too_wide_to_verify_are_refused_quickly() {
    // 16-bit inputs and weights: each channel spans about 2^32 values.
    let proto = one_layer([0.0, 0.0], |nodes| {
        nodes[0].input[3] = "sixteen".into();
        nodes[1].input[3] = "sixteen".into();
    });
    let mut proto = proto;
    let graph = proto.graph.as_mut().unwrap();
    graph.initializer.push(tensor("sixteen", &[], &[16.0]));
    let weights = graph
        .initializer
        .iter_mut()
        .find(|t| t.name() == "w")
        .unwrap();
    weights.float_data = vec![8000.0, -8000.0, 16000.0, 0.0];
    let started = std::time::Instant::now();
    let error = imported(&proto).unwrap_err().to_string();
    assert!(
        error.contains("layer `fc0` (nodes fc, relu, out_q)"),
        "{error}"
    );
    assert!(error.contains("accumulator values to verify"), "{error}");
    assert!(started.elapsed().as_secs() < 5);
}
