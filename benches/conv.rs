//! A 32 x 32 x 16 -> 32 convolution, 3 x 3, stride 1, padding 1, as a
//! model (a conv layer of PE 16 x SIMD 16: a sliding-window unit feeding an
//! MVAU) through the steps of the flow: `check` (the accumulator width
//! proof over every window, 144 inputs of uint4), the plan `build_plan`
//! makes of it, `gen` (the Verilog), and `sim` against Verilator on the same
//! design and images: cycles per second of each. Under `cargo test` (or a debug build)
//! a smoke run on an 8 x 8 map.

#[path = "../tests/conv_chains/mod.rs"]
mod conv_chains;

use a2qgen::arch::{PlanOptions, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::cosim::{verilator, write_stimulus};
use a2qgen::model::{Conv, Layer, LayerKind, MapShape, Model, Window};
use a2qgen::rtl::generate_named;
use a2qgen::sim::{Schedule, cycle_limit, simulate};
use a2qgen::synth::write_design;
use conv_chains::{ConvCase, INPUT, random_images, reference};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--test" || a == "--list") || cfg!(debug_assertions);
    let (side, images) = if quick { (8, 2) } else { (32, 20) };
    let case = ConvCase {
        name: "conv3x3",
        map: (side, side, 16),
        kernel: (3, 3),
        stride: (1, 1),
        padding: [1, 1, 1, 1],
        window_simd: 16,
        out_channels: 32,
        pe: 16,
        mvau_simd: 16,
        pool: None,
    };
    let p = case.pipeline(1);
    let map = MapShape {
        height: side,
        width: side,
        channels: 16,
    };
    let model = Model {
        name: "conv3x3".into(),
        description: None,
        source: PathBuf::new(),
        input_length: map.len(),
        input: INPUT,
        input_shape: Some(map),
        layers: vec![Layer {
            name: "conv".into(),
            kind: LayerKind::Conv(Box::new(Conv {
                window: Window {
                    input: map,
                    kernel: [3, 3],
                    stride: [1, 1],
                    padding: [1, 1, 1, 1],
                },
                dense: p.dense.clone(),
            })),
        }],
        input_scale: None,
        output_scale: None,
    };

    // check: the accumulator width over every window of uint4.
    let start = Instant::now();
    let bounds = analyze(&model);
    let proof = bounds.layers[0].dense.as_ref().expect("a conv layer");
    println!(
        "conv bench: check {:.1} ms: {} bits needed, {} declared: {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        proof.min_bits,
        proof.declared_bits,
        proof.verdict()
    );
    let plan = &build_plan(&model, &bounds, PlanOptions::default()).expect("proven");
    assert_eq!(
        (plan.initiation_interval, plan.latency),
        (p.plan.initiation_interval, p.plan.latency),
        "the model's plan times as the hand-built chain"
    );
    println!(
        "conv bench: {side} x {side} x 16 -> 32, 3 x 3: II {} cycles per image, latency {} cycles",
        plan.initiation_interval, plan.latency
    );

    // gen: the Verilog of the plan, written out.
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let design = generate_named("conv3x3", plan);
    let written = write_design(&design, &dir.path().join("hdl")).unwrap();
    println!(
        "conv bench: gen {:.0} ms: {} Verilog files",
        start.elapsed().as_secs_f64() * 1e3,
        written.files.len()
    );

    // sim.
    let inputs = random_images(plan, images, 2);
    let schedule = Schedule::open();
    let start = Instant::now();
    let result = simulate(plan, inputs.view(), &schedule).unwrap();
    let rust_seconds = start.elapsed().as_secs_f64();
    let cycles = result.total_cycles();
    let rust_rate = cycles as f64 / rust_seconds;
    let outputs = result.outputs();
    for (i, image) in inputs.rows().into_iter().enumerate() {
        assert_eq!(
            outputs.row(i).to_vec(),
            reference(&p, image.as_slice().unwrap()),
            "image {i}"
        );
    }
    println!(
        "conv bench: sim {images} images, {cycles} cycles in {rust_seconds:.3} s: {:.2} M cycles/s (outputs equal im2col + dense)",
        rust_rate / 1e6
    );

    if verilator::which("verilator").is_none() {
        println!("conv bench: verilator is not installed; no comparison");
        return;
    }
    let rtl = dir.path().join("rtl");
    verilator::write_rtl(&design, &rtl).unwrap();
    let start = Instant::now();
    let binary = verilator::build(&design, &rtl, dir.path(), false).unwrap();
    let build_seconds = start.elapsed().as_secs_f64();
    let run_dir = dir.path().join("run");
    write_stimulus(plan, inputs.view(), &schedule, &run_dir).unwrap();
    let beats = images * plan.output_beats_per_vector();
    let limit = cycle_limit(plan, images, &schedule);
    let start = Instant::now();
    let out = verilator::run(&binary, &rtl, &run_dir, beats, limit, None).unwrap();
    let verilator_seconds = start.elapsed().as_secs_f64();
    let verilator_cycles = out.last().map_or(0, |(c, _)| c + 1);
    assert_eq!(
        verilator_cycles, cycles,
        "Verilator and the simulation end together"
    );
    let verilator_rate = verilator_cycles as f64 / verilator_seconds;
    println!(
        "conv bench: Verilator (built in {build_seconds:.0} s) {verilator_cycles} cycles in {verilator_seconds:.3} s: {:.2} M cycles/s",
        verilator_rate / 1e6
    );
    println!(
        "conv bench: Rust simulation / Verilator = {:.2}",
        rust_rate / verilator_rate
    );
}
