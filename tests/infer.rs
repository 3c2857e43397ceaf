//! `a2qgen infer` on the bundled MLP with inputs written by the test.

use a2qgen::npyio::{read_int_array, write_int_array};
use assert_cmd::Command;
use ndarray::{Array1, Array2, array};
use ndarray_npy::WriteNpyExt;
use std::path::{Path, PathBuf};

const MODEL: &str = "examples/mlp3.toml";
const VECTORS: usize = 300;

/// `VECTORS` uint4 vectors of length 16 in a fixed pattern that covers 0..=15.
fn inputs() -> Array2<i64> {
    Array2::from_shape_fn((VECTORS, 16), |(v, i)| {
        ((v * 7 + i * 3 + v / 16) % 16) as i64
    })
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn infer(args: &[&str]) -> Run {
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("infer")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A temporary directory holding the inputs as `x.npy`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    write_int_array(&x, &inputs()).unwrap();
    (dir, x)
}

#[test]
fn writes_outputs_of_shape_batch_by_outputs() {
    let (dir, x) = workspace();
    let out = dir.path().join("out.npy");
    let run = infer(&[MODEL, "--inputs", text(&x), "--out", text(&out)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("model mlp3: 300 vectors of 16 x uint4"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| 0 | fc0   | dense | 10b wrap    |    4 |               0 |")
    );
    assert!(
        run.stdout
            .contains(&format!("wrote outputs [300, 4] to {}", out.display()))
    );
    let outputs = read_int_array(&out).unwrap();
    assert_eq!(outputs.shape(), &[VECTORS, 4]);
    // The declared widths are proven, so an exact run gives the same outputs.
    let exact = dir.path().join("exact.npy");
    let run = infer(&[
        MODEL,
        "--inputs",
        text(&x),
        "--exact",
        "--out",
        text(&exact),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(read_int_array(&exact).unwrap(), outputs);
}

#[test]
fn prints_the_accuracy_against_labels() {
    let (dir, x) = workspace();
    let predicted = dir.path().join("predicted.npy");
    let run = infer(&[
        MODEL,
        "--inputs",
        text(&x),
        "--out",
        text(&predicted),
        "--predictions",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut labels = read_int_array(&predicted).unwrap();
    assert_eq!(labels.shape(), &[VECTORS]);

    let y = dir.path().join("y.npy");
    write_int_array(&y, &labels).unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x), "--labels", text(&y)]);
    assert!(
        run.stdout.contains(&format!(
            "accuracy: 300 / 300 = 100.00% (labels {})",
            y.display()
        )),
        "{}",
        run.stdout
    );
    // Change 30 labels: 90%.
    for label in labels.iter_mut().take(30) {
        *label = (*label + 1) % 4;
    }
    write_int_array(&y, &labels).unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x), "--labels", text(&y)]);
    assert!(
        run.stdout.contains("accuracy: 270 / 300 = 90.00%"),
        "{}",
        run.stdout
    );
}

#[test]
fn labels_of_the_wrong_shape_are_refused_naming_the_file() {
    let (dir, x) = workspace();
    let y = dir.path().join("short_labels.npy");
    write_int_array(&y, &Array1::<i64>::zeros(VECTORS - 1)).unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x), "--labels", text(&y)]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{}: labels have shape [299], expected [300]",
            y.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn inputs_of_the_wrong_shape_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("fifteen_wide.npy");
    write_int_array(&x, &Array2::<i64>::zeros((4, 15))).unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x)]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{}: inputs have shape [4, 15], expected [batch, 16]",
            x.display()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty() && !run.stderr.contains("panicked"));
}

#[test]
fn float_inputs_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("floats.npy");
    Array2::<f32>::zeros((2, 16))
        .write_npy(std::fs::File::create(&x).unwrap())
        .unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x)]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{}: dtype '<f4' is not an integer type",
            x.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn inputs_outside_the_input_type_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("sixteen.npy");
    let mut values = inputs();
    values[[5, 3]] = 16;
    write_int_array(&x, &values).unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x)]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{}: input [5][3] = 16 is outside the model's input type uint4",
            x.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_single_vector_is_a_batch_of_one() {
    let (dir, _) = workspace();
    let x = dir.path().join("one.npy");
    write_int_array(
        &x,
        &array![15i64, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1],
    )
    .unwrap();
    let out = dir.path().join("out.npy");
    let run = infer(&[MODEL, "--inputs", text(&x), "--out", text(&out)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(read_int_array(&out).unwrap().shape(), &[1, 4]);
}

#[test]
fn dumps_every_layer_and_replaces_an_earlier_dump() {
    let (dir, x) = workspace();
    let dump = dir.path().join("dump");
    for _ in 0..2 {
        let run = infer(&[MODEL, "--inputs", text(&x), "--dump", text(&dump)]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(run.stdout.contains("wrote 6 arrays to"), "{}", run.stdout);
    }
    let shape = |name: &str| read_int_array(&dump.join(name)).unwrap().shape().to_vec();
    assert_eq!(shape("fc0_acc.npy"), [VECTORS, 16]);
    assert_eq!(shape("fc1_out.npy"), [VECTORS, 8]);
    assert_eq!(shape("fc2_out.npy"), [VECTORS, 4]);
    // Only the dump itself is left in the parent: no staging directories.
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 2, "x.npy and dump/");

    // A file of the user's in the dump folder is neither removed nor
    // replaced: only the files the tool listed in its manifest are.
    std::fs::write(dump.join("notes.txt"), "mine").unwrap();
    let run = infer(&[MODEL, "--inputs", text(&x), "--dump", text(&dump)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dump.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn narrowed_accumulators_overflow_and_are_counted() {
    let (_dir, x) = workspace();
    let run = infer(&[
        MODEL,
        "--inputs",
        text(&x),
        "--acc-bits",
        "fc0=6",
        "--overflow",
        "saturate",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("accumulators: as declared, except fc0=6, overflow saturate"),
        "{}",
        run.stdout
    );
    let fc0 = run.stdout.lines().find(|l| l.contains("| fc0")).unwrap();
    let events: u64 = fc0.split('|').nth(6).unwrap().trim().parse().unwrap();
    assert!(events > 0, "{fc0}");
}

#[test]
fn acc_bits_for_an_unknown_layer_names_the_flag_and_the_layer() {
    let (_dir, x) = workspace();
    let run = infer(&[MODEL, "--inputs", text(&x), "--acc-bits", "fc7=8"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("--acc-bits fc7: no layer has this name (layers: fc0, fc1, fc2)"),
        "{}",
        run.stderr
    );
}
