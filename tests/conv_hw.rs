//! The sliding-window and max-pool units in convolutional pipelines built
//! by hand (window -> MVAU -> max pool): the Rust simulation against a
//! plain im2col + dense + max-pool reference on every output value, its
//! latency and initiation interval against the plan's, and Verilator
//! (built with `-Wall`, any warning fails) against the simulation on every
//! beat's values and cycle, with and without gaps and back-pressure.

mod conv_chains;
mod tools;

use a2qgen::arch::Unit;
use a2qgen::cosim::beats::hex_to_beat;
use a2qgen::cosim::verilator::{self, BuildOptions};
use a2qgen::cosim::write_stimulus;
use a2qgen::rtl::generate_named;
use a2qgen::sim::{Schedule, SimError, SimResult, cycle_limit, simulate};
use conv_chains::{ConvCase, ConvPipeline, PoolCase, random_images, reference};
use ndarray::Array2;
use std::path::{Path, PathBuf};

const IMAGES: usize = 3;

/// Every output value of `result` against the reference, image by image.
fn assert_values(p: &ConvPipeline, images: &Array2<i64>, result: &SimResult, what: &str) {
    let outputs = result.outputs();
    for (i, image) in images.rows().into_iter().enumerate() {
        let want = reference(p, image.as_slice().unwrap());
        assert_eq!(
            outputs.row(i).to_vec(),
            want,
            "{}: image {i}, {what}",
            p.plan.model
        );
    }
}

/// The beats Verilator's run of `binary` gives under `schedule`, as
/// `(cycle, values)`.
fn verilator_beats(
    p: &ConvPipeline,
    binary: &Path,
    rtl: &Path,
    run: &Path,
    images: &Array2<i64>,
    schedule: &Schedule,
) -> Vec<(u64, Vec<i64>)> {
    write_stimulus(&p.plan, images.view(), schedule, run).unwrap();
    let beats = images.nrows() * p.plan.output_beats_per_vector();
    let limit = cycle_limit(&p.plan, images.nrows(), schedule);
    let output = p.plan.output();
    verilator::run(binary, rtl, run, beats, limit, None)
        .unwrap()
        .into_iter()
        .map(|(cycle, hex)| {
            (
                cycle,
                hex_to_beat(&hex, output.elements, output.element).unwrap(),
            )
        })
        .collect()
}

fn sim_beats(result: &SimResult) -> Vec<(u64, Vec<i64>)> {
    result
        .beats()
        .map(|b| (b.cycle, b.values.to_vec()))
        .collect()
}

fn runtime_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("conv_hw_verilator_runtime")
}

fn check(case: ConvCase) {
    let p = case.pipeline(7);
    let plan = &p.plan;
    let images = random_images(plan, IMAGES, 11);

    let open = simulate(plan, images.view(), &Schedule::open()).unwrap();
    assert_values(&p, &images, &open, "no gaps");
    assert_eq!(open.latency(), Some(plan.latency), "{}: latency", case.name);
    let ii = open.initiation_interval().unwrap();
    assert_eq!(ii.max, plan.initiation_interval, "{}: II", case.name);

    let cycles = (cycle_limit(plan, IMAGES, &Schedule::open()) * 2) as usize;
    let stalled = Schedule::random(0.3, 0.3, 5, cycles);
    let gapped = simulate(plan, images.view(), &stalled).unwrap();
    assert_values(&p, &images, &gapped, "gaps and back-pressure");

    if !tools::have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let design = generate_named(case.name, plan);
    let rtl = dir.path().join("rtl");
    verilator::write_rtl(&design, &rtl).unwrap();
    let options = BuildOptions {
        quick: true,
        lint: true,
        runtime_cache: Some(runtime_cache()),
        ..BuildOptions::default()
    };
    let binary = verilator::build_with(&design, &rtl, dir.path(), &options)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    for (label, schedule, result) in [
        ("no gaps", Schedule::open(), &open),
        ("gaps and back-pressure", stalled, &gapped),
    ] {
        let run = dir.path().join(label.replace(' ', "_"));
        let rtl_beats = verilator_beats(&p, &binary, &rtl, &run, &images, &schedule);
        assert_eq!(
            rtl_beats,
            sim_beats(result),
            "{}: Verilator against the simulation, {label}",
            case.name
        );
    }
}

#[test]
fn stride_2_with_padding_on_the_left_only() {
    check(ConvCase {
        name: "stride2_left",
        map: (7, 6, 2),
        kernel: (3, 3),
        stride: (2, 2),
        padding: [0, 1, 0, 0],
        window_simd: 2,
        out_channels: 3,
        pe: 3,
        mvau_simd: 6,
        pool: None,
    });
}

#[test]
fn stride_2_with_padding_at_the_top_only_and_simd_1() {
    check(ConvCase {
        name: "stride2_top",
        map: (6, 5, 3),
        kernel: (3, 2),
        stride: (2, 1),
        padding: [2, 0, 0, 0],
        window_simd: 1,
        out_channels: 4,
        pe: 2,
        mvau_simd: 3,
        pool: None,
    });
}

#[test]
fn one_by_one_kernels() {
    check(ConvCase {
        name: "one_by_one",
        map: (5, 4, 4),
        kernel: (1, 1),
        stride: (1, 1),
        padding: [0, 0, 0, 0],
        window_simd: 1,
        out_channels: 4,
        pe: 2,
        mvau_simd: 2,
        pool: None,
    });
}

