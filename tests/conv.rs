//! Convolutional models through the binary: `info`, `check` (with its
//! counterexample fed back to `infer`, which must see the overflow, and
//! `--tighten`), `infer` on the digits CNN's test split, and `quantize` from
//! the float CNN.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn a2qgen() -> Command {
    let mut cmd = Command::cargo_bin("a2qgen").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of `examples/digits_cnn_p12.toml` (with its arrays) in `dir`,
/// edited.
fn edited_cnn(dir: &Path, from: &str, to: &str) -> PathBuf {
    let examples = root().join("examples");
    let arrays = dir.join("digits_cnn_p12");
    std::fs::create_dir_all(&arrays).unwrap();
    for entry in std::fs::read_dir(examples.join("digits_cnn_p12")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), arrays.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(examples.join("digits_cnn_p12.toml")).unwrap();
    let edited = text.replacen(from, to, 1);
    assert!(from == to || text != edited, "edit {from:?} did not apply");
    let path = dir.join("digits_cnn_p12.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// The `overflow events` column of `infer`'s table, per layer name.
fn overflow_events(stdout: &str, layer: &str) -> u64 {
    let row = stdout
        .lines()
        .find(|l| l.split('|').nth(2).map(str::trim) == Some(layer))
        .unwrap_or_else(|| panic!("no row for {layer}: {stdout}"));
    row.split('|').nth(6).unwrap().trim().parse().unwrap()
}

#[test]
fn the_digits_cnn_is_proven_and_summarized() {
    let out = a2qgen()
        .args(["check", "examples/digits_cnn_p12.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("every accumulator width of its 3 dense and conv layer(s) is proven"),
        "{stdout}"
    );
    let out = a2qgen()
        .args(["info", "examples/digits_cnn_p12.toml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    for row in [
        "8x8x1 -> 8x8x8 (3x3, stride 1x1, pad 1,1,1,1)",
        "8x8x8 -> 4x4x16 (3x3, stride 2x2, pad 1,1,1,1)",
        "4x4x16 -> 2x2x16 (2x2, stride 2x2)",
        "input 8x8x1 (HxWxC) = 64 x uint5",
    ] {
        assert!(stdout.contains(row), "{row}: {stdout}");
    }
}

#[test]
fn a_narrowed_conv_layer_yields_an_input_image_that_overflows_it() {
    let dir = tempfile::tempdir().unwrap();
    // conv1 needs 12 bits; 11 are declared, overflow allowed so that
    // `infer` runs the model as declared.
    let text = std::fs::read_to_string(root().join("examples/digits_cnn_p12.toml")).unwrap();
    let conv1 = text.find("name = \"conv1\"").unwrap();
    let bits_at = conv1 + text[conv1..].find("bits = 12").unwrap();
    let edited = format!("{}bits = 11{}", &text[..bits_at], &text[bits_at + 9..]);
    let model = edited_cnn(dir.path(), "", "");
    std::fs::write(&model, edited).unwrap();
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
        stderr.contains("layer 1 (`conv1`): channel 2: accumulator range [-753, 1092] needs 12 bits, declared 11"),
        "{stderr}"
    );
    // The counterexample is conv1's whole input map, 8x8x8 uint4 values.
    let cx = cx_dir.join("conv1.npy");
    assert!(cx.exists());
    let allowed = std::fs::read_to_string(&model).unwrap().replacen(
        "allow_overflow = false",
        "allow_overflow = true",
        2,
    );
    std::fs::write(&model, allowed).unwrap();
    // As the input of a model made of conv1 alone (its first layer
    // dropped), the reference overflows it.
    let text = std::fs::read_to_string(&model).unwrap();
    let first = text.find("[[layers]]").unwrap();
    let second = first + 1 + text[first + 1..].find("[[layers]]").unwrap();
    let alone = format!("{}{}", &text[..first], &text[second..])
        .replace("length = 64", "length = 512")
        .replace("shape = [8, 8, 1]", "shape = [8, 8, 8]")
        .replace("bits = 5\n", "bits = 4\n");
    let alone_path = dir.path().join("conv1_alone.toml");
    std::fs::write(&alone_path, alone).unwrap();
    let out = a2qgen()
        .arg("infer")
        .arg(&alone_path)
        .arg("--inputs")
        .arg(&cx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(overflow_events(&stdout, "conv1") > 0, "{stdout}");
    // And --tighten writes the proven widths back.
    let tight = dir.path().join("tight.toml");
    a2qgen()
        .arg("check")
        .arg(&model)
        .arg("--tighten")
        .arg(&tight)
        .assert()
        .success();
    a2qgen().arg("check").arg(&tight).assert().success();
    let written = std::fs::read_to_string(&tight).unwrap();
    assert!(written.contains("kind = \"conv\""), "{written}");
}

#[test]
fn infer_scores_the_digits_cnn_on_the_test_split() {
    let out = a2qgen()
        .args([
            "infer",
            "examples/digits_cnn_p12.toml",
            "--inputs",
            "examples/digits/data/test_x.npy",
            "--labels",
            "examples/digits/data/test_y.npy",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("accuracy: 519 / 540 = 96.11%"), "{stdout}");
    for layer in ["conv0", "conv1", "fc0"] {
        assert_eq!(overflow_events(&stdout, layer), 0, "{layer}");
    }
}

#[test]
fn quantize_writes_a_proven_cnn_from_the_float_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("cnn_p11.toml");
    let out = a2qgen()
        .args([
            "quantize",
            "--float",
            "examples/digits_cnn/float",
            "--calibration",
            "examples/digits/data/train_x.npy",
            "--input-scale",
            "0.0625",
            "--input-type",
            "uint5",
            "--acc-bits",
            "11",
            "-o",
        ])
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    a2qgen().arg("check").arg(&output).assert().success();
    let out = a2qgen()
        .args([
            "quantize",
            "--float",
            "examples/digits_cnn/float",
            "--calibration",
            "examples/digits/data/train_x.npy",
            "--input-scale",
            "0.0625",
            "--acc-bits",
            "12",
            "--method",
            "axe-gpfq",
            "-o",
        ])
        .arg(dir.path().join("gpfq.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("layer `conv0` is a convolution"),
        "{stderr}"
    );
    assert!(!dir.path().join("gpfq.toml").exists());
}
