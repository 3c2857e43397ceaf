//! `a2qgen import` on every committed Brevitas export: `infer --dequantize`
//! gives qonnx's executor outputs within float32 rounding with the same
//! predictions, `check` proves the widths the import reports, `cosim` is
//! clean; and graphs it cannot map exit 2 naming the node, with no output.

mod tools;

use a2qgen::npyio::read_float_array;
use ndarray::{Array2, Ix2};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tools::{have, root};

/// Every committed export: both exporters of each model, and the
/// MultiThreshold form of the baseline.
const EXPORTS: [&str; 11] = [
    "baseline_ts",
    "baseline_dynamo",
    "baseline_multithreshold",
    "a2q_p16_ts",
    "a2q_p16_dynamo",
    "a2q_p12_ts",
    "a2q_p12_dynamo",
    "a2qplus_p12_ts",
    "a2qplus_p12_dynamo",
    "a2q_p14_bias_ts",
    "a2q_p14_bias_dynamo",
];

const TEST_INPUTS: &str = "examples/digits/data/test_x.npy";
const TEST_LABELS: &str = "examples/digits/data/test_y.npy";

fn a2qgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn export(name: &str) -> String {
    format!("examples/brevitas/{name}.onnx")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Imports `name` into `dir/<name>.toml`; returns the model path and stdout.
fn import(name: &str, dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let model = dir.join(format!("{name}.toml"));
    let source = export(name);
    let mut args = vec!["import", &source, "-o"];
    let model_text = model.display().to_string();
    args.push(&model_text);
    args.extend_from_slice(extra);
    let out = a2qgen(&args);
    assert!(
        out.status.success(),
        "import {name}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (model, text(&out.stdout))
}

fn matrix(path: &Path) -> Array2<f64> {
    read_float_array(path)
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

/// Index of the largest value, ties to the lowest index.
fn argmax(row: ndarray::ArrayView1<f64>) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// The integer model's float outputs against qonnx's: each within float32
/// rounding of the row's largest magnitude (the graph sums float32 products
/// in its own order), and the same prediction. Where the integer outputs
/// tie exactly at the top, the graph's float32 sums break the tie by
/// rounding noise: such rows are counted, and qonnx's winner must be one
/// of the tied classes. Returns the number of such rows.
fn compare(name: &str, ours: &Array2<f64>, graph: &Array2<f64>) -> usize {
    assert_eq!(ours.dim(), graph.dim(), "{name}: output shapes");
    let mut ties = 0;
    for (row, (a, b)) in ours.outer_iter().zip(graph.outer_iter()).enumerate() {
        let magnitude = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let tolerance = 16.0 * f64::from(f32::EPSILON) * magnitude;
        for (c, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            assert!(
                (x - y).abs() <= tolerance,
                "{name}: input {row}, output {c}: integer model {x}, qonnx {y}"
            );
        }
        let (mine, theirs) = (argmax(a), argmax(b));
        if mine != theirs {
            let top = a[mine];
            assert_eq!(
                a[theirs], top,
                "{name}: input {row}: prediction {mine}, qonnx {theirs}, and no tie"
            );
            ties += 1;
        }
    }
    ties
}

#[test]
fn every_export_dequantizes_to_the_qonnx_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut ties = Vec::new();
    for name in EXPORTS {
        let (model, _) = import(name, dir.path(), &[]);
        let floats = dir.path().join(format!("{name}_out.npy"));
        let out = a2qgen(&[
            "infer",
            model.to_str().unwrap(),
            "--inputs",
            TEST_INPUTS,
            "--out",
            floats.to_str().unwrap(),
            "--dequantize",
            "--labels",
            TEST_LABELS,
        ]);
        assert!(out.status.success(), "infer {name}: {}", text(&out.stderr));
        let ours = matrix(&floats);
        let graph = matrix(&root().join(format!("examples/brevitas/expected/{name}_qonnx.npy")));
        assert_eq!(ours.nrows(), 540);
        let tied = compare(name, &ours, &graph);
        // The accuracy infer prints is the one of the float outputs'
        // predictions, which are the graph's (but on exact ties, above).
        let labels = a2qgen::npyio::read_int_array(&root().join(TEST_LABELS)).unwrap();
        let correct = ours
            .outer_iter()
            .zip(labels.iter())
            .filter(|(row, label)| argmax(*row) as i64 == **label)
            .count();
        let printed = text(&out.stdout);
        let expected = format!("accuracy: {correct} / 540");
        assert!(
            printed.contains(&expected),
            "{name}: want `{expected}`: {printed}"
        );
        if tied > 0 {
            ties.push(format!("{name}: {tied}"));
        }
    }
    // One test input of the dynamo baseline has two classes tied exactly in
    // integers; qonnx's float32 sums put one of them 1 ulp above the other.
    assert_eq!(ties, vec!["baseline_dynamo: 1".to_string()]);
}

/// `(layer, min, declared)` from the import's table.
fn import_widths(stdout: &str) -> Vec<(String, u32, u32)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("| fc"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_string(),
                cells[8].parse().unwrap(),
                cells[9].parse().unwrap(),
            )
        })
        .collect()
}

