//! The Rust cycle-accurate simulation against Verilator on the same design
//! (examples/mlp3.toml) and the same 10^4 input vectors: cycles per second
//! of each and their ratio (goal: the Rust simulation at least as fast).
//! Verilator's figure excludes its build and includes reading and writing
//! the beat files, as a co-simulation run does.

use a2qgen::arch::{PlanOptions, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::cosim::{verilator, write_stimulus};
use a2qgen::model::load_model;
use a2qgen::sim::{Schedule, SplitMix64, cycle_limit, simulate};
use ndarray::Array2;
use std::path::Path;
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--test" || a == "--list") || cfg!(debug_assertions);
    let vectors = if quick { 100 } else { 10_000 };
    let model =
        load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mlp3.toml")).unwrap();
    let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
    let mut rng = SplitMix64::new(3);
    let inputs =
        Array2::from_shape_simple_fn((vectors, model.input_length), || rng.range_inclusive(0, 15));
    let schedule = Schedule::open();

    let start = Instant::now();
    let result = simulate(&plan, inputs.view(), &schedule).unwrap();
    let rust_seconds = start.elapsed().as_secs_f64();
    let cycles = result.total_cycles();
    let rust_rate = cycles as f64 / rust_seconds;
    println!(
        "cosim bench: Rust simulation {cycles} cycles in {rust_seconds:.3} s: {:.1} M cycles/s",
        rust_rate / 1e6
    );

    if verilator::which("verilator").is_none() {
        println!("cosim bench: verilator is not installed; no comparison");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let design = a2qgen::rtl::generate(&model, &plan);
    let rtl = dir.path().join("rtl");
    verilator::write_rtl(&design, &rtl).unwrap();
    let binary = verilator::build(&design, &rtl, dir.path(), false).unwrap();
    let run_dir = dir.path().join("run");
    write_stimulus(&plan, inputs.view(), &schedule, &run_dir).unwrap();
    let beats = vectors * plan.output_beats_per_vector();
    let limit = cycle_limit(&plan, vectors, &schedule);
    let start = Instant::now();
    let out = verilator::run(&binary, &rtl, &run_dir, beats, limit, None).unwrap();
    let verilator_seconds = start.elapsed().as_secs_f64();
    let verilator_cycles = out.last().map_or(0, |(c, _)| c + 1);
    let verilator_rate = verilator_cycles as f64 / verilator_seconds;
    println!(
        "cosim bench: Verilator {verilator_cycles} cycles in {verilator_seconds:.3} s: {:.1} M cycles/s",
        verilator_rate / 1e6
    );
    println!(
        "cosim bench: Rust simulation / Verilator = {:.2}",
        rust_rate / verilator_rate
    );
}
