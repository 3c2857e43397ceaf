//! Yosys on the sliding-window and max-pool units alone: no latch, no
//! error, the line buffer mapped where the estimator says (block RAM or
//! LUT RAM, exact), and the estimator's LUT and FF counts within the bounds
//! stated in `docs/estimator.md#sliding-window-and-max-pool-units`.

mod tools;

use a2qgen::arch::{MaxPoolUnit, Padding, Plan, SlidingWindowUnit, Unit, assemble};
use a2qgen::estimate::estimate_plan;
use a2qgen::model::IntType;
use a2qgen::rtl::generate_named;
use a2qgen::synth::{Measured, parse_stat, write_design};
use tools::{have, yosys_synth};

/// Bounds just above the largest errors measured (see the page).
const LUT_BOUND_PERCENT: f64 = 20.0;
const FF_BOUND_PERCENT: f64 = 20.0;

fn window(
    name: &str,
    hwc: (usize, usize, usize),
    k: usize,
    s: usize,
    pad: usize,
    simd: usize,
) -> Plan {
    let (h, w, c) = hwc;
    let unit = SlidingWindowUnit {
        name: "window".into(),
        layer: 0,
        height: h,
        width: w,
        channels: c,
        kernel: (k, k),
        stride: (s, s),
        padding: Padding::from_array([pad; 4]),
        simd,
        element: IntType::unsigned(4),
    };
    let out = unit.windows() * unit.window_length();
    assemble(name, h * w * c, out, vec![Unit::SlidingWindow(unit)])
}

fn pool(name: &str, hwc: (usize, usize, usize), k: usize, simd: usize) -> Plan {
    let (h, w, c) = hwc;
    let unit = MaxPoolUnit {
        name: "pool".into(),
        layer: 0,
        height: h,
        width: w,
        channels: c,
        kernel: (k, k),
        stride: (k, k),
        simd,
        element: IntType::signed(8),
    };
    let (ph, pw) = unit.output();
    assemble(name, h * w * c, ph * pw * c, vec![Unit::MaxPool(unit)])
}

fn relative_error(estimate: f64, measured: f64) -> f64 {
    100.0 * (estimate - measured) / measured.max(1.0)
}

#[test]
fn window_and_pool_units_synthesize_as_estimated() {
    if !have("yosys") {
        return;
    }
    let plans = [
        // The benchmark layer's window unit: 6 rows x 32 words x 64 bits.
        window("w32x32x16", (32, 32, 16), 3, 1, 1, 16),
        window("w8x8x4", (8, 8, 4), 3, 1, 1, 4),
        window("w16x16x8", (16, 16, 8), 5, 2, 2, 2),
        pool("p16x16x8", (16, 16, 8), 2, 8),
        // Held out: measured after the counting rules were settled.
        window("w12x20x6", (12, 20, 6), 2, 1, 1, 3),
        pool("p12x12x4", (12, 12, 4), 3, 1),
    ];
    let mut problems = Vec::new();
    for plan in &plans {
        let dir = tempfile::tempdir().unwrap();
        let design = generate_named(&plan.model, plan);
        let written = write_design(&design, dir.path()).unwrap();
        let files: Vec<_> = written.files.iter().map(|f| dir.path().join(f)).collect();
        let log = yosys_synth(dir.path(), &files, &design.top);
        assert!(!log.contains("Latch inferred"), "{}: a latch", plan.model);
        assert!(!log.contains("ERROR"), "{}: {log}", plan.model);
        let measured = Measured::from_cells(&parse_stat(&log, &design.top).unwrap());
        let estimate = estimate_plan(plan).total;
        let (lut, ff) = (
            relative_error(estimate.lut, measured.lut as f64),
            relative_error(estimate.ff, measured.ff as f64),
        );
        println!(
            "{}: LUT {:.0} vs {} ({lut:+.1}%), FF {:.0} vs {} ({ff:+.1}%), CARRY4 {:.0} vs {}, BRAM18 {} vs {}, LUT RAM {}",
            plan.model,
            estimate.lut,
            measured.lut,
            estimate.ff,
            measured.ff,
            estimate.carry4,
            measured.carry4,
            estimate.bram18,
            measured.bram18,
            measured.lutram
        );
        if estimate.bram18.round() as u64 != measured.bram18 {
            problems.push(format!("{}: BRAM18", plan.model));
        }
        if lut.abs() > LUT_BOUND_PERCENT {
            problems.push(format!("{}: LUT {lut:+.1}%", plan.model));
        }
        if ff.abs() > FF_BOUND_PERCENT {
            problems.push(format!("{}: FF {ff:+.1}%", plan.model));
        }
    }
    assert!(problems.is_empty(), "{problems:?}");
}
