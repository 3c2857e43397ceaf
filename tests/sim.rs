//! The cycle-accurate simulation of the examples against an independent
//! integer forward pass (`docs/design.md#2-integer-semantics`), and its timing against the
//! plan's analytical latency and initiation interval.

use a2qgen::arch::{Plan, PlanOptions, Unit, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::model::{Activation, Dense, Hadamard, IntType, LayerKind, Model, Window, load_model};
use a2qgen::sim::{Schedule, SimError, SplitMix64, simulate, simulate_with_limit};
use ndarray::{Array2, ArrayView1};
use std::path::Path;

const EXAMPLES: [&str; 3] = [
    "examples/mlp3.toml",
    "examples/hadamard_tiled.toml",
    "examples/digits_cnn_p12.toml",
];
const VECTORS: usize = 1000;

fn example(path: &str) -> (Model, Plan) {
    let model = load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
    (model, plan)
}

/// `count` vectors of values drawn uniformly over the model's input type.
fn random_inputs(model: &Model, count: usize, seed: u64) -> Array2<i64> {
    let mut rng = SplitMix64::new(seed);
    let (lo, hi) = (model.input.min() as i64, model.input.max() as i64);
    Array2::from_shape_simple_fn((count, model.input_length), || rng.range_inclusive(lo, hi))
}

/// `value` in two's complement `bits` wide.
fn wrap(value: i128, bits: u32) -> i128 {
    let unused = 128 - bits;
    (value << unused) >> unused
}

fn dense(layer: &Dense, x: &[i128]) -> Vec<i128> {
    (0..layer.out_features)
        .map(|c| {
            let dot: i128 = layer
                .weights
                .row(c)
                .iter()
                .zip(x)
                .map(|(&w, &v)| i128::from(w) * v)
                .sum();
            // The widths are proven: wrapping changes nothing, as in hardware.
            let acc = wrap(i128::from(layer.bias_of(c)) + dot, layer.accumulator.bits);
            match &layer.activation {
                Activation::None => acc,
                Activation::Thresholds { output, thresholds } => {
                    let row = thresholds.row(c);
                    let passed = row.iter().filter(|&&t| acc >= i128::from(t)).count();
                    output.min() + passed as i128
                }
            }
        })
        .collect()
}

fn hadamard(layer: &Hadamard, x: &[i128]) -> Vec<i128> {
    let n = layer.block;
    x.chunks(n)
        .flat_map(|block| {
            (0..n).map(move |i| {
                let y: i128 = (0..n)
                    .map(|j| {
                        if (i & j).count_ones() % 2 == 0 {
                            block[j]
                        } else {
                            -block[j]
                        }
                    })
                    .sum();
                let shifted = layer.shift.map_or(y, |s| (y + (1 << (s - 1))) >> s);
                layer.out_bits.map_or(shifted, |b| {
                    let t = IntType::signed(b);
                    shifted.clamp(t.min(), t.max())
                })
            })
        })
        .collect()
}

/// Every window of `x` (row-major over output pixels), its taps in
/// `(ky, kx, c)` order, zeros in the padding.
fn windows<'a>(window: &'a Window, x: &'a [i128]) -> impl Iterator<Item = Vec<i128>> + 'a {
    (0..window.out_height()).flat_map(move |oy| {
        (0..window.out_width()).map(move |ox| {
            window
                .taps_at(oy, ox)
                .map(|tap| tap.map_or(0, |i| x[i]))
                .collect()
        })
    })
}

/// The model's integer outputs for one input vector.
fn forward(model: &Model, input: ArrayView1<i64>) -> Vec<i64> {
    let mut x: Vec<i128> = input.iter().map(|&v| i128::from(v)).collect();
    for layer in &model.layers {
        x = match &layer.kind {
            LayerKind::Dense(d) => dense(d, &x),
            LayerKind::Hadamard(h) => hadamard(h, &x),
            LayerKind::Conv(c) => windows(&c.window, &x)
                .flat_map(|taps| dense(&c.dense, &taps))
                .collect(),
            LayerKind::MaxPool(p) => {
                let channels = p.window.input.channels;
                windows(&p.window, &x)
                    .flat_map(|taps| {
                        (0..channels)
                            .map(|c| {
                                taps.iter()
                                    .skip(c)
                                    .step_by(channels)
                                    .copied()
                                    .max()
                                    .unwrap()
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect()
            }
        };
    }
    x.into_iter().map(|v| i64::try_from(v).unwrap()).collect()
}

fn expected_outputs(model: &Model, inputs: &Array2<i64>) -> Array2<i64> {
    let rows: Vec<i64> = inputs
        .rows()
        .into_iter()
        .flat_map(|r| forward(model, r))
        .collect();
    Array2::from_shape_vec((inputs.nrows(), rows.len() / inputs.nrows()), rows).unwrap()
}

fn assert_outputs_match(path: &str, schedule: &Schedule) {
    let (model, plan) = example(path);
    let inputs = random_inputs(&model, VECTORS, 0xA2C0_0001);
    let result = simulate(&plan, inputs.view(), schedule).unwrap();
    assert_eq!(
        result.beats().len(),
        VECTORS * plan.output_beats_per_vector()
    );
    let expected = expected_outputs(&model, &inputs);
    let outputs = result.outputs();
    for v in 0..VECTORS {
        assert_eq!(
            outputs.row(v),
            expected.row(v),
            "{path}: vector {v}, input {}",
            inputs.row(v)
        );
    }
}

#[test]
fn outputs_equal_the_forward_pass_without_stalls() {
    for path in EXAMPLES {
        assert_outputs_match(path, &Schedule::open());
    }
}

#[test]
fn outputs_equal_the_forward_pass_with_gaps_and_back_pressure() {
    for (seed, path) in EXAMPLES.into_iter().enumerate() {
        let schedule = Schedule::random(0.3, 0.3, seed as u64 + 11, 200_000);
        assert_outputs_match(path, &schedule);
    }
}

/// The plan up to and including the compute unit of layer `layer`, and
/// the model cut after that layer: every layer's outputs become visible.
fn prefix(model: &Model, plan: &Plan, layer: usize) -> (Model, Plan) {
    let end = plan
        .units
        .iter()
        .position(|u| match u {
            Unit::Mvau(m) => m.layer == layer,
            Unit::MaxPool(p) => p.layer == layer,
            Unit::Hadamard(h) => h.layer == layer,
            _ => false,
        })
        .unwrap();
    let mut cut_plan = plan.clone();
    cut_plan.units.truncate(end + 1);
    cut_plan.output_length = model.output_length(layer);
    let mut cut_model = model.clone();
    cut_model.layers.truncate(layer + 1);
    (cut_model, cut_plan)
}

#[test]
fn every_layer_equals_the_forward_pass_under_stalls() {
    for path in EXAMPLES {
        let (model, plan) = example(path);
        for layer in 0..model.layers.len() {
            let (model, plan) = prefix(&model, &plan, layer);
            let inputs = random_inputs(&model, 300, layer as u64);
            let schedule = Schedule::random(0.3, 0.3, 99, 100_000);
            let result = simulate(&plan, inputs.view(), &schedule).unwrap();
            let expected = expected_outputs(&model, &inputs);
            assert_eq!(result.outputs(), expected, "{path}: layer {layer}");
            // The outputs vary: the comparison is not between constants.
            let distinct: std::collections::HashSet<Vec<i64>> =
                expected.rows().into_iter().map(|r| r.to_vec()).collect();
            assert!(
                distinct.len() > 5,
                "{path}: layer {layer}: {}",
                distinct.len()
            );
        }
    }
}

#[test]
fn latency_and_ii_equal_the_plan_without_stalls() {
    for path in EXAMPLES {
        let (model, plan) = example(path);
        let inputs = random_inputs(&model, 50, 5);
        let result = simulate(&plan, inputs.view(), &Schedule::open()).unwrap();
        assert_eq!(result.first_input_cycle(), Some(0), "{path}");
        assert_eq!(result.latency(), Some(plan.latency), "{path}: latency");
        let ii = result.initiation_interval().unwrap();
        assert_eq!(ii.max, plan.initiation_interval, "{path}: II");
        assert_eq!(ii.mean, plan.initiation_interval as f64, "{path}: II");
        // The output is always ready; the input waits on the bottleneck.
        assert_eq!(result.units.last().unwrap().output_stalls, 0, "{path}");
        assert!(
            result.units[0].input_stalls > 0,
            "{path}: {:?}",
            result.units
        );
        for unit in &result.units {
            if let Some((max, depth)) = unit.fifo_occupancy {
                assert!(max <= depth, "{path}: {}", unit.name);
            }
        }
    }
}

/// The example without its PE/SIMD hints, folded for `target` cycles.
fn refolded(path: &str, target: u64) -> Option<(Model, Plan)> {
    let (mut model, _) = example(path);
    for layer in &mut model.layers {
        if let LayerKind::Dense(d) = &mut layer.kind {
            d.hardware.pe = None;
            d.hardware.simd = None;
        }
    }
    let options = PlanOptions {
        target_cycles: Some(target),
        ..PlanOptions::default()
    };
    let plan = build_plan(&model, &analyze(&model), options).ok()?;
    Some((model, plan))
}

/// A converter gathering narrow beats into wider ones right before an MVAU
/// that reads more than one beat per vector.
#[test]
fn other_foldings_keep_values_latency_and_ii() {
    for path in EXAMPLES {
        for target in [1, 2, 3, 4, 8, 16, 32, 64, 128] {
            let Some((model, plan)) = refolded(path, target) else {
                continue;
            };
            let inputs = random_inputs(&model, 200, target);
            let expected = expected_outputs(&model, &inputs);
            let free = simulate(&plan, inputs.view(), &Schedule::open()).unwrap();
            let case = format!("{path}, target {target}, II {}", plan.initiation_interval);
            assert_eq!(free.outputs(), expected, "{case}");
            assert_eq!(free.latency(), Some(plan.latency), "{case}: latency");
            let ii = free.initiation_interval().unwrap();
            assert_eq!(ii.max, plan.initiation_interval, "{case}: II");
            let schedule = Schedule::random(0.3, 0.3, target, 100_000);
            let stalled = simulate(&plan, inputs.view(), &schedule).unwrap();
            assert_eq!(stalled.outputs(), expected, "{case}: with stalls");
        }
    }
}

#[test]
fn back_pressure_and_gaps_slow_the_run_down_and_are_counted() {
    let (model, plan) = example("examples/mlp3.toml");
    let inputs = random_inputs(&model, 100, 6);
    let free = simulate(&plan, inputs.view(), &Schedule::open()).unwrap();
    let schedule = Schedule::random(0.5, 0.5, 3, 10_000);
    let slowed = simulate(&plan, inputs.view(), &schedule).unwrap();
    assert!(slowed.total_cycles() > free.total_cycles());
    assert_eq!(slowed.outputs(), free.outputs());
    let last = slowed.units.last().unwrap();
    assert!(last.output_stalls > 0, "{last:?}");
    // Every output beat leaves in a cycle where the output was ready.
    assert!(slowed.beats().all(|b| schedule.ready(b.cycle)));
}

#[test]
fn a_cycle_limit_reports_every_unit_state() {
    let (model, plan) = example("examples/hadamard_tiled.toml");
    let inputs = random_inputs(&model, 10, 1);
    // The output never ready within the limit: the pipeline fills and stops.
    let schedule = Schedule {
        input_gate: Vec::new(),
        output_ready: vec![false; 1000],
    };
    let err = simulate_with_limit(&plan, inputs.view(), &schedule, 500).unwrap_err();
    let SimError::CycleLimit { beats, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*beats, 0);
    let message = err.to_string();
    for name in [
        "rot (hadamard)",
        "rot_fifo (fifo)",
        "fc0 (mvau): nf=",
        "fc1 (mvau)",
    ] {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn inputs_outside_the_input_type_are_refused() {
    let (_, plan) = example("examples/mlp3.toml");
    let mut inputs = Array2::zeros((2, 16));
    inputs[[1, 3]] = 16; // uint4 holds 0..15
    let err = simulate(&plan, inputs.view(), &Schedule::open()).unwrap_err();
    assert!(matches!(
        err,
        SimError::InputRange {
            vector: 1,
            element: 3,
            value: 16,
            ..
        }
    ));
    let err = simulate(&plan, Array2::zeros((1, 15)).view(), &Schedule::open()).unwrap_err();
    assert!(matches!(
        err,
        SimError::InputShape {
            found: 15,
            expected: 16
        }
    ));
}

#[test]
fn no_vectors_no_beats() {
    let (_, plan) = example("examples/mlp3.toml");
    let result = simulate(&plan, Array2::zeros((0, 16)).view(), &Schedule::open()).unwrap();
    assert_eq!(result.total_cycles(), 0);
    assert_eq!(result.latency(), None);
    assert_eq!(result.outputs().dim(), (0, 4));
}
