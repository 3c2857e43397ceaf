//! Generating the Verilog of one 1024 x 1024 dense layer with PE = SIMD = 32
//! (goal: under 10 s). Prints the time of each step.

use a2qgen::arch::{PlanOptions, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::model::{
    Accumulator, Activation, Dense, HardwareHints, IntType, Layer, LayerKind, Model,
    MultiplierStyle, OverflowMode,
};
use ndarray::Array2;
use std::time::Instant;

fn main() {
    let size = 1024;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let weights = Array2::from_shape_simple_fn((size, size), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 16) as i64 - 8
    });
    let model = Model {
        name: "wide".into(),
        description: None,
        source: "bench".into(),
        input_length: size,
        input: IntType::unsigned(4),
        input_shape: None,
        input_scale: None,
        output_scale: None,
        layers: vec![Layer {
            name: "fc".into(),
            kind: LayerKind::Dense(Box::new(Dense {
                in_features: size,
                out_features: size,
                weight_bits: 4,
                weights,
                bias: None,
                accumulator: Accumulator {
                    bits: 24,
                    tile: None,
                    overflow: OverflowMode::Wrap,
                    allow_overflow: false,
                },
                activation: Activation::None,
                hardware: HardwareHints {
                    pe: Some(32),
                    simd: Some(32),
                    multiplier: MultiplierStyle::Lut,
                    ..HardwareHints::default()
                },
            })),
        }],
    };
    let start = Instant::now();
    let bounds = analyze(&model);
    let proven = start.elapsed();
    let plan = build_plan(&model, &bounds, PlanOptions::default()).expect("24 bits are proven");
    let planned = start.elapsed();
    let design = a2qgen::rtl::generate(&model, &plan);
    let generated = start.elapsed();
    let bytes: usize = design
        .verilog
        .iter()
        .chain(&design.memories)
        .map(|(_, t)| t.len())
        .sum();
    println!(
        "generate: 1024 x 1024 layer, PE = SIMD = 32: bounds {:.2} s, plan {:.2} s, Verilog {:.2} s; total {:.2} s (goal < 10 s); {} files, {:.1} MB",
        proven.as_secs_f64(),
        (planned - proven).as_secs_f64(),
        (generated - planned).as_secs_f64(),
        generated.as_secs_f64(),
        design.verilog.len() + design.memories.len(),
        bytes as f64 / 1e6
    );
}
