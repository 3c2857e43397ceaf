//! `a2qgen fuzz`: random models through the whole chain (check, gen,
//! Verilator lint, co-simulation, Icarus), with coverage, failures and
//! shrunk reproducers.

use super::CliError;
use crate::cosim::verilator::which;
use crate::fuzz::{FuzzOptions, GenConfig, ModelRun, Source, fuzz, reproduce_command};
use crate::model::load_model;
use crate::table::{Align, Table};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Number of models to draw.
    #[arg(long, default_value_t = 100, value_name = "N")]
    models: usize,
    /// Seed of the run: model i is drawn from a seed derived from it and i.
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// Run only model I of the run seeded --seed.
    #[arg(long, value_name = "I", conflicts_with_all = ["model_seed", "model"])]
    only: Option<usize>,
    /// Run only the model drawn from its own seed X (as printed by a run).
    #[arg(long, value_name = "X", value_parser = parse_seed, conflicts_with = "model")]
    model_seed: Option<u64>,
    /// Run a model file (e.g. a shrunk reproducer) with stimulus seed --seed.
    #[arg(long, value_name = "MODEL.toml")]
    model: Option<PathBuf>,
    /// Folder for work files and reproducers.
    #[arg(long, default_value = "sim/fuzz", value_name = "DIR")]
    out: PathBuf,
    /// Models run in parallel (default: the number of cores).
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Keep every model's work folder (RTL, builds, stimulus).
    #[arg(long)]
    keep: bool,
    /// Only draw the models and print their coverage (no tools run).
    #[arg(long)]
    draw_only: bool,
    /// Chain runs spent shrinking each failing stage's smallest model (0: no shrinking).
    #[arg(long, default_value_t = 40, value_name = "RUNS")]
    shrink: usize,
}

/// A seed in decimal or `0x` hexadecimal.
fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("`{text}` is not a seed: {e}"))
}

fn source(args: &FuzzArgs) -> Result<Source, CliError> {
    Ok(match (&args.model, args.model_seed, args.only) {
        (Some(path), _, _) => Source::File {
            model: Box::new(load_model(path)?),
            seed: args.seed,
        },
        (None, Some(seed), _) => Source::ModelSeed(seed),
        (None, None, Some(index)) => Source::Only {
            seed: args.seed,
            index,
        },
        (None, None, None) if args.models > 0 => Source::Run {
            seed: args.seed,
            count: args.models,
        },
        _ => return Err(CliError::input("--models must be at least 1")),
    })
}

/// The coverage of the drawn models alone.
fn draw_only(cases: &[crate::fuzz::Case]) {
    let mut coverage = crate::fuzz::Coverage::default();
    for case in cases {
        let model = &case.model;
        let plan = crate::arch::build_plan(
            model,
            &crate::bounds::analyze(model),
            crate::arch::PlanOptions::default(),
        );
        coverage.add(&crate::fuzz::features(model, plan.as_ref().ok()));
    }
    println!(
        "## Coverage of the drawn models ({})\n\n{coverage}",
        coverage.models
    );
}

pub fn run(args: &FuzzArgs) -> Result<(), CliError> {
    if args.draw_only {
        let cases = source(args)?.cases(&GenConfig::default());
        draw_only(&cases);
        return Ok(());
    }
    for tool in ["verilator", "iverilog", "vvp"] {
        if which(tool).is_none() {
            return Err(CliError::input(format!(
                "{tool} is not installed (run `make deps`)"
            )));
        }
    }
    let jobs = match args.jobs {
        Some(0) => return Err(CliError::input("--jobs must be at least 1")),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let source = source(args)?;
    let config = GenConfig::default();
    let cases = source.cases(&config);
    let total = cases.len();
    println!(
        "fuzz: {total} model(s), seed {}, {jobs} job(s), work in {}",
        args.seed,
        args.out.display()
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} models ({elapsed}) {msg}")
            .expect("a valid template"),
    );
    let started = std::time::Instant::now();
    let report_line = |run: &ModelRun| {
        bar.inc(1);
        let finished = bar.position();
        if bar.is_hidden() && finished.is_multiple_of(25) && finished < total as u64 {
            println!(
                "{finished}/{total} models, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        if let Err(f) = &run.result {
            bar.suspend(|| {
                println!(
                    "FAIL model {} ({}, seed {:#x}) {}: {}",
                    run.case.index, run.case.model.name, run.case.seed, f.stage, f.message
                )
            });
        } else if total == 1 {
            bar.suspend(|| {
                println!(
                    "pass model {} ({}, seed {:#x}) in {:.1} s",
                    run.case.index, run.case.model.name, run.case.seed, run.seconds
                )
            });
        }
    };
    let options = FuzzOptions {
        config,
        out: args.out.clone(),
        jobs,
        keep: args.keep,
        shrink_budget: args.shrink,
    };
    let report = fuzz(cases, &options, &report_line)
        .map_err(|e| CliError::input(format!("{}: {e}", args.out.display())))?;
    bar.finish_and_clear();

    println!(
        "\n## Coverage ({} models)\n\n{}",
        report.coverage.models, report.coverage
    );
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        let mut table = Table::new(&[
            ("#", Align::Right),
            ("model seed", Align::Left),
            ("stage", Align::Left),
            ("message", Align::Left),
        ]);
        for (run, f) in &failures {
            let message: String = f.message.chars().take(160).collect();
            table.row([
                run.case.index.to_string(),
                format!("{:#018x}", run.case.seed),
                f.stage.to_string(),
                message.replace('|', "/"),
            ]);
        }
        println!("\n## Failures\n\n{table}");
        let mut by_stage = std::collections::BTreeMap::new();
        for (_, f) in &failures {
            *by_stage.entry(f.stage).or_insert(0usize) += 1;
        }
        let stages: Vec<String> = by_stage.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!("\nby stage: {}", stages.join(", "));
        if let Some((run, _)) = failures.first() {
            println!("reproduce one: {}", reproduce_command(&run.case, &source));
        }
    }
    for r in &report.reproducers {
        println!(
            "\nshrunk `{}` failure of model {} in {} steps ({} runs): {}\n  {}\n  reproduce: {}",
            r.stage,
            r.original,
            r.shrunk.steps,
            r.shrunk.attempts,
            r.dir.display(),
            r.shrunk
                .failure
                .message
                .chars()
                .take(200)
                .collect::<String>(),
            r.command
        );
    }
    let mut slowest: Vec<&ModelRun> = report.runs.iter().collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let slow: Vec<String> = slowest
        .iter()
        .take(5)
        .map(|r| format!("model {} {:.1} s", r.case.index, r.seconds))
        .collect();
    println!("\nslowest: {}", slow.join(", "));
    let passed = report.runs.len() - failures.len();
    println!(
        "\n{} models: {passed} passed, {} failed; wall time {:.1} s ({jobs} jobs)",
        report.runs.len(),
        failures.len(),
        report.seconds
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::verdict(format!(
            "{} of {} models failed",
            failures.len(),
            report.runs.len()
        )))
    }
}
