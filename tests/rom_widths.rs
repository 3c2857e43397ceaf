//! ROM-fed dot products at their exact widths (`arch::RomDot`): each LUT
//! product as wide as its lane's weights times the input type, each tree
//! node as wide as the sum of its children's ranges. Folded layers whose
//! lanes hold the most negative weight `-2^(b-1)` and the largest
//! positive one, lanes of small weights and all-zero lanes co-simulate
//! three ways, exactly, with every input at its extremes (a width one bit
//! short wraps a sum and disagrees with the reference); the generated
//! trees are those widths; the design is Verilator `-Wall` clean.

mod tools;

use a2qgen::npyio::write_int_array;
use ndarray::Array2;
use std::path::Path;
use std::process::Command;
use tools::{assert_verilator_lint_clean, generate, have, root};

/// uint4 inputs, PE 2 x SIMD 4 over 8 inputs (two neuron and two synapse
/// folds). PE 0 holds channels 0 and 2: -8 and 7 in every lane, the
/// extremes of int4. PE 1 holds channels 1 and 3: weights in [0, 1] and
/// [-1, 0] in two lanes, zero in the other two. fc1 takes fc0's int12
/// outputs with int2 weights (-2 in every lane of its PE 0) into a
/// saturating accumulator; fc2 thresholds them.
const EXTREMES: &str = r#"[model]
name = "romwidths"

[input]
length = 8
bits = 4
signed = false

[[layers]]
name = "fc0"
kind = "dense"
in_features = 8
out_features = 4
weight_bits = 4
weights = [[-8, -8, -8, -8, -8, -8, -8, -8], [1, 0, -1, 0, 0, 0, 0, 0], [7, 7, 7, 7, 7, 7, 7, 7], [0, 0, 0, 0, 1, 0, -1, 0]]
bias = [0, 3, -5, 0]
accumulator = { bits = 12 }
hardware = { pe = 2, simd = 4 }

[[layers]]
name = "fc1"
kind = "dense"
in_features = 4
out_features = 4
weight_bits = 2
weights = [[-2, -2, -2, -2], [1, 0, 1, 0], [1, 1, 1, 1], [0, -1, 0, 1]]
accumulator = { bits = 14, overflow = "saturate", allow_overflow = true }
hardware = { pe = 2, simd = 2 }

[[layers]]
name = "fc2"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 3
weights = [[-4, 3, -4, 3], [0, 0, 1, -1]]
accumulator = { bits = 21 }
activation = { kind = "thresholds", bits = 2, thresholds = [[-30000, 0, 30000], [-100, 0, 100]] }
hardware = { pe = 1, simd = 2 }
"#;

/// int1 inputs (-1 or 0) by weights in [0, 1]: the products are one bit,
/// narrower than the two-bit weights the shift-and-add reads.
const ONE_BIT_INPUTS: &str = r#"[model]
name = "onebit"

[input]
length = 4
bits = 1
signed = true

[[layers]]
name = "fc0"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 3
weights = [[0, 1, 1, 1], [-4, 3, 0, -1]]
accumulator = { bits = 5 }
hardware = { pe = 2, simd = 2 }
"#;

fn a2qgen(args: &[&str], extra: &[&Path]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every input at `lo`, every one at `hi`, alternating, then random
/// vectors from a fixed LCG.
fn extreme_inputs(path: &Path, length: usize, lo: i64, hi: i64) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let inputs = Array2::from_shape_fn((64, length), |(v, i)| match v {
        0 => hi,
        1 => lo,
        2 => [lo, hi][i % 2],
        3 => [hi, lo][i % 2],
        _ => {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            lo + ((state >> 33) % (hi - lo + 1) as u64) as i64
        }
    });
    write_int_array(path, &inputs).unwrap();
}

fn cosimulate(model: &Path, inputs: &Path, build: &Path) {
    let stdout = a2qgen(
        &["cosim", "--gaps", "0.3", "--backpressure", "0.3"],
        &[
            model,
            Path::new("--inputs"),
            inputs,
            Path::new("--build-dir"),
            build,
        ],
    );
    assert!(stdout.contains("agree on all"), "{stdout}");
}

/// The declared width of the registered dot product of one PE.
fn sum_width(design: &Path, module: &str) -> String {
    let text = std::fs::read_to_string(design.join(format!("{module}.v"))).unwrap();
    text.lines()
        .find(|l| l.contains("output reg") && l.contains("sum2"))
        .unwrap_or_else(|| panic!("{module}: no sum2"))
        .split_whitespace()
        .find(|w| w.starts_with('['))
        .unwrap()
        .to_string()
}

#[test]
fn extreme_weights_and_inputs_cosimulate_at_exact_widths() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("romwidths.toml");
    std::fs::write(&model, EXTREMES).unwrap();
    let (design, files) = generate(&model, &dir.path().join("gen"), "romwidths");
    // PE 0 of fc0: four products in [-120, 105] (8 bits), their sum in
    // [-480, 420], 10 bits. PE 1: [0, 15] + 0 + [-15, 0] + 0, 5 bits.
    assert_eq!(sum_width(&design, "romwidths_fc0_lanes_0_dot"), "[9:0]");
    assert_eq!(sum_width(&design, "romwidths_fc0_lanes_1_dot"), "[4:0]");
    // fc1's PE 0 (int2 weights -2 and 1 by int12): two products in
    // [-4094, 4096], their sum in [-8188, 8192], 15 bits.
    assert_eq!(sum_width(&design, "romwidths_fc1_lanes_0_dot"), "[14:0]");
    if !have("verilator") {
        return;
    }
    assert_verilator_lint_clean(&files, "romwidths");
    let inputs = dir.path().join("x.npy");
    extreme_inputs(&inputs, 8, 0, 15);
    cosimulate(&model, &inputs, &dir.path().join("build"));
}

#[test]
fn products_narrower_than_their_weights_cosimulate() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("onebit.toml");
    std::fs::write(&model, ONE_BIT_INPUTS).unwrap();
    let (design, files) = generate(&model, &dir.path().join("gen"), "onebit");
    // PE 0: lanes of weights [0, 1] times x in [-1, 0]: [-1, 0] each, one
    // bit; the sum in [-2, 0], 2 bits.
    assert_eq!(sum_width(&design, "onebit_fc0_lanes_0_dot"), "[1:0]");
    if !have("verilator") {
        return;
    }
    assert_verilator_lint_clean(&files, "onebit");
    let inputs = dir.path().join("x.npy");
    extreme_inputs(&inputs, 4, -1, 0);
    cosimulate(&model, &inputs, &dir.path().join("build"));
}
