//! Whole runs: the API's behaviour on small hand-written models, and
//! properties on random small models:
//!
//! - widths at or above the exact minimum of
//!   `docs/design.md#3-accumulator-bounds` never
//!   overflow: wrap and saturate give the exact result with zero events;
//! - exact mode equals a literal, loop-by-loop reading of
//!   `docs/design.md#2-integer-semantics`;
//! - an untiled wrapping accumulator of any width gives the exact value
//!   wrapped once, whatever the SIMD order.

use super::*;
use crate::model::{
    Accumulator, Activation, Dense, Hadamard, HardwareHints, IntType, Layer, LayerKind, Model,
    OverflowMode, Tile, min_signed_bits,
};
use ndarray::{Array1, Array2, ArrayView1};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// A closed range of integers; every range here contains 0, as every data
/// type's range does.
#[derive(Clone, Copy, Debug)]
struct Range {
    lo: i128,
    hi: i128,
}

impl Range {
    fn of(t: IntType) -> Self {
        Range {
            lo: t.min(),
            hi: t.max(),
        }
    }

    /// `docs/design.md#3-accumulator-bounds`: `sum_i min(w_i*xmin, w_i*xmax)` and likewise max.
    fn dot(row: &[i64], x: Range) -> Self {
        let (mut lo, mut hi) = (0, 0);
        for &w in row {
            let (a, b) = (i128::from(w) * x.lo, i128::from(w) * x.hi);
            lo += a.min(b);
            hi += a.max(b);
        }
        Range { lo, hi }
    }

    fn width(self) -> u32 {
        min_signed_bits(self.lo, self.hi)
    }
}

/// The random choices behind one dense layer; widths and thresholds are
/// derived from the layer's input range when the model is built.
#[derive(Clone, Debug)]
struct DensePlan {
    weight_bits: u32,
    weights: Vec<Vec<i64>>,
    bias: Option<Vec<i64>>,
    tile: Option<usize>,
    simd: Option<usize>,
    /// Bits above the minimum width: (outer, inner).
    slack: (u32, u32),
    activation: Option<ActivationPlan>,
}

#[derive(Clone, Debug)]
struct ActivationPlan {
    output: IntType,
    /// Where each threshold falls in the accumulator range, 0..=u16::MAX.
    positions: Vec<u16>,
}

#[derive(Clone, Debug)]
enum LayerPlan {
    Dense(DensePlan),
    Hadamard(Hadamard),
}

impl LayerPlan {
    fn output_length(&self, input_length: usize) -> usize {
        match self {
            LayerPlan::Dense(plan) => plan.weights.len(),
            LayerPlan::Hadamard(_) => input_length,
        }
    }
}

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|&d| n.is_multiple_of(d)).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn dense_plan(in_features: usize) -> BoxedStrategy<LayerPlan> {
    let shape = (
        1usize..=5,
        2u32..=8,
        select(divisors(in_features)),
        select(divisors(in_features)),
        any::<bool>(),
        any::<bool>(),
        (0u32..=2, 0u32..=2),
    );
    shape
        .prop_flat_map(
            move |(out_features, weight_bits, tile, simd, tiled, has_simd, slack)| {
                let tile = tiled.then_some(tile);
                // gcd keeps SIMD a divisor of both the tile and the layer.
                let simd = has_simd.then(|| tile.map_or(simd, |t| gcd(t, simd)));
                let w = 1i64 << (weight_bits - 1);
                (
                    vec(vec(-w..w, in_features), out_features),
                    proptest::option::of(vec(-60i64..=60, out_features)),
                    proptest::option::of(activation_plan(out_features)),
                )
                    .prop_map(move |(weights, bias, activation)| {
                        LayerPlan::Dense(DensePlan {
                            weight_bits,
                            weights,
                            bias,
                            tile,
                            simd,
                            slack,
                            activation,
                        })
                    })
            },
        )
        .boxed()
}

