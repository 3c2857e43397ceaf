//! Widths at the edges of what the model format accepts, end to end: buses
//! wider than 128 bits, 1-bit buses, thresholds of 12 output bits and dot
//! products wider than 64 bits. Each fixture (written by
//! `tests/fixtures/models/make_widths.py`) passes `verilator --lint-only
//! -Wall`, compiles with Icarus, and co-simulates three-way exact under
//! gaps and back-pressure.

mod tools;

use std::process::Command;
use tools::{generate, have, root};

/// Generates `name` and checks Verilator's lint and an Icarus compile.
fn lint_and_compile(name: &str) {
    let model = root().join(format!("tests/fixtures/models/{name}.toml"));
    let dir = tempfile::tempdir().unwrap();
    let (design, files) = generate(&model, dir.path(), name);
    let output = Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "--top-module",
            &format!("{name}_top"),
        ])
        .args(&files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {stderr}");
    assert!(!stderr.contains("%Warning"), "{name}: {stderr}");
    let output = Command::new("iverilog")
        .args(["-g2005", "-Wall", "-o"])
        .arg(design.join("a.vvp"))
        .args(&files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {stderr}");
    assert!(!stderr.contains("error"), "{name}: {stderr}");
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
}

#[test]
fn dot_products_wider_than_64_bits() {
    end_to_end("widths_dot67", 200);
}

#[test]
fn int64_elements_between_layers() {
    end_to_end("widths_int64_between_layers", 200);
}

/// `sim` and `cosim` both run a plan whose dot products exceed 64 bits.
#[test]
fn sim_runs_dot_products_wider_than_64_bits() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("x.npy");
    let values: Vec<i64> = (0..16)
        .map(|i| if i % 2 == 0 { i32::MIN } else { i32::MAX } as i64)
        .collect();
    let array = ndarray::Array2::from_shape_vec((2, 8), values).unwrap();
    ndarray_npy::write_npy(&inputs, &array).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(["sim", "tests/fixtures/models/widths_dot67.toml", "--inputs"])
        .arg(&inputs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
}
