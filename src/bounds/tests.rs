//! Unit tests of the bounds: a hand-computed layer, counterexamples of the
//! outer and tile accumulators, properties on random layers (the range is
//! reached and no input leaves it), and propagation through the examples.

use super::*;
use crate::model::{Accumulator, Activation, HardwareHints, OverflowMode, Tile};
use ndarray::{Array1, Array2};
use proptest::prelude::*;

fn layer(weights: Array2<i64>, bias: Option<Vec<i64>>, bits: u32, tile: Option<Tile>) -> Dense {
    let (out_features, in_features) = weights.dim();
    Dense {
        in_features,
        out_features,
        weight_bits: 8,
        weights,
        bias: bias.map(Array1::from),
        accumulator: Accumulator {
            bits,
            tile,
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation: Activation::None,
        hardware: HardwareHints::default(),
    }
}

fn dot(w: &[i64], bias: i64, x: &[i64]) -> i128 {
    bias as i128
        + w.iter()
            .zip(x)
            .map(|(&w, &x)| w as i128 * x as i128)
            .sum::<i128>()
}

#[test]
fn hand_computed_layer() {
    // Two channels over uint4 inputs; channel 1 has only negative weights.
    let w = Array2::from_shape_vec((2, 2), vec![3, -2, -1, -4]).unwrap();
    let d = layer(w, Some(vec![5, 0]), 8, None);
    let b = dense_bounds(&d, &[ValueRange::new(0, 15); 2]);
    assert_eq!(b.channels[0].range(), ValueRange::new(5 - 30, 5 + 45));
    assert_eq!(b.channels[1].range(), ValueRange::new(-75, 0));
    assert_eq!((b.min_bits, b.worst_channel), (8, 1));
    assert_eq!(b.verdict(), WidthVerdict::Proven);
    assert_eq!(b.input_type, IntType::unsigned(4));
}

#[test]
fn too_narrow_width_yields_a_counterexample() {
    let w = Array2::from_shape_vec((1, 3), vec![7, 7, -8]).unwrap();
    let mut d = layer(w, None, 8, None);
    let inputs = vec![ValueRange::new(0, 15); 3];
    let needed = dense_bounds(&d, &inputs).min_bits;
    assert_eq!(needed, 9); // hi = 210
    d.accumulator.bits = 8;
    let bounds = LayerBounds {
        index: 0,
        name: "l".into(),
        input_ranges: inputs.clone(),
        output_ranges: vec![],
        dense: Some(dense_bounds(&d, &inputs)),
    };
    assert_eq!(
        bounds.dense.as_ref().unwrap().verdict(),
        WidthVerdict::TooNarrow
    );
    let cx = counterexample(&d, &bounds).unwrap();
    assert_eq!(cx.input, vec![15, 15, 0]);
    assert_eq!(cx.reached, 210);
    assert_eq!((cx.needed_bits, cx.declared_bits), (9, 8));
}

#[test]
fn tile_counterexample_stays_inside_its_tile() {
    let w = Array2::from_shape_vec((1, 4), vec![1, 1, -8, -8]).unwrap();
    let tile = Tile {
        size: 2,
        inner_bits: 8,
    };
    let d = layer(w, None, 10, Some(tile));
    let inputs = vec![ValueRange::new(0, 15); 4];
    let bounds = LayerBounds {
        index: 0,
        name: "l".into(),
        input_ranges: inputs.clone(),
        output_ranges: vec![],
        dense: Some(dense_bounds(&d, &inputs)),
    };
    let inner = bounds.dense.as_ref().unwrap().inner.clone().unwrap();
    assert_eq!((inner.min_bits, inner.worst_tile), (9, 1)); // tile 1 reaches -240
    let cx = counterexample(&d, &bounds).unwrap();
    assert_eq!(cx.stage, Stage::Tile(1));
    assert_eq!(cx.input, vec![0, 0, 15, 15]);
    assert_eq!(cx.reached, -240);
}

/// A random dense layer over a random input type.
fn arbitrary_layer() -> impl Strategy<Value = (Dense, IntType)> {
    (
        1usize..=24,
        1usize..=4,
        1u32..=8,
        1u32..=8,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(
            |(in_features, out_features, weight_bits, input_bits, signed, with_bias)| {
                let wt = IntType::signed(weight_bits);
                let weights = proptest::collection::vec(
                    wt.min() as i64..=wt.max() as i64,
                    in_features * out_features,
                );
                let bias = proptest::collection::vec(-1000i64..=1000, out_features);
                let divisors: Vec<usize> =
                    (1..=in_features).filter(|d| in_features % d == 0).collect();
                let tile = prop_oneof![
                    Just(None),
                    proptest::sample::select(divisors).prop_map(Some)
                ];
                (weights, bias, tile).prop_map(move |(weights, bias, tile)| {
                    let w = Array2::from_shape_vec((out_features, in_features), weights).unwrap();
                    let tile = tile.map(|size| Tile {
                        size,
                        inner_bits: 64,
                    });
                    let mut d = layer(w, with_bias.then_some(bias), 64, tile);
                    d.weight_bits = weight_bits;
                    (
                        d,
                        IntType {
                            bits: input_bits,
                            signed,
                        },
                    )
                })
            },
        )
}

fn random_input(t: IntType, n: usize, seed: u64) -> Vec<i64> {
    // A small deterministic generator: the property is over the layer; the
    // inputs only need to be spread over the range.
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let span = (t.max() - t.min() + 1) as u64;
            (t.min() + (state % span) as i128) as i64
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn bounds_are_exact_and_sound((d, input_type) in arbitrary_layer(), seed in any::<u64>()) {
        let inputs = vec![ValueRange::of_type(input_type); d.in_features];
        let b = dense_bounds(&d, &inputs);
        for c in &b.channels {
            let w = d.weights.row(c.channel).to_vec();
            let bias = d.bias_of(c.channel);
            // The extremal inputs reach exactly lo and hi.
            let up = extremal_input(d.weights.row(c.channel), &inputs, true);
            let down = extremal_input(d.weights.row(c.channel), &inputs, false);
            prop_assert_eq!(dot(&w, bias, &up), c.hi);
            prop_assert_eq!(dot(&w, bias, &down), c.lo);
            // Random inputs, and every partial sum, stay within [lo, hi].
            for k in 0..8u64 {
                let x = random_input(input_type, d.in_features, seed.wrapping_add(k));
                let mut partial = bias as i128;
                prop_assert!(c.range().contains(partial));
                for (wi, xi) in w.iter().zip(&x) {
                    partial += *wi as i128 * *xi as i128;
                    prop_assert!(c.range().contains(partial));
                }
            }
            // Independent A2Q / A2Q+ formulas, away from float rounding at the edge.
            let p = d.accumulator.bits as i32;
            let n = input_type.bits as i32;
            let s = i32::from(input_type.signed);
            let a2q_limit = (2f64.powi(p - 1) - 1.0) * 2f64.powi(s - n);
            let l1: f64 = w.iter().map(|v| v.abs() as f64).sum();
            prop_assert_eq!(c.a2q_pass, l1 <= a2q_limit);
            let mean = w.iter().sum::<i64>() as f64 / w.len() as f64;
            let centred: f64 = w.iter().map(|&v| (v as f64 - mean).abs()).sum();
            let plus_limit = (2f64.powi(p) - 2.0) / (2f64.powi(n) - 1.0);
            if (centred - plus_limit).abs() > 1e-6 {
                prop_assert_eq!(c.a2q_plus_pass, centred <= plus_limit);
            }
            // Tiles: each tile's extremal input reaches its ends; the tile
            // ranges add up to the channel range.
            if let Some(tile) = d.accumulator.tile {
                let (lo, hi) = c.tiles.iter().fold((bias as i128, bias as i128), |(l, h), t| (l + t.lo, h + t.hi));
                prop_assert_eq!((lo, hi), (c.lo, c.hi));
                for t in &c.tiles {
                    let span = t.tile * tile.size..(t.tile + 1) * tile.size;
                    let wt = &w[span.clone()];
                    let x = extremal_input(d.weights.row(c.channel).slice(ndarray::s![span.clone()]), &inputs[span], true);
                    prop_assert_eq!(dot(wt, 0, &x), t.hi);
                }
            }
        }
    }

    #[test]
    fn counterexample_overflows_one_bit_below_the_minimum((d, input_type) in arbitrary_layer()) {
        let inputs = vec![ValueRange::of_type(input_type); d.in_features];
        let needed = dense_bounds(&d, &inputs).min_bits;
        prop_assume!(needed > MIN_ACCUMULATOR_BITS);
        let mut narrow = d.clone();
        narrow.accumulator.bits = needed - 1;
        narrow.accumulator.tile = None;
        let bounds = LayerBounds {
            index: 0,
            name: "l".into(),
            input_ranges: inputs.clone(),
            output_ranges: vec![],
            dense: Some(dense_bounds(&narrow, &inputs)),
        };
        let cx = counterexample(&narrow, &bounds).expect("a width below the minimum must fail");
        let w = narrow.weights.row(cx.channel).to_vec();
        prop_assert_eq!(dot(&w, narrow.bias_of(cx.channel), &cx.input), cx.reached);
        prop_assert!(!IntType::signed(needed - 1).contains(cx.reached));
        prop_assert!(cx.input.iter().all(|&x| input_type.contains(x as i128)));
    }
}

#[test]
fn analyze_propagates_through_the_examples() {
    let model = crate::model::load_model(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/hadamard_tiled.toml"
    )))
    .unwrap();
    let bounds = analyze(&model);
    // The rotation of int4 blocks of 8, >> 1 with rounding, into int6.
    assert_eq!(bounds.layers[0].output_ranges[0], ValueRange::new(-32, 28));
    assert_eq!(bounds.layers[0].output_ranges[1], ValueRange::new(-30, 30));
    assert_eq!(bounds.layers[1].input_type(), IntType::signed(6));
    // fc0 thresholds to int3.
    assert_eq!(bounds.layers[2].input_type(), IntType::signed(3));
    assert!(bounds.all_proven());
}

