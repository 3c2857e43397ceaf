//! `a2qgen sweep` on the digits float model: one CSV row per width whose
//! accuracy is what the bit-exact reference gives for the same quantized
//! model, widths below the usable minimum reported as such, and a fixed
//! model narrowed below its proven width overflowing.

use a2qgen::arch::PlanOptions;
use a2qgen::estimate::compare;
use a2qgen::model::{IntType, Model, write_model};
use a2qgen::npyio::{read_int_array, write_int_array};
use a2qgen::quantize::{FloatModel, QuantizeSettings, quantize};
use a2qgen::reference::{AccumulatorMode, Reference, predictions};
use assert_cmd::Command;
use ndarray::{Array1, Array2, Ix1, Ix2};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod tools;
use tools::{DIGITS_FLOAT, DIGITS_TEST_SET};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn matrix(path: &str) -> Array2<i64> {
    read_int_array(&repo(path))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn test_labels() -> Array1<i64> {
    read_int_array(&repo("examples/digits/data/test_y.npy"))
        .unwrap()
        .into_dimensionality::<Ix1>()
        .unwrap()
}

const TEST_SET: [&str; 4] = DIGITS_TEST_SET;
const FLOAT: [&str; 8] = DIGITS_FLOAT;

struct Sweep {
    stdout: String,
    /// One map from column to cell per CSV line.
    rows: Vec<BTreeMap<String, String>>,
    dir: PathBuf,
}

/// Runs `a2qgen sweep ARGS -o <dir>/out` and reads its CSV back.
fn sweep(dir: &Path, args: &[&str]) -> Sweep {
    let out = dir.join("out");
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("sweep")
        .args(TEST_SET)
        .args(args)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sweep {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Sweep {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        rows: read_csv(&out.join("sweep.csv")),
        dir: out,
    }
}

/// The sweep's CSV (no cell holds a comma) as one map per line.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{line}");
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn row<'a>(
    rows: &'a [BTreeMap<String, String>],
    series: &str,
    p: u32,
) -> &'a BTreeMap<String, String> {
    let p = p.to_string();
    rows.iter()
        .find(|r| r["series"] == series && r["acc_bits"] == p)
        .unwrap_or_else(|| panic!("no {series} row for P = {p}"))
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = `{}`", row[column]))
}

/// The quantized digits model at `p` bits, as the sweep builds it.
fn quantized_digits(p: u32) -> Model {
    let float = FloatModel::load(&repo("examples/digits/float")).unwrap();
    let settings = QuantizeSettings::new("digits", IntType::unsigned(5), 1.0 / 16.0, p);
    let calibration = matrix("examples/digits/data/train_x.npy");
    quantize(&float, calibration.view(), &settings)
        .unwrap()
        .model
}

/// Correct predictions of the reference at the model's declared widths.
fn reference_correct(model: &Model) -> usize {
    let inputs = matrix("examples/digits/data/test_x.npy");
    let run = Reference::new(model, &AccumulatorMode::default())
        .unwrap()
        .run(inputs.view())
        .unwrap();
    predictions(run.outputs.view())
        .iter()
        .zip(&test_labels())
        .filter(|(p, l)| p == l)
        .count()
}

#[test]
fn quantized_sweep_has_one_row_per_width_scored_by_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let widths = [16, 12, 10, 6];
    let mut args = FLOAT.to_vec();
    args.extend(["--acc-bits", "16,12,10,6"]);
    let sweep = sweep(tmp.path(), &args);
    assert_eq!(sweep.rows.len(), widths.len());
    for (row, p) in sweep.rows.iter().zip(widths) {
        assert_eq!(row["series"], "quantized");
        assert_eq!(row["acc_bits"], p.to_string());
    }
    // Recomputed independently: the library quantizer and the reference.
    let p12 = row(&sweep.rows, "quantized", 12);
    assert_eq!(
        p12["correct"],
        reference_correct(&quantized_digits(12)).to_string()
    );
    assert_eq!(p12["total"], "540");
    // Its resources are the estimator's for that model and its 32-bit twin.
    let estimate = compare(&quantized_digits(12), PlanOptions::default()).unwrap();
    assert!((number(p12, "lut") - estimate.declared.total.lut).abs() < 0.05);
    assert!((number(p12, "lut_32") - estimate.wide.total.lut).abs() < 0.05);
    assert!(number(p12, "lut_ratio") < 1.0 && number(p12, "ff_ratio") < 1.0);
    assert!(number(p12, "lut") < number(row(&sweep.rows, "quantized", 16), "lut"));
    for p in [16, 12, 10] {
        let measured = row(&sweep.rows, "quantized", p);
        assert_eq!(measured["status"], "measured");
        assert_eq!(measured["overflow_events"], "0", "P = {p}");
        assert_eq!(measured["proven"], "true", "P = {p}");
        for layer in ["fc0", "fc1", "fc2"] {
            assert!(number(measured, &format!("{layer}_min_bits")) <= f64::from(p));
        }
    }
    // uint5 inputs leave fc0 no A2Q budget below 7 bits.
    let p6 = row(&sweep.rows, "quantized", 6);
    assert_eq!(p6["status"], "below-usable");
    assert_eq!(p6["least_usable_bits"], "7");
    assert_eq!(p6["accuracy_percent"], "");
    assert!(
        sweep
            .stdout
            .contains("below the usable minimum: `fc0` needs P >= 7"),
        "{}",
        sweep.stdout
    );
    let svg = std::fs::read_to_string(sweep.dir.join("sweep.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("\n12\n</text>"),
        "{svg}"
    );
    let markdown = std::fs::read_to_string(sweep.dir.join("sweep.md")).unwrap();
    assert!(markdown.contains("| quantized | 12 |"), "{markdown}");
}

