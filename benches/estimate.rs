//! The estimator against Yosys on an example: the time to estimate both
//! variants (declared and 32-bit accumulators, plans included) against
//! the time Yosys takes to synthesize the declared design's top once.
//! Without Yosys it says so and prints the estimator's half only.

use a2qgen::arch::PlanOptions;
use a2qgen::estimate::{compare, declared_and_wide_plans};
use a2qgen::model::load_model;
use a2qgen::rtl::emit::generate;
use a2qgen::synth::{SynthJob, write_design, yosys_version};
use std::path::Path;
use std::time::{Duration, Instant};

const EXAMPLE: &str = "examples/hadamard_tiled.toml";

fn main() {
    let model = load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap();
    let rounds = 200;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let started = Instant::now();
        let comparison = compare(&model, PlanOptions::default()).unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(comparison.wide.total.lut > 0.0);
    }
    println!(
        "estimate: {EXAMPLE}, declared and 32-bit accumulators, plans included: {:.3} ms (best of {rounds})",
        best * 1e3
    );
    let Some(version) = yosys_version() else {
        println!("yosys: not installed, skipping the synthesis half");
        return;
    };
    let (declared, _) = declared_and_wide_plans(&model, PlanOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = write_design(&generate(&model, &declared), dir.path()).unwrap();
    let job = SynthJob {
        label: "bench".into(),
        dir: written.dir.clone(),
        files: written.files.clone(),
        top: written.top.clone(),
        hierarchy: false,
    };
    let run = job.run(Duration::from_secs(900)).unwrap();
    println!(
        "yosys: {version}, synth_xilinx of the declared top `{}`: {:.1} s",
        written.top, run.seconds
    );
    println!(
        "ratio: the estimate is {:.0}x faster than one Yosys run (and covers both variants)",
        run.seconds / best
    );
}
