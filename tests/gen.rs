//! `a2qgen gen`: the generated Verilog passes Verilator's lint, Icarus and
//! Yosys; DSP and LUT multipliers map as declared; output is deterministic.

mod tools;

use std::path::Path;
use std::process::Command;
use tools::{
    assert_icarus_compiles, assert_verilator_lint_clean, cell_count, generate, have, root,
    yosys_synth,
};

const EXAMPLES: [(&str, &str); 2] = [
    ("examples/mlp3.toml", "mlp3"),
    ("examples/hadamard_tiled.toml", "hadamard_tiled"),
];

#[test]
fn verilator_lint_is_clean() {
    if !have("verilator") {
        return;
    }
    for (model, name) in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let (_, files) = generate(Path::new(model), dir.path(), name);
        assert_verilator_lint_clean(&files, name);
    }
}

#[test]
fn icarus_compiles_verilog_2005() {
    if !have("iverilog") {
        return;
    }
    for (model, name) in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let (design, files) = generate(Path::new(model), dir.path(), name);
        assert_icarus_compiles(&design, &files, name);
    }
}

#[test]
fn yosys_synthesizes_without_latches() {
    if !have("yosys") {
        return;
    }
    for (model, name) in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let (design, files) = generate(Path::new(model), dir.path(), name);
        let log = yosys_synth(&design, &files, &format!("{name}_top"));
        assert!(!log.contains("Latch inferred"), "{name} infers a latch");
        assert!(!log.contains("ERROR"), "{name}: {log}");
        assert!(
            cell_count(&log, "FDRE") > 0,
            "{name}: no registers in\n{log}"
        );
    }
}

#[test]
fn dsp_multipliers_map_to_dsp48_and_lut_ones_to_luts() {
    if !have("yosys") {
        return;
    }
    let mut dsps = Vec::new();
    for name in ["w8_dsp", "w8_lut"] {
        let dir = tempfile::tempdir().unwrap();
        let model = root().join(format!("tests/fixtures/models/{name}.toml"));
        let (design, files) = generate(&model, dir.path(), name);
        let log = yosys_synth(&design, &files, &format!("{name}_top"));
        dsps.push(cell_count(&log, "DSP48E1"));
    }
    // PE 2 x SIMD 4 = eight 8x8 multipliers.
    assert_eq!(dsps, vec![8, 0]);
}

fn generated_text(model: &str, name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (design, files) = generate(&root().join(model), dir.path(), name);
    let mut text = String::new();
    for f in files {
        text.push_str(&format!(
            "==> {} <==\n",
            f.file_name().unwrap().to_string_lossy()
        ));
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    for entry in std::fs::read_dir(&design).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mem") {
            text.push_str(&format!(
                "==> {} <==\n",
                path.file_name().unwrap().to_string_lossy()
            ));
            text.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    text
}

#[test]
fn generation_is_deterministic() {
    let first = generated_text("tests/fixtures/models/tiny.toml", "tiny");
    assert_eq!(
        first,
        generated_text("tests/fixtures/models/tiny.toml", "tiny")
    );
    insta::assert_snapshot!(first);
}

#[test]
fn plan_table_of_mlp3() {
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(["gen", "examples/mlp3.toml", "--plan"])
        .output()
        .unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn unproven_widths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("tests/fixtures/models/tiny.toml"))
        .unwrap()
        .replace("accumulator = { bits = 6 }", "accumulator = { bits = 3 }");
    let model = dir.path().join("narrow.toml");
    std::fs::write(&model, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .arg("gen")
        .arg(&model)
        .arg("-o")
        .arg(dir.path().join("hdl"))
        .arg("--constraints")
        .arg(dir.path().join("constraints"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("layer 0 (`fc0`)"), "{stderr}");
    assert!(!dir.path().join("hdl").exists(), "nothing may be written");
}

#[test]
fn committed_constraints_match_the_generator() {
    for (model, name) in EXAMPLES
        .into_iter()
        .chain([("examples/digits_p12.toml", "digits")])
    {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
            .current_dir(dir.path())
            .arg("gen")
            .arg(root().join(model))
            .output()
            .unwrap();
        assert!(output.status.success());
        for ext in ["xdc", "ys", "tcl"] {
            let fresh =
                std::fs::read_to_string(dir.path().join(format!("constraints/{name}.{ext}")))
                    .unwrap();
            let committed =
                std::fs::read_to_string(root().join(format!("constraints/{name}.{ext}"))).unwrap();
            assert_eq!(
                fresh, committed,
                "constraints/{name}.{ext} is stale: rerun `a2qgen gen {model}`"
            );
        }
    }
}
