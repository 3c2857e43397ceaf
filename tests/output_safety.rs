//! The user's files are safe: every command run as a careless or hostile
//! user would, in a temporary folder. An output never replaces or deletes
//! what the tool did not write, never touches an input, a failed command
//! leaves nothing behind, names cannot escape their folder, and every file
//! gets the ordinary mode.

mod tools;

use a2qgen::npyio::write_int_array;
use ndarray::{Array1, Array2};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tools::{have, root};

const MANIFEST: &str = ".a2qgen-manifest";

/// What a run printed and how it ended.
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// Runs `a2qgen args...` in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A temporary folder holding a copy of `examples/mlp3.toml` and its
/// arrays folder `mlp3/`, with `edit` applied to the TOML text.
fn mlp3_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let examples = root().join("examples");
    fs::create_dir(dir.path().join("mlp3")).unwrap();
    for entry in fs::read_dir(examples.join("mlp3")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(
            entry.path(),
            dir.path().join("mlp3").join(entry.file_name()),
        )
        .unwrap();
    }
    let text = fs::read_to_string(examples.join("mlp3.toml")).unwrap();
    fs::write(dir.path().join("mlp3.toml"), edit(text)).unwrap();
    dir
}

fn mlp3() -> tempfile::TempDir {
    mlp3_copy(|text| text)
}

/// The copy with fc0's accumulator too narrow: `check` fails its verdict.
fn narrow_mlp3() -> tempfile::TempDir {
    mlp3_copy(|text| {
        let edited = text.replacen(
            "accumulator = { bits = 10 }",
            "accumulator = { bits = 9 }",
            1,
        );
        assert_ne!(edited, text);
        edited
    })
}

/// `x.npy` (8 input vectors of mlp3) and `y.npy` (labels) in `dir`.
fn write_inputs(dir: &Path) {
    let x = Array2::from_shape_fn((8, 16), |(i, j)| ((i * 7 + j * 3) % 16) as i64);
    write_int_array(&dir.join("x.npy"), &x).unwrap();
    let y = Array1::from_shape_fn(8, |i| (i % 4) as i64);
    write_int_array(&dir.join("y.npy"), &y).unwrap();
}

/// Every entry under `dir`, recursively, as relative paths, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The bytes of every file under `dir`, to show nothing changed.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let bytes = if path.is_file() {
                fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            (name, bytes)
        })
        .collect()
}

