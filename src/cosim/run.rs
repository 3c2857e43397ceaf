//! One co-simulation: reference, Rust simulation and Verilator on the same
//! inputs and schedules, compared value by value and cycle by cycle.

use super::beats::{beat_to_hex, hex_to_beat};
use super::verilator::{self, BuildOptions, VerilatorError};
use crate::arch::Plan;
use crate::model::Model;
use crate::reference::{AccumulatorMode, Reference, ReferenceError};
use crate::rtl::{Design, generate};
use crate::sim::{Schedule, SimError, cycle_limit, simulate};
use ndarray::{ArrayView2, Axis};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How to co-simulate.
#[derive(Clone, Debug)]
pub struct CosimOptions {
    /// Probability that the input is held back in a cycle (tvalid low).
    pub gaps: f64,
    /// Probability that the output is not ready in a cycle (tready low).
    pub backpressure: f64,
    pub seed: u64,
    /// Folder for the RTL copy, the Verilator build and the run files.
    pub build_dir: PathBuf,
    /// Write a VCD of the Verilator run (slow: only on request).
    pub trace: Option<PathBuf>,
    /// Test only: generate the RTL with a deliberate defect.
    pub fault: Option<Fault>,
    /// Build Verilator's model for a short run (see [`BuildOptions::quick`]).
    pub quick_build: bool,
    /// Verilator's runtime objects shared by quick builds.
    pub runtime_cache: Option<PathBuf>,
    /// Quick builds only: fail on any warning of Verilator's `-Wall`.
    pub lint: bool,
}

/// A deliberate defect, to show that the comparison catches one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Flip bit P-2 of the first bias word of the last dense layer.
    AccumulatorBit,
    /// Raise every threshold of the first thresholded layer by one.
    Threshold,
}

/// One beat as the three views saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub vector: usize,
    pub beat: usize,
    pub element: usize,
    pub reference: Option<i64>,
    pub sim: Option<(i64, u64)>,
    pub verilator: Option<(i64, u64)>,
}

/// What a co-simulation measured.
#[derive(Clone, Debug)]
pub struct CosimReport {
    pub vectors: usize,
    pub beats: usize,
    pub total_cycles: u64,
    pub latency: Option<u64>,
    pub analytical_latency: u64,
    pub ii_max: Option<u64>,
    pub ii_mean: Option<f64>,
    pub analytical_ii: u64,
    pub mismatch: Option<Mismatch>,
}

#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Verilator(#[from] VerilatorError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("Verilator printed a malformed beat: {0}")]
    Malformed(String),
}

/// Length of the gap and back-pressure schedule of a run of `vectors`
/// vectors: twice the cycle limit of a run without either.
pub fn schedule_cycles(plan: &Plan, vectors: usize) -> u64 {
    cycle_limit(plan, vectors, &Schedule::open()).saturating_mul(2)
}

