//! Properties of the window layers on random small models (a convolution,
//! then maybe a max pool and a dense layer), drawn from a seed:
//!
//! - the reference in exact mode equals the literal, loop-by-loop
//!   convolution and pooling of `tests::naive_forward`;
//! - the bounds are sound: every accumulator of every window stays inside
//!   its channel's proven range, and at the proven widths no register
//!   overflows;
//! - the bounds are exact: the counterexample `check` prints, run through
//!   the reference as the model input, drives the channel to the end of its
//!   range, and overflows the width one bit below the minimum.

use super::tests::naive_forward;
use super::*;
use crate::bounds::{Stage as BoundStage, ValueRange, analyze, dot_range, layer_counterexample};
use crate::fuzz::draw::Draw;
use crate::model::{
    Accumulator, Activation, Conv, Dense, HardwareHints, IntType, Layer, LayerKind, MapShape,
    MaxPool, Model, OverflowMode, Tile, Window,
};
use ndarray::Array2;
use proptest::prelude::*;

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|&d| n.is_multiple_of(d)).collect()
}

/// A window over `map` with kernel, stride and padding drawn within the
/// format's rules (each pad below the kernel, the kernel within the padded map).
fn draw_window(d: &mut Draw, map: MapShape, pad: bool) -> Window {
    let kh = d.size(1, (map.height + 2).min(4));
    let kw = d.size(1, (map.width + 2).min(4));
    let mut padding = [0; 4];
    if pad {
        for (side, axis) in [0, 1, 0, 1].into_iter().enumerate() {
            padding[side] = d.size(0, [kh, kw][axis] - 1);
        }
    }
    // Widen pads until the kernel fits the padded map.
    while map.height + padding[0] + padding[2] < kh {
        padding[2] += 1;
    }
    while map.width + padding[1] + padding[3] < kw {
        padding[3] += 1;
    }
    Window {
        input: map,
        kernel: [kh, kw],
        stride: [d.size(1, 3), d.size(1, 3)],
        padding,
    }
}