fn activation_plan(out_features: usize) -> impl Strategy<Value = ActivationPlan> {
    (1u32..=3, any::<bool>()).prop_flat_map(move |(bits, signed)| {
        let count = out_features * ((1usize << bits) - 1);
        vec(any::<u16>(), count).prop_map(move |positions| ActivationPlan {
            output: IntType { bits, signed },
            positions,
        })
    })
}

fn hadamard_plan(blocks: Vec<usize>) -> BoxedStrategy<LayerPlan> {
    (
        select(blocks),
        proptest::option::of(1u32..=3),
        proptest::option::of(2u32..=12),
    )
        .prop_map(|(block, shift, out_bits)| {
            LayerPlan::Hadamard(Hadamard {
                block,
                shift,
                out_bits,
            })
        })
        .boxed()
}

fn layer_plan(length: usize) -> BoxedStrategy<LayerPlan> {
    let blocks: Vec<usize> = divisors(length)
        .into_iter()
        .filter(|&d| d >= 2 && d.is_power_of_two())
        .collect();
    if blocks.is_empty() {
        dense_plan(length)
    } else {
        prop_oneof![3 => dense_plan(length), 1 => hadamard_plan(blocks)].boxed()
    }
}

fn layer_plans(length: usize, count: usize) -> BoxedStrategy<Vec<LayerPlan>> {
    if count == 0 {
        return Just(Vec::new()).boxed();
    }
    layer_plan(length)
        .prop_flat_map(move |layer| {
            let rest = layer_plans(layer.output_length(length), count - 1);
            rest.prop_map(move |mut rest| {
                rest.insert(0, layer.clone());
                rest
            })
        })
        .boxed()
}

/// Builds the model, giving every accumulator at least its exact minimum
/// width for the range its inputs can take.
fn build(input: IntType, input_length: usize, plans: &[LayerPlan]) -> Model {
    let mut range = Range::of(input);
    let mut layers = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let (kind, output) = match plan {
            LayerPlan::Dense(plan) => {
                let (dense, output) = build_dense(plan, range);
                (LayerKind::Dense(Box::new(dense)), output)
            }
            LayerPlan::Hadamard(h) => (LayerKind::Hadamard(*h), hadamard_range(h, range)),
        };
        layers.push(Layer {
            name: format!("layer{index}"),
            kind,
        });
        range = output;
    }
    Model {
        name: "random".into(),
        description: None,
        source: "random.toml".into(),
        input_length,
        input,
        input_shape: None,
        layers,
        input_scale: None,
        output_scale: None,
    }
}

