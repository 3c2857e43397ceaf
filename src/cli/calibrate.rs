//! `a2qgen calibrate`: synthesize the calibration grid with Yosys (runs
//! already in the CSV are kept), then fit the estimator's constants.

use super::CliError;
use super::synth::require_yosys;
use crate::calibrate::grid::ROUNDS;
use crate::calibrate::{CalibrationRun, fit, grid, read_runs, synthesize_grid};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The runs file: every config and its measured counts (appended to).
    #[arg(long, default_value = "calibration/yosys_runs.csv")]
    runs: PathBuf,
    /// Where the fitted constants are written.
    #[arg(long, default_value = "calibration/constants.toml")]
    constants: PathBuf,
    /// Where the RTL of every config is generated and synthesized.
    #[arg(long, default_value = "sim/calibration")]
    work: PathBuf,
    /// Grid rounds to run (1 or 2; see `calibrate::grid::ROUNDS`).
    #[arg(long, default_value_t = ROUNDS.len())]
    rounds: usize,
    /// Seconds after which one Yosys run is stopped.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Yosys runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Only fit the constants from the runs already recorded.
    #[arg(long)]
    fit_only: bool,
}

pub fn run(args: &CalibrateArgs) -> Result<(), CliError> {
    let configs = grid(&ROUNDS[..args.rounds.clamp(1, ROUNDS.len())]);
    if !args.fit_only {
        require_yosys()?;
        let started = Instant::now();
        if let Some(parent) = args.runs.parent() {
            std::fs::create_dir_all(parent).map_err(CliError::input)?;
        }
        let failures = synthesize_grid(&CalibrationRun {
            configs: &configs,
            work_dir: &args.work,
            csv: &args.runs,
            timeout: Duration::from_secs(args.timeout),
            threads: args.jobs.unwrap_or_else(default_jobs),
            progress: true,
        })
        .map_err(CliError::input)?;
        println!(
            "synthesized the grid of {} configs in {:.0} s ({} failures)",
            configs.len(),
            started.elapsed().as_secs_f64(),
            failures.len()
        );
        for failure in &failures {
            eprintln!("warning: {failure}");
        }
    }
    let records = read_runs(&args.runs).map_err(CliError::input)?;
    let fitted = fit::fit_constants(&records).map_err(CliError::input)?;
    std::fs::write(&args.constants, fitted.constants.to_toml()).map_err(CliError::input)?;
    print!("{}", fitted.report());
    println!("wrote {}", args.constants.display());
    Ok(())
}

/// The number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
