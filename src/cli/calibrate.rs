//! `a2qgen calibrate`: synthesize the calibration grid with Yosys (runs
//! already in the CSV are kept), then fit the estimator's constants.

use super::CliError;
use super::synth::require_yosys;
use crate::calibrate::grid::ROUNDS;
use crate::calibrate::reseed::{reseed_table, reseeded};
use crate::calibrate::{CalibrationRun, Config, fit, grid, read_runs, synthesize_grid};
use crate::output::Outputs;
use clap::Args;
use std::path::{Path, PathBuf};
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
    /// Grid rounds to run (1 to 7; see `calibrate::grid::ROUNDS`).
    #[arg(long, default_value_t = ROUNDS.len())]
    rounds: usize,
    /// Seconds after which one Yosys run is stopped (at most a week).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Yosys runs in parallel, 1 to 256 (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Only fit the constants from the runs already recorded.
    #[arg(long)]
    fit_only: bool,
    /// Also write every unit's measured and estimated counts, with the
    /// error in percent, as CSV (for studying the estimator's error).
    #[arg(long, value_name = "FILE")]
    residuals: Option<PathBuf>,
    /// Synthesize these grid configs again with other pseudo-random
    /// values (comma-separated ids) and compare how the measured and the
    /// estimated LUTs move: the error that follows the values, not the
    /// structure. With --fit-only, only the recorded reseeded runs are read.
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    reseed: Vec<usize>,
    /// The runs file of the reseed study.
    #[arg(long, default_value = "calibration/reseed_runs.csv")]
    reseed_runs: PathBuf,
}

pub fn run(args: &CalibrateArgs) -> Result<(), CliError> {
    super::limits::check_timeout("--timeout", args.timeout)?;
    super::limits::check_jobs(args.jobs)?;
    let configs = grid(&ROUNDS[..args.rounds.clamp(1, ROUNDS.len())]);
    let reseeded = reseed_configs(&configs, &args.reseed)?;
    let mut outputs = Outputs::new();
    outputs.protect(&args.runs);
    outputs.protect(&args.reseed_runs);
    let constants = outputs.file("--constants", &args.constants)?;
    let residuals = outputs.optional_file("--residuals", args.residuals.as_deref())?;
    if !args.fit_only {
        require_yosys()?;
        outputs.work_dir("--work", &args.work)?;
        synthesize(args, &configs, &args.runs, "the grid")?;
        if !reseeded.is_empty() {
            synthesize(args, &reseeded, &args.reseed_runs, "the reseeded configs")?;
        }
    }
    let records = read_runs(&args.runs).map_err(CliError::input)?;
    let fitted = fit::fit_constants(&records).map_err(CliError::input)?;
    let stage_error = |e: std::io::Error| CliError::input(format!("cannot stage an output: {e}"));
    std::fs::write(outputs.path(constants), fitted.constants.to_toml()).map_err(stage_error)?;
    if let Some(slot) = residuals {
        std::fs::write(outputs.path(slot), fitted.residuals_csv()).map_err(stage_error)?;
    }
    outputs.commit()?;
    if let Some(path) = &args.residuals {
        println!("wrote {}", path.display());
    }
    print!("{}", fitted.report());
    println!("wrote {}", args.constants.display());
    if !args.reseed.is_empty() {
        let again = read_runs(&args.reseed_runs).map_err(CliError::input)?;
        println!(
            "\nLUTs of the same configs with other weights, biases and thresholds ({}):\n",
            args.reseed_runs.display()
        );
        print!("{}", reseed_table(&records, &again, &fitted.constants));
    }
    Ok(())
}

/// The grid configs named by `ids`, with other seeds.
fn reseed_configs(configs: &[Config], ids: &[usize]) -> Result<Vec<Config>, CliError> {
    ids.iter()
        .map(|&id| {
            configs
                .iter()
                .find(|c| c.id == id)
                .map(reseeded)
                .ok_or_else(|| {
                    CliError::input(format!(
                        "--reseed: no config {id} in the grid (ids 0..{})",
                        configs.len()
                    ))
                })
        })
        .collect()
}

/// Synthesizes every config not yet recorded in `csv`, appending its runs.
fn synthesize(
    args: &CalibrateArgs,
    configs: &[Config],
    csv: &Path,
    what: &str,
) -> Result<(), CliError> {
    let started = Instant::now();
    if let Some(parent) = csv.parent() {
        std::fs::create_dir_all(parent).map_err(CliError::input)?;
    }
    let failures = synthesize_grid(&CalibrationRun {
        configs,
        work_dir: &args.work,
        csv,
        timeout: Duration::from_secs(args.timeout),
        threads: args.jobs.unwrap_or_else(default_jobs),
        progress: true,
    })
    .map_err(CliError::input)?;
    println!(
        "synthesized {what}: {} configs in {:.0} s ({} failures)",
        configs.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    for failure in &failures {
        eprintln!("warning: {failure}");
    }
    Ok(())
}

/// The number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
