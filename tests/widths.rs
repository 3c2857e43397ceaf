//! Widths at the edges of what the model format accepts, end to end: buses
//! wider than 128 bits, 1-bit buses, thresholds of 12 output bits and dot
//! products wider than 64 bits. Each fixture (written by
//! `tests/fixtures/models/make_widths.py`) passes `verilator --lint-only
//! -Wall`, compiles with Icarus, and co-simulates three-way exact under
//! gaps and back-pressure.

mod tools;

use std::path::Path;
use std::process::Command;
use tools::{assert_icarus_compiles, assert_verilator_lint_clean, generate, have, root};

/// Generates `name` and checks Verilator's lint and an Icarus compile.
fn lint_and_compile(name: &str) {
    let model = root().join(format!("tests/fixtures/models/{name}.toml"));
    lint_and_compile_model(&model, name);
}

fn lint_and_compile_model(model: &Path, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (design, files) = generate(model, dir.path(), name);
    assert_verilator_lint_clean(&files, name);
    assert_icarus_compiles(&design, &files, name);
}

/// `cosim` with gaps and back-pressure agrees three ways.
fn cosim(name: &str, vectors: usize) {
    let build = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .arg("cosim")
        .arg(format!("tests/fixtures/models/{name}.toml"))
        .args(["--random", &vectors.to_string(), "--seed", "3"])
        .args(["--gaps", "0.3", "--backpressure", "0.3", "--build-dir"])
        .arg(build.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {stdout}\n{stderr}");
    assert!(stdout.contains("agree on all"), "{name}: {stdout}");
}

fn end_to_end(name: &str, vectors: usize) {
    if !have("verilator") || !have("iverilog") {
        return;
    }
    lint_and_compile(name);
    cosim(name, vectors);
}

#[test]
fn int4_at_simd_64_has_256_bit_words() {
    end_to_end("widths_int4_simd64_pe8", 200);
}

/// 4096 LUT multipliers: Verilator takes minutes to build them, so this
/// one runs on request (`cargo test --test widths -- --ignored`).
#[test]
#[ignore = "Verilator builds 4096 LUT multipliers for minutes"]
fn int4_at_simd_64_and_pe_64() {
    end_to_end("widths_int4_simd64_pe64", 100);
}

#[test]
fn int8_at_simd_48_has_384_bit_words() {
    end_to_end("widths_int8_simd48", 200);
}

#[test]
fn int16_at_simd_32_with_64_bit_accumulators() {
    end_to_end("widths_int16_simd32_acc64", 200);
}

#[test]
fn uint1_inputs_and_outputs() {
    end_to_end("widths_uint1_inputs", 200);
}

#[test]
fn int1_weights_at_simd_1_in_luts() {
    end_to_end("widths_int1_weights_lut", 200);
}

#[test]
fn int1_weights_at_simd_1_on_dsps() {
    end_to_end("widths_int1_weights_dsp", 200);
}

#[test]
fn uint1_times_int1_on_dsps_at_simd_2() {
    end_to_end("widths_uint1_int1_dsp", 200);
}

#[test]
fn thresholds_of_12_output_bits() {
    end_to_end("widths_thresholds12", 200);
    if !have("yosys") {
        return;
    }
    // Yosys reads the long sums too (synthesis of 8190 comparators is left
    // to `a2qgen synth`).
    let name = "widths_thresholds12";
    let dir = tempfile::tempdir().unwrap();
    let model = root().join(format!("tests/fixtures/models/{name}.toml"));
    let (_, files) = generate(&model, dir.path(), name);
    let reads: Vec<String> = files
        .iter()
        .map(|f| format!("read_verilog {};", f.display()))
        .collect();
    let script = format!("{} hierarchy -check -top {name}_top; proc", reads.join(" "));
    let output = Command::new("yosys")
        .args(["-q", "-p", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

#[test]
fn dot_products_wider_than_64_bits() {
    end_to_end("widths_dot67", 200);
}

#[test]
fn sums_beyond_64_bits_saturate() {
    end_to_end("widths_dot67_saturate", 200);
}

#[test]
fn int64_elements_between_layers() {
    end_to_end("widths_int64_between_layers", 200);
}

/// 65,535 thresholds per channel: Verilator lints them in about 25 s and
/// Icarus compiles them in about 70 s; Verilator's C++ build of them takes
/// more than 15 minutes, so this runs on request and does not co-simulate.
#[test]
#[ignore = "16-bit threshold banks take minutes to lint and compile"]
fn thresholds_of_16_output_bits_lint_and_compile() {
    if !have("verilator") || !have("iverilog") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let count = (1usize << 16) - 1;
    // Ascending over the accumulator's range [-2048, 2047], repeats allowed.
    let thresholds = ndarray::Array2::from_shape_fn((1, count), |(_, k)| (k as i64 / 16) - 2048);
    ndarray_npy::write_npy(dir.path().join("t.npy"), &thresholds).unwrap();
    let model = dir.path().join("widths_thresholds16.toml");
    std::fs::write(
        &model,
        r#"[model]
name = "widths_thresholds16"
[input]
length = 4
bits = 8
signed = true
[[layers]]
name = "fc0"
kind = "dense"
in_features = 4
out_features = 1
weight_bits = 4
weights = [[-8, 7, 3, -1]]
accumulator = { bits = 13 }
activation = { kind = "thresholds", bits = 16, thresholds = "t.npy" }
hardware = { pe = 1, simd = 4 }
"#,
    )
    .unwrap();
    lint_and_compile_model(&model, "widths_thresholds16");
}

/// `sim` runs plans whose dot products exceed 64 bits (it used to refuse
/// what `cosim` was asked to run) and equals the reference: with weights
/// and inputs at the ends of int32 the sums exceed 64 bits and saturate.
#[test]
fn sim_equals_the_reference_on_dot_products_wider_than_64_bits() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("x.npy");
    let values: Vec<i64> = (0..32)
        .map(|i| match i % 3 {
            0 => i32::MIN.into(),
            1 => i32::MAX.into(),
            _ => -(i as i64) * 1_000_003,
        })
        .collect();
    let array = ndarray::Array2::from_shape_vec((4, 8), values).unwrap();
    ndarray_npy::write_npy(&inputs, &array).unwrap();
    for name in ["widths_dot67", "widths_dot67_saturate"] {
        sim_equals_reference(&format!("tests/fixtures/models/{name}.toml"), &inputs, 4);
    }
}

/// `sim --out` and `infer --out` agree on `vectors` vectors of a model
/// whose output beats hold every channel.
fn sim_equals_reference(model: &str, inputs: &std::path::Path, vectors: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (beats, reference) = (dir.path().join("beats.npy"), dir.path().join("ref.npy"));
    for (command, out) in [("sim", &beats), ("infer", &reference)] {
        let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
            .current_dir(root())
            .args([command, model, "--inputs"])
            .arg(inputs)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{model} {command}: {stderr}");
    }
    // One beat of both channels per vector: [vector, beat, cycle, c0, c1].
    let beats: ndarray::Array2<i64> = ndarray_npy::read_npy(&beats).unwrap();
    let reference: ndarray::Array2<i64> = ndarray_npy::read_npy(&reference).unwrap();
    assert_eq!(beats.nrows(), vectors);
    for row in beats.rows() {
        let vector = row[0] as usize;
        assert_eq!(row[1], 0);
        assert_eq!(row.slice(ndarray::s![3..]), reference.row(vector));
    }
    assert!(reference.iter().any(|&v| v != 0));
}
