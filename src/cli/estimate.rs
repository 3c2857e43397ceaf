//! `a2qgen estimate`: xc7 resources of a model's hardware plan for its
//! declared accumulators and for 32-bit ones, from the plan alone.

use super::CliError;
use super::generate::plan_error;
use crate::arch::PlanOptions;
use crate::estimate::compare;
use crate::estimate::report::{EstimateJson, render};
use crate::model::load_model;
use crate::output::Outputs;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Write both estimates, per unit and per component, as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn run(args: &EstimateArgs) -> Result<(), CliError> {
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    let json = outputs.optional_file("--json", args.json.as_deref())?;
    let model = load_model(&args.model)?;
    let started = Instant::now();
    let comparison = compare(&model, PlanOptions::default()).map_err(plan_error)?;
    let micros = started.elapsed().as_secs_f64() * 1e6;
    print!("{}", render(&comparison, micros));
    if let Some(slot) = json {
        let text = serde_json::to_string_pretty(&EstimateJson::new(&comparison))
            .expect("serializable estimate");
        std::fs::write(outputs.path(slot), format!("{text}\n"))
            .map_err(|e| CliError::input(format!("--json: cannot stage the estimate: {e}")))?;
    }
    outputs.commit()?;
    Ok(())
}