fn assert_refused(run: &Run, naming: &str) {
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(naming),
        "names `{naming}`: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

fn assert_model_loads(path: &Path) {
    a2qgen::model::load_model(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

// ---- 1. gen and cosim never delete a folder's other files -------------

#[test]
fn gen_into_the_models_own_folder_is_refused() {
    let dir = mlp3();
    let before = snapshot(dir.path());
    let run = run_in(
        dir.path(),
        &["gen", "mlp3.toml", "-o", ".", "--constraints", "c"],
    );
    assert_refused(&run, "mlp3");
    assert_eq!(snapshot(dir.path()), before);
    assert_model_loads(&dir.path().join("mlp3.toml"));
}

#[test]
fn gen_refuses_a_design_folder_it_did_not_write() {
    let dir = mlp3();
    fs::create_dir_all(dir.path().join("hdl/mlp3")).unwrap();
    fs::write(dir.path().join("hdl/mlp3/notes.txt"), "mine").unwrap();
    let run = run_in(
        dir.path(),
        &["gen", "mlp3.toml", "-o", "hdl", "--constraints", "c"],
    );
    assert_refused(&run, "hdl/mlp3");
    assert_eq!(tree(&dir.path().join("hdl")), ["mlp3", "mlp3/notes.txt"]);
    assert!(!dir.path().join("c").exists());
}

#[test]
fn gen_replaces_only_the_files_of_its_own_earlier_design() {
    let dir = mlp3();
    let generate = || {
        run_in(
            dir.path(),
            &["gen", "mlp3.toml", "-o", "hdl", "--constraints", "c"],
        )
    };
    assert_eq!(generate().code, Some(0));
    let design = dir.path().join("hdl/mlp3");
    assert!(design.join(MANIFEST).is_file());
    fs::write(design.join("notes.txt"), "mine").unwrap();
    // A file an earlier design listed but this one does not write is stale.
    let mut manifest = fs::read_to_string(design.join(MANIFEST)).unwrap();
    manifest.push_str("stale.v\n");
    fs::write(design.join(MANIFEST), manifest).unwrap();
    fs::write(design.join("stale.v"), "old").unwrap();
    let run = generate();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(design.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(!design.join("stale.v").exists());
    assert!(design.join("mlp3_top.v").is_file());
    assert_eq!(
        tree(dir.path())
            .iter()
            .filter(|n| n.contains("staging"))
            .count(),
        0
    );
}

#[test]
fn gen_will_not_overwrite_a_users_file_in_its_own_folder() {
    let dir = mlp3();
    let generate = || {
        run_in(
            dir.path(),
            &["gen", "mlp3.toml", "-o", "hdl", "--constraints", "c"],
        )
    };
    assert_eq!(generate().code, Some(0));
    let design = dir.path().join("hdl/mlp3");
    // The user replaces a generated file's entry: it is theirs now.
    let manifest = fs::read_to_string(design.join(MANIFEST)).unwrap();
    let kept: String = manifest
        .lines()
        .filter(|l| *l != "filelist.f")
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(design.join(MANIFEST), kept).unwrap();
    fs::write(design.join("filelist.f"), "mine").unwrap();
    let run = generate();
    assert_refused(&run, "filelist.f");
    assert_eq!(
        fs::read_to_string(design.join("filelist.f")).unwrap(),
        "mine"
    );
}

#[test]
fn cosim_refuses_a_build_folder_it_did_not_write() {
    let dir = mlp3();
    fs::create_dir_all(dir.path().join("build/rtl")).unwrap();
    fs::write(dir.path().join("build/rtl/notes.v"), "// mine").unwrap();
    let run = run_in(
        dir.path(),
        &[
            "cosim",
            "mlp3.toml",
            "--random",
            "2",
            "--build-dir",
            "build",
        ],
    );
    assert_refused(&run, "build");
    assert_eq!(
        fs::read_to_string(dir.path().join("build/rtl/notes.v")).unwrap(),
        "// mine"
    );
}

// ---- 2. the model writer never wipes arrays it did not write -----------

#[test]
fn tighten_keeps_the_users_arrays() {
    let dir = mlp3();
    fs::create_dir(dir.path().join("data")).unwrap();
    write_int_array(
        &dir.path().join("data/my_inputs.npy"),
        &Array1::from(vec![1i64, 2]),
    )
    .unwrap();
    let before = snapshot(&dir.path().join("data"));
    let run = run_in(
        dir.path(),
        &["check", "mlp3.toml", "--tighten", "data.toml"],
    );
    assert_refused(&run, "data");
    assert_eq!(snapshot(&dir.path().join("data")), before);
    assert!(!dir.path().join("data.toml").exists());
}

#[test]
fn tighten_onto_the_input_model_is_refused() {
    let dir = mlp3();
    let before = snapshot(dir.path());
    let run = run_in(
        dir.path(),
        &["check", "mlp3.toml", "--tighten", "mlp3.toml"],
    );
    assert_refused(&run, "mlp3.toml");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn tighten_may_replace_a_model_it_wrote_itself() {
    let dir = mlp3();
    for _ in 0..2 {
        let run = run_in(
            dir.path(),
            &["check", "mlp3.toml", "--tighten", "tight.toml"],
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    assert_model_loads(&dir.path().join("tight.toml"));
    assert!(dir.path().join("tight").join(MANIFEST).is_file());
}

#[test]
fn quantize_onto_the_data_it_reads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let digits = root().join("examples/digits");
    for sub in ["data", "float"] {
        fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in fs::read_dir(digits.join(sub)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    let before = snapshot(dir.path());
    let run = run_in(
        dir.path(),
        &[
            "quantize",
            "--float",
            "float",
            "--calibration",
            "data/train_x.npy",
            "--input-scale",
            "1/16",
            "--acc-bits",
            "16",
            "-o",
            "data.toml",
        ],
    );
    assert_refused(&run, "data");
    assert_eq!(snapshot(dir.path()), before);
}

// ---- outputs onto inputs ------------------------------------------------

#[test]
fn a_json_certificate_never_overwrites_the_model() {
    let dir = mlp3();
    let before = snapshot(dir.path());
    for spelled in ["mlp3.toml", "./mlp3.toml", "nodir/../mlp3.toml"] {
        let run = run_in(dir.path(), &["check", "mlp3.toml", "--json", spelled]);
        assert_refused(&run, spelled);
    }
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn outputs_never_overwrite_the_models_arrays() {
    let dir = mlp3();
    write_inputs(dir.path());
    let before = snapshot(dir.path());
    let weights = "mlp3/fc0_weights.npy";
    let infer = run_in(
        dir.path(),
        &["infer", "mlp3.toml", "--inputs", "x.npy", "--out", weights],
    );
    assert_refused(&infer, weights);
    let estimate = run_in(dir.path(), &["estimate", "mlp3.toml", "--json", weights]);
    assert_refused(&estimate, weights);
    let sim = run_in(
        dir.path(),
        &["sim", "mlp3.toml", "--inputs", "x.npy", "--out", "x.npy"],
    );
    assert_refused(&sim, "x.npy");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn calibrate_never_writes_its_constants_over_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs.csv");
    fs::copy(root().join("calibration/yosys_runs.csv"), &runs).unwrap();
    let before = fs::read(&runs).unwrap();
    let run = run_in(
        dir.path(),
        &[
            "calibrate",
            "--fit-only",
            "--runs",
            "runs.csv",
            "--constants",
            "runs.csv",
        ],
    );
    assert_refused(&run, "runs.csv");
    assert_eq!(fs::read(&runs).unwrap(), before);
}

// ---- 6. a failed command leaves no partial output ----------------------

#[test]
fn check_with_a_bad_tighten_path_writes_nothing() {
    let dir = narrow_mlp3();
    let before = tree(dir.path());
    let run = run_in(
        dir.path(),
        &[
            "check",
            "mlp3.toml",
            "--json",
            "c.json",
            "--counterexample",
            "cx",
            "--tighten",
            "t.txt",
        ],
    );
    assert_refused(&run, "t.txt");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_failing_tighten_leaves_no_folder() {
    let dir = mlp3();
    let before = tree(dir.path());
    let long = format!("new/{}.toml", "t".repeat(300));
    let run = run_in(dir.path(), &["check", "mlp3.toml", "--tighten", &long]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn infer_writes_its_outputs_together_or_not_at_all() {
    let dir = mlp3();
    write_inputs(dir.path());
    let run = run_in(
        dir.path(),
        &[
            "infer",
            "mlp3.toml",
            "--inputs",
            "x.npy",
            "--out",
            "o.npy",
            "--dump",
            "nodir/sub/d",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(dir.path().join("o.npy").is_file());
    assert!(dir.path().join("nodir/sub/d/fc0_acc.npy").is_file());

    // A dump that is refused: the other output is not written either.
    fs::write(dir.path().join("taken"), "mine").unwrap();
    let run = run_in(
        dir.path(),
        &[
            "infer",
            "mlp3.toml",
            "--inputs",
            "x.npy",
            "--out",
            "o2.npy",
            "--dump",
            "taken",
        ],
    );
    assert_refused(&run, "taken");
    assert!(!dir.path().join("o2.npy").exists());
    assert_eq!(
        fs::read_to_string(dir.path().join("taken")).unwrap(),
        "mine"
    );
}

#[test]
fn sim_with_an_unwritable_out_writes_no_schedule() {
    let dir = mlp3();
    write_inputs(dir.path());
    fs::create_dir(dir.path().join("beats")).unwrap();
    let before = tree(dir.path());
    let run = run_in(
        dir.path(),
        &[
            "sim",
            "mlp3.toml",
            "--inputs",
            "x.npy",
            "--gaps",
            "0.2",
            "--schedule-dir",
            "s",
            "--out",
            "beats",
        ],
    );
    assert_refused(&run, "beats");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn gen_with_constraints_on_a_file_writes_no_design() {
    let dir = mlp3();
    fs::write(dir.path().join("constraints"), "mine").unwrap();
    let before = tree(dir.path());
    let run = run_in(
        dir.path(),
        &["gen", "mlp3.toml", "--constraints", "constraints"],
    );
    assert_refused(&run, "constraints");
    assert_eq!(tree(dir.path()), before);
    assert_eq!(
        fs::read_to_string(dir.path().join("constraints")).unwrap(),
        "mine"
    );
}

#[test]
fn gen_of_a_model_with_an_over_long_name_writes_nothing() {
    let long = format!("m{}", "x".repeat(299));
    let dir = mlp3_copy(|text| text.replacen("name = \"mlp3\"", &format!("name = \"{long}\""), 1));
    let before = tree(dir.path());
    let run = run_in(dir.path(), &["gen", "mlp3.toml"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        tree(dir.path()),
        before,
        "no empty hdl_out/ or constraints/"
    );
}

#[test]
fn check_counterexamples_never_overwrite_a_users_file() {
    let dir = narrow_mlp3();
    fs::create_dir(dir.path().join("cx")).unwrap();
    fs::write(dir.path().join("cx/fc0.npy"), "mine").unwrap();
    let run = run_in(
        dir.path(),
        &[
            "check",
            "mlp3.toml",
            "--counterexample",
            "cx",
            "--json",
            "c.json",
        ],
    );
    assert_refused(&run, "cx");
    assert_eq!(
        fs::read_to_string(dir.path().join("cx/fc0.npy")).unwrap(),
        "mine"
    );
    assert!(!dir.path().join("c.json").exists());
}

#[test]
fn a_failed_verdict_still_writes_what_documents_it() {
    let dir = narrow_mlp3();
    let run = run_in(
        dir.path(),
        &[
            "check",
            "mlp3.toml",
            "--counterexample",
            "cx",
            "--json",
            "c.json",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(dir.path().join("cx/fc0.npy").is_file());
    assert!(dir.path().join("c.json").is_file());
}

// ---- 8. the VCD trace ---------------------------------------------------

#[test]
fn cosim_writes_its_trace_into_a_new_folder() {
    if !have("verilator") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("tests/fixtures/models/tiny.toml");
    let run = run_in(
        dir.path(),
        &[
            "cosim",
            model.to_str().unwrap(),
            "--random",
            "3",
            "--build-dir",
            "build",
            "--trace",
            "nodir/t.vcd",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let vcd = fs::read_to_string(dir.path().join("nodir/t.vcd")).unwrap();
    assert!(vcd.contains("$enddefinitions"), "a VCD file");
}

// ---- 10. ordinary file modes ---------------------------------------------

/// The process's umask (inherited by the binary it runs).
fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn assert_ordinary_modes(dir: &Path, paths: &[&str]) {
    let mask = umask();
    for path in paths {
        let path: PathBuf = dir.join(path);
        let expected = if path.is_dir() { 0o777 } else { 0o666 } & !mask;
        assert_eq!(
            mode(&path),
            expected,
            "{}: {:o}",
            path.display(),
            mode(&path)
        );
    }
}

#[test]
fn json_outputs_get_the_ordinary_mode() {
    let dir = narrow_mlp3();
    let run = run_in(
        dir.path(),
        &[
            "check",
            "mlp3.toml",
            "--json",
            "c.json",
            "--counterexample",
            "cx",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_ordinary_modes(dir.path(), &["c.json", "cx", "cx/fc0.npy"]);
}

#[test]
fn beats_schedules_and_designs_get_the_ordinary_mode() {
    let dir = mlp3();
    write_inputs(dir.path());
    let sim = run_in(
        dir.path(),
        &[
            "sim",
            "mlp3.toml",
            "--inputs",
            "x.npy",
            "--gaps",
            "0.1",
            "--out",
            "b.npy",
            "--schedule-dir",
            "s",
        ],
    );
    assert_eq!(sim.code, Some(0), "{}", sim.stderr);
    let generate = run_in(
        dir.path(),
        &["gen", "mlp3.toml", "-o", "hdl", "--constraints", "c"],
    );
    assert_eq!(generate.code, Some(0), "{}", generate.stderr);
    let estimate = run_in(dir.path(), &["estimate", "mlp3.toml", "--json", "e.json"]);
    assert_eq!(estimate.code, Some(0), "{}", estimate.stderr);
    assert_ordinary_modes(
        dir.path(),
        &[
            "b.npy",
            "s",
            "s/input_gate.txt",
            "s/output_ready.txt",
            "hdl",
            "hdl/mlp3",
            "hdl/mlp3/mlp3_top.v",
            "c/mlp3.xdc",
            "e.json",
        ],
    );
}

// ---- 11. names cannot escape -------------------------------------------

fn sweep_named(dir: &Path, name: &str) -> Run {
    run_in(
        dir,
        &[
            "sweep",
            "--acc-bits",
            "12",
            "--test-inputs",
            "x.npy",
            "--test-labels",
            "y.npy",
            "--fixed-model",
            "mlp3.toml",
            "--name",
            name,
        ],
    )
}

#[test]
fn sweep_names_cannot_escape_their_folder() {
    let dir = mlp3();
    let work = dir.path().join("a/b");
    fs::create_dir_all(&work).unwrap();
    let model = dir.path().join("mlp3.toml");
    fs::copy(&model, work.join("mlp3.toml")).unwrap();
    let arrays = dir.path().join("mlp3");
    fs::create_dir(work.join("mlp3")).unwrap();
    for entry in fs::read_dir(&arrays).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), work.join("mlp3").join(entry.file_name())).unwrap();
    }
    write_inputs(&work);
    let before = tree(dir.path());
    let outside = dir.path().join("outside");
    for name in ["../../escaped", "", "..", outside.to_str().unwrap()] {
        let run = sweep_named(&work, name);
        assert_refused(&run, "--name");
    }
    let long = "n".repeat(300);
    assert_refused(&sweep_named(&work, &long), "--name");
    assert_eq!(tree(dir.path()), before);
    let run = sweep_named(&work, "fine");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(work.join("sim/sweep/fine/sweep.csv").is_file());
}

#[test]
fn sweep_output_never_overwrites_a_users_file() {
    let dir = mlp3();
    write_inputs(dir.path());
    fs::create_dir(dir.path().join("results")).unwrap();
    fs::write(dir.path().join("results/sweep.csv"), "mine").unwrap();
    let run = run_in(
        dir.path(),
        &[
            "sweep",
            "--acc-bits",
            "12",
            "--test-inputs",
            "x.npy",
            "--test-labels",
            "y.npy",
            "--fixed-model",
            "mlp3.toml",
            "-o",
            "results",
        ],
    );
    assert_refused(&run, "results");
    assert_eq!(
        fs::read_to_string(dir.path().join("results/sweep.csv")).unwrap(),
        "mine"
    );
}

/// Output into a pipe whose reader is gone (`a2qgen ... | head -1` once
/// `head` has exited) ends the run quietly with 141, as SIGPIPE would,
/// instead of a panic; a written model is then either whole or absent.
#[test]
fn output_into_a_closed_pipe_ends_quietly_with_141() {
    let dir = mlp3();
    let commands: [&[&str]; 3] = [
        &["info", "mlp3.toml"],
        &["check", "mlp3.toml"],
        &["check", "mlp3.toml", "--tighten", "tight.toml"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
            .current_dir(dir.path())
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed: {stderr}");
    }
    let left: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "mlp3" && name != "mlp3.toml")
        .collect();
    assert!(
        left.is_empty() || left.iter().all(|name| name.starts_with("tight")),
        "left behind: {left:?}"
    );
}
