//! The chain one model runs through: the model written and loaded back,
//! `check`, `gen`, Verilator's lint of the generated files, the reference
//! and the Rust simulation, co-simulation with Verilator under random input
//! gaps and output back-pressure, and Icarus Verilog as a second simulator.
//! The first stage that fails names the failure.

use super::draw::Draw;
use crate::arch::{Plan, PlanOptions, build_plan};
use crate::bounds::analyze;
use crate::cosim::beats::hex_to_beat;
use crate::cosim::verilator::{
    VerilatorError, first_messages, which, write_rtl, write_source_list,
};
use crate::cosim::{CosimError, CosimOptions, cosimulate, icarus, schedule_for};
use crate::model::{Model, load_model, write_model};
use crate::reference::{AccumulatorMode, Reference};
use crate::rtl::{Design, generate};
use crate::sim::{SimResult, cycle_limit, simulate};
use ndarray::Array2;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The stages of the chain, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Writing the model and loading it back.
    Load,
    /// The width proof.
    Check,
    /// The plan and the Verilog.
    Gen,
    /// The reference and the Rust simulation.
    Sim,
    /// Verilator's `-Wall` on the generated files (in the pass that
    /// generates the C++ model; alone with `--lint-only` when shrinking a
    /// lint failure).
    Lint,
    /// Verilator's build of the harness.
    Build,
    /// Reference, Rust simulation and Verilator disagree (or Verilator
    /// stops short).
    Mismatch,
    /// Icarus Verilog disagrees with the Rust simulation, or fails.
    Icarus,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Load => "load",
            Stage::Check => "check",
            Stage::Gen => "gen",
            Stage::Lint => "lint",
            Stage::Sim => "sim",
            Stage::Build => "build",
            Stage::Mismatch => "mismatch",
            Stage::Icarus => "icarus",
        })
    }
}

/// The stage that failed and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}

fn fail<T>(stage: Stage, message: impl fmt::Display) -> Result<T, Failure> {
    Err(Failure {
        stage,
        message: message.to_string(),
    })
}

/// Inputs and handshakes of one run, drawn from a seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Stimulus {
    pub gaps: f64,
    pub backpressure: f64,
    pub schedule_seed: u64,
    pub inputs: Array2<i64>,
}

/// Cycles of the run without stalls the stimulus aims at.
const CYCLE_BUDGET: u64 = 2000;

impl Stimulus {
    /// A few vectors (fewer when a vector takes many cycles), each element
    /// at an end of the input type now and then; no gaps or back-pressure
    /// in a quarter of the runs, else up to 0.6 of the cycles.
    pub fn draw(model: &Model, plan: &Plan, seed: u64) -> Self {
        let mut d = Draw::new(seed ^ 0x5354_494d_554c_5553);
        let probability = |d: &mut Draw| {
            if d.chance(0.25) {
                0.0
            } else {
                (d.real(0.05, 0.6) * 100.0).round() / 100.0
            }
        };
        let gaps = probability(&mut d);
        let backpressure = probability(&mut d);
        let vectors = (CYCLE_BUDGET / plan.initiation_interval.max(1)).clamp(2, 4) as usize;
        let (lo, hi) = (model.input.min() as i64, model.input.max() as i64);
        let inputs = Array2::from_shape_simple_fn((vectors, model.input_length), || {
            match d.weighted(&[1, 1, 4]) {
                0 => lo,
                1 => hi,
                _ => d.int(lo, hi),
            }
        });
        Stimulus {
            gaps,
            backpressure,
            schedule_seed: d.int(0, i64::MAX) as u64,
            inputs,
        }
    }
}

/// Where the chain runs and what it may use.
#[derive(Clone, Debug)]
pub struct ChainOptions {
    /// Folder of this model's files (created).
    pub dir: PathBuf,
    /// Verilator's runtime objects shared by all quick builds.
    pub runtime_cache: Option<PathBuf>,
    /// The last stage to run (the shrinker stops at the failing one).
    pub last: Stage,
}

/// What a passing run measured.
#[derive(Clone, Debug)]
pub struct Passed {
    pub plan: Plan,
    pub vectors: usize,
    pub beats: usize,
    pub cycles: u64,
}

/// Runs `model` through the chain with the stimulus drawn from `seed`.
/// Panics are caught and charged to the stage that raised them.
pub fn run_chain(model: &Model, seed: u64, options: &ChainOptions) -> Result<Passed, Failure> {
    let stage = Cell::new(Stage::Load);
    match catch_unwind(AssertUnwindSafe(|| chain(model, seed, options, &stage))) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".to_string());
            fail(stage.get(), format!("panic: {message}"))
        }
    }
}

