//! `a2qgen search` on the digits float model with a 1-point budget: the
//! winner is within the budget, no costlier than the best uniform width
//! (each figure recomputed here through the library, not read from the
//! search), proven by `check`, and clean in `cosim`.

use a2qgen::arch::PlanOptions;
use a2qgen::estimate::compare;
use a2qgen::model::{IntType, LayerKind, Model, load_model};
use a2qgen::npyio::{read_int_array, write_int_array};
use a2qgen::quantize::{AccumulatorWidths, FloatModel, QuantizeSettings, quantize};
use a2qgen::reference::{AccumulatorMode, Reference, predictions};
use assert_cmd::Command;
use ndarray::{Array1, Array2, Ix1, Ix2, s};
use std::path::{Path, PathBuf};

mod tools;
use tools::{DIGITS_FLOAT, DIGITS_TEST_SET};

const WIDTHS: [u32; 5] = [14, 13, 12, 11, 10];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn matrix(path: &str) -> Array2<i64> {
    read_int_array(&repo(path))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn labels(path: &str) -> Array1<i64> {
    read_int_array(&repo(path))
        .unwrap()
        .into_dimensionality::<Ix1>()
        .unwrap()
}

/// Runs `a2qgen search` with the digits float model, the candidate
/// `WIDTHS` and `extra`, writing `<dir>/winner.toml` and `<dir>/report/`.
fn search(dir: &Path, extra: &[&str]) -> String {
    let widths: Vec<String> = WIDTHS.iter().map(u32::to_string).collect();
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["search"])
        .args(DIGITS_FLOAT)
        .args(DIGITS_TEST_SET)
        .args(["--budget", "1.0", "--widths", &widths.join(",")])
        .args(extra)
        .arg("-o")
        .arg(dir.join("winner.toml"))
        .arg("--report")
        .arg(dir.join("report"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn accumulator_widths(model: &Model) -> Vec<u32> {
    model
        .layers
        .iter()
        .filter_map(|l| match &l.kind {
            LayerKind::Dense(d) => Some(d.accumulator.bits),
            _ => None,
        })
        .collect()
}

/// Correct predictions of the bit-exact reference.
fn correct(model: &Model, inputs: &Array2<i64>, labels: &Array1<i64>) -> usize {
    let run = Reference::new(model, &AccumulatorMode::default())
        .unwrap()
        .run(inputs.view())
        .unwrap();
    predictions(run.outputs.view())
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count()
}

fn float_correct(inputs: &Array2<i64>, labels: &Array1<i64>) -> usize {
    let float = FloatModel::load(&repo("examples/digits/float")).unwrap();
    float
        .predict(inputs.mapv(|v| v as f64 / 16.0).view())
        .into_iter()
        .zip(labels)
        .filter(|(p, l)| *p as i64 == **l)
        .count()
}

/// The digits model quantized at `widths` (one per layer) on `calibration`.
fn quantized(widths: &[u32], calibration: &Array2<i64>) -> Model {
    let float = FloatModel::load(&repo("examples/digits/float")).unwrap();
    let mut settings = QuantizeSettings::new("digits", IntType::unsigned(5), 1.0 / 16.0, 32);
    settings.accumulator = AccumulatorWidths {
        default_bits: 32,
        per_layer: ["fc0", "fc1", "fc2"]
            .iter()
            .zip(widths)
            .map(|(l, &p)| (l.to_string(), p))
            .collect(),
    };
    quantize(&float, calibration.view(), &settings)
        .unwrap()
        .model
}

fn estimated(model: &Model) -> (f64, f64) {
    let total = compare(model, PlanOptions::default())
        .unwrap()
        .declared
        .total;
    (total.lut, total.ff)
}

/// The cheapest uniform width of `WIDTHS` whose accuracy on the judged
/// split is at least `floor` correct predictions, and its (LUT, FF).
fn best_uniform(
    calibration: &Array2<i64>,
    judged: (&Array2<i64>, &Array1<i64>),
    floor: usize,
    cost: impl Fn((f64, f64)) -> f64,
) -> (u32, f64) {
    WIDTHS
        .iter()
        .map(|&p| (p, quantized(&[p; 3], calibration)))
        .filter(|(_, m)| correct(m, judged.0, judged.1) >= floor)
        .map(|(p, m)| (p, cost(estimated(&m))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("some uniform width within the budget")
}

fn assert_checked_and_cosim_clean(winner: &Path, dir: &Path) {
    let check = Command::cargo_bin("a2qgen")
        .unwrap()
        .arg("check")
        .arg(winner)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    if !tools::have("verilator") {
        return;
    }
    let inputs = matrix("examples/digits/data/test_x.npy");
    let subset = dir.join("subset.npy");
    write_int_array(&subset, &inputs.slice(s![..40, ..]).to_owned().into_dyn()).unwrap();
    let cosim = Command::cargo_bin("a2qgen")
        .unwrap()
        .arg("cosim")
        .arg(winner)
        .arg("--inputs")
        .arg(&subset)
        .args(["--gaps", "0.2", "--backpressure", "0.2", "--build-dir"])
        .arg(dir.join("build"))
        .output()
        .unwrap();
    assert!(
        cosim.status.success(),
        "cosim: {}{}",
        String::from_utf8_lossy(&cosim.stdout),
        String::from_utf8_lossy(&cosim.stderr)
    );
}

#[test]
fn the_winner_on_the_test_split_is_within_budget_cheaper_than_uniform_proven_and_cosim_clean() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = search(dir.path(), &[]);
    let winner_path = dir.path().join("winner.toml");
    let winner = load_model(&winner_path).unwrap();
    let widths = accumulator_widths(&winner);
    let calibration = matrix("examples/digits/data/train_x.npy");
    let (x, y) = (
        matrix("examples/digits/data/test_x.npy"),
        labels("examples/digits/data/test_y.npy"),
    );
    // Within one point of the float model: 100 * (float - c) / n <= 1.
    let floor = float_correct(&x, &y) * 100 - x.nrows();
    assert!(
        correct(&winner, &x, &y) * 100 >= floor,
        "winner {widths:?}: {} of {} correct",
        correct(&winner, &x, &y),
        x.nrows()
    );
    // The written model is what the quantizer makes at those widths.
    assert_eq!(
        quantized(&widths, &calibration).layers,
        winner.layers,
        "winner {widths:?}"
    );
    let (uniform, uniform_lut) = best_uniform(&calibration, (&x, &y), floor.div_ceil(100), |c| c.0);
    let (winner_lut, _) = estimated(&winner);
    assert!(
        winner_lut <= uniform_lut,
        "winner {widths:?}: {winner_lut} LUTs, uniform {uniform}: {uniform_lut}"
    );
    assert!(
        stdout.contains(&format!("best uniform P = {uniform}")),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("report/search.csv")).unwrap();
    let steps = csv.lines().count() - 1;
    assert!(
        stdout.contains(&format!("{steps} steps")) && steps > WIDTHS.len(),
        "{steps} CSV rows\n{stdout}"
    );
    let markdown = std::fs::read_to_string(dir.path().join("report/search.md")).unwrap();
    assert!(markdown.contains("### Pareto front"), "{markdown}");
    assert_checked_and_cosim_clean(&winner_path, dir.path());
}

#[test]
fn judged_on_a_validation_split_the_ff_winner_keeps_its_budget_there() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = search(
        dir.path(),
        &[
            "--calibration-labels",
            "examples/digits/data/train_y.npy",
            "--holdout",
            "0.25",
            "--objective",
            "ff",
        ],
    );
    let all = matrix("examples/digits/data/train_x.npy");
    let all_labels = labels("examples/digits/data/train_y.npy");
    let kept = all.nrows() - (all.nrows() as f64 * 0.25).ceil() as usize;
    let calibration = all.slice(s![..kept, ..]).to_owned();
    let x = all.slice(s![kept.., ..]).to_owned();
    let y = all_labels.slice(s![kept..]).to_owned();
    let winner = load_model(&dir.path().join("winner.toml")).unwrap();
    let widths = accumulator_widths(&winner);
    assert_eq!(quantized(&widths, &calibration).layers, winner.layers);
    let floor = float_correct(&x, &y) * 100 - x.nrows();
    assert!(correct(&winner, &x, &y) * 100 >= floor, "{widths:?}");
    let (uniform, uniform_ff) = best_uniform(&calibration, (&x, &y), floor.div_ceil(100), |c| c.1);
    let (_, winner_ff) = estimated(&winner);
    assert!(
        winner_ff <= uniform_ff,
        "winner {widths:?}: {winner_ff} FFs, uniform {uniform}: {uniform_ff}"
    );
    assert!(stdout.contains("validation accuracy"), "{stdout}");
    assert!(stdout.contains("test accuracy"), "{stdout}");
}