#[test]
fn a_fixed_model_narrowed_below_its_proven_width_overflows() {
    let tmp = tempfile::tempdir().unwrap();
    // Quantized for 32-bit accumulators: no accumulator-aware constraint
    // on the weights, so its layers need 13/12/11 bits.
    let model = quantized_digits(32);
    let written = write_model(&model, tmp.path(), "digits_p32").unwrap();
    let sweep = sweep(
        tmp.path(),
        &[
            "--fixed-model",
            written.to_str().unwrap(),
            "--overflow",
            "wrap,saturate",
            "--acc-bits",
            "16,8",
        ],
    );
    assert_eq!(sweep.rows.len(), 4);
    let correct_as_declared = reference_correct(&model) as f64;
    for series in ["fixed-wrap", "fixed-saturate"] {
        let proven = row(&sweep.rows, series, 16);
        assert_eq!(proven["proven"], "true");
        assert_eq!(proven["overflow_events"], "0");
        assert_eq!(number(proven, "correct"), correct_as_declared);
        let narrow = row(&sweep.rows, series, 8);
        assert_eq!(narrow["proven"], "false");
        assert!(number(narrow, "fc0_overflow_events") > 0.0, "{series}");
    }
    // Measured: 534 correct at 16 bits; at 8 bits 62 wrapping and 279
    // saturating. Asserted with wide margins.
    let wrap = number(row(&sweep.rows, "fixed-wrap", 8), "correct");
    let saturate = number(row(&sweep.rows, "fixed-saturate", 8), "correct");
    assert!(wrap < correct_as_declared - 50.0, "wrap {wrap}");
    assert!(wrap < saturate, "wrap {wrap}, saturate {saturate}");
}

#[test]
fn widths_and_sources_are_checked_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::cargo_bin("a2qgen")
            .unwrap()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("sweep")
            .args(TEST_SET)
            .args(args)
            .arg("-o")
            .arg(tmp.path().join("out"))
            .output()
            .unwrap()
    };
    let nothing = run(&["--acc-bits", "12"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to sweep"));
    let mut args = FLOAT.to_vec();
    args.extend(["--acc-bits", "12,1"]);
    let bad = run(&args);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--acc-bits 1: not in 2..=64"));
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn synth_adds_yosys_counts_for_both_designs() {
    if !tools::have("yosys") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Array2::from_shape_fn((64, 8), |(v, i)| ((v * 5 + i * 3) % 16) as i64);
    let labels = Array1::from_shape_fn(64, |v| (v % 4) as i64);
    let (x, y) = (tmp.path().join("x.npy"), tmp.path().join("y.npy"));
    write_int_array(&x, &inputs.into_dyn()).unwrap();
    write_int_array(&y, &labels.into_dyn()).unwrap();
    let out = tmp.path().join("out");
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep", "--fixed-model", "tests/fixtures/tiny_dense.toml"])
        .args(["--acc-bits", "10", "--synth", "--synth-timeout", "300"])
        .arg("--test-inputs")
        .arg(&x)
        .arg("--test-labels")
        .arg(&y)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = read_csv(&out.join("sweep.csv"));
    let p10 = row(&rows, "fixed-wrap", 10);
    assert!(number(p10, "yosys_lut") > 0.0);
    assert!(number(p10, "yosys_lut") < number(p10, "yosys_lut_32"));
    assert!(number(p10, "yosys_ff") < number(p10, "yosys_ff_32"));
    assert!(
        out.with_extension("synth")
            .join("tiny_dense_p10_wrap/declared")
            .is_dir()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Yosys LUT"), "{stdout}");
}
