//! `a2qgen cosim`: reference, Rust simulation and Verilator, compared.

use super::CliError;
use super::generate::PlanArgs;
use crate::cosim::{CosimOptions, Fault, cosimulate};
use crate::model::{Model, load_model};
use crate::npyio;
use crate::reference::as_batch;
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
    /// Use N random vectors over the model's input type instead.
    #[arg(long, value_name = "N")]
    random: Option<usize>,
    /// Probability that the input stream holds back a beat in a cycle.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    gaps: f64,
    /// Probability that the output stream is not ready in a cycle.
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

fn check_probability(name: &str, p: f64) -> Result<(), CliError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(CliError::input(format!("--{name} {p}: must be in [0, 1)")))
    }
}

pub fn run(args: &CosimArgs) -> Result<(), CliError> {
    check_probability("gaps", args.gaps)?;
    check_probability("backpressure", args.backpressure)?;
    let model = load_model(&args.model)?;
    let plan = args.folding.plan(&model)?;
    let inputs = match (&args.inputs, args.random) {
        (Some(path), _) => {
            let array = npyio::read_int_array(path).map_err(CliError::input)?;
            as_batch(array, model.input_length)
                .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?
        }
        (None, Some(count)) if count > 0 => random_inputs(&model, count, args.seed),
        _ => {
            return Err(CliError::input(
                "give --inputs X.npy or --random N (N >= 1)",
            ));
        }
    };
    let options = CosimOptions {
        gaps: args.gaps,
        backpressure: args.backpressure,
        seed: args.seed,
        build_dir: args
            .build_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("sim/build").join(&model.name)),
        trace: args.trace.clone(),
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
    let report = result.map_err(|e| match e {
        crate::cosim::CosimError::Verilator(crate::cosim::verilator::VerilatorError::Missing) => {
            CliError::input(e)
        }
        other => CliError::verdict(other),
    })?;
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
