//! The command line: argument parsing, one module per subcommand, and the
//! mapping of errors to exit codes (0 success, 1 a failed verdict, 2 bad
//! input or usage, 141 output into a closed pipe).

mod broken_pipe;
mod calibrate;
mod check;
mod cosim;
mod estimate;
mod fuzz;
mod generate;
mod import;
mod infer;
mod info;
mod limits;
mod quantize;
mod search;
mod sim;
mod sweep;
mod synth;

use clap::{Parser, Subcommand};
use std::fmt;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "a2qgen",
    version,
    about = "Prove accumulator widths of accumulator-aware quantized models and generate their hardware"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarize a model: one row per layer with shapes, widths, folding and sizes.
    Info(info::InfoArgs),
    /// Prove every accumulator width per layer and channel, or print the input that overflows it.
    Check(check::CheckArgs),
    /// Run input vectors through the bit-exact integer reference: outputs,
    /// overflow events per layer, accuracy against labels.
    Infer(infer::InferArgs),
    /// Generate the Verilog of the streaming accelerator (and its synthesis scripts).
    Gen(generate::GenArgs),
    /// Import a QONNX graph (Brevitas's export) as an integer model whose widths are proven.
    Import(import::ImportArgs),
    /// Quantize a float MLP (post-training A2Q / A2Q+) into a model whose accumulator widths are proven.
    Quantize(quantize::QuantizeArgs),
    /// Simulate the generated hardware cycle by cycle on input vectors, with seeded input gaps and output back-pressure.
    Sim(sim::SimArgs),
    /// Co-simulate: reference, cycle-accurate Rust simulation and Verilator must agree on every value and cycle.
    Cosim(cosim::CosimArgs),
    /// Estimate LUT/FF/CARRY4/DSP/BRAM for xc7, declared accumulators vs 32-bit ones.
    Estimate(estimate::EstimateArgs),
    /// Synthesize the RTL (declared and 32-bit accumulators) with Yosys; measured beside estimated.
    Synth(synth::SynthArgs),
    /// Synthesize a grid of small layers with Yosys and fit the estimator's constants.
    Calibrate(calibrate::CalibrateArgs),
    /// Accuracy versus resources as the accumulator width shrinks: the float
    /// model quantized at each width, and/or a fixed model narrowed to it.
    Sweep(sweep::SweepArgs),
    /// Per-layer accumulator widths minimizing estimated LUTs or FFs within
    /// an accuracy budget (mixed-precision search); the winner is written
    /// as a proven model.
    Search(search::SearchArgs),
    /// Random models through the whole chain (check, gen, lint, cosim, Icarus): coverage, failures, shrunk reproducers.
    Fuzz(fuzz::FuzzArgs),
}

/// A command's failure and the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad input or usage: exit code 2.
    pub fn input(message: impl fmt::Display) -> Self {
        CliError {
            code: 2,
            message: message.to_string(),
        }
    }

    /// A verdict that failed (e.g. an unproven width): exit code 1.
    pub fn verdict(message: impl fmt::Display) -> Self {
        CliError {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<crate::model::ModelError> for CliError {
    fn from(e: crate::model::ModelError) -> Self {
        CliError::input(e)
    }
}

/// An output path refused (or a staged write that failed): exit code 2.
impl From<crate::output::OutputError> for CliError {
    fn from(e: crate::output::OutputError) -> Self {
        CliError::input(e)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Infer(args) => infer::run(&args),
        Command::Gen(args) => generate::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Cosim(args) => cosim::run(&args),
        Command::Estimate(args) => estimate::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    broken_pipe::install_quiet_hook();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
        Err(payload) if broken_pipe::is_closed_pipe(payload.as_ref()) => {
            ExitCode::from(broken_pipe::CLOSED_PIPE_EXIT)
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
