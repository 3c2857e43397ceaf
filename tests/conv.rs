//! Convolutional models through the binary: `info`, `check` (with its
//! counterexample fed back to `infer`, which must see the overflow, and
//! `--tighten`), `infer` on the digits CNN's test split, and `quantize` from
//! the float CNN.

mod tools;

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

/// A deterministic stream of values in `lo..=hi` (a linear congruential
/// generator: the test needs no statistical quality, only variety).
fn values(count: usize, lo: i64, hi: i64, seed: u64) -> Vec<i64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + ((state >> 33) % (hi - lo + 1) as u64) as i64
        })
        .collect()
}

/// A one-convolution model (optionally followed by a max pool) over an
/// `H x W x C` uint4 map, int3 weights, raw 20-bit accumulators out.
struct SmallCnn {
    name: &'static str,
    map: [usize; 3],
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
    pe: usize,
    simd: usize,
    pool: Option<[usize; 2]>,
}

impl SmallCnn {
    fn write(&self, dir: &Path) -> PathBuf {
        let [h, w, c] = self.map;
        let [kh, kw] = self.kernel;
        let shape = ndarray::IxDyn(&[self.out_channels, kh, kw, c]);
        let weights = ndarray::ArrayD::from_shape_vec(
            shape,
            values(self.out_channels * kh * kw * c, -3, 3, 5),
        )
        .unwrap();
        a2qgen::npyio::write_int_array(&dir.join(format!("{}_w.npy", self.name)), &weights)
            .unwrap();
        let pool = self.pool.map_or(String::new(), |[ph, pw]| {
            format!(
                "\n[[layers]]\nkind = \"maxpool\"\nname = \"pool\"\nkernel = [{ph}, {pw}]\nstride = [{ph}, {pw}]\n"
            )
        });
        let toml = format!(
            r#"[model]
name = "{name}"

[input]
length = {length}
bits = 4
signed = false
shape = [{h}, {w}, {c}]

[[layers]]
kind = "conv"
name = "conv0"
in_channels = {c}
out_channels = {oc}
kernel = [{kh}, {kw}]
stride = [{sh}, {sw}]
padding = [{pt}, {pl}, {pb}, {pr}]
weight_bits = 3
weights = "{name}_w.npy"

[layers.accumulator]
bits = 20
overflow = "wrap"
allow_overflow = false

[layers.activation]
kind = "none"

[layers.hardware]
pe = {pe}
simd = {simd}
multiplier = "lut"
{pool}"#,
            name = self.name,
            length = h * w * c,
            oc = self.out_channels,
            sh = self.stride[0],
            sw = self.stride[1],
            pt = self.padding[0],
            pl = self.padding[1],
            pb = self.padding[2],
            pr = self.padding[3],
            pe = self.pe,
            simd = self.simd,
        );
        let path = dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, toml).unwrap();
        path
    }

    /// `check` proves it; `cosim` on random images with gaps and
    /// back-pressure agrees three ways on every value and cycle.
    fn cosim_is_clean(&self) {
        let dir = tempfile::tempdir().unwrap();
        let model = self.write(dir.path());
        a2qgen().arg("check").arg(&model).assert().success();
        if !tools::have("verilator") {
            return;
        }
        let out = a2qgen()
            .arg("cosim")
            .arg(&model)
            .args(["--random", "4", "--gaps", "0.3", "--backpressure", "0.3"])
            .arg("--build-dir")
            .arg(dir.path().join("build"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}{}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("reference, Rust simulation and Verilator agree on all"),
            "{}: {stdout}",
            self.name
        );
    }
}

#[test]
fn stride_2_padding_on_one_side_only_and_simd_1_cosimulate_clean() {
    SmallCnn {
        name: "stride2_left_pad",
        map: [5, 6, 2],
        out_channels: 3,
        kernel: [3, 3],
        stride: [2, 2],
        padding: [0, 2, 0, 0],
        pe: 1,
        simd: 1,
        pool: None,
    }
    .cosim_is_clean();
}

#[test]
fn one_by_one_kernels_with_all_channels_per_beat_then_a_pool_cosimulate_clean() {
    SmallCnn {
        name: "one_by_one_pool",
        map: [4, 4, 3],
        out_channels: 4,
        kernel: [1, 1],
        stride: [1, 1],
        padding: [0, 0, 0, 0],
        pe: 2,
        simd: 3,
        pool: Some([2, 2]),
    }
    .cosim_is_clean();
}

#[test]
fn a_kernel_as_large_as_the_image_padded_below_cosimulates_clean() {
    SmallCnn {
        name: "whole_image_kernel",
        map: [3, 4, 2],
        out_channels: 2,
        kernel: [4, 4],
        stride: [1, 1],
        padding: [0, 0, 1, 0],
        pe: 2,
        simd: 8,
        pool: None,
    }
    .cosim_is_clean();
}

/// The digits CNN on the whole test split: `cosim` with gaps and
/// back-pressure agrees three ways, and without them the simulation's
/// latency and II equal the plan's.
#[test]
fn the_digits_cnn_cosimulates_clean_on_the_test_split() {
    let test_x = "examples/digits/data/test_x.npy";
    let out = a2qgen()
        .args(["sim", "examples/digits_cnn_p12.toml", "--inputs", test_x])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for figure in ["latency, first input to first output", "II, max spacing"] {
        let row = stdout
            .lines()
            .find(|l| l.contains(figure))
            .unwrap_or_else(|| panic!("no {figure}: {stdout}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], cells[3], "{figure}: measured against the plan");
    }
    if !tools::have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = a2qgen()
        .args(["cosim", "examples/digits_cnn_p12.toml", "--inputs", test_x])
        .args(["--gaps", "0.2", "--backpressure", "0.2", "--build-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "reference, Rust simulation and Verilator agree on all 5400 values; \
             Rust simulation and Verilator on all 2700 beat cycles"
        ),
        "{stdout}"
    );
}
