//! Resources of a sweep point: the one place the sweep asks the resource
//! estimator (`crate::estimate`) and, on request, Yosys (`crate::synth`)
//! for figures. Both price the model's hardware plan as declared and the
//! same design with every accumulator at 32 bits.

use super::SweepError;
use crate::arch::{Plan, PlanOptions};
use crate::estimate::{declared_and_wide_plans, estimate_plan, widened_model};
use crate::model::Model;
use crate::rtl::emit::generate;
use crate::synth::{Measured, SynthJob, run_jobs, write_design};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::estimate::Resources;

/// A design at its declared widths beside the same design with 32-bit
/// accumulators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    pub declared: Resources,
    pub wide: Resources,
}

impl Pair {
    /// The declared design's LUTs as a share of the 32-bit design's.
    pub fn lut_ratio(&self) -> Option<f64> {
        (self.wide.lut > 0.0).then(|| self.declared.lut / self.wide.lut)
    }
}

/// Estimated figures, and measured ones when synthesized.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceComparison {
    pub estimated: Pair,
    pub synthesized: Option<Pair>,
}

/// How to price a point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pricing {
    /// The analytical estimate only (milliseconds).
    Estimate,
    /// The estimate and Yosys runs of both designs (seconds to minutes):
    /// the RTL and the logs go to `dir/<model>/{declared,acc32}`.
    Synthesize { dir: PathBuf, timeout: Duration },
}

/// The resources of `model` and of the same model with 32-bit
/// accumulators.
pub fn price(model: &Model, pricing: &Pricing) -> Result<ResourceComparison, SweepError> {
    let (declared, wide) =
        declared_and_wide_plans(model, PlanOptions::default()).map_err(|source| {
            SweepError::Plan {
                model: model.name.clone(),
                source,
            }
        })?;
    let estimated = Pair {
        declared: estimate_plan(&declared).total,
        wide: estimate_plan(&wide).total,
    };
    let synthesized = match pricing {
        Pricing::Estimate => None,
        Pricing::Synthesize { dir, timeout } => Some(synthesize(
            model,
            [&declared, &wide],
            &dir.join(&model.name),
            *timeout,
        )?),
    };
    Ok(ResourceComparison {
        estimated,
        synthesized,
    })
}

/// Yosys's counts of the whole top of both designs, run side by side.
fn synthesize(
    model: &Model,
    [declared, wide]: [&Plan; 2],
    dir: &Path,
    timeout: Duration,
) -> Result<Pair, SweepError> {
    let pricing_error = |message: String| SweepError::Pricing {
        model: model.name.clone(),
        message,
    };
    let jobs = [
        top_job(model, declared, &dir.join("declared"), "declared"),
        top_job(&widened_model(model), wide, &dir.join("acc32"), "32-bit"),
    ]
    .into_iter()
    .collect::<std::io::Result<Vec<_>>>()
    .map_err(|e| pricing_error(format!("{}: {e}", dir.display())))?;
    let mut runs = run_jobs(&jobs, timeout, jobs.len(), false, |_, _| {}).into_iter();
    let mut next = || {
        runs.next()
            .expect("one result per job")
            .map(|run| resources_of(run.measured))
            .map_err(|e| pricing_error(e.to_string()))
    };
    Ok(Pair {
        declared: next()?,
        wide: next()?,
    })
}

/// Writes the RTL of `plan` into `dir`; the job synthesizes its top.
fn top_job(model: &Model, plan: &Plan, dir: &Path, variant: &str) -> std::io::Result<SynthJob> {
    let written = write_design(&generate(model, plan), dir)?;
    Ok(SynthJob {
        label: format!("{} {variant}", model.name),
        dir: written.dir,
        files: written.files,
        top: written.top,
        hierarchy: false,
    })
}

fn resources_of(measured: Measured) -> Resources {
    Resources {
        lut: measured.lut as f64,
        ff: measured.ff as f64,
        carry4: measured.carry4 as f64,
        dsp: measured.dsp as f64,
        bram18: measured.bram18 as f64,
    }
}