fn draw_dense(d: &mut Draw, in_features: usize, out_features: usize, simd: &[usize]) -> Dense {
    let weight_bits = d.bits(2, 5);
    let w = 1i64 << (weight_bits - 1);
    let weights = Array2::from_shape_fn((out_features, in_features), |_| {
        if d.chance(0.2) { 0 } else { d.int(-w, w - 1) }
    });
    let bias = d
        .chance(0.5)
        .then(|| (0..out_features).map(|_| d.int(-40, 40)).collect());
    let simd = d.chance(0.7).then(|| d.pick(simd));
    // A tile a multiple of SIMD dividing the window, now and then.
    let tiles: Vec<usize> = divisors(in_features)
        .into_iter()
        .filter(|t| simd.is_none_or(|s| t.is_multiple_of(s)))
        .collect();
    let tile = d.chance(0.3).then(|| Tile {
        size: d.pick(&tiles),
        inner_bits: 64,
    });
    Dense {
        in_features,
        out_features,
        weight_bits,
        weights,
        bias,
        // Widths are set from the bounds once the model is built.
        accumulator: Accumulator {
            bits: 64,
            tile,
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation: Activation::None,
        hardware: HardwareHints {
            simd,
            ..HardwareHints::default()
        },
    }
}

/// SIMD widths the format allows for a window of `taps` over `channels`.
fn conv_simd(channels: usize, taps: usize) -> Vec<usize> {
    divisors(taps)
        .into_iter()
        .filter(|&s| channels.is_multiple_of(s) || s.is_multiple_of(channels))
        .collect()
}

/// A convolution over a random input map, then maybe a max pool and a
/// dense layer, every accumulator at its proven minimum width.
fn draw_model(seed: u64) -> Model {
    let mut d = Draw::new(seed);
    let input = IntType {
        bits: d.bits(1, 4),
        signed: d.chance(0.5),
    };
    let map = MapShape {
        height: d.size(1, 6),
        width: d.size(1, 6),
        channels: d.size(1, 3),
    };
    let pad = d.chance(0.7);
    let window = draw_window(&mut d, map, pad);
    let out_channels = d.size(1, 4);
    let dense = draw_dense(
        &mut d,
        window.taps(),
        out_channels,
        &conv_simd(map.channels, window.taps()),
    );
    let conv = Conv { window, dense };
    let mut layers = vec![Layer {
        name: "conv".into(),
        kind: LayerKind::Conv(Box::new(conv.clone())),
    }];
    let mut out = conv.output_map();
    // A second convolution reads the first's raw accumulators when the
    // first has no thresholds: element ranges that differ from pixel to
    // pixel (the border windows sum fewer products).
    if d.chance(0.4) {
        let pad = d.chance(0.5);
        let window = draw_window(&mut d, out, pad);
        let out_channels = d.size(1, 3);
        let simd = conv_simd(out.channels, window.taps());
        let dense = draw_dense(&mut d, window.taps(), out_channels, &simd);
        let second = Conv { window, dense };
        out = second.output_map();
        layers.push(Layer {
            name: "conv_b".into(),
            kind: LayerKind::Conv(Box::new(second)),
        });
    }
    if d.chance(0.5) {
        let pool = draw_window(&mut d, out, false);
        if !pool.has_padding() {
            let pool = MaxPool { window: pool };
            out = pool.output_map();
            layers.push(Layer {
                name: "pool".into(),
                kind: LayerKind::MaxPool(pool),
            });
        }
    }
    if d.chance(0.5) {
        let features = out.len();
        let simd = divisors(features);
        layers.push(Layer {
            name: "fc".into(),
            kind: LayerKind::Dense(Box::new(draw_dense(&mut d, features, 2, &simd))),
        });
    }
    let mut model = Model {
        name: "random_cnn".into(),
        description: None,
        source: "random_cnn.toml".into(),
        input_length: map.len(),
        input,
        input_shape: Some(map),
        layers,
        input_scale: None,
        output_scale: None,
    };
    // A ReLU-like threshold on the convolution, now and then, so that the
    // following layers see a narrow type.
    if d.chance(0.5)
        && let LayerKind::Conv(conv) = &mut model.layers[0].kind
    {
        let count = 3;
        let thresholds = Array2::from_shape_fn((out_channels, count), |(_, k)| k as i64 * 4);
        conv.dense.activation = Activation::Thresholds {
            output: IntType::unsigned(2),
            thresholds,
        };
    }
    set_proven_widths(&mut model);
    model
}

/// Every accumulator (and tile) at its proven minimum, layer by layer.
fn set_proven_widths(model: &mut Model) {
    for index in 0..model.layers.len() {
        let bounds = analyze(model);
        if let (Some(dense), Some(proof)) = (
            model.layers[index].accumulating_mut(),
            &bounds.layers[index].dense,
        ) {
            dense.accumulator.bits = proof.min_bits;
            if let (Some(tile), Some(inner)) = (dense.accumulator.tile.as_mut(), &proof.inner) {
                tile.inner_bits = inner.min_bits;
            }
        }
    }
}

fn random_inputs(model: &Model, d: &mut Draw, count: usize) -> Array2<i64> {
    let (lo, hi) = (model.input.min() as i64, model.input.max() as i64);
    Array2::from_shape_fn((count, model.input_length), |_| match d.size(0, 3) {
        0 => lo,
        1 => hi,
        _ => d.int(lo, hi),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv_reference_matches_the_literal_definition(seed in any::<u64>()) {
        let model = draw_model(seed);
        let inputs = random_inputs(&model, &mut Draw::new(!seed), 12);
        let run = Reference::new(&model, &AccumulatorMode::Exact)
            .unwrap()
            .run(inputs.view())
            .unwrap();
        for (row, out) in inputs.outer_iter().zip(run.outputs.outer_iter()) {
            prop_assert_eq!(out.to_vec(), naive_forward(&model, row));
        }
    }

    #[test]
    fn conv_bounds_are_sound_at_the_proven_widths(seed in any::<u64>()) {
        let model = draw_model(seed);
        let bounds = analyze(&model);
        prop_assert!(bounds.all_proven());
        let inputs = random_inputs(&model, &mut Draw::new(!seed), 12);
        let traced = Reference::new(&model, &AccumulatorMode::default())
            .unwrap()
            .run_with_trace(inputs.view())
            .unwrap();
        prop_assert!(traced.result.overflow.iter().all(|e| e.total() == 0));
        for (index, _, dense) in model.accumulating_layers() {
            let proof = bounds.layers[index].dense.as_ref().unwrap();
            let acc = traced.layers[index].accumulators.as_ref().unwrap();
            for (element, &value) in acc.iter().enumerate() {
                let channel = element % dense.out_features;
                prop_assert!(proof.channels[channel].range().contains(value.into()));
            }
        }
        // The output ranges the bounds pass on hold every output.
        for (layer, trace) in bounds.layers.iter().zip(&traced.layers) {
            for row in trace.outputs.outer_iter() {
                for (value, range) in row.iter().zip(&layer.output_ranges) {
                    prop_assert!(range.contains((*value).into()), "{} {value}", layer.name);
                }
            }
        }
    }

    #[test]
    fn conv_ranges_are_the_union_over_every_pixel(seed in any::<u64>()) {
        // Pixel by pixel, without grouping windows: the dense range of each
        // pixel's window, padded taps at 0.
        let model = draw_model(seed);
        let bounds = analyze(&model);
        for (index, layer) in model.layers.iter().enumerate() {
            let LayerKind::Conv(conv) = &layer.kind else { continue };
            let inputs = &bounds.layers[index].input_ranges;
            let w = &conv.window;
            let out = conv.output_map();
            let mut union: Vec<Option<ValueRange>> = vec![None; out.channels];
            for oy in 0..out.height {
                for ox in 0..out.width {
                    let mut window = Vec::new();
                    for ky in 0..w.kernel[0] {
                        for kx in 0..w.kernel[1] {
                            let y = (oy * w.stride[0] + ky) as i64 - w.padding[0] as i64;
                            let x = (ox * w.stride[1] + kx) as i64 - w.padding[1] as i64;
                            let inside = (0..w.input.height as i64).contains(&y)
                                && (0..w.input.width as i64).contains(&x);
                            for c in 0..w.input.channels {
                                window.push(if inside {
                                    let at = (y as usize * w.input.width + x as usize) * w.input.channels + c;
                                    inputs[at].with_zero()
                                } else {
                                    ValueRange::ZERO
                                });
                            }
                        }
                    }
                    for (o, slot) in union.iter_mut().enumerate() {
                        let r = dot_range(conv.dense.weights.row(o), conv.dense.bias_of(o), &window);
                        *slot = Some(slot.map_or(r, |s| s.union(r)));
                        if matches!(conv.dense.activation, Activation::None) {
                            let element = (oy * out.width + ox) * out.channels + o;
                            prop_assert_eq!(bounds.layers[index].output_ranges[element], r.with_zero());
                        }
                    }
                }
            }
            let proof = bounds.layers[index].dense.as_ref().unwrap();
            for (o, r) in union.into_iter().enumerate() {
                prop_assert_eq!(proof.channels[o].range(), r.unwrap(), "{} channel {}", layer.name, o);
            }
        }
    }

    #[test]
    fn conv_counterexample_reaches_the_range_end(seed in any::<u64>()) {
        let mut model = draw_model(seed);
        let proof = analyze(&model).layers[0].dense.clone().unwrap();
        let narrowed = {
            let conv = model.layers[0].accumulating_mut().unwrap();
            match (conv.accumulator.tile.as_mut(), &proof.inner) {
                // The tile first when it can be narrowed, else the outer one.
                (Some(tile), Some(inner)) if inner.min_bits > 2 && seed % 2 == 0 => {
                    tile.inner_bits = inner.min_bits - 1;
                    true
                }
                _ if proof.min_bits > 2 => {
                    conv.accumulator.bits = proof.min_bits - 1;
                    true
                }
                _ => false,
            }
        };
        prop_assume!(narrowed);
        model.layers[0].accumulating_mut().unwrap().accumulator.allow_overflow = true;
        let bounds = analyze(&model);
        let cx = layer_counterexample(&model.layers[0], &bounds.layers[0]).unwrap();
        let input = Array2::from_shape_vec((1, cx.input.len()), cx.input.clone()).unwrap();
        let LayerKind::Conv(conv) = &model.layers[0].kind else { unreachable!() };
        let channels = conv.dense.out_features;
        // Exact accumulators: the channel's sum reaches the range end at some pixel.
        let exact = Reference::new(&model, &AccumulatorMode::Exact)
            .unwrap()
            .run_with_trace(input.view())
            .unwrap();
        let acc = exact.layers[0].accumulators.as_ref().unwrap();
        match cx.stage {
            BoundStage::Accumulator => {
                let reached = acc.iter().skip(cx.channel).step_by(channels).any(|&a| i128::from(a) == cx.reached);
                prop_assert!(reached, "no pixel of channel {} reaches {}", cx.channel, cx.reached);
            }
            BoundStage::Tile(_) => prop_assert!(!IntType::signed(cx.declared_bits).contains(cx.reached)),
        }
        // The declared (narrowed) width overflows on it.
        let run = Reference::new(&model, &AccumulatorMode::default())
            .unwrap()
            .run(input.view())
            .unwrap();
        prop_assert!(run.overflow[0].total() > 0);
    }
}
