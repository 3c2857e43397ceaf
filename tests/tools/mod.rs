//! Helpers for tests that need Verilator, Icarus or Yosys: under `CI=true`
//! a missing tool fails the test; elsewhere the test is skipped with a note.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn have(tool: &str) -> bool {
    let found = Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{tool} is required under CI=true (make deps installs it)");
        }
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

/// The digits float model with its calibration inputs and input format, as
/// `quantize`, `sweep` and `search` take them (paths from the repository root).
pub const DIGITS_FLOAT: [&str; 8] = [
    "--float",
    "examples/digits/float",
    "--calibration",
    "examples/digits/data/train_x.npy",
    "--input-scale",
    "1/16",
    "--input-type",
    "uint5",
];

/// The digits test split, as `--test-inputs` and `--test-labels`.
pub const DIGITS_TEST_SET: [&str; 4] = [
    "--test-inputs",
    "examples/digits/data/test_x.npy",
    "--test-labels",
    "examples/digits/data/test_y.npy",
];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `a2qgen gen` for `model` into `dir`; returns the design folder and
/// the Verilog files in compile order.
pub fn generate(model: &Path, dir: &Path, name: &str) -> (PathBuf, Vec<PathBuf>) {
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .arg("gen")
        .arg(model)
        .arg("-o")
        .arg(dir.join("hdl"))
        .arg("--constraints")
        .arg(dir.join("constraints"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let design = dir.join("hdl").join(name);
    let files = std::fs::read_to_string(design.join("filelist.f"))
        .unwrap()
        .lines()
        .map(|l| design.join(l))
        .collect();
    (design, files)
}

/// `verilator --lint-only -Wall` of the design: no error, no warning.
pub fn assert_verilator_lint_clean(files: &[PathBuf], name: &str) {
    let output = Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "--top-module",
            &format!("{name}_top"),
        ])
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {stderr}");
    assert!(!stderr.contains("%Warning"), "{name}: {stderr}");
}

/// `iverilog -g2005 -Wall` of the design compiles without an error.
pub fn assert_icarus_compiles(design: &Path, files: &[PathBuf], name: &str) {
    let output = Command::new("iverilog")
        .args(["-g2005", "-Wall", "-o"])
        .arg(design.join("a.vvp"))
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {stderr}");
    assert!(!stderr.contains("error"), "{name}: {stderr}");
}

/// Yosys `synth_xilinx` of the design; returns the log.
pub fn yosys_synth(design: &Path, files: &[PathBuf], top: &str) -> String {
    let mut script = String::new();
    for f in files {
        script.push_str(&format!("read_verilog {}\n", f.display()));
    }
    script.push_str(&format!(
        "synth_xilinx -family xc7 -flatten -noiopad -top {top}\nstat\n"
    ));
    let script_path = design.join("synth.ys");
    std::fs::write(&script_path, script).unwrap();
    let output = Command::new("yosys")
        .arg("-q")
        .arg("-l")
        .arg(design.join("yosys.log"))
        .arg("-s")
        .arg(&script_path)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(design.join("yosys.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "yosys failed: {}\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    log
}

/// The count of `cell` in the last `stat` of a Yosys log.
pub fn cell_count(log: &str, cell: &str) -> u64 {
    let stat = log.rsplit("Number of cells").next().unwrap_or("");
    stat.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == cell).then(|| parts.next()?.parse().ok())?
        })
        .next()
        .unwrap_or(0)
}
