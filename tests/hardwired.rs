//! `hardware.weights = "hardwired"`: the same model with weight ROMs and
//! with hardwired weights (same folding, unfolded or folded, tiled or not)
//! co-simulates identically, values and cycles, on random inputs with gaps
//! and back-pressure; the hardwired design has no weight image, is
//! Verilator `-Wall` clean and compiles as Verilog-2005 in Icarus.
//! `"auto"` builds the smaller estimate; DSP multipliers are refused.

mod tools;

use a2qgen::npyio::{read_int_array, write_int_array};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tools::{assert_icarus_compiles, assert_verilator_lint_clean, generate, have, root};

/// Three unfolded layers: 16-bit weights with -2^15, 2^15 - 1, powers of
/// two and dense signed-digit forms; 1-bit weights; 4-bit weights with -8;
/// an all-zero row in each.
fn hand_model(weights: &str) -> String {
    hand_model_folded([(5, 6), (4, 5), (3, 4)], None, weights)
}

/// [`hand_model`] with each layer's `(pe, simd)` and maybe a tile of
/// `fc0`'s inputs.
fn hand_model_folded(folds: [(usize, usize); 3], fc0_tile: Option<usize>, weights: &str) -> String {
    let hardware = |(pe, simd): (usize, usize)| format!("{{ pe = {pe}, simd = {simd}{weights} }}");
    let fc0_accumulator = match fc0_tile {
        Some(size) => format!("{{ bits = 24, tile = {{ size = {size}, inner_bits = 23 }} }}"),
        None => "{ bits = 24 }".to_string(),
    };
    let (h0, h1, h2) = (hardware(folds[0]), hardware(folds[1]), hardware(folds[2]));
    format!(
        r#"[model]
name = "wired"

[input]
length = 6
bits = 5
signed = true

[[layers]]
name = "fc0"
kind = "dense"
in_features = 6
out_features = 5
weight_bits = 16
weights = [[-32768, 32767, 1024, -1, 0, 3], [0, 0, 0, 0, 0, 0], [1, -2, 4, -8, 16, -32768], [5, 7, -3, 11, 0, 21845], [-21846, 12345, -1, 1, 2, 0]]
bias = [7, 0, -300, 0, 65536]
accumulator = {fc0_accumulator}
activation = {{ kind = "thresholds", bits = 2, thresholds = [[-100000, 0, 100000], [-1, 0, 1], [-5000, -4, 9000], [0, 0, 0], [-70000, 60000, 600000]] }}
hardware = {h0}

[[layers]]
name = "fc1"
kind = "dense"
in_features = 5
out_features = 4
weight_bits = 1
weights = [[-1, 0, -1, -1, 0], [0, 0, 0, 0, 0], [-1, -1, -1, -1, -1], [0, -1, 0, 0, -1]]
bias = [3, -2, 0, 1]
accumulator = {{ bits = 6 }}
hardware = {h1}

[[layers]]
name = "fc2"
kind = "dense"
in_features = 4
out_features = 3
weight_bits = 4
weights = [[-8, 4, -2, 7], [0, 0, 0, 0], [1, -1, 3, -5]]
accumulator = {{ bits = 9, overflow = "saturate", allow_overflow = true }}
hardware = {h2}
"#
    )
}

fn a2qgen(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(root())
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

fn assert_ok(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Random inputs over `[lo, hi]`, `vectors` x `length`, from a fixed LCG.
fn random_inputs(path: &Path, vectors: usize, length: usize, lo: i64, hi: i64) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let inputs = Array2::from_shape_fn((vectors, length), |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + ((state >> 33) % (hi - lo + 1) as u64) as i64
    });
    write_int_array(path, &inputs).unwrap();
}

/// Co-simulates `model` on `inputs` with gaps and back-pressure (three-way
/// exact), then returns the Rust simulation's beats (vector, beat, cycle,
/// elements) under the same schedule.
fn cosim_and_beats(model: &Path, inputs: &Path, dir: &Path, label: &str) -> Vec<i64> {
    let schedule = ["--gaps", "0.3", "--backpressure", "0.4", "--seed", "11"];
    let build = dir.join(format!("build_{label}"));
    let mut args = vec!["cosim"];
    args.extend(schedule);
    let stdout = assert_ok(
        &a2qgen(
            &args,
            &[
                model,
                Path::new("--inputs"),
                inputs,
                Path::new("--build-dir"),
                &build,
            ],
        ),
        label,
    );
    assert!(stdout.contains("agree on all"), "{label}: {stdout}");
    let beats = dir.join(format!("beats_{label}.npy"));
    let mut args = vec!["sim"];
    args.extend(schedule);
    assert_ok(
        &a2qgen(
            &args,
            &[
                model,
                Path::new("--inputs"),
                inputs,
                Path::new("--out"),
                &beats,
            ],
        ),
        label,
    );
    read_int_array(&beats).unwrap().iter().copied().collect()
}

