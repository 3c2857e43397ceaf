//! `a2qgen cosim`: reference, Rust simulation and Verilator, compared.

use super::generate::PlanArgs;
use super::{CliError, limits};
use crate::cosim::verilator::VerilatorError;
use crate::cosim::{CosimError, CosimOptions, Fault, cosimulate, schedule_cycles};
use crate::model::{Model, load_model};
use crate::npyio;
use crate::output::Outputs;
use crate::reference::ReferenceError;
use crate::reference::as_batch;
use crate::sim::SimError;
use crate::sim::SplitMix64;
use crate::table::{Align, Table};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CosimArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Input vectors, `[batch, input_length]` integers.
    #[arg(long, value_name = "X.npy", conflicts_with = "random")]
    inputs: Option<PathBuf>,
    /// Use N random vectors over the model's input type instead (at most
    /// 100000, and 2^24 input values).
    #[arg(long, value_name = "N")]
    random: Option<usize>,
    /// Probability that the input stream holds back a beat in a cycle, in [0, 0.99].
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    gaps: f64,
    /// Probability that the output stream is not ready in a cycle, in [0, 0.99].
    #[arg(long, default_value_t = 0.0, value_name = "Q")]
    backpressure: f64,
    /// Seed of the schedules and of random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Build and run folder (default `sim/build/<model>`).
    #[arg(long, value_name = "DIR")]
    build_dir: Option<PathBuf>,
    /// Write a VCD trace of the Verilator run (slow, large).
    #[arg(long, value_name = "FILE.vcd")]
    trace: Option<PathBuf>,
    /// Test only: build the RTL with a deliberate defect.
    #[arg(long, hide = true, value_enum)]
    inject_fault: Option<Fault>,
    #[command(flatten)]
    folding: PlanArgs,
}

/// `count` vectors spread uniformly over the model's input type.
pub fn random_inputs(model: &Model, count: usize, seed: u64) -> Array2<i64> {
    let mut rng = SplitMix64::new(seed);
    let (lo, hi) = (model.input.min() as i64, model.input.max() as i64);
    Array2::from_shape_simple_fn((count, model.input_length), || rng.range_inclusive(lo, hi))
}

/// Every input value within the model's input type.
fn check_input_values(model: &Model, batch: &Array2<i64>) -> Result<(), String> {
    let input = model.input;
    match batch
        .indexed_iter()
        .find(|(_, v)| !input.contains(i128::from(**v)))
    {
        Some(((vector, element), value)) => Err(format!(
            "input [{vector}][{element}] = {value} is outside the model's input type {input} ({}..={})",
            input.min(),
            input.max()
        )),
        None => Ok(()),
    }
}

/// Exit 1 only for a failed verdict: the RTL that does not build or run, a
/// simulation that deadlocks. Missing tools, unusable inputs and folders
/// that cannot be written are bad input (exit 2).
fn cosim_error(e: CosimError) -> CliError {
    match &e {
        CosimError::Verilator(VerilatorError::Missing | VerilatorError::Io(..))
        | CosimError::Io(..)
        | CosimError::Reference(
            ReferenceError::InputShape { .. } | ReferenceError::InputValue { .. },
        )
        | CosimError::Sim(SimError::InputShape { .. } | SimError::InputRange { .. }) => {
            CliError::input(e)
        }
        _ => CliError::verdict(e),
    }
}

pub fn run(args: &CosimArgs) -> Result<(), CliError> {
    limits::check_probability("--gaps", args.gaps)?;
    limits::check_probability("--backpressure", args.backpressure)?;
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    if let Some(path) = &args.inputs {
        outputs.protect(path);
    }
    let trace = outputs.optional_file("--trace", args.trace.as_deref())?;
    let model = load_model(&args.model)?;
    let plan = args.folding.plan(&model)?;
    let inputs = match (&args.inputs, args.random) {
        (Some(path), _) => {
            let array = npyio::read_int_array(path).map_err(CliError::input)?;
            let batch = as_batch(array, model.input_length)
                .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
            check_input_values(&model, &batch)
                .map_err(|m| CliError::input(format!("{}: {m}", path.display())))?;
            batch
        }
        (None, Some(count)) => {
            limits::check_random_vectors(count, model.input_length)?;
            random_inputs(&model, count, args.seed)
        }
        (None, None) => {
            return Err(CliError::input(
                "give --inputs X.npy or --random N (N >= 1)",
            ));
        }
    };
    let build_dir = args
        .build_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("sim/build").join(&model.name));
    if build_dir.exists() && !build_dir.is_dir() {
        return Err(CliError::input(format!(
            "--build-dir {}: is not a directory",
            build_dir.display()
        )));
    }
    let vectors = inputs.nrows();
    limits::check_schedule_cycles(schedule_cycles(&plan, vectors), vectors)?;
    let options = CosimOptions {
        gaps: args.gaps,
        backpressure: args.backpressure,
        seed: args.seed,
        build_dir: outputs.work_dir("--build-dir", &build_dir)?,
        trace: trace.map(|slot| outputs.path(slot)),
        fault: args.inject_fault,
        quick_build: false,
        runtime_cache: None,
        lint: false,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} cosim {prefix}: {msg} ({elapsed})")
            .expect("a valid template"),
    );
    bar.set_prefix(model.name.clone());
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = cosimulate(&model, &plan, inputs.view(), &options, &mut |step| {
        bar.set_message(step.to_string())
    });
    bar.finish_and_clear();
    let report = result.map_err(cosim_error)?;
    // The trace is committed also on a mismatch (exit 1): that is when it
    // is read.
    outputs.commit()?;
    println!(
        "cosim {}: {} vectors, {} output beats, {} cycles; gaps {:.2}, back-pressure {:.2}, seed {}\n",
        model.name,
        report.vectors,
        report.beats,
        report.total_cycles,
        args.gaps,
        args.backpressure,
        args.seed
    );
    let mut table = Table::new(&[
        ("figure", Align::Left),
        ("measured", Align::Right),
        ("analytical", Align::Right),
    ]);
    table.row([
        "latency, first input to first output (cycles)".to_string(),
        report.latency.map_or("-".into(), |l| l.to_string()),
        report.analytical_latency.to_string(),
    ]);
    table.row([
        "initiation interval, max / mean (cycles)".to_string(),
        match (report.ii_max, report.ii_mean) {
            (Some(max), Some(mean)) => format!("{max} / {mean:.2}"),
            _ => "-".into(),
        },
        report.analytical_ii.to_string(),
    ]);
    print!("{table}");
    match report.mismatch {
        None => {
            println!(
                "\nreference, Rust simulation and Verilator agree on all {} values; Rust simulation and Verilator on all {} beat cycles",
                report.beats * plan.output().elements,
                report.beats
            );
            Ok(())
        }
        Some(m) => Err(CliError::verdict(format!("first mismatch: {m}"))),
    }
}