/// `(layer, declared, min)` from the table of `check`.
fn check_widths(stdout: &str) -> Vec<(String, u32, u32)> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("| ")
                && l.split('|')
                    .nth(2)
                    .is_some_and(|c| c.trim().starts_with("fc"))
        })
        .filter(|l| !l.contains("tiles"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[2].to_string(),
                cells[4].parse().unwrap(),
                cells[5].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn check_proves_the_widths_the_import_reports() {
    let dir = tempfile::tempdir().unwrap();
    for name in EXPORTS {
        let (model, stdout) = import(name, dir.path(), &[]);
        let reported = import_widths(&stdout);
        assert_eq!(reported.len(), 3, "{name}: {stdout}");
        let out = a2qgen(&["check", model.to_str().unwrap()]);
        assert!(out.status.success(), "check {name}: {}", text(&out.stdout));
        let checked = check_widths(&text(&out.stdout));
        let expected: Vec<(String, u32, u32)> = reported
            .iter()
            .map(|(layer, min, declared)| (layer.clone(), *declared, *min))
            .collect();
        assert_eq!(checked, expected, "{name}");
        // By default each layer is declared at its proven minimum.
        assert!(reported.iter().all(|(_, min, declared)| min == declared));
    }
}

#[test]
fn a_declared_width_the_export_overflows_exits_1_naming_layer_and_channel() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("p12.toml");
    // Trained for 12-bit accumulators; the exported integers need more.
    let out = a2qgen(&[
        "import",
        &export("a2q_p12_ts"),
        "-o",
        out_path.to_str().unwrap(),
        "--acc-bits",
        "12",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("layer 0 (`fc0`): channel "), "{stderr}");
    assert!(
        stderr.contains("of the exported integers needs 14 bits, declared 12"),
        "{stderr}"
    );
    assert!(!out_path.exists());
    assert!(!dir.path().join("p12").exists());
    // The widths the export needs pass, per layer.
    let (_, stdout) = import(
        "a2q_p12_ts",
        dir.path(),
        &["--acc-bits", "16", "--acc-bits-per-layer", "fc0=14,fc2=10"],
    );
    let widths: Vec<u32> = import_widths(&stdout).iter().map(|w| w.2).collect();
    assert_eq!(widths, vec![14, 16, 10]);
}

#[test]
fn graphs_it_cannot_map_exit_2_naming_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unsupported_op",
            "node `/softmax/Softmax` (op `Softmax`): op `Softmax` on the data path is not supported",
        ),
        (
            "missing_initializer",
            "node `/layers/layers.2/weight_quant/export_handler/Quant` (op `Quant`): input `layers.2.weight` is missing",
        ),
        (
            "bad_quant_attribute",
            "node `/layers/layers.1/act_quant/export_handler/Quant` (op `Quant`): attribute `rounding_mode` = \"STOCHASTIC\"",
        ),
        (
            "two_inputs",
            "the graph has 2 real inputs (`x.189`, `mask`); exactly one is supported",
        ),
        (
            "cycle",
            "node `/layers/layers.2/MatMul` (op `MatMul`): is part of a cycle in the graph",
        ),
        (
            "huge_dims",
            "initializer `huge`: shape [1099511627776, 1099511627776] has more than",
        ),
        (
            "raw_output_bias",
            "layer `fc2` (nodes /layers/layers.4/MatMul, /layers/layers.4/Add): the bias of output channel 0",
        ),
    ];
    for (fixture, message) in cases {
        let source = format!("tests/fixtures/onnx/{fixture}.onnx");
        let out_path = dir.path().join(format!("{fixture}.toml"));
        let out = a2qgen(&["import", &source, "-o", out_path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {stderr}");
        assert!(
            stderr.contains(&format!("{source}: ")),
            "{fixture}: {stderr}"
        );
        assert!(stderr.contains(message), "{fixture}: {stderr}");
        assert!(!stderr.contains("panicked"), "{fixture}: {stderr}");
        assert!(!out_path.exists(), "{fixture}: left output");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn imported_exports_cosimulate_cleanly_under_gaps_and_backpressure() {
    if !have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in EXPORTS {
        let (model, _) = import(name, dir.path(), &[]);
        let build = dir.path().join(format!("{name}_build"));
        let out = a2qgen(&[
            "cosim",
            model.to_str().unwrap(),
            "--inputs",
            TEST_INPUTS,
            "--gaps",
            "0.2",
            "--backpressure",
            "0.3",
            "--seed",
            "5",
            "--build-dir",
            build.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "cosim {name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}
