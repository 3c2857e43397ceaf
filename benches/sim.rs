//! Cycle-accurate simulation speed on examples/mlp3.toml over 10^4 random
//! vectors (goal: at least Verilator's 11 M cycles/s for a SIMD=8 dot
//! product). Prints cycles per second, best of 3, one core.

use a2qgen::arch::{PlanOptions, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::model::load_model;
use a2qgen::sim::{Schedule, SplitMix64, simulate};
use ndarray::Array2;
use std::path::Path;
use std::time::Instant;

const VECTORS: usize = 10_000;

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mlp3.toml");
    let model = load_model(&path).expect("the example loads");
    let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).expect("proven");
    let mut rng = SplitMix64::new(2024);
    let (lo, hi) = (model.input.min() as i64, model.input.max() as i64);
    let inputs = Array2::from_shape_simple_fn((VECTORS, model.input_length), || {
        rng.range_inclusive(lo, hi)
    });
    let schedules = [
        ("no gaps, no back-pressure", Schedule::open()),
        (
            "gaps 0.3, back-pressure 0.3",
            Schedule::random(0.3, 0.3, 1, 400_000),
        ),
    ];
    for (label, schedule) in &schedules {
        let mut best = f64::INFINITY;
        let mut cycles = 0;
        for _ in 0..3 {
            let start = Instant::now();
            let result = simulate(&plan, inputs.view(), schedule).expect("the run completes");
            best = best.min(start.elapsed().as_secs_f64());
            cycles = result.total_cycles();
        }
        println!(
            "sim: mlp3, {VECTORS} vectors, {label}: {cycles} cycles in {:.1} ms, {:.1} M cycles/s",
            best * 1e3,
            cycles as f64 / best / 1e6
        );
    }
}