/// Runs the three views on `inputs`; `progress` is told each step.
pub fn cosimulate(
    model: &Model,
    plan: &Plan,
    inputs: ArrayView2<i64>,
    options: &CosimOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<CosimReport, CosimError> {
    progress("reference");
    let reference = Reference::new(model, &AccumulatorMode::default())?
        .run(inputs)?
        .outputs;
    let vectors = inputs.len_of(Axis(0));
    let schedule = schedule_for(plan, vectors, options);
    progress("Rust simulation");
    let sim = simulate(plan, inputs, &schedule)?;

    progress("generating RTL");
    let design = faulty(model, plan, options.fault);
    let rtl_dir = options.build_dir.join("rtl");
    verilator::write_rtl(&design, &rtl_dir)?;
    progress("building with Verilator");
    let build = BuildOptions {
        trace: options.trace.is_some(),
        quick: options.quick_build,
        runtime_cache: options.runtime_cache.clone(),
        lint: options.lint,
    };
    let binary = verilator::build_with(&design, &rtl_dir, &options.build_dir, &build)?;
    let run_dir = options.build_dir.join("run");
    write_stimulus(plan, inputs, &schedule, &run_dir)?;
    progress("running Verilator");
    let beats = vectors * plan.output_beats_per_vector();
    let limit = cycle_limit(plan, vectors, &schedule);
    let rtl_beats = verilator::run(
        &binary,
        &rtl_dir,
        &run_dir,
        beats,
        limit,
        options.trace.as_deref(),
    )?;

    progress("comparing");
    let element = plan.output().element;
    let per_beat = plan.output().elements;
    let mut decoded = Vec::with_capacity(rtl_beats.len());
    for (cycle, hex) in &rtl_beats {
        let values = hex_to_beat(hex, per_beat, element)
            .ok_or_else(|| CosimError::Malformed(hex.clone()))?;
        decoded.push((*cycle, values));
    }
    let sim_beats: Vec<(u64, Vec<i64>)> =
        sim.beats().map(|b| (b.cycle, b.values.to_vec())).collect();
    let mismatch = first_mismatch(&reference.view(), &sim_beats, &decoded, plan);
    let ii = sim.initiation_interval();
    Ok(CosimReport {
        vectors,
        beats,
        total_cycles: sim.total_cycles(),
        latency: sim.latency(),
        analytical_latency: plan.latency,
        ii_max: ii.as_ref().map(|i| i.max),
        ii_mean: ii.as_ref().map(|i| i.mean),
        analytical_ii: plan.initiation_interval,
        mismatch,
    })
}

/// The gap and back-pressure schedule of a co-simulation of `vectors`
/// vectors: random over twice the cycles the run takes without stalls.
pub fn schedule_for(plan: &Plan, vectors: usize, options: &CosimOptions) -> Schedule {
    Schedule::random(
        options.gaps,
        options.backpressure,
        options.seed,
        schedule_cycles(plan, vectors) as usize,
    )
}

/// The design, with the requested defect if any.
fn faulty(model: &Model, plan: &Plan, fault: Option<Fault>) -> Design {
    let Some(fault) = fault else {
        return generate(model, plan);
    };
    let mut broken = plan.clone();
    let mvaus: Vec<&mut crate::arch::Mvau> = broken
        .units
        .iter_mut()
        .filter_map(|u| match u {
            crate::arch::Unit::Mvau(m) => Some(m.as_mut()),
            _ => None,
        })
        .collect();
    match fault {
        Fault::AccumulatorBit => {
            if let Some(m) = mvaus.into_iter().last() {
                let bit = 1i64 << (m.accumulator.bits - 2);
                let bias = m.bias.get_or_insert_with(|| vec![vec![0; m.nf]; m.pe]);
                bias[0][0] ^= bit;
            }
        }
        Fault::Threshold => {
            if let Some(t) = mvaus.into_iter().find_map(|m| m.thresholds.as_mut()) {
                t.iter_mut().flatten().flatten().for_each(|v| *v += 1);
            }
        }
    }
    generate(model, &broken)
}

/// Writes the input beats and the schedules where the harness reads them.
pub fn write_stimulus(
    plan: &Plan,
    inputs: ArrayView2<i64>,
    schedule: &Schedule,
    dir: &Path,
) -> Result<(), CosimError> {
    let io = |e| CosimError::Io(dir.to_path_buf(), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let shape = plan.input();
    let mut text = String::new();
    for row in inputs.rows() {
        let row = row.to_vec();
        for chunk in row.chunks(shape.elements) {
            let _ = writeln!(text, "{}", beat_to_hex(chunk, shape.element));
        }
    }
    std::fs::write(dir.join("inputs.hex"), text).map_err(io)?;
    schedule.write_files(dir).map_err(io)?;
    Ok(())
}

/// The first beat where the three views differ: values against the
/// reference, cycles between the Rust simulation and Verilator.
fn first_mismatch(
    reference: &ArrayView2<i64>,
    sim: &[(u64, Vec<i64>)],
    rtl: &[(u64, Vec<i64>)],
    plan: &Plan,
) -> Option<Mismatch> {
    let per_beat = plan.output().elements;
    let beats_per_vector = plan.output_beats_per_vector();
    let total = reference.nrows() * beats_per_vector;
    for index in 0..total.max(sim.len()).max(rtl.len()) {
        let (vector, beat) = (index / beats_per_vector, index % beats_per_vector);
        let s = sim.get(index);
        let r = rtl.get(index);
        for element in 0..per_beat {
            let want = (vector < reference.nrows())
                .then(|| reference[[vector, beat * per_beat + element]]);
            let from_sim = s.map(|(c, v)| (v[element], *c));
            let from_rtl = r.map(|(c, v)| (v[element], *c));
            let agree = want.is_some()
                && from_sim.map(|(v, _)| v) == want
                && from_rtl.map(|(v, _)| v) == want
                && from_sim.map(|(_, c)| c) == from_rtl.map(|(_, c)| c);
            if !agree {
                return Some(Mismatch {
                    vector,
                    beat,
                    element,
                    reference: want,
                    sim: from_sim,
                    verilator: from_rtl,
                });
            }
        }
    }
    None
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<(i64, u64)>| {
            v.map_or("no beat".to_string(), |(value, cycle)| {
                format!("{value} at cycle {cycle}")
            })
        };
        write!(
            f,
            "vector {}, beat {}, element {}: reference {}, Rust simulation {}, Verilator {}",
            self.vector,
            self.beat,
            self.element,
            self.reference.map_or("none".to_string(), |v| v.to_string()),
            show(self.sim),
            show(self.verilator)
        )
    }
}