fn chain(
    model: &Model,
    seed: u64,
    options: &ChainOptions,
    stage: &Cell<Stage>,
) -> Result<Passed, Failure> {
    let dir = &options.dir;
    let done = |s: Stage| s >= options.last;
    stage.set(Stage::Load);
    let path = write_model(model, dir, "model").or_else(|e| fail(Stage::Load, e))?;
    let model = load_model(&path).or_else(|e| fail(Stage::Load, e))?;

    stage.set(Stage::Check);
    let bounds = analyze(&model);
    if let Some(layer) = bounds.refused().next() {
        let d = layer.dense.as_ref().expect("refused layers are dense");
        return fail(
            Stage::Check,
            format!(
                "layer {} (`{}`): declared {} bits, needs {}",
                layer.index, layer.name, d.declared_bits, d.min_bits
            ),
        );
    }

    stage.set(Stage::Gen);
    let plan =
        build_plan(&model, &bounds, PlanOptions::default()).or_else(|e| fail(Stage::Gen, e))?;
    let design = generate(&model, &plan);
    let rtl_dir = dir.join("rtl");
    write_rtl(&design, &rtl_dir).or_else(|e| fail(Stage::Gen, e))?;
    let passed = |sim: Option<&SimResult>, vectors: usize| Passed {
        plan: plan.clone(),
        vectors,
        beats: sim.map_or(0, |s| s.beats().count()),
        cycles: sim.map_or(0, SimResult::total_cycles),
    };
    if done(Stage::Gen) {
        return Ok(passed(None, 0));
    }

    stage.set(Stage::Sim);
    let stimulus = Stimulus::draw(&model, &plan, seed);
    let cosim = CosimOptions {
        gaps: stimulus.gaps,
        backpressure: stimulus.backpressure,
        seed: stimulus.schedule_seed,
        build_dir: dir.join("cosim"),
        trace: None,
        fault: None,
        quick_build: true,
        runtime_cache: options.runtime_cache.clone(),
        lint: true,
    };
    let vectors = stimulus.inputs.nrows();
    let schedule = schedule_for(&plan, vectors, &cosim);
    Reference::new(&model, &AccumulatorMode::default())
        .and_then(|r| r.run(stimulus.inputs.view()))
        .or_else(|e| fail(Stage::Sim, format!("reference: {e}")))?;
    let sim =
        simulate(&plan, stimulus.inputs.view(), &schedule).or_else(|e| fail(Stage::Sim, e))?;
    if done(Stage::Sim) {
        return Ok(passed(Some(&sim), vectors));
    }

    stage.set(Stage::Lint);
    if done(Stage::Lint) {
        lint(&design, &rtl_dir)?;
        return Ok(passed(Some(&sim), vectors));
    }

    stage.set(Stage::Build);
    let report = cosimulate(&model, &plan, stimulus.inputs.view(), &cosim, &mut |_| {}).or_else(
        |e| match e {
            CosimError::Verilator(VerilatorError::Build { log, .. }) => fail(
                Stage::Build,
                format!("{} (log: {})", build_error(&log), log.display()),
            ),
            CosimError::Verilator(VerilatorError::Lint(message)) => fail(Stage::Lint, message),
            CosimError::Verilator(VerilatorError::Missing) => fail(Stage::Build, e),
            CosimError::Io(..) => fail(Stage::Build, e),
            CosimError::Reference(_) | CosimError::Sim(_) => fail(Stage::Sim, e),
            CosimError::Verilator(_) | CosimError::Malformed(_) => fail(Stage::Mismatch, e),
        },
    )?;
    if let Some(mismatch) = report.mismatch {
        return fail(Stage::Mismatch, mismatch);
    }
    if done(Stage::Mismatch) {
        return Ok(passed(Some(&sim), vectors));
    }

    stage.set(Stage::Icarus);
    let limit = cycle_limit(&plan, vectors, &schedule);
    let beats = icarus::simulate(
        &design,
        &plan,
        stimulus.inputs.view(),
        &schedule,
        limit,
        &rtl_dir,
        &dir.join("icarus"),
    )
    .or_else(|e| fail(Stage::Icarus, e))?;
    compare_icarus(&plan, &sim, &beats)?;
    Ok(passed(Some(&sim), vectors))
}

/// The first error line of a Verilator build log.
fn build_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .find(|l| l.contains("%Error") || l.contains("error:"))
        .unwrap_or("verilator failed")
        .chars()
        .take(300)
        .collect()
}

/// `verilator --lint-only -Wall` on the design's files: any warning fails.
fn lint(design: &Design, rtl_dir: &Path) -> Result<(), Failure> {
    if which("verilator").is_none() {
        return fail(Stage::Lint, VerilatorError::Missing);
    }
    let sources = rtl_dir.with_file_name("lint_sources.f");
    write_source_list(design, rtl_dir, &sources)
        .or_else(|e| fail(Stage::Lint, format!("{}: {e}", sources.display())))?;
    let output = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", &design.top, "-f"])
        .arg(&sources)
        .output()
        .or_else(|e| fail(Stage::Lint, format!("verilator: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() && !stderr.contains("%Warning") && !stderr.contains("%Error") {
        return Ok(());
    }
    fail(Stage::Lint, first_messages(&stderr))
}

/// Icarus's beats against the Rust simulation's, value and cycle.
fn compare_icarus(plan: &Plan, sim: &SimResult, beats: &[(u64, String)]) -> Result<(), Failure> {
    let shape = plan.output();
    let expected: Vec<_> = sim.beats().collect();
    if beats.len() != expected.len() {
        return fail(
            Stage::Icarus,
            format!(
                "{} output beats, the Rust simulation {}",
                beats.len(),
                expected.len()
            ),
        );
    }
    for (index, ((cycle, hex), want)) in beats.iter().zip(expected).enumerate() {
        let Some(values) = hex_to_beat(hex, shape.elements, shape.element) else {
            return fail(
                Stage::Icarus,
                format!("beat {index}: tdata {hex} is not a number"),
            );
        };
        if values != want.values || *cycle != want.cycle {
            return fail(
                Stage::Icarus,
                format!(
                    "beat {index} (vector {}, beat {}): Icarus {values:?} at cycle {cycle}, Rust simulation {:?} at cycle {}",
                    want.vector, want.beat, want.values, want.cycle
                ),
            );
        }
    }
    Ok(())
}