fn build_dense(plan: &DensePlan, x: Range) -> (Dense, Range) {
    let in_features = plan.weights[0].len();
    let bias = |c: usize| plan.bias.as_ref().map_or(0, |b| b[c]);
    let tile_size = plan.tile.unwrap_or(in_features);
    let (mut outer_bits, mut inner_bits) = (2, 2);
    let mut acc_range = Range { lo: 0, hi: 0 };
    for (c, row) in plan.weights.iter().enumerate() {
        let tiles: Vec<Range> = row.chunks(tile_size).map(|t| Range::dot(t, x)).collect();
        let b = i128::from(bias(c));
        let channel = Range {
            lo: b + tiles.iter().map(|t| t.lo).sum::<i128>(),
            hi: b + tiles.iter().map(|t| t.hi).sum::<i128>(),
        };
        outer_bits = outer_bits.max(channel.width());
        inner_bits = tiles.iter().map(|t| t.width()).fold(inner_bits, u32::max);
        acc_range = Range {
            lo: acc_range.lo.min(channel.lo),
            hi: acc_range.hi.max(channel.hi),
        };
    }
    let bits = outer_bits + plan.slack.0;
    assert!(
        bits <= 64,
        "the generator keeps accumulators within 64 bits"
    );
    let activation = plan.activation.as_ref().map_or(Activation::None, |a| {
        thresholds(a, plan.weights.len(), acc_range)
    });
    let output = match &activation {
        Activation::None => Range::of(IntType::signed(bits)),
        Activation::Thresholds { output, .. } => Range::of(*output),
    };
    let dense = Dense {
        in_features,
        out_features: plan.weights.len(),
        weight_bits: plan.weight_bits,
        weights: Array2::from_shape_fn((plan.weights.len(), in_features), |(c, i)| {
            plan.weights[c][i]
        }),
        bias: plan.bias.clone().map(Array1::from),
        accumulator: Accumulator {
            bits,
            tile: plan.tile.map(|size| Tile {
                size,
                inner_bits: inner_bits + plan.slack.1,
            }),
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation,
        hardware: HardwareHints {
            pe: None,
            simd: plan.simd,
            multiplier: Default::default(),
            weights: Default::default(),
        },
    };
    (dense, output)
}

/// Non-decreasing thresholds spread over (and a little beyond) `range`.
fn thresholds(plan: &ActivationPlan, out_features: usize, range: Range) -> Activation {
    let per_channel = plan.positions.len() / out_features;
    let span = range.hi - range.lo + 3;
    let mut values = Array2::from_shape_fn((out_features, per_channel), |(c, k)| {
        let position = i128::from(plan.positions[c * per_channel + k]);
        (range.lo - 1 + position * span / i128::from(u16::MAX)) as i64
    });
    for mut row in values.rows_mut() {
        row.as_slice_mut().unwrap().sort_unstable();
    }
    Activation::Thresholds {
        output: plan.output,
        thresholds: values,
    }
}

/// Row 0 of `H_n` sums the block; every other row adds half and subtracts
/// half. Rounding shift and clamp are monotone, so they map the ends.
fn hadamard_range(h: &Hadamard, x: Range) -> Range {
    let n = h.block as i128;
    let spread = n / 2 * (x.hi - x.lo);
    let y = Range {
        lo: (n * x.lo).min(-spread),
        hi: (n * x.hi).max(spread),
    };
    let requantize = |v: i128| naive_requantize(h, v);
    Range {
        lo: requantize(y.lo),
        hi: requantize(y.hi),
    }
}

fn naive_requantize(h: &Hadamard, y: i128) -> i128 {
    let shifted = h
        .shift
        .map_or(y, |s| (y + (1 << (s - 1))).div_euclid(1 << s));
    h.out_bits.map_or(shifted, |bits| {
        shifted.clamp(IntType::signed(bits).min(), IntType::signed(bits).max())
    })
}

/// `docs/design.md#2-integer-semantics` read literally: formulas, no chunks, no registers.
pub(super) fn naive_forward(model: &Model, x: ArrayView1<i64>) -> Vec<i64> {
    let mut v: Vec<i128> = x.iter().map(|&x| x.into()).collect();
    for layer in &model.layers {
        v = match &layer.kind {
            LayerKind::Dense(d) => (0..d.out_features).map(|c| naive_dense(d, c, &v)).collect(),
            LayerKind::Hadamard(h) => v
                .chunks(h.block)
                .flat_map(|block| {
                    (0..block.len()).map(move |i| {
                        let y = (0..block.len())
                            .map(|j| {
                                if (i & j).count_ones().is_multiple_of(2) {
                                    block[j]
                                } else {
                                    -block[j]
                                }
                            })
                            .sum();
                        naive_requantize(h, y)
                    })
                })
                .collect(),
            LayerKind::Conv(conv) => naive_conv(conv, &v),
            LayerKind::MaxPool(pool) => naive_maxpool(pool, &v),
        };
    }
    v.into_iter().map(|v| v as i64).collect()
}

/// The input value under kernel position `(ky, kx)`, channel `c`, of the
/// window at `(oy, ox)`: read from the padded map, zero outside the input.
fn padded_value(w: &crate::model::Window, x: &[i128], pos: [usize; 4], c: usize) -> i128 {
    let [oy, ox, ky, kx] = pos;
    let y = (oy * w.stride[0] + ky) as i64 - w.padding[0] as i64;
    let x_ = (ox * w.stride[1] + kx) as i64 - w.padding[1] as i64;
    let inside = (0..w.input.height as i64).contains(&y) && (0..w.input.width as i64).contains(&x_);
    if inside {
        x[((y as usize * w.input.width) + x_ as usize) * w.input.channels + c]
    } else {
        0
    }
}

/// `y[oy][ox][o] = b[o] + sum_{ky,kx,c} W[o][ky][kx][c] * xpad[oy*sh+ky][ox*sw+kx][c]`.
fn naive_conv(conv: &crate::model::Conv, x: &[i128]) -> Vec<i128> {
    let w = &conv.window;
    let [kh, kw] = w.kernel;
    let channels = w.input.channels;
    let out = conv.output_map();
    let mut y = Vec::new();
    for oy in 0..out.height {
        for ox in 0..out.width {
            let mut window = Vec::new();
            for ky in 0..kh {
                for kx in 0..kw {
                    for c in 0..channels {
                        window.push(padded_value(w, x, [oy, ox, ky, kx], c));
                    }
                }
            }
            y.extend((0..out.channels).map(|o| naive_dense(&conv.dense, o, &window)));
        }
    }
    y
}

fn naive_maxpool(pool: &crate::model::MaxPool, x: &[i128]) -> Vec<i128> {
    let w = &pool.window;
    let out = pool.output_map();
    let mut y = Vec::new();
    for oy in 0..out.height {
        for ox in 0..out.width {
            for c in 0..out.channels {
                let values = (0..w.kernel[0])
                    .flat_map(|ky| (0..w.kernel[1]).map(move |kx| (ky, kx)))
                    .map(|(ky, kx)| padded_value(w, x, [oy, ox, ky, kx], c));
                y.push(values.max().expect("kernels are not empty"));
            }
        }
    }
    y
}

fn naive_dense(d: &Dense, c: usize, x: &[i128]) -> i128 {
    let acc = i128::from(d.bias_of(c))
        + (0..d.in_features)
            .map(|i| i128::from(d.weights[[c, i]]) * x[i])
            .sum::<i128>();
    match &d.activation {
        Activation::None => acc,
        Activation::Thresholds { output, thresholds } => {
            let passed = thresholds
                .row(c)
                .iter()
                .filter(|&&t| acc >= t.into())
                .count();
            output.min() + passed as i128
        }
    }
}

/// Input elements, often at the ends of the range where the worst cases are.
fn element(input: IntType) -> impl Strategy<Value = i64> {
    let (lo, hi) = (input.min() as i64, input.max() as i64);
    prop_oneof![Just(lo), Just(hi), lo..=hi]
}

fn model_and_inputs() -> impl Strategy<Value = (Model, Array2<i64>)> {
    (1u32..=8, any::<bool>(), 1usize..=8, 1usize..=3)
        .prop_flat_map(|(bits, signed, length, depth)| {
            let input = IntType { bits, signed };
            let batch = vec(vec(element(input), length), 1..=12);
            (Just(input), Just(length), layer_plans(length, depth), batch)
        })
        .prop_map(|(input, length, plans, batch)| {
            let model = build(input, length, &plans);
            let rows = batch.len();
            let inputs = Array2::from_shape_vec((rows, length), batch.concat()).unwrap();
            (model, inputs)
        })
}

fn saturating() -> AccumulatorMode {
    AccumulatorMode::Declared(Overrides {
        overflow: Some(OverflowMode::Saturate),
        ..Overrides::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn proven_widths_never_overflow((model, inputs) in model_and_inputs()) {
        let exact = Reference::new(&model, &AccumulatorMode::Exact).unwrap();
        let exact = exact.run_with_trace(inputs.view()).unwrap();
        let declared = Reference::new(&model, &AccumulatorMode::default()).unwrap();
        let wrapped = declared.run_with_trace(inputs.view()).unwrap();
        prop_assert_eq!(&wrapped, &exact);
        prop_assert!(wrapped.result.overflow.iter().all(|e| e.total() == 0));

        let every_layer_has_simd = model.dense_layers().all(|(_, _, d)| d.hardware.simd.is_some());
        match Reference::new(&model, &saturating()) {
            Ok(saturate) => {
                prop_assert!(every_layer_has_simd);
                prop_assert_eq!(&saturate.run_with_trace(inputs.view()).unwrap(), &exact);
            }
            Err(ReferenceError::SaturateNeedsSimd { .. }) => prop_assert!(!every_layer_has_simd),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn exact_mode_is_the_formula((model, inputs) in model_and_inputs()) {
        let exact = Reference::new(&model, &AccumulatorMode::Exact).unwrap();
        let outputs = exact.run(inputs.view()).unwrap().outputs;
        for (row, x) in outputs.outer_iter().zip(inputs.outer_iter()) {
            prop_assert_eq!(row.to_vec(), naive_forward(&model, x));
        }
    }

    #[test]
    fn untiled_wrap_is_the_exact_sum_wrapped_once(
        (model, inputs) in model_and_inputs(),
        narrowing in 0u32..=20,
    ) {
        // Narrow the first dense layer if it is untiled and unactivated, and
        // make it the last layer so its raw accumulators are the outputs.
        let Some(index) = model.layers.iter().position(|l| l.as_dense().is_some()) else {
            return Ok(());
        };
        let mut model = model;
        model.layers.truncate(index + 1);
        let LayerKind::Dense(dense) = &mut model.layers[index].kind else { unreachable!() };
        dense.accumulator.tile = None;
        dense.activation = Activation::None;
        let bits = dense.accumulator.bits.saturating_sub(narrowing).max(2);
        let wrap = AccumulatorMode::Declared(Overrides {
            acc_bits: [(model.layers[index].name.clone(), bits)].into(),
            ..Overrides::default()
        });
        let exact = Reference::new(&model, &AccumulatorMode::Exact).unwrap().run(inputs.view()).unwrap();
        let wrapped = Reference::new(&model, &wrap).unwrap().run(inputs.view()).unwrap();
        let shift = 64 - bits;
        let expected = exact.outputs.mapv(|v| (v << shift) >> shift);
        prop_assert_eq!(wrapped.outputs, expected);
    }
}

/// Two layers written inline: a saturating dense layer with SIMD 2 and a
/// Hadamard layer.
const SMALL: &str = r#"
[model]
name = "small"
[input]
length = 4
bits = 4
signed = true
[[layers]]
name = "fc"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 4
weights = [[0, 4, 4, -4], [1, 1, 1, 1]]
bias = [0, -3]
accumulator = { bits = 5, overflow = "saturate", allow_overflow = true }
hardware = { simd = 2 }
[[layers]]
name = "rot"
kind = "hadamard"
block = 2
"#;

fn small() -> Model {
    crate::model::parse_model(SMALL, std::path::Path::new("small.toml")).unwrap()
}

fn overrides(acc_bits: &[(&str, u32)], inner_bits: &[(&str, u32)]) -> AccumulatorMode {
    let map = |pairs: &[(&str, u32)]| pairs.iter().map(|&(n, b)| (n.to_string(), b)).collect();
    AccumulatorMode::Declared(Overrides {
        acc_bits: map(acc_bits),
        inner_bits: map(inner_bits),
        overflow: None,
    })
}

#[test]
fn a_run_reports_outputs_events_and_trace() {
    let model = small();
    let reference = Reference::new(&model, &AccumulatorMode::default()).unwrap();
    let inputs = ndarray::array![[7, 7, 7, 7], [1, 2, 3, 4]];
    let traced = reference.run_with_trace(inputs.view()).unwrap();
    // int5 saturating (max 15), chunks of 2. Vector 0: fc[0] = 0 + 28 -> 15,
    // then + 0; fc[1] = -3 + 14 = 11, + 14 = 25 -> 15. Vector 1: fc[0] = 0 + 8
    // - 4 = 4, fc[1] = -3 + 3 + 7 = 7, no overflow.
    let acc = traced.layers[0].accumulators.as_ref().unwrap();
    assert_eq!(acc, ndarray::array![[15, 15], [4, 7]]);
    assert_eq!(traced.layers[1].accumulators, None);
    // rot: H_2 [15, 15] = [30, 0]; H_2 [4, 7] = [11, -3].
    assert_eq!(traced.result.outputs, ndarray::array![[30, 0], [11, -3]]);
    assert_eq!(traced.layers[1].outputs, traced.result.outputs);
    assert_eq!(
        traced.result.overflow[0],
        OverflowEvents { inner: 0, outer: 2 }
    );
    assert_eq!(traced.result.overflow[1], OverflowEvents::default());
    assert_eq!(
        predictions(traced.result.outputs.view()),
        ndarray::array![0, 0]
    );
    assert_eq!(reference.macs_per_vector(), 8);
    assert_eq!(
        reference.accumulation(0).unwrap().to_string(),
        "5b saturate"
    );
    assert_eq!(reference.accumulation(1), None);
}

#[test]
fn saturation_without_simd_is_refused_naming_the_layer() {
    let model = crate::model::parse_model(
        &SMALL.replace("hardware = { simd = 2 }", ""),
        std::path::Path::new("small.toml"),
    )
    .unwrap();
    let error = Reference::new(&model, &AccumulatorMode::default())
        .err()
        .unwrap();
    assert_eq!(
        error,
        ReferenceError::SaturateNeedsSimd { layer: "fc".into() }
    );
    assert!(error.to_string().contains("`hardware.simd`"), "{error}");
    // Exact mode has no order to worry about.
    assert!(Reference::new(&model, &AccumulatorMode::Exact).is_ok());
}

#[test]
fn overrides_must_name_a_dense_layer_and_a_valid_width() {
    let model = small();
    let problem = |mode: AccumulatorMode| match Reference::new(&model, &mode) {
        Err(ReferenceError::Override { problem, .. }) => problem,
        other => panic!("expected an override error, got {:?}", other.err()),
    };
    assert_eq!(
        problem(overrides(&[("fc9", 8)], &[])),
        OverrideProblem::UnknownLayer {
            known: "fc, rot".into()
        }
    );
    assert_eq!(
        problem(overrides(&[("rot", 8)], &[])),
        OverrideProblem::NotDense("hadamard")
    );
    assert_eq!(
        problem(overrides(&[], &[("fc", 8)])),
        OverrideProblem::NotTiled
    );
    assert_eq!(
        problem(overrides(&[("fc", 65)], &[])),
        OverrideProblem::Width { bits: 65 }
    );
    let error = Reference::new(&model, &overrides(&[], &[("fc", 8)]))
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "accumulator override `fc.inner`: the layer is not tiled, so it has no inner accumulator"
    );
}

#[test]
fn an_override_narrows_the_accumulator() {
    let model = small();
    let reference = Reference::new(&model, &overrides(&[("fc", 3)], &[])).unwrap();
    // int3 saturating (-4..=3), vector [1, 2, 3, 4]: fc[0] = 0 + 8 -> 3, - 4 =
    // -1; fc[1] = -3 + 3 = 0, + 7 -> 3. rot: H_2 [-1, 3] = [2, -4].
    let result = reference.run(ndarray::array![[1, 2, 3, 4]].view()).unwrap();
    assert_eq!(result.outputs, ndarray::array![[2, -4]]);
    assert_eq!(result.overflow[0], OverflowEvents { inner: 0, outer: 2 });
}

#[test]
fn inputs_are_checked_against_shape_and_type() {
    let model = small();
    let reference = Reference::new(&model, &AccumulatorMode::Exact).unwrap();
    let error = reference
        .run(ndarray::array![[1, 2, 3]].view())
        .unwrap_err();
    assert_eq!(
        error,
        ReferenceError::InputShape {
            expected: 4,
            found: vec![1, 3]
        }
    );
    let error = reference
        .run(ndarray::array![[0, 0, 0, 0], [1, -9, 8, 0]].view())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "input [1][1] = -9 is outside the model's input type int4 (-8..=7)"
    );
}

#[test]
fn the_first_failing_vector_is_reported_whatever_the_scheduling() {
    let model = small();
    let reference = Reference::new(&model, &AccumulatorMode::Exact).unwrap();
    let mut inputs = Array2::<i64>::zeros((1000, 4));
    for vector in [917, 333, 700] {
        inputs[[vector, 2]] = 100;
    }
    for _ in 0..5 {
        match reference.run(inputs.view()) {
            Err(ReferenceError::InputValue {
                vector, element, ..
            }) => {
                assert_eq!((vector, element), (333, 2))
            }
            other => panic!("expected an input error, got {other:?}"),
        }
    }
}

#[test]
fn parallel_runs_equal_one_vector_at_a_time() {
    let model = small();
    let reference = Reference::new(&model, &AccumulatorMode::default()).unwrap();
    let inputs = Array2::from_shape_fn((517, 4), |(v, i)| ((v * 7 + i * 13) % 16) as i64 - 8);
    let batch = reference.run_with_trace(inputs.view()).unwrap();
    let mut events = vec![OverflowEvents::default(); 2];
    for (v, row) in inputs.outer_iter().enumerate() {
        let one = reference.run(row.insert_axis(ndarray::Axis(0))).unwrap();
        assert_eq!(one.outputs.row(0), batch.result.outputs.row(v));
        let acc = batch.layers[0].accumulators.as_ref().unwrap();
        let single = reference
            .run_with_trace(row.insert_axis(ndarray::Axis(0)))
            .unwrap();
        assert_eq!(
            single.layers[0].accumulators.as_ref().unwrap().row(0),
            acc.row(v)
        );
        for (total, e) in events.iter_mut().zip(one.overflow) {
            *total += e;
        }
    }
    assert_eq!(events, batch.result.overflow);
    assert!(events[0].outer > 0, "the inputs exercise saturation");
}

#[test]
fn an_empty_batch_gives_empty_outputs() {
    let model = small();
    let reference = Reference::new(&model, &AccumulatorMode::default()).unwrap();
    let traced = reference
        .run_with_trace(Array2::zeros((0, 4)).view())
        .unwrap();
    assert_eq!(traced.result.outputs.dim(), (0, 2));
    assert_eq!(
        traced.layers[0].accumulators.as_ref().unwrap().dim(),
        (0, 2)
    );
}

#[test]
fn exact_values_beyond_64_bits_are_refused() {
    // Three products of (-2^31)^2 = 2^62 sum to 3 * 2^62 > i64::MAX.
    let text = r#"
[model]
name = "wide"
[input]
length = 3
bits = 32
signed = true
[[layers]]
name = "fc"
kind = "dense"
in_features = 3
out_features = 1
weight_bits = 32
weights = [[-2147483648, -2147483648, -2147483648]]
accumulator = { bits = 64 }
"#;
    let model = crate::model::parse_model(text, std::path::Path::new("wide.toml")).unwrap();
    let inputs = ndarray::array![[i64::from(i32::MIN); 3]];
    let exact = Reference::new(&model, &AccumulatorMode::Exact).unwrap();
    let error = exact.run(inputs.view()).unwrap_err();
    assert_eq!(
        error,
        ReferenceError::ValueTooWide {
            vector: 0,
            layer: "fc".into(),
            element: 0,
            value: 3 << 62,
        }
    );
    // The declared 64-bit accumulator wraps it: 3 * 2^62 - 2^64 = -2^62.
    let wrapped = Reference::new(&model, &AccumulatorMode::default()).unwrap();
    let result = wrapped.run(inputs.view()).unwrap();
    assert_eq!(result.outputs[[0, 0]], -(1 << 62));
    assert_eq!(result.overflow[0].outer, 1);
}