#[test]
fn one_by_one_kernels_with_stride_2_skip_rows_and_columns() {
    check(ConvCase {
        name: "one_by_one_stride2",
        map: (6, 5, 3),
        kernel: (1, 1),
        stride: (2, 2),
        padding: [0, 0, 0, 0],
        window_simd: 3,
        out_channels: 2,
        pe: 1,
        mvau_simd: 3,
        pool: None,
    });
}

#[test]
fn a_kernel_as_large_as_the_padded_image() {
    check(ConvCase {
        name: "whole_image",
        map: (3, 4, 2),
        kernel: (4, 5),
        stride: (1, 1),
        padding: [1, 0, 0, 1],
        window_simd: 2,
        out_channels: 2,
        pe: 1,
        mvau_simd: 8,
        pool: None,
    });
}

#[test]
fn one_channel_non_square_map_and_kernel_padded_below() {
    check(ConvCase {
        name: "one_channel",
        map: (6, 9, 1),
        kernel: (2, 3),
        stride: (1, 2),
        padding: [0, 0, 1, 0],
        window_simd: 1,
        out_channels: 3,
        pe: 3,
        mvau_simd: 3,
        pool: None,
    });
}

#[test]
fn conv_3x3_same_padding_then_max_pool_2x2() {
    check(ConvCase {
        name: "conv_pool",
        map: (6, 6, 2),
        kernel: (3, 3),
        stride: (1, 1),
        padding: [1, 1, 1, 1],
        window_simd: 2,
        out_channels: 4,
        pe: 2,
        mvau_simd: 6,
        pool: Some(PoolCase {
            kernel: (2, 2),
            stride: (2, 2),
            simd: 2,
        }),
    });
}

#[test]
fn overlapping_max_pool_non_square_with_one_channel_per_beat() {
    check(ConvCase {
        name: "overlapping_pool",
        map: (5, 7, 1),
        kernel: (1, 1),
        stride: (1, 1),
        padding: [0, 0, 0, 0],
        window_simd: 1,
        out_channels: 2,
        pe: 1,
        mvau_simd: 1,
        pool: Some(PoolCase {
            kernel: (3, 2),
            stride: (1, 2),
            simd: 1,
        }),
    });
}

#[test]
fn a_window_the_mvau_does_not_take_is_refused() {
    let case = ConvCase {
        name: "mismatch",
        map: (4, 4, 2),
        kernel: (2, 2),
        stride: (1, 1),
        padding: [0, 0, 0, 0],
        window_simd: 2,
        out_channels: 2,
        pe: 1,
        mvau_simd: 2,
        pool: None,
    };
    let mut p = case.pipeline(3);
    // A 3 x 2 window is 12 elements; the MVAU takes 8.
    let Unit::SlidingWindow(w) = &mut p.plan.units[0] else {
        panic!("the window unit comes first")
    };
    w.kernel = (3, 2);
    let images = random_images(&p.plan, 1, 1);
    let error = simulate(&p.plan, images.view(), &Schedule::open()).unwrap_err();
    assert!(
        matches!(&error, SimError::Plan(m) if m.contains("`conv`")),
        "{error}"
    );
}

/// Divisors of `n`.
fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

/// 200 random window -> MVAU (-> pool) chains, simulated over four images
/// without stalls: every value against the reference, latency and II
/// against the plan's (the II's start-up spacing included).
#[test]
fn random_pipelines_meet_the_plans_latency_and_ii_exactly() {
    let mut rng = a2qgen::sim::SplitMix64::new(19);
    let mut pick = |lo: usize, hi: usize| rng.range_inclusive(lo as i64, hi as i64) as usize;
    for index in 0..200 {
        let (h, w, c) = (pick(1, 9), pick(1, 9), pick(1, 6));
        let kernel = (pick(1, h.min(4)), pick(1, w.min(4)));
        let stride = (pick(1, 3), pick(1, 3));
        let padding = [
            pick(0, kernel.0 - 1),
            pick(0, kernel.1 - 1),
            pick(0, kernel.0 - 1),
            pick(0, kernel.1 - 1),
        ];
        let c_divisors = divisors(c);
        let window_simd = c_divisors[pick(0, c_divisors.len() - 1)];
        let out_channels = pick(1, 4);
        let pe_choices = divisors(out_channels);
        let pe = pe_choices[pick(0, pe_choices.len() - 1)];
        let simd_choices = divisors(kernel.0 * kernel.1 * c);
        let mvau_simd = simd_choices[pick(0, simd_choices.len() - 1)];
        let mut case = ConvCase {
            name: "random",
            map: (h, w, c),
            kernel,
            stride,
            padding,
            window_simd,
            out_channels,
            pe,
            mvau_simd,
            pool: None,
        };
        let (oh, ow) = case.pipeline(1).window.output();
        if pick(0, 1) == 1 {
            let pool_kernel = (pick(1, oh.min(3)), pick(1, ow.min(3)));
            case.pool = Some(PoolCase {
                kernel: pool_kernel,
                stride: (pick(1, 2), pick(1, 2)),
                simd: pe,
            });
        }
        let p = case.pipeline(index);
        let images = random_images(&p.plan, 4, index);
        let result = simulate(&p.plan, images.view(), &Schedule::open()).unwrap();
        assert_values(&p, &images, &result, "no gaps");
        let what = format!("case {index}: {case:?}");
        assert_eq!(result.latency(), Some(p.plan.latency), "latency, {what}");
        assert_eq!(
            result.initiation_interval().unwrap().max,
            p.plan.initiation_interval,
            "II, {what}"
        );
    }
}
