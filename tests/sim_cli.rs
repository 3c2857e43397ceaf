//! `a2qgen sim` end to end: the summary, the beats file, the schedule
//! files, and the refusals.

use a2qgen::arch::{PlanOptions, build_plan};
use a2qgen::bounds::analyze;
use a2qgen::model::load_model;
use a2qgen::npyio::{read_int_array, write_int_array};
use a2qgen::sim::{Schedule, simulate};
use assert_cmd::Command;
use ndarray::{Array2, Ix2, s};
use std::path::{Path, PathBuf};

fn a2qgen() -> Command {
    let mut cmd = Command::cargo_bin("a2qgen").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// 40 vectors of 16 values in `offset .. offset + 16` with a simple spread.
fn write_inputs(dir: &Path, offset: i64) -> (PathBuf, Array2<i64>) {
    let inputs = Array2::from_shape_fn((40, 16), |(v, i)| ((v * 7 + i * 3) % 16) as i64 + offset);
    let path = dir.join("x.npy");
    write_int_array(&path, &inputs).unwrap();
    (path, inputs)
}

#[test]
fn writes_beats_and_schedule_that_the_library_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let (x, inputs) = write_inputs(dir.path(), 0);
    let beats_path = dir.path().join("out/beats.npy");
    let schedule_dir = dir.path().join("schedule");
    let out = a2qgen()
        .args([
            "sim",
            "examples/mlp3.toml",
            "--gaps",
            "0.3",
            "--backpressure",
            "0.3",
        ])
        .args(["--seed", "5", "--inputs"])
        .arg(&x)
        .arg("--out")
        .arg(&beats_path)
        .arg("--schedule-dir")
        .arg(&schedule_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "model mlp3: 40 vectors, 80 output beats of 2 x int12",
        "latency",
        "fc0_fifo",
    ] {
        assert!(stdout.contains(needle), "{stdout}");
    }

    let table = read_int_array(&beats_path)
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    assert_eq!(table.dim(), (80, 5));
    // The same run through the library, with the schedule read back.
    let model = load_model(&root().join("examples/mlp3.toml")).unwrap();
    let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
    let schedule = Schedule::read_files(&schedule_dir).unwrap();
    let result = simulate(&plan, inputs.view(), &schedule).unwrap();
    assert_eq!(table, result.beats_table());
    // Columns: vector, beat, cycle, then the two elements of the beat.
    assert_eq!(table.slice(s![0..2, 0..2]), ndarray::array![[0, 0], [0, 1]]);
    assert_eq!(
        table
            .slice(s![.., 3..])
            .to_owned()
            .into_shape_with_order((40, 4))
            .unwrap(),
        result.outputs()
    );
}

#[test]
fn no_gaps_reports_the_plan_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = write_inputs(dir.path(), -8);
    let out = a2qgen()
        .args(["sim", "examples/hadamard_tiled.toml", "--inputs"])
        .arg(&x)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("schedule: no gaps, no back-pressure"),
        "{stdout}"
    );
    // Measured and planned side by side: latency 30 and II 16 both times.
    assert!(stdout.contains("|       30 |   30 |"), "{stdout}");
    assert!(stdout.contains("|       16 |   16 |"), "{stdout}");
}

#[test]
fn unproven_widths_are_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let examples = root().join("examples");
    std::fs::create_dir_all(dir.path().join("mlp3")).unwrap();
    for entry in std::fs::read_dir(examples.join("mlp3")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.path().join("mlp3").join(entry.file_name()),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(examples.join("mlp3.toml")).unwrap();
    let narrow = dir.path().join("mlp3.toml");
    std::fs::write(
        &narrow,
        text.replacen(
            "accumulator = { bits = 10 }",
            "accumulator = { bits = 9 }",
            1,
        ),
    )
    .unwrap();
    let (x, _) = write_inputs(dir.path(), 0);
    let out = a2qgen()
        .arg("sim")
        .arg(&narrow)
        .arg("--inputs")
        .arg(&x)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("accumulator width not proven"), "{stderr}");
}

#[test]
fn bad_inputs_and_probabilities_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.npy");
    write_int_array(&wrong, &Array2::<i64>::zeros((3, 15))).unwrap();
    let out = a2qgen()
        .args(["sim", "examples/mlp3.toml", "--inputs"])
        .arg(&wrong)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("15 elements per vector; the plan takes 16")
    );

    let (x, _) = write_inputs(dir.path(), 0);
    let out = a2qgen()
        .args(["sim", "examples/mlp3.toml", "--gaps", "1.0", "--inputs"])
        .arg(&x)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--gaps 1: expected a probability in [0, 0.99]")
    );
}
