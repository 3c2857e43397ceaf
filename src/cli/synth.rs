//! `a2qgen synth`: generate the RTL of a model for its declared
//! accumulators and for 32-bit ones, synthesize the whole top and every
//! layer module with Yosys, and print the measured counts beside the
//! estimates.

use super::CliError;
use super::calibrate::default_jobs;
use crate::arch::{Plan, PlanOptions};
use crate::calibrate::fit::relative_error;
use crate::estimate::{
    PlanEstimate, Resources, declared_and_wide_plans, estimate_plan, widened_model,
};
use crate::model::{Model, load_model};
use crate::rtl::emit::generate;
use crate::synth::{
    Measured, SynthJob, is_layer, run_jobs, unit_module, write_design, yosys_binary, yosys_version,
};
use crate::table::{Align, Table};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Where the RTL and the Yosys logs go (default `sim/synth/<model>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seconds after which one Yosys run is stopped.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Yosys runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Synthesize only the whole top, not every layer on its own.
    #[arg(long)]
    top_only: bool,
    /// Write the measured and estimated counts as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Exits with code 2 and says how to install Yosys when it is missing.
pub fn require_yosys() -> Result<String, CliError> {
    yosys_version().ok_or_else(|| {
        CliError::input(format!(
            "yosys not found (`{}`): install it (apt-get install yosys, or `make deps`) or set {} to its path",
            yosys_binary().display(),
            crate::synth::YOSYS_ENV
        ))
    })
}

/// The two designs compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Declared,
    Wide32,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Declared => "declared",
            Variant::Wide32 => "32-bit",
        }
    }
}

/// One synthesized module with its estimate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModuleResult {
    pub variant: Variant,
    /// `None` for the whole top.
    pub unit: Option<usize>,
    pub name: String,
    pub module: String,
    pub measured: Measured,
    pub estimated: Resources,
    pub seconds: f64,
}

/// What `--json` writes (and the cached results the tests read).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SynthReport {
    pub model: String,
    pub yosys: String,
    pub command: String,
    pub modules: Vec<ModuleResult>,
}

struct VariantDesign {
    variant: Variant,
    plan: Plan,
    estimate: PlanEstimate,
}

pub fn run(args: &SynthArgs) -> Result<(), CliError> {
    let yosys = require_yosys()?;
    let model = load_model(&args.model)?;
    let (declared, wide) =
        declared_and_wide_plans(&model, PlanOptions::default()).map_err(CliError::input)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sim/synth").join(&model.name));
    let variants = [
        (Variant::Declared, model.clone(), declared),
        (Variant::Wide32, widened_model(&model), wide),
    ];
    let mut jobs = Vec::new();
    let mut designs = Vec::new();
    for (variant, variant_model, plan) in variants {
        let dir = out.join(variant_dir(variant));
        jobs.extend(variant_jobs(
            &variant_model,
            &plan,
            variant,
            &dir,
            args.top_only,
        )?);
        designs.push(VariantDesign {
            variant,
            estimate: estimate_plan(&plan),
            plan,
        });
    }
    eprintln!(
        "synthesizing {} modules of `{}` with {yosys} (up to {} s each)",
        jobs.len(),
        model.name,
        args.timeout
    );
    let results = run_jobs(
        &jobs.iter().map(|(job, ..)| job.clone()).collect::<Vec<_>>(),
        Duration::from_secs(args.timeout),
        args.jobs.unwrap_or_else(default_jobs),
        true,
        |_, _| {},
    );
    let mut modules = Vec::new();
    let mut failures = Vec::new();
    for ((job, variant, unit), result) in jobs.iter().zip(results) {
        match result {
            Ok(run) => {
                let design = designs
                    .iter()
                    .find(|d| d.variant == *variant)
                    .expect("variant");
                modules.push(ModuleResult {
                    variant: *variant,
                    unit: *unit,
                    name: unit.map_or("top".to_string(), |u| {
                        design.plan.units[u].name().to_string()
                    }),
                    module: job.top.clone(),
                    measured: run.measured,
                    estimated: unit
                        .map_or(design.estimate.total, |u| design.estimate.unit(u).total),
                    seconds: run.seconds,
                });
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    let report = SynthReport {
        model: model.name.clone(),
        yosys,
        command: format!("{} -top <module>", crate::synth::SYNTH_COMMAND),
        modules,
    };
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).expect("serializable report");
        crate::output::write_file_atomically(path, format!("{text}\n").as_bytes())
            .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::verdict(failures.join("\n")))
    }
}

fn variant_dir(variant: Variant) -> &'static str {
    match variant {
        Variant::Declared => "declared",
        Variant::Wide32 => "acc32",
    }
}

/// Writes the RTL of one variant and lists its runs: the top, then every
/// layer module.
fn variant_jobs(
    model: &Model,
    plan: &Plan,
    variant: Variant,
    dir: &Path,
    top_only: bool,
) -> Result<Vec<(SynthJob, Variant, Option<usize>)>, CliError> {
    let design = generate(model, plan);
    let written = write_design(&design, dir)
        .map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let job = |top: String, label: String| SynthJob {
        label,
        dir: written.dir.clone(),
        files: written.files.clone(),
        top,
    };
    let mut jobs = vec![(
        job(written.top.clone(), format!("{} top", variant.label())),
        variant,
        None,
    )];
    if !top_only {
        for (index, unit) in plan.units.iter().enumerate().filter(|(_, u)| is_layer(u)) {
            jobs.push((
                job(
                    unit_module(plan, index),
                    format!("{} {}", variant.label(), unit.name()),
                ),
                variant,
                Some(index),
            ));
        }
    }
    Ok(jobs)
}

fn error_cell(estimated: f64, measured: u64) -> String {
    format!("{:+.1}%", relative_error(estimated, measured as f64))
}

/// Measured beside estimated, per module.
pub fn render(report: &SynthReport) -> String {
    let mut table = Table::new(&[
        ("variant", Align::Left),
        ("module", Align::Left),
        ("LUT est", Align::Right),
        ("LUT yosys", Align::Right),
        ("LUT err", Align::Right),
        ("FF est", Align::Right),
        ("FF yosys", Align::Right),
        ("FF err", Align::Right),
        ("CARRY4 est", Align::Right),
        ("CARRY4 yosys", Align::Right),
        ("DSP est", Align::Right),
        ("DSP yosys", Align::Right),
        ("BRAM18 est", Align::Right),
        ("BRAM18 yosys", Align::Right),
        ("yosys s", Align::Right),
    ]);
    for m in &report.modules {
        let (e, y) = (&m.estimated, &m.measured);
        table.row([
            m.variant.label().to_string(),
            m.name.clone(),
            format!("{:.0}", e.lut),
            y.lut.to_string(),
            error_cell(e.lut, y.lut),
            format!("{:.0}", e.ff),
            y.ff.to_string(),
            error_cell(e.ff, y.ff),
            format!("{:.0}", e.carry4),
            y.carry4.to_string(),
            format!("{:.0}", e.dsp),
            y.dsp.to_string(),
            format!("{:.0}", e.bram18),
            y.bram18.to_string(),
            format!("{:.1}", m.seconds),
        ]);
    }
    format!(
        "model {}: {} ({}), estimates beside Yosys; LUT counts LUT1-6 plus LUTRAM/SRL LUTs\n\n{}",
        report.model, report.command, report.yosys, table
    )
}