/// Writes the ROM and the hardwired variant of a model; returns their paths.
fn variants(dir: &Path, text: impl Fn(&str) -> String) -> (PathBuf, PathBuf) {
    let rom = dir.join("rom.toml");
    let wired = dir.join("hardwired.toml");
    std::fs::write(&rom, text("")).unwrap();
    std::fs::write(&wired, text(", weights = \"hardwired\"")).unwrap();
    (rom, wired)
}

#[test]
fn hardwired_and_rom_cosimulate_identically() {
    if !have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (rom, wired) = variants(dir.path(), hand_model);
    let inputs = dir.path().join("x.npy");
    random_inputs(&inputs, 300, 6, -16, 15);
    let rom_beats = cosim_and_beats(&rom, &inputs, dir.path(), "rom");
    let wired_beats = cosim_and_beats(&wired, &inputs, dir.path(), "hardwired");
    assert_eq!(rom_beats.len(), 300 * (3 + 3));
    assert_eq!(rom_beats, wired_beats);

    let (design, files) = generate(&wired, &dir.path().join("gen"), "wired");
    assert_verilator_lint_clean(&files, "wired");
    if have("iverilog") {
        assert_icarus_compiles(&design, &files, "wired");
    }
    let images: Vec<_> = std::fs::read_dir(&design)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "mem"))
        .collect();
    assert!(images.is_empty(), "hardwired layers have no ROM image");
    // The all-zero row is no hardware: its dot product is a constant zero.
    let zero_row = std::fs::read_to_string(design.join("wired_fc0_wired_lanes_1_dot.v")).unwrap();
    assert!(zero_row.contains("sum2 <= "), "{zero_row}");
    assert!(!zero_row.contains(" + "), "{zero_row}");
}

