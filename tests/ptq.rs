//! `a2qgen quantize --method axe-optq | axe-gpfq` on the digits MLP against
//! Brevitas's own AXE: `examples/digits/axe/axe_brevitas.py` ran Brevitas
//! on the same float model, calibration data and integer formats and
//! committed its accuracies; every run here quantizes again and must be
//! within half a point of them, or better, at every width. Multi-stage
//! accumulation is proven by `a2qgen check` at both widths.

use assert_cmd::Command;
use std::path::Path;
use tools::{DIGITS_FLOAT, DIGITS_TEST_SET};

mod tools;

fn a2qgen() -> Command {
    let mut cmd = Command::cargo_bin("a2qgen").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Quantizes the digits MLP (W4 A4, uint5 pixels at 1/16, calibration on
/// the training split) and returns the test accuracy in percent that
/// `quantize` printed, and its stdout.
fn quantize_digits(output: &Path, acc_bits: u32, extra: &[&str]) -> (f64, String) {
    let out = a2qgen()
        .args(["quantize"])
        .args(DIGITS_FLOAT)
        .args([
            "--acc-bits",
            &acc_bits.to_string(),
            "--test-inputs",
            "examples/digits/data/test_x.npy",
            "--test-labels",
            "examples/digits/data/test_y.npy",
            "-o",
        ])
        .arg(output)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "quantize P={acc_bits} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let accuracy = stdout
        .split("integer ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in: {stdout}"));
    (accuracy, stdout)
}

/// `(method, P, accuracy in percent)` from the committed Brevitas run.
fn brevitas_accuracies() -> Vec<(String, u32, f64)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/axe/brevitas_axe.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("method,acc_bits,accuracy_percent,brevitas,torch")
    );
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (
                fields[0].to_string(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn axe_is_within_half_a_point_of_brevitas_or_better_at_every_width() {
    let reference = brevitas_accuracies();
    assert_eq!(reference.len(), 14, "OPTQ and GPFQ at seven widths");
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (method, bits, brevitas) in &reference {
        let output = dir
            .path()
            .join(format!("{}_p{bits}.toml", method.replace('-', "_")));
        let (ours, _) = quantize_digits(&output, *bits, &["--method", method]);
        println!("{method} P={bits}: a2qgen {ours:.2}%, Brevitas {brevitas:.2}%");
        if ours < brevitas - 0.5 {
            failures.push(format!(
                "{method} P={bits}: {ours:.2}% against Brevitas's {brevitas:.2}%"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn axe_beats_a2q_where_the_budget_binds() {
    // The figure: A2Q loses six points at P = 10.
    let dir = tempfile::tempdir().unwrap();
    let (a2q, _) = quantize_digits(&dir.path().join("a2q.toml"), 10, &[]);
    let (optq, _) = quantize_digits(&dir.path().join("optq.toml"), 10, &["--method", "axe-optq"]);
    assert!((a2q - 92.78).abs() < 0.01, "A2Q at P = 10: {a2q}%");
    assert!(optq >= a2q + 4.0, "AXE-OPTQ {optq}% against A2Q {a2q}%");
}

#[test]
fn tiled_models_are_proven_at_both_widths() {
    let dir = tempfile::tempdir().unwrap();
    for method in ["a2q", "axe-optq", "axe-gpfq"] {
        let model = dir
            .path()
            .join(format!("{}.toml", method.replace('-', "_")));
        let (accuracy, stdout) = quantize_digits(
            &model,
            12,
            &[
                "--method",
                method,
                "--tile",
                "16",
                "--inner-bits",
                "9",
                "--zero-center",
            ],
        );
        assert!(
            stdout.contains("in tiles of 16 inputs of 9 bits"),
            "{stdout}"
        );
        assert!(accuracy > 50.0, "{method}: {accuracy}%");
        let check = a2qgen().arg("check").arg(&model).output().unwrap();
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{method}: {report}");
        assert!(report.contains("tiles of 16"), "{report}");
        let text = std::fs::read_to_string(&model).unwrap();
        assert!(text.contains("inner_bits = 9"), "{text}");
    }
}

#[test]
fn sweep_quantizes_with_the_chosen_method() {
    let dir = tempfile::tempdir().unwrap();
    let out = a2qgen()
        .args(["sweep"])
        .args(DIGITS_FLOAT)
        .args(DIGITS_TEST_SET)
        .args(["--acc-bits", "10", "--method", "axe-optq", "-o"])
        .arg(dir.path().join("sweep"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A2Q gives 92.78% (501/540) at this width.
    assert!(stdout.contains("98.52% (532/540)"), "{stdout}");
}
