//! The estimator against recorded Yosys results, no Yosys needed:
//! `calibration/cached/<model>.json` (written by `make check-estimates`)
//! for the bundled examples, and the held-out part of the calibration
//! grid (`calibration/yosys_runs.csv`). LUTs and flip-flops must be within
//! 10% per layer, DSP48E1 and block RAM counts exact.

use a2qgen::arch::PlanOptions;
use a2qgen::calibrate::fit::relative_error;
use a2qgen::calibrate::{config_plan, read_runs};
use a2qgen::estimate::{
    Constants, Resources, declared_and_wide_plans, estimate_plan, estimate_unit,
};
use a2qgen::model::load_model;
use std::path::Path;

const TOLERANCE_PERCENT: f64 = 10.0;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compares one estimate with one measurement; returns the violations.
fn check(what: &str, estimated: &Resources, measured: &serde_json::Value) -> Vec<String> {
    let count = |key: &str| measured[key].as_u64().unwrap() as f64;
    let mut problems = Vec::new();
    for (name, e, m) in [
        ("LUT", estimated.lut, count("lut")),
        ("FF", estimated.ff, count("ff")),
    ] {
        let error = relative_error(e, m);
        if error.abs() > TOLERANCE_PERCENT {
            problems.push(format!(
                "{what}: {name} estimate {e:.0} vs Yosys {m} ({error:+.1}%)"
            ));
        }
    }
    for (name, e, m) in [
        ("DSP48E1", estimated.dsp, count("dsp")),
        ("BRAM18", estimated.bram18, count("bram18")),
    ] {
        if e.round() != m {
            problems.push(format!("{what}: {name} estimate {e} vs Yosys {m}"));
        }
    }
    problems
}

fn check_example(model_name: &str) -> Vec<String> {
    let cached = root().join(format!("calibration/cached/{model_name}.json"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cached).unwrap()).unwrap();
    let model = load_model(&root().join(format!("examples/{model_name}.toml"))).unwrap();
    let (declared, wide) = declared_and_wide_plans(&model, PlanOptions::default()).unwrap();
    let (declared, wide) = (estimate_plan(&declared), estimate_plan(&wide));
    let modules = report["modules"].as_array().unwrap();
    assert!(!modules.is_empty(), "{}: no modules", cached.display());
    modules
        .iter()
        .flat_map(|module| {
            let estimate = match module["variant"].as_str().unwrap() {
                "declared" => &declared,
                _ => &wide,
            };
            let total = match module["unit"].as_u64() {
                Some(unit) => &estimate.unit(unit as usize).total,
                None => &estimate.total,
            };
            let what = format!("{model_name} {} {}", module["variant"], module["name"]);
            check(&what, total, &module["measured"])
        })
        .collect()
}

#[test]
fn mlp3_estimates_match_yosys() {
    let problems = check_example("mlp3");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hadamard_tiled_estimates_match_yosys() {
    let problems = check_example("hadamard_tiled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn held_out_calibration_runs_match_yosys() {
    let runs = read_runs(&root().join("calibration/yosys_runs.csv")).unwrap();
    let held_out: Vec<_> = runs.iter().filter(|r| r.config.held_out()).collect();
    assert!(
        held_out.len() >= 10,
        "only {} held-out runs",
        held_out.len()
    );
    let problems: Vec<String> = held_out
        .iter()
        .flat_map(|run| {
            let plan = config_plan(&run.config);
            let (estimate, _) = estimate_unit(&plan.units[run.unit], Constants::bundled());
            let measured = serde_json::to_value(run.measured).unwrap();
            let what = format!(
                "{} unit {} ({})",
                run.config.name(),
                run.unit,
                run.unit_kind
            );
            check(&what, &estimate, &measured)
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
