//! `a2qgen synth`: generate the RTL of a model for its declared
//! accumulators and for 32-bit ones, synthesize the whole top and every
//! layer module with Yosys, and print the measured counts beside the
//! estimates.

use super::CliError;
use super::calibrate::default_jobs;
use super::generate::plan_error;
use crate::arch::{Plan, PlanOptions};
use crate::calibrate::fit::relative_error;
use crate::estimate::{
    PlanEstimate, Resources, declared_and_wide_plans, estimate_plan, widened_model,
};
use crate::model::{Model, load_model};
use crate::output::Outputs;
use crate::rtl::emit::generate;
use crate::synth::parts::{Part, part_counts};
use crate::synth::{
    HIERARCHICAL_COMMAND, Measured, SynthJob, SynthRun, is_layer, run_jobs, unit_module,
    write_design, yosys_binary, yosys_version,
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
    /// Seconds after which one Yosys run is stopped (at most a week).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Yosys runs in parallel, 1 to 256 (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Synthesize only the whole top, not every layer on its own.
    #[arg(long, conflicts_with = "parts")]
    top_only: bool,
    /// Also synthesize every layer with its module hierarchy kept and show
    /// each part (weight ROM, dot product, accumulator, thresholds, ...)
    /// measured beside its estimate, and what 32-bit accumulators cost
    /// per part.
    #[arg(long)]
    parts: bool,
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
    /// With `--parts`: every part of the layer, synthesized with the
    /// hierarchy kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartResult>,
}

