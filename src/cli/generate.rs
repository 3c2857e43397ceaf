//! `a2qgen gen`: the hardware plan and its Verilog.

use super::CliError;
use crate::arch::{ArchError, Plan, PlanOptions, build_plan, plan_table};
use crate::bounds::analyze;
use crate::model::{Model, load_model};
use crate::output::Outputs;
use crate::rtl::{ScriptOptions, claim_design, generate, stage_design};
use clap::Args;
use std::path::PathBuf;

/// Options every command that builds hardware shares.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Fold dense layers without `pe`/`simd` to meet this many cycles per
    /// input vector (the smallest PE x SIMD that does).
    #[arg(long, value_name = "N")]
    pub target_cycles: Option<u64>,
}

impl PlanArgs {
    /// Loads nothing: builds the plan of a loaded model, refusing (exit 1)
    /// widths that are not proven.
    pub fn plan(&self, model: &Model) -> Result<Plan, CliError> {
        let options = PlanOptions {
            target_cycles: self.target_cycles,
            ..PlanOptions::default()
        };
        build_plan(model, &analyze(model), options).map_err(plan_error)
    }
}

/// An unproven width is a failed verdict (exit 1); a folding that does not
/// fit the model is bad input (exit 2).
pub fn plan_error(e: ArchError) -> CliError {
    match e {
        ArchError::Unproven { .. } => CliError::verdict(e),
        ArchError::Folding { .. } => CliError::input(e),
        ArchError::Window { .. } => CliError::input(e),
    }
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Folder for the Verilog; the design goes to `<DIR>/<model>/`.
    #[arg(short, long, value_name = "DIR", default_value = "hdl_out")]
    out: PathBuf,
    /// Folder for the XDC, Yosys and Vivado scripts.
    #[arg(long, value_name = "DIR", default_value = "constraints")]
    constraints: PathBuf,
    /// Clock period for the XDC constraint, in nanoseconds.
    #[arg(long, value_name = "NS", default_value_t = 5.0)]
    clock_ns: f64,
    /// Print the hardware plan and write nothing.
    #[arg(long)]
    plan: bool,
    #[command(flatten)]
    folding: PlanArgs,
}

pub fn run(args: &GenArgs) -> Result<(), CliError> {
    if !(args.clock_ns > 0.0 && args.clock_ns.is_finite()) {
        return Err(CliError::input(format!(
            "--clock-ns {}: must be a positive period",
            args.clock_ns
        )));
    }
    let model = load_model(&args.model)?;
    let plan = args.folding.plan(&model)?;
    if args.plan {
        print!("model {}\n\n{}", model.name, plan_table(&plan));
        return Ok(());
    }
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    let claimed = claim_design(&mut outputs, &model.name, &args.out, &args.constraints)?;
    let design = generate(&model, &plan);
    stage_design(
        &outputs,
        &claimed,
        &design,
        &plan,
        ScriptOptions {
            clock_ns: args.clock_ns,
        },
    )
    .map_err(|e| {
        CliError::input(format!(
            "cannot write the design into {} and its scripts into {}: {e}",
            args.out.join(&plan.model).display(),
            args.constraints.display()
        ))
    })?;
    outputs.commit()?;
    println!(
        "wrote {} Verilog files and {} ROM images to {} (top module `{}`)",
        design.verilog.len(),
        design.memories.len(),
        claimed.hdl_dir.display(),
        design.top
    );
    for path in claimed.constraints() {
        println!("wrote {}", path.display());
    }
    print!("\n{}", plan_table(&plan));
    Ok(())
}
