//! `a2qgen cosim`: the reference, the Rust simulation and Verilator agree on
//! every value and cycle; a deliberately broken design is caught.

mod tools;

use std::process::{Command, Output};
use tools::{have, root};

fn cosim(model: &str, extra: &[&str], build: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(["cosim", model, "--random", "1000", "--build-dir"])
        .arg(build)
        .args(extra)
        .output()
        .unwrap()
}

/// The measured and analytical columns of a table row starting with `label`.
fn figures(stdout: &str, label: &str) -> (String, String) {
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {label}")))
        .expect("a row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    (cells[2].to_string(), cells[3].to_string())
}

#[test]
fn examples_agree_with_and_without_stalls() {
    if !have("verilator") {
        return;
    }
    for (model, name) in [
        ("examples/mlp3.toml", "mlp3"),
        ("examples/hadamard_tiled.toml", "hadamard_tiled"),
        // LUT products whose selector is the input (narrower than the
        // lane's weights), unsigned and signed.
        ("tests/fixtures/models/tiny.toml", "tiny"),
        ("tests/fixtures/models/narrow_inputs.toml", "narrow_inputs"),
    ] {
        let build = tempfile::tempdir().unwrap();
        for stalls in [
            ["--gaps", "0", "--backpressure", "0"],
            ["--gaps", "0.3", "--backpressure", "0.3"],
        ] {
            let output = cosim(model, &stalls, build.path());
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{name} {stalls:?}: {stdout}\n{stderr}"
            );
            assert!(stdout.contains("agree on all"), "{stdout}");
            if stalls[1] == "0" {
                let (measured, analytical) = figures(&stdout, "initiation interval");
                let max = measured.split('/').next().unwrap().trim().to_string();
                assert_eq!(max, analytical, "{name}: II");
                let (measured, analytical) = figures(&stdout, "latency");
                assert_eq!(measured, analytical, "{name}: latency");
            }
        }
    }
}

#[test]
fn a_broken_design_is_reported() {
    if !have("verilator") {
        return;
    }
    for fault in ["accumulator-bit", "threshold"] {
        let build = tempfile::tempdir().unwrap();
        let output = cosim(
            "examples/mlp3.toml",
            &["--inject-fault", fault],
            build.path(),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{fault}: {stderr}");
        assert!(
            stderr.contains("first mismatch: vector"),
            "{fault}: {stderr}"
        );
    }
}
