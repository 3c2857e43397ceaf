//! `a2qgen check` on the examples and on deliberately narrowed copies.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn a2qgen() -> Command {
    let mut cmd = Command::cargo_bin("a2qgen").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// A copy of `examples/mlp3.toml` (with its arrays) in `dir`, edited.
fn edited_mlp3(dir: &Path, from: &str, to: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::create_dir_all(dir.join("mlp3")).unwrap();
    for entry in std::fs::read_dir(root.join("mlp3")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("mlp3").join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(root.join("mlp3.toml")).unwrap();
    let edited = text.replacen(from, to, 1);
    assert_ne!(text, edited);
    let path = dir.join("mlp3.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn examples_are_proven() {
    for model in ["examples/mlp3.toml", "examples/hadamard_tiled.toml"] {
        let out = a2qgen().args(["check", model]).output().unwrap();
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        insta::assert_snapshot!(model.replace(['/', '.'], "_"), stdout);
    }
}

#[test]
fn too_narrow_width_fails_with_a_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    let model = edited_mlp3(
        dir.path(),
        "accumulator = { bits = 10 }",
        "accumulator = { bits = 9 }",
    );
    let cx_dir = dir.path().join("cx");
    let out = a2qgen()
        .arg("check")
        .arg(&model)
        .arg("--counterexample")
        .arg(&cx_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "layer 0 (`fc0`): channel 2: accumulator range [-376, 89] needs 10 bits, declared 9"
        ),
        "{stderr}"
    );
    // The written input drives channel 2 of fc0 to -376.
    let input = a2qgen::npyio::read_int_array(&cx_dir.join("fc0.npy")).unwrap();
    let weights = a2qgen::npyio::read_int_array(&dir.path().join("mlp3/fc0_weights.npy")).unwrap();
    let bias = a2qgen::npyio::read_int_array(&dir.path().join("mlp3/fc0_bias.npy")).unwrap();
    let reached: i64 = bias[[2]] + (0..16).map(|i| weights[[2, i]] * input[[i]]).sum::<i64>();
    assert_eq!(reached, -376);
    assert!(input.iter().all(|&x| (0..=15).contains(&x)));
}

#[test]
fn allow_overflow_turns_the_failure_into_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let model = edited_mlp3(
        dir.path(),
        "accumulator = { bits = 10 }",
        "accumulator = { bits = 9, allow_overflow = true }",
    );
    let out = a2qgen().arg("check").arg(&model).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("warning: layer 0 (`fc0`)"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OVERFLOW (allowed)"));
}

#[test]
fn json_certificate_lists_every_channel() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cert.json");
    let out = a2qgen()
        .args(["check", "examples/hadamard_tiled.toml", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(cert["all_proven"], true);
    let fc0 = &cert["layers"][1];
    assert_eq!(fc0["name"], "fc0");
    assert_eq!(fc0["verdict"], "proven");
    assert_eq!(fc0["dense"]["channels"].as_array().unwrap().len(), 8);
    assert_eq!(
        fc0["dense"]["channels"][0]["tiles"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(cert["layers"][0]["dense"], serde_json::Value::Null);
}

#[test]
fn bad_model_exits_2() {
    let out = a2qgen()
        .args(["check", "tests/fixtures/bad/pe_not_dividing.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tighten_writes_a_model_at_the_minimum_widths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tight.toml");
    let status = a2qgen()
        .args(["check", "examples/hadamard_tiled.toml", "--tighten"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success());
    let tight = a2qgen::model::load_model(&out).unwrap();
    let fc0 = tight.layers[1].as_dense().unwrap();
    assert_eq!(fc0.accumulator.bits, 11);
    assert_eq!(fc0.accumulator.tile.unwrap().inner_bits, 10);
    assert_eq!(tight.layers[2].as_dense().unwrap().accumulator.bits, 8);
    // The tightened model is itself proven, with zero slack everywhere.
    let bounds = a2qgen::bounds::analyze(&tight);
    assert!(bounds.all_proven());
    assert!(
        bounds
            .layers
            .iter()
            .filter_map(|l| l.dense.as_ref())
            .all(|d| d.declared_bits == d.min_bits)
    );
}
