//! The estimator against recorded Yosys results, no Yosys needed:
//! `calibration/cached/<model>.json` (written by `make check-estimates`)
//! for the bundled examples (mlp3, hadamard_tiled, digits_p12, digits_cnn_p12), and the held-out part of the calibration
//! grid (`calibration/yosys_runs.csv`, every 5th config, not fitted).
//!
//! DSP48E1 and BRAM18 counts must be exact. LUT and FF counts are checked
//! against the accuracy the calibration measured, which is NOT the 10% the
//! estimator aims at for every layer: see `docs/estimator.md#calibration`
//! for the figures. Every comparison is printed (`--nocapture`).

use a2qgen::arch::PlanOptions;
use a2qgen::calibrate::fit::relative_error;
use a2qgen::calibrate::{config_plan, read_runs};
use a2qgen::estimate::{
    Constants, Resources, declared_and_wide_plans, estimate_plan, estimate_unit,
};
use a2qgen::model::load_model;
use a2qgen::synth::Measured;
use std::path::Path;

/// What the estimator aims at for every layer.
const TARGET_PERCENT: f64 = 10.0;
/// Per-module bounds just above the largest LUT / FF errors measured with
/// the committed constants (`docs/estimator.md#calibration`). They guard
/// against regressions; the 10% target is met by every FF count of the
/// examples and by 59 of the 122 held-out LUT counts, not by every LUT count.
struct Bounds {
    lut: f64,
    ff: f64,
}
/// Example units: LUT -41.9% (mlp3's 136-LUT DSP layer fc2), FF -5.1%.
/// Per-unit LUT error is reported, not held to the target.
const EXAMPLE_BOUNDS: Bounds = Bounds {
    lut: 45.0,
    ff: 10.0,
};
/// Whole designs (each example's top, declared and 32-bit). FFs meet the
/// target; LUTs measured +1.8% and +9.8% (digits_p12), +13.4% and +15.7%
/// (mlp3), +17.6% and +3.4% (hadamard_tiled), +11.1% and +10.5%
/// (digits_cnn_p12), so the LUT bound guards from there until the target
/// is met.
const TOTAL_BOUNDS: Bounds = Bounds {
    lut: 20.0,
    ff: TARGET_PERCENT,
};
/// Held-out runs: LUT 56.5% (a hardwired layer of centred weights), FF
/// 30.6%.
const HELD_OUT_BOUNDS: Bounds = Bounds {
    lut: 60.0,
    ff: 35.0,
};
/// Mean absolute errors over the held-out runs (every block type):
/// measured 13.7% (LUT) and 3.5% (FF).
const HELD_OUT_MEAN_LUT_PERCENT: f64 = 14.5;
const HELD_OUT_MEAN_FF_PERCENT: f64 = 5.0;
/// Held-out runs whose LUT estimate is within the target: measured 59 of
/// 122.
const HELD_OUT_LUT_WITHIN_TARGET: usize = 57;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `(LUT error, FF error)` in percent, and the violations of the exact
/// counts and of the bounds.
fn compare(what: &str, e: &Resources, m: &Measured, bounds: &Bounds) -> ((f64, f64), Vec<String>) {
    let lut = relative_error(e.lut, m.lut as f64);
    let ff = relative_error(e.ff, m.ff as f64);
    let mark = |error: f64| {
        if error.abs() <= TARGET_PERCENT {
            ""
        } else {
            " (over 10%)"
        }
    };
    println!(
        "{what}: LUT {:.0} vs {} ({lut:+.1}%{}), FF {:.0} vs {} ({ff:+.1}%{}), DSP {} vs {}, BRAM18 {} vs {}",
        e.lut,
        m.lut,
        mark(lut),
        e.ff,
        m.ff,
        mark(ff),
        e.dsp,
        m.dsp,
        e.bram18,
        m.bram18
    );
    let mut problems = Vec::new();
    if lut.abs() > bounds.lut {
        problems.push(format!("{what}: LUT error {lut:+.1}%"));
    }
    if ff.abs() > bounds.ff {
        problems.push(format!("{what}: FF error {ff:+.1}%"));
    }
    if e.dsp.round() as u64 != m.dsp {
        problems.push(format!("{what}: DSP48E1 {} vs {}", e.dsp, m.dsp));
    }
    if e.bram18.round() as u64 != m.bram18 {
        problems.push(format!("{what}: BRAM18 {} vs {}", e.bram18, m.bram18));
    }
    ((lut, ff), problems)
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
            let name = module["name"].as_str().unwrap();
            let (total, bounds) = match module["unit"].as_u64() {
                Some(unit) => {
                    let unit = estimate.unit(unit as usize);
                    assert_eq!(unit.name, name, "{}: stale cache", cached.display());
                    (&unit.total, &EXAMPLE_BOUNDS)
                }
                None => (&estimate.total, &TOTAL_BOUNDS),
            };
            let measured: Measured = serde_json::from_value(module["measured"].clone()).unwrap();
            let what = format!("{model_name} {} {name}", module["variant"]);
            compare(&what, total, &measured, bounds).1
        })
        .collect()
}

#[test]
fn mlp3_estimates_against_yosys() {
    let problems = check_example("mlp3");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hadamard_tiled_estimates_against_yosys() {
    let problems = check_example("hadamard_tiled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn digits_p12_estimates_against_yosys() {
    let problems = check_example("digits_p12");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn digits_cnn_p12_estimates_against_yosys() {
    let problems = check_example("digits_cnn_p12");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn held_out_calibration_runs_against_yosys() {
    let runs = read_runs(&root().join("calibration/yosys_runs.csv")).unwrap();
    let held_out: Vec<_> = runs.iter().filter(|r| r.config.held_out()).collect();
    assert!(
        held_out.len() >= 20,
        "only {} held-out runs",
        held_out.len()
    );
    let mut problems = Vec::new();
    let (mut lut_sum, mut ff_sum) = (0.0, 0.0);
    let mut lut_within_target = 0;
    for run in &held_out {
        let plan = config_plan(&run.config);
        let (estimate, _) = estimate_unit(&plan.units[run.unit], Constants::bundled());
        let what = format!(
            "{} unit {} ({})",
            run.config.name(),
            run.unit,
            run.unit_kind
        );
        let ((lut, ff), found) = compare(&what, &estimate, &run.measured, &HELD_OUT_BOUNDS);
        lut_sum += lut.abs();
        ff_sum += ff.abs();
        lut_within_target += usize::from(lut.abs() <= TARGET_PERCENT);
        problems.extend(found);
    }
    let count = held_out.len() as f64;
    let (lut_mean, ff_mean) = (lut_sum / count, ff_sum / count);
    println!(
        "held out: {count} runs, mean |LUT error| {lut_mean:.1}%, mean |FF error| {ff_mean:.1}%, \
         LUT within {TARGET_PERCENT}% on {lut_within_target}"
    );
    if lut_within_target < HELD_OUT_LUT_WITHIN_TARGET {
        problems.push(format!(
            "only {lut_within_target} held-out LUT estimates within {TARGET_PERCENT}%"
        ));
    }
    if lut_mean > HELD_OUT_MEAN_LUT_PERCENT {
        problems.push(format!("mean LUT error {lut_mean:.1}%"));
    }
    if ff_mean > HELD_OUT_MEAN_FF_PERCENT {
        problems.push(format!("mean FF error {ff_mean:.1}%"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