#[test]
fn mlp3_hardwired_matches_its_unfolded_rom() {
    if !have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(root().join("examples/mlp3.toml")).unwrap();
    let data = root().join("examples/mlp3");
    let unfolded = |weights: &str| -> String {
        let shapes = [(16, 16), (8, 16), (4, 8)];
        let mut layer = 0;
        example
            .lines()
            .map(|line| {
                if line.starts_with("hardware = ") {
                    let (pe, simd) = shapes[layer];
                    layer += 1;
                    format!("hardware = {{ pe = {pe}, simd = {simd}{weights} }}")
                } else {
                    line.replace("\"mlp3/", &format!("\"{}/", data.display()))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (rom, wired) = variants(dir.path(), unfolded);
    let inputs = dir.path().join("x.npy");
    random_inputs(&inputs, 200, 16, 0, 15);
    let rom_beats = cosim_and_beats(&rom, &inputs, dir.path(), "rom");
    let wired_beats = cosim_and_beats(&wired, &inputs, dir.path(), "hardwired");
    assert!(!rom_beats.is_empty());
    assert_eq!(rom_beats, wired_beats);
}

/// Folded: per layer `(pe, simd)` with more than one fold; ROM and
/// hardwired designs co-simulate identically.
fn folded_variant_matches_its_rom(
    folds: [(usize, usize); 3],
    fc0_tile: Option<usize>,
) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let (rom, wired) = variants(&dir, |w| hand_model_folded(folds, fc0_tile, w));
    let inputs = dir.join("x.npy");
    random_inputs(&inputs, 200, 6, -16, 15);
    let rom_beats = cosim_and_beats(&rom, &inputs, &dir, "rom");
    let wired_beats = cosim_and_beats(&wired, &inputs, &dir, "hardwired");
    assert!(!rom_beats.is_empty());
    assert_eq!(rom_beats, wired_beats, "{folds:?}");
    let (design, files) = generate(&wired, &dir.join("gen"), "wired");
    assert_verilator_lint_clean(&files, "wired");
    if have("iverilog") {
        assert_icarus_compiles(&design, &files, "wired");
    }
    (temp, design)
}

#[test]
fn folded_hardwired_neuron_folds_match_the_rom() {
    if !have("verilator") {
        return;
    }
    // NF > 1 only: fc0 NF 5 (-2^15 and 2^15 - 1 selected by the address),
    // fc1 NF 2 (1-bit weights: PE 0's lane 0 is -1 at both addresses, a
    // wire; PE 1's lane 0 is zero at both, unread), fc2 NF 3.
    let (_temp, design) = folded_variant_matches_its_rom([(1, 6), (2, 5), (1, 4)], None);
    let fc1 = std::fs::read_to_string(design.join("wired_fc1_wired_lanes_0_dot.v")).unwrap();
    assert!(fc1.contains("wire [2:0] t0_0 = p0;"), "{fc1}");
    assert!(fc1.contains("case (addr1)"), "{fc1}");
    let fc1_pe1 = std::fs::read_to_string(design.join("wired_fc1_wired_lanes_1_dot.v")).unwrap();
    assert!(
        fc1_pe1.contains("wire unused_inputs = &{1'b0, x1[0 +: 2], x1[4 +: 2], x1[6 +: 2]}"),
        "{fc1_pe1}"
    );
}

#[test]
fn folded_hardwired_synapse_folds_match_the_rom() {
    if !have("verilator") {
        return;
    }
    // SF > 1 only: PE 1 of fc0 and of fc2 is an all-zero row at every
    // address: its dot product is the constant zero.
    let (_temp, design) = folded_variant_matches_its_rom([(5, 2), (4, 1), (3, 2)], None);
    for file in [
        "wired_fc0_wired_lanes_1_dot.v",
        "wired_fc2_wired_lanes_1_dot.v",
    ] {
        let zero = std::fs::read_to_string(design.join(file)).unwrap();
        assert!(zero.contains("sum2 <= "), "{zero}");
        assert!(!zero.contains(" + ") && !zero.contains("case"), "{zero}");
    }
}

#[test]
fn folded_and_tiled_hardwired_layers_match_the_rom() {
    if !have("verilator") {
        return;
    }
    // Both folds in every layer, and fc0's accumulator in tiles of 3 inputs
    // (SIMD 1: three steps per tile).
    folded_variant_matches_its_rom([(1, 1), (2, 1), (1, 2)], Some(3));
}

#[test]
fn auto_weights_choose_by_the_estimates_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("auto.toml");
    std::fs::write(
        &model,
        hand_model_folded([(5, 6), (2, 1), (1, 1)], None, ", weights = \"auto\""),
    )
    .unwrap();
    let plan = assert_ok(&a2qgen(&["gen", "--plan"], &[&model]), "auto plan");
    let rows: Vec<&str> = plan.lines().filter(|l| l.contains("MVAU")).collect();
    assert_eq!(rows.len(), 3, "{plan}");
    for row in &rows {
        // "<storage> (auto: est. <rom> LUT as rom, <hardwired> hardwired)"
        let (head, tail) = row.split_once(" (auto: est. ").expect(row);
        let numbers: Vec<f64> = tail
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .take(2)
            .map(|t| t.parse().unwrap())
            .collect();
        let expected = if numbers[1] < numbers[0] {
            "hardwired"
        } else {
            "rom"
        };
        assert!(head.ends_with(&format!(", {expected}")), "{row}");
    }
    // Which side wins depends on the estimator (ROM trees at their exact
    // widths make fc0's 16-bit ROM the cheaper estimate); the fuzz
    // coverage's `AutoChoseHardwired` row makes sure auto also builds
    // hardwired layers.
}

#[test]
fn dsp_hardwired_and_auto_layers_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for weights in ["hardwired", "auto"] {
        let model = dir.path().join(format!("{weights}.toml"));
        let text = hand_model(&format!(", weights = \"{weights}\"")).replacen(
            "pe = 4, simd = 5",
            "pe = 4, simd = 5, multiplier = \"dsp\"",
            1,
        );
        std::fs::write(&model, text).unwrap();
        let output = a2qgen(&["gen", "--plan"], &[&model]);
        assert_eq!(output.status.code(), Some(2), "{weights}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("hardware.weights"), "{stderr}");
        assert!(stderr.contains("fc1"), "{stderr}");
        assert!(stderr.contains("dsp"), "{stderr}");
    }
}