/// One part of a layer: measured in the hierarchical synthesis, and the
/// estimator's components it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartResult {
    pub part: Part,
    pub measured: Measured,
    pub estimated: Resources,
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
    super::limits::check_timeout("--timeout", args.timeout)?;
    super::limits::check_jobs(args.jobs)?;
    let yosys = require_yosys()?;
    let model = load_model(&args.model)?;
    let (declared, wide) =
        declared_and_wide_plans(&model, PlanOptions::default()).map_err(plan_error)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sim/synth").join(&model.name));
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    let json = outputs.optional_file("--json", args.json.as_deref())?;
    let out = outputs.work_dir("--out", &out)?;
    let variants = [
        (Variant::Declared, model.clone(), declared),
        (Variant::Wide32, widened_model(&model), wide),
    ];
    let mut jobs = Vec::new();
    let mut designs = Vec::new();
    for (variant, variant_model, plan) in variants {
        let dir = out.join(variant_dir(variant));
        jobs.extend(variant_jobs(&variant_model, &plan, variant, &dir, args)?);
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
    let mut modules: Vec<ModuleResult> = Vec::new();
    let mut hierarchical = Vec::new();
    let mut failures = Vec::new();
    for ((job, variant, unit), result) in jobs.iter().zip(results) {
        let design = designs
            .iter()
            .find(|d| d.variant == *variant)
            .expect("variant");
        match result {
            Ok(run) if job.hierarchy => hierarchical.push((design, unit.expect("a layer"), run)),
            Ok(run) => modules.push(ModuleResult {
                variant: *variant,
                unit: *unit,
                name: unit.map_or("top".to_string(), |u| {
                    design.plan.units[u].name().to_string()
                }),
                module: job.top.clone(),
                measured: run.measured,
                estimated: unit.map_or(design.estimate.total, |u| design.estimate.unit(u).total),
                seconds: run.seconds,
                parts: Vec::new(),
            }),
            Err(e) => failures.push(e.to_string()),
        }
    }
    for (design, unit, run) in hierarchical {
        if let Some(module) = modules
            .iter_mut()
            .find(|m| m.variant == design.variant && m.unit == Some(unit))
        {
            module.parts = layer_parts(design, unit, &run);
        }
    }
    let report = SynthReport {
        model: model.name.clone(),
        yosys,
        command: format!("{} -top <module>", crate::synth::SYNTH_COMMAND),
        modules,
    };
    print!("{}", render(&report));
    if let Some(slot) = json {
        let text = serde_json::to_string_pretty(&report).expect("serializable report");
        std::fs::write(outputs.path(slot), format!("{text}\n"))
            .map_err(|e| CliError::input(format!("--json: cannot stage the report: {e}")))?;
    }
    // Committed also when some runs failed (exit 1): the report shows which.
    outputs.commit()?;
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

/// Writes the RTL of one variant and lists its runs: the top, then (but
/// with `--top-only`) every layer module, and with `--parts` every layer
/// again with its hierarchy kept.
fn variant_jobs(
    model: &Model,
    plan: &Plan,
    variant: Variant,
    dir: &Path,
    args: &SynthArgs,
) -> Result<Vec<(SynthJob, Variant, Option<usize>)>, CliError> {
    let design = generate(model, plan);
    let written = write_design(&design, dir)
        .map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let job = |top: String, label: String, hierarchy: bool| SynthJob {
        label,
        dir: written.dir.clone(),
        files: written.files.clone(),
        top,
        hierarchy,
    };
    let mut jobs = vec![(
        job(
            written.top.clone(),
            format!("{} top", variant.label()),
            false,
        ),
        variant,
        None,
    )];
    if args.top_only {
        return Ok(jobs);
    }
    for (index, unit) in plan.units.iter().enumerate().filter(|(_, u)| is_layer(u)) {
        let label = format!("{} {}", variant.label(), unit.name());
        jobs.push((
            job(unit_module(plan, index), label.clone(), false),
            variant,
            Some(index),
        ));
        if args.parts {
            jobs.push((
                job(unit_module(plan, index), format!("{label} parts"), true),
                variant,
                Some(index),
            ));
        }
    }
    Ok(jobs)
}

/// The measured parts of layer `unit` (a hierarchical run) beside the
/// estimator's components they hold.
fn layer_parts(design: &VariantDesign, unit: usize, run: &SynthRun) -> Vec<PartResult> {
    let measured = part_counts(&run.top, &run.modules);
    let thresholds = measured.contains_key(&Part::Thresholds);
    let mut estimated: std::collections::BTreeMap<Part, Resources> = Default::default();
    for (&component, resources) in &design.estimate.unit(unit).components {
        *estimated
            .entry(Part::of_component(component, thresholds))
            .or_default() += *resources;
    }
    let all: std::collections::BTreeSet<Part> =
        measured.keys().chain(estimated.keys()).copied().collect();
    all.into_iter()
        .map(|part| PartResult {
            part,
            measured: measured.get(&part).copied().unwrap_or_default(),
            estimated: estimated.get(&part).copied().unwrap_or_default(),
        })
        .collect()
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
    let mut text = format!(
        "model {}: {} ({}), estimates beside Yosys; LUT counts LUT1-6 plus LUTRAM/SRL LUTs\n\n{}",
        report.model, report.command, report.yosys, table
    );
    if report.modules.iter().any(|m| !m.parts.is_empty()) {
        text.push_str(&format!(
            "\nPer part, with the hierarchy kept (`{HIERARCHICAL_COMMAND} -top <layer>`): \
             ABC cannot merge logic across modules, so a layer's parts add up to the \
             `all parts` row, not exactly to its flattened count above\n\n{}",
            parts_table(report)
        ));
        text.push_str(&format!(
            "\nWhat 32-bit accumulators cost, measured per part (declared -> 32-bit, hierarchy kept):\n\n{}",
            widening_table(report)
        ));
    }
    text
}

fn parts_table(report: &SynthReport) -> Table {
    let mut table = Table::new(&[
        ("variant", Align::Left),
        ("layer", Align::Left),
        ("part", Align::Left),
        ("LUT est", Align::Right),
        ("LUT yosys", Align::Right),
        ("LUT err", Align::Right),
        ("FF est", Align::Right),
        ("FF yosys", Align::Right),
        ("FF err", Align::Right),
        ("DSP yosys", Align::Right),
    ]);
    for m in report.modules.iter().filter(|m| !m.parts.is_empty()) {
        let mut row = |part: &str, e: &Resources, y: &Measured| {
            table.row([
                m.variant.label().to_string(),
                m.name.clone(),
                part.to_string(),
                format!("{:.0}", e.lut),
                y.lut.to_string(),
                part_error(e.lut, y.lut),
                format!("{:.0}", e.ff),
                y.ff.to_string(),
                part_error(e.ff, y.ff),
                y.dsp.to_string(),
            ]);
        };
        for p in &m.parts {
            row(p.part.name(), &p.estimated, &p.measured);
        }
        let total = m.parts.iter().map(|p| p.measured).sum();
        row("all parts", &m.estimated, &total);
    }
    table
}

/// The error of a part's estimate; `-` when Yosys found nothing there.
fn part_error(estimated: f64, measured: u64) -> String {
    if measured == 0 {
        "-".into()
    } else {
        error_cell(estimated, measured)
    }
}

/// Every layer's parts, declared beside 32-bit, measured.
fn widening_table(report: &SynthReport) -> Table {
    let mut table = Table::new(&[
        ("layer", Align::Left),
        ("part", Align::Left),
        ("LUT", Align::Right),
        ("FF", Align::Right),
        ("CARRY4", Align::Right),
    ]);
    let layers = report
        .modules
        .iter()
        .filter(|m| m.variant == Variant::Declared && !m.parts.is_empty());
    for declared in layers {
        let Some(wide) = report
            .modules
            .iter()
            .find(|m| m.variant == Variant::Wide32 && m.name == declared.name)
        else {
            continue;
        };
        for p in &declared.parts {
            let d = p.measured;
            let w = wide
                .parts
                .iter()
                .find(|q| q.part == p.part)
                .map_or_else(Measured::default, |q| q.measured);
            table.row([
                declared.name.clone(),
                p.part.name().to_string(),
                format!("{} -> {}", d.lut, w.lut),
                format!("{} -> {}", d.ff, w.ff),
                format!("{} -> {}", d.carry4, w.carry4),
            ]);
        }
    }
    table
}
