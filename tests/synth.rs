//! `a2qgen synth` against the real Yosys. On CI (`CI=true`) a missing
//! Yosys fails the test instead of skipping it.

mod tools;

use assert_cmd::Command;

/// Runs `a2qgen synth` on the tiny fixture with `extra` arguments; returns
/// its stdout and the `--json` report.
fn synth_tiny(extra: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "synth",
            "tests/fixtures/tiny_dense.toml",
            "--timeout",
            "300",
        ])
        .args(extra)
        .arg("--out")
        .arg(dir.path().join("rtl"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, report)
}

#[test]
fn synth_measures_every_module_of_both_variants() {
    if !tools::have("yosys") {
        return;
    }
    let (stdout, report) = synth_tiny(&[]);
    // The whole top and the one layer, declared and with 32-bit accumulators.
    for row in [
        "| declared | top",
        "| declared | fc ",
        "| 32-bit   | top",
        "| 32-bit   | fc ",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in\n{stdout}");
    }
    let modules = report["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 4);
    for module in modules {
        assert!(module["measured"]["lut"].as_u64().unwrap() > 0, "{module}");
        assert!(module["measured"]["ff"].as_u64().unwrap() > 0, "{module}");
    }
    // `$readmemh` found its images: the weights are not all zero, so the
    // ROM flip-flops and multiplier logic survive.
    let declared_top = &modules[0];
    assert_eq!(declared_top["name"], "top");
    assert!(declared_top["measured"]["lut"].as_u64().unwrap() > 50);
}

#[test]
fn a_missing_yosys_is_a_usage_error() {
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("A2QGEN_YOSYS", "/nonexistent/yosys")
        .args(["synth", "tests/fixtures/tiny_dense.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("yosys not found"), "{stderr}");
    assert!(stderr.contains("apt-get install yosys"), "{stderr}");
}

#[test]
fn synth_parts_measures_each_part_of_a_layer_with_its_hierarchy_kept() {
    if !tools::have("yosys") {
        return;
    }
    let (stdout, report) = synth_tiny(&["--parts"]);
    assert!(
        stdout.contains("Per part, with the hierarchy kept"),
        "{stdout}"
    );
    assert!(stdout.contains("What 32-bit accumulators cost"), "{stdout}");
    let layer = |variant: &str| {
        report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["variant"] == variant && m["name"] == "fc")
            .unwrap_or_else(|| panic!("no {variant} fc in {report}"))
            .clone()
    };
    let part = |module: &serde_json::Value, name: &str| {
        module["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["part"] == name)
            .unwrap_or_else(|| panic!("no part {name} in {module}"))["measured"]
            .clone()
    };
    let (declared, wide) = (layer("declared"), layer("wide32"));
    for name in ["weight_rom", "dot_product", "accumulator", "control"] {
        assert!(part(&declared, name)["lut"].as_u64().unwrap() > 0, "{name}");
    }
    // Widening the accumulator widens its register; the weight ROM stays.
    let acc_ff = |m| part(m, "accumulator")["ff"].as_u64().unwrap();
    assert!(acc_ff(&wide) > acc_ff(&declared), "{declared}\n{wide}");
    assert_eq!(part(&declared, "weight_rom"), part(&wide, "weight_rom"));
}