/// A 3x3 box filter of ones over a 3x3 uint2 map with padding 1: each
/// output pixel sums the input pixels its window covers, 4 at a corner, 6
/// on an edge, 9 in the centre.
fn box_filter(bits: u32) -> crate::model::Conv {
    use crate::model::{Conv, MapShape, Window};
    let window = Window {
        input: MapShape {
            height: 3,
            width: 3,
            channels: 1,
        },
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1, 1, 1],
    };
    Conv {
        window,
        dense: layer(Array2::ones((1, 9)), Some(vec![-1]), bits, None),
    }
}

#[test]
fn padded_windows_have_their_own_exact_ranges() {
    let conv = box_filter(6);
    let inputs = vec![ValueRange::new(0, 3); 9];
    let (bounds, outputs) = conv_bounds(&conv, &inputs);
    // The centre window covers every pixel: -1 + 9 * 3.
    assert_eq!(bounds.channels[0].range(), ValueRange::new(-1, 26));
    assert_eq!(
        (bounds.min_bits, bounds.verdict()),
        (6, WidthVerdict::Proven)
    );
    let his: Vec<i128> = outputs.iter().map(|r| r.hi).collect();
    assert_eq!(his, [11, 17, 11, 17, 26, 17, 11, 17, 11]);
    assert!(outputs.iter().all(|r| r.lo == -1));
}

#[test]
fn a_conv_counterexample_is_a_whole_input_map() {
    let conv = box_filter(5);
    let inputs = vec![ValueRange::new(0, 3); 9];
    let (dense, _) = conv_bounds(&conv, &inputs);
    assert_eq!(dense.verdict(), WidthVerdict::TooNarrow);
    let bounds = LayerBounds {
        index: 0,
        name: "box".into(),
        input_ranges: inputs,
        output_ranges: vec![],
        dense: Some(dense),
    };
    let cx = conv_counterexample(&conv, &bounds).unwrap();
    assert_eq!((cx.channel, cx.reached, cx.needed_bits), (0, 26, 6));
    assert_eq!(cx.input, vec![3; 9]);
}
