//! Unit tests of post-training quantization: the A2Q and A2Q+ budgets hold
//! on every channel at every width, folding, refusals, per-layer widths and
//! the comparison with the float model on the digits example.

use super::*;
use crate::bounds::analyze;
use crate::model::{Activation, Dense};
use crate::npyio::read_int_array;
use ndarray::{Array2, Ix2, array};
use std::path::Path;

fn digits_float() -> FloatModel {
    FloatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/float")).unwrap()
}

fn digits_calibration() -> Array2<i64> {
    read_int_array(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/data/train_x.npy"))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn digits_settings(bits: u32, constraint: NormConstraint) -> QuantizeSettings {
    QuantizeSettings {
        constraint,
        ..QuantizeSettings::new("digits", IntType::unsigned(5), 1.0 / 16.0, bits)
    }
}

fn dense_layers(model: &Model) -> Vec<&Dense> {
    model.dense_layers().map(|(_, _, d)| d).collect()
}

#[test]
fn every_channel_passes_the_exact_a2q_check_at_each_width() {
    let (float, calibration) = (digits_float(), digits_calibration());
    for bits in [10, 12, 16] {
        let quantized = quantize(
            &float,
            calibration.view(),
            &digits_settings(bits, NormConstraint::A2q),
        )
        .unwrap();
        let bounds = analyze(&quantized.model);
        assert!(bounds.all_proven(), "P={bits}");
        for layer in &bounds.layers {
            let dense = layer.dense.as_ref().unwrap();
            assert!(dense.a2q.pass(), "P={bits} {}: {:?}", layer.name, dense.a2q);
            assert_eq!(dense.declared_bits, bits);
        }
    }
}

#[test]
fn every_channel_passes_the_exact_a2q_plus_check_when_zero_centred() {
    let (float, calibration) = (digits_float(), digits_calibration());
    for bits in [10, 12] {
        let quantized = quantize(
            &float,
            calibration.view(),
            &digits_settings(bits, NormConstraint::A2qPlus),
        )
        .unwrap();
        let bounds = analyze(&quantized.model);
        assert!(bounds.all_proven(), "P={bits}");
        for layer in &bounds.layers {
            let dense = layer.dense.as_ref().unwrap();
            assert!(
                dense.a2q_plus.pass(),
                "P={bits} {}: {:?}",
                layer.name,
                dense.a2q_plus
            );
        }
    }
}

#[test]
fn the_budget_binds_harder_as_the_accumulator_narrows() {
    let (float, calibration) = (digits_float(), digits_calibration());
    let reports = |bits| {
        quantize(
            &float,
            calibration.view(),
            &digits_settings(bits, NormConstraint::A2q),
        )
        .unwrap()
        .layers
    };
    let (wide, narrow) = (reports(20), reports(10));
    for (w, n) in wide.iter().zip(&narrow) {
        assert!(w.projected_channels <= n.projected_channels, "{}", w.name);
        assert!(
            w.zero_weight_fraction < n.zero_weight_fraction,
            "{}",
            w.name
        );
        assert!(n.max_norm <= n.norm_budget);
    }
    assert_eq!(wide[0].projected_channels, 0);
    assert_eq!(narrow[0].projected_channels, 64);
}

#[test]
fn model_shape_types_and_folding() {
    let quantized = quantize(
        &digits_float(),
        digits_calibration().view(),
        &digits_settings(12, NormConstraint::A2q),
    )
    .unwrap();
    let model = &quantized.model;
    assert_eq!(model.input, IntType::unsigned(5));
    assert_eq!(model.input_length, 64);
    let layers = dense_layers(model);
    let shapes: Vec<_> = layers
        .iter()
        .map(|d| (d.in_features, d.out_features))
        .collect();
    assert_eq!(shapes, [(64, 64), (64, 32), (32, 10)]);
    for dense in &layers[..2] {
        let Activation::Thresholds { output, thresholds } = &dense.activation else {
            panic!("hidden layers requantize by thresholds");
        };
        assert_eq!(*output, IntType::unsigned(4));
        assert_eq!(thresholds.ncols(), 15);
        for row in thresholds.outer_iter() {
            assert!(row.windows(2).into_iter().all(|w| w[0] <= w[1]), "{row}");
        }
    }
    assert_eq!(layers[2].activation, Activation::None);
    // 10 outputs: PE 2; 32 inputs: SIMD 8.
    assert_eq!(
        (layers[2].hardware.pe, layers[2].hardware.simd),
        (Some(2), Some(8))
    );
    for dense in layers {
        assert!(dense.weights.iter().all(|w| (-7..=7).contains(w)));
    }
}

/// An integer forward pass of a small quantized model, against the float
/// network with its quantized ReLU, on a hand-sized example.
#[test]
fn small_network_matches_its_quantized_float_counterpart() {
    let float = FloatModel::new(vec![
        FloatDense {
            name: "fc0".into(),
            // Multiples of 0.25 = max|w| / 3, so 3-bit weights are exact
            // and the integer accumulator is the float one, scaled.
            weights: array![[0.75, -0.5, 0.25], [-0.75, 0.75, 0.5]],
            bias: array![0.125, 0.0],
        },
        FloatDense {
            name: "fc1".into(),
            weights: array![[1.0, -1.0], [-0.5, 1.0]],
            bias: array![0.0, 0.25],
        },
    ])
    .unwrap();
    let calibration = array![[3i64, 0, 1], [0, 3, 3], [2, 2, 2], [3, 3, 0]];
    let settings = QuantizeSettings {
        weight_bits: 3,
        activation_bits: 3,
        percentile: 100.0,
        ..QuantizeSettings::new("small", IntType::unsigned(2), 0.5, 24)
    };
    let quantized = quantize(&float, calibration.view(), &settings).unwrap();
    let layers = dense_layers(&quantized.model);
    // With 24 bits nothing is projected: max|w| = 0.75 maps to 3, and the
    // bias 0.125 is 1 step of 0.5 * 0.25.
    assert_eq!(layers[0].weights, array![[3, -2, 1], [-3, 3, 2]]);
    assert_eq!(layers[0].bias, Some(array![1, 0]));
    let output_scale = quantized.layers[0].output_scale.unwrap();
    for x in calibration.outer_iter() {
        // Integer hidden layer.
        let acc: Vec<i64> = (0..2)
            .map(|c| layers[0].bias_of(c) + layers[0].weights.row(c).dot(&x))
            .collect();
        let Activation::Thresholds { thresholds, .. } = &layers[0].activation else {
            unreachable!()
        };
        let hidden: Vec<i64> = (0..2)
            .map(|c| thresholds.row(c).iter().filter(|&&t| acc[c] >= t).count() as i64)
            .collect();
        // Float layer with the quantized ReLU the thresholds implement.
        let float_x = x.mapv(|v| v as f64 * 0.5);
        let pre = float.layers[0].weights.dot(&float_x) + &float.layers[0].bias;
        let expected: Vec<i64> = pre
            .iter()
            .map(|v| ((v.max(0.0) / output_scale).round() as i64).min(7))
            .collect();
        assert_eq!(hidden, expected, "input {x}");
    }
}

#[test]
fn largest_power_of_two_divides_within_the_limit() {
    assert_eq!(largest_power_of_two_dividing(64, 8), 8);
    assert_eq!(largest_power_of_two_dividing(10, 8), 2);
    assert_eq!(largest_power_of_two_dividing(7, 8), 1);
    assert_eq!(largest_power_of_two_dividing(12, 3), 2);
    assert_eq!(largest_power_of_two_dividing(12, 1), 1);
}

#[test]
fn a_width_without_any_budget_is_refused_with_the_least_usable_one() {
    // uint5 inputs: A2Q needs 2^(P-1) - 1 >= 32, i.e. P >= 7.
    let err = quantize(
        &digits_float(),
        digits_calibration().view(),
        &digits_settings(6, NormConstraint::A2q),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("layer `fc0`"), "{message}");
    assert!(message.contains("use at least 7 bits"), "{message}");
    assert!(
        matches!(err, QuantizeError::BelowUsableWidth { bits: 6, least_bits: 7, ref layer, .. } if layer == "fc0"),
        "{err:?}"
    );
}

#[test]
fn bad_settings_and_calibration_are_refused() {
    let float = digits_float();
    let calibration = digits_calibration();
    let mut settings = digits_settings(12, NormConstraint::A2q);
    settings.accumulator.per_layer.insert("fc9".into(), 14);
    let err = quantize(&float, calibration.view(), &settings).unwrap_err();
    assert!(err.to_string().contains("unknown layer `fc9`"), "{err}");

    let narrow_input = QuantizeSettings {
        input: IntType::unsigned(4),
        ..digits_settings(12, NormConstraint::A2q)
    };
    let err = quantize(&float, calibration.view(), &narrow_input).unwrap_err();
    assert!(
        err.to_string()
            .contains("= 16 does not fit the input type uint4"),
        "{err}"
    );

    let err = quantize(
        &float,
        calibration.slice(ndarray::s![.., ..10]),
        &digits_settings(12, NormConstraint::A2q),
    )
    .unwrap_err();
    assert!(err.to_string().contains("10 values per sample"), "{err}");

    let bad_name = QuantizeSettings {
        name: "9lives".into(),
        ..digits_settings(12, NormConstraint::A2q)
    };
    let err = quantize(&float, calibration.view(), &bad_name).unwrap_err();
    assert!(err.to_string().contains("not an identifier"), "{err}");
}

#[test]
fn per_layer_widths_override_the_default() {
    let mut settings = digits_settings(12, NormConstraint::A2q);
    settings.accumulator.per_layer.insert("fc0".into(), 16);
    let quantized = quantize(&digits_float(), digits_calibration().view(), &settings).unwrap();
    let bits: Vec<u32> = dense_layers(&quantized.model)
        .iter()
        .map(|d| d.accumulator.bits)
        .collect();
    assert_eq!(bits, [16, 12, 12]);
    assert!(
        quantized
            .model
            .description
            .as_deref()
            .unwrap()
            .contains("(fc0 16)")
    );
}

#[test]
fn comparison_runs_the_reference_beside_the_float_model() {
    let float = digits_float();
    let settings = digits_settings(16, NormConstraint::A2q);
    let quantized = quantize(&float, digits_calibration().view(), &settings).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/data");
    let inputs = read_int_array(&root.join("test_x.npy"))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    let labels = read_int_array(&root.join("test_y.npy")).unwrap();
    let labels = labels.into_dimensionality::<ndarray::Ix1>().unwrap();
    let comparison = compare_on(
        &float,
        &quantized.model,
        settings.input_scale,
        inputs.view(),
        labels.view(),
    )
    .unwrap();
    // examples/digits/README.md: the float network scores 534/540.
    assert_eq!(
        comparison.float,
        Accuracy {
            correct: 534,
            total: 540
        }
    );
    assert_eq!(comparison.integer.total, 540);
    assert_eq!(comparison.overflow_events, 0);
    let err = compare_on(
        &float,
        &quantized.model,
        settings.input_scale,
        inputs.view(),
        labels.slice(ndarray::s![..10]),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "test set: 10 labels for 540 inputs");
}

fn digits_cnn_float() -> FloatModel {
    FloatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits_cnn/float"))
        .unwrap()
}

fn digits_test_split() -> (Array2<i64>, Vec<usize>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/data");
    let x = read_int_array(&dir.join("test_x.npy"))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    let y = read_int_array(&dir.join("test_y.npy"))
        .unwrap()
        .iter()
        .map(|&v| v as usize)
        .collect();
    (x, y)
}

#[test]
fn the_float_cnn_forward_pass_matches_the_training_script() {
    // The script measured its test accuracy in PyTorch (NCHW, flattened
    // NHWC before the dense layer); the windows, the NHWC order and the
    // pooling here must reproduce it.
    let float = digits_cnn_float();
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits_cnn/float/metrics.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (x, y) = digits_test_split();
    let predictions = float.predict(x.mapv(|v| v as f64 / 16.0).view());
    let correct = predictions.iter().zip(&y).filter(|(p, y)| p == y).count();
    let accuracy = correct as f64 / y.len() as f64;
    let expected = metrics["test_accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - expected).abs() < 1e-6,
        "{accuracy} vs {expected}"
    );
}

#[test]
fn a_float_cnn_quantizes_into_proven_conv_and_pool_layers() {
    let (float, calibration) = (digits_cnn_float(), digits_calibration());
    for bits in [11, 12] {
        let quantized = quantize(
            &float,
            calibration.view(),
            &digits_settings(bits, NormConstraint::A2q),
        )
        .unwrap();
        let model = &quantized.model;
        let kinds: Vec<&str> = model.layers.iter().map(|l| l.kind_name()).collect();
        assert_eq!(kinds, ["conv", "conv", "maxpool", "dense"]);
        assert_eq!(model.input_shape.map(|m| m.len()), Some(64));
        let bounds = analyze(model);
        assert!(bounds.all_proven(), "P={bits}");
        for (_, layer, dense) in model.accumulating_layers() {
            let proof = bounds.layers[model.layer_index(&layer.name).unwrap()]
                .dense
                .as_ref()
                .unwrap();
            assert!(proof.a2q.pass(), "P={bits} {}", layer.name);
            assert_eq!(dense.accumulator.bits, bits);
        }
        // conv1 reads 8 channels: SIMD 8 is one pixel per chunk.
        assert_eq!(
            model.layers[1].accumulating().unwrap().hardware.simd,
            Some(8)
        );
    }
}

#[test]
fn greedy_methods_refuse_convolutions_by_name() {
    let settings = QuantizeSettings {
        method: QuantizeMethod::AxeOptq,
        ..digits_settings(12, NormConstraint::A2q)
    };
    let err = quantize(&digits_cnn_float(), digits_calibration().view(), &settings).unwrap_err();
    assert!(
        err.to_string().contains("`conv0` is a convolution"),
        "{err}"
    );
}
