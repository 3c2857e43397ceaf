//! `a2qgen sim`: run the cycle-accurate simulation of a model's hardware on
//! input vectors, under seeded input gaps and output back-pressure.

use super::generate::plan_error;
use super::{CliError, limits};
use crate::arch::{Plan, PlanOptions, build_plan};
use crate::bounds::analyze;
use crate::model::load_model;
use crate::npyio;
use crate::output::Outputs;
use crate::sim::{Schedule, SimError, SimResult, simulate};
use crate::table::{Align, Table};
use clap::Args;
use ndarray::{Array2, Axis, Ix2};
use ndarray_npy::WriteNpyExt;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Input vectors: an integer `.npy` of shape [vectors, input_length]
    /// (or [input_length] for one vector).
    #[arg(long, value_name = "X.npy")]
    inputs: PathBuf,
    /// Probability, per cycle, that the input gate is closed (no new beat
    /// is presented), in [0, 0.99].
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    gaps: f64,
    /// Probability, per cycle, that the output is not ready, in [0, 0.99].
    #[arg(long, value_name = "Q", default_value_t = 0.0)]
    backpressure: f64,
    /// Seed of the schedule generator (SplitMix64).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Write every output beat as `.npy` [beats, 3 + elements] (int64):
    /// vector, beat, cycle, then the beat's elements.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the schedule used as `input_gate.txt` and `output_ready.txt`
    /// (the Verilator harness reads them).
    #[arg(long, value_name = "DIR")]
    schedule_dir: Option<PathBuf>,
    /// Fold dense layers without PE/SIMD hints to meet this many cycles per vector.
    #[arg(long, value_name = "N")]
    target_cycles: Option<u64>,
}

pub fn run(args: &SimArgs) -> Result<(), CliError> {
    limits::check_probability("--gaps", args.gaps)?;
    limits::check_probability("--backpressure", args.backpressure)?;
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    outputs.protect(&args.inputs);
    let schedule_dir = outputs.optional_dir("--schedule-dir", args.schedule_dir.as_deref())?;
    let beats = outputs.optional_file("--out", args.out.as_deref())?;
    let model = load_model(&args.model)?;
    let options = PlanOptions {
        target_cycles: args.target_cycles,
        ..PlanOptions::default()
    };
    let plan = build_plan(&model, &analyze(&model), options).map_err(plan_error)?;
    let inputs = read_inputs(&args.inputs)?;
    let schedule = schedule(args, &plan, inputs.nrows())?;
    let result = simulate(&plan, inputs.view(), &schedule).map_err(|e| match e {
        SimError::CycleLimit { .. } => CliError::verdict(e),
        _ => CliError::input(format!("{}: {e}", args.inputs.display())),
    })?;
    print!("{}", render(&plan, &schedule, &result));
    if let Some(slot) = schedule_dir {
        schedule.write_files(&outputs.path(slot)).map_err(|e| {
            CliError::input(format!("--schedule-dir: cannot stage the schedule: {e}"))
        })?;
    }
    if let Some(slot) = beats {
        write_beats(&outputs.path(slot), &result)?;
    }
    outputs.commit()?;
    Ok(())
}

/// The input vectors as `[vectors, input_length]`.
fn read_inputs(path: &Path) -> Result<Array2<i64>, CliError> {
    let array = npyio::read_int_array(path).map_err(CliError::input)?;
    let array = if array.ndim() == 1 {
        array.insert_axis(Axis(0))
    } else {
        array
    };
    array.into_dimensionality::<Ix2>().map_err(|_| {
        CliError::input(format!(
            "{}: expected [vectors, input_length] or [input_length]",
            path.display()
        ))
    })
}

/// No schedule when neither gaps nor back-pressure are asked for;
/// otherwise a random one long enough for the run at the slowed rate
/// (beyond its end the gate is open and the output ready anyway).
fn schedule(args: &SimArgs, plan: &Plan, vectors: usize) -> Result<Schedule, CliError> {
    if args.gaps == 0.0 && args.backpressure == 0.0 {
        return Ok(Schedule::open());
    }
    let free_run = (vectors as u64)
        .saturating_add(2)
        .saturating_mul(plan.initiation_interval)
        .saturating_add(plan.latency);
    let slowdown = (1.0 - args.gaps) * (1.0 - args.backpressure);
    // Float to integer saturates, and the bound is checked before allocating.
    let cycles = ((2.0 * free_run as f64 / slowdown).ceil() as u64).saturating_add(1000);
    limits::check_schedule_cycles(cycles, vectors)?;
    Ok(Schedule::random(
        args.gaps,
        args.backpressure,
        args.seed,
        cycles as usize,
    ))
}

fn write_beats(path: &Path, result: &SimResult) -> Result<(), CliError> {
    let error =
        |e: &dyn std::fmt::Display| CliError::input(format!("--out: cannot stage the beats: {e}"));
    let mut bytes = Vec::new();
    result
        .beats_table()
        .write_npy(&mut bytes)
        .map_err(|e| error(&e))?;
    std::fs::write(path, &bytes).map_err(|e| error(&e))
}

/// The summary: the run, its figures beside the plan's, and per-unit stalls.
pub fn render(plan: &Plan, schedule: &Schedule, result: &SimResult) -> String {
    let output = plan.output();
    let stimulus = if schedule.input_gate.is_empty() && schedule.output_ready.is_empty() {
        "no gaps, no back-pressure".to_string()
    } else {
        schedule.to_string()
    };
    format!(
        "model {}: {} vectors, {} output beats of {} x {}\nschedule: {stimulus}\n\n{}\n{}",
        plan.model,
        result.vectors(),
        result.beats().len(),
        output.elements,
        output.element,
        figures(plan, result),
        unit_table(result)
    )
}

fn figures(plan: &Plan, result: &SimResult) -> Table {
    let mut table = Table::new(&[
        ("figure", Align::Left),
        ("measured", Align::Right),
        ("plan", Align::Right),
    ]);
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let ii = result.initiation_interval();
    table.row([
        "total cycles".to_string(),
        result.total_cycles().to_string(),
        String::new(),
    ]);
    table.row([
        "latency, first input to first output".to_string(),
        or_dash(result.latency().map(|l| l.to_string())),
        plan.latency.to_string(),
    ]);
    table.row([
        "II, max spacing of vector outputs (compared)".to_string(),
        or_dash(ii.map(|i| i.max.to_string())),
        plan.initiation_interval.to_string(),
    ]);
    table.row([
        "II, mean spacing".to_string(),
        or_dash(ii.map(|i| format!("{:.2}", i.mean))),
        String::new(),
    ]);
    table
}

fn unit_table(result: &SimResult) -> Table {
    let mut table = Table::new(&[
        ("unit", Align::Left),
        ("kind", Align::Left),
        ("input stalls", Align::Right),
        ("output stalls", Align::Right),
        ("FIFO max / depth", Align::Right),
    ]);
    for unit in &result.units {
        table.row([
            unit.name.clone(),
            unit.kind.to_string(),
            unit.input_stalls.to_string(),
            unit.output_stalls.to_string(),
            unit.fifo_occupancy
                .map_or(String::new(), |(max, depth)| format!("{max} / {depth}")),
        ]);
    }
    table
}
