//! `a2qgen fuzz`: a fast seeded subset of random models through the whole
//! chain (check, gen, Verilator lint, co-simulation under gaps and
//! back-pressure, Icarus), and the reduced models of earlier failures.

mod tools;

use assert_cmd::Command;
use std::path::Path;
use tools::{have, root};

fn tools_present() -> bool {
    // Evaluate both so that CI=true fails on either missing tool.
    let verilator = have("verilator");
    let icarus = have("iverilog");
    verilator && icarus
}

fn a2qgen() -> Command {
    let mut command = Command::cargo_bin("a2qgen").unwrap();
    command.current_dir(root());
    command
}

#[test]
fn thirty_random_models_pass_the_whole_chain() {
    if !tools_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = a2qgen()
        .args(["fuzz", "--models", "30", "--seed", "3", "--jobs", "2"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("30 models: 30 passed, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("| 3 layers "), "{stdout}");
}

/// The `# seed: N` line of a fixture: the stimulus seed it failed with.
fn fixture_seed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# seed: "))
        .unwrap_or_else(|| panic!("{} has no `# seed:` line", path.display()))
        .trim()
        .to_string()
}

#[test]
fn reduced_failures_pass_the_whole_chain() {
    if !tools_present() {
        return;
    }
    let dir = root().join("tests/fixtures/fuzz");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 4, "{fixtures:?}");
    for fixture in fixtures {
        let out = tempfile::tempdir().unwrap();
        let output = a2qgen()
            .args(["fuzz", "--shrink", "0", "--model"])
            .arg(&fixture)
            .args(["--seed", &fixture_seed(&fixture)])
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}: {stdout}\n{}",
            fixture.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("1 models: 1 passed"), "{stdout}");
    }
}

#[test]
fn a_drawn_model_is_reproduced_by_its_index_and_by_its_seed() {
    let draw = |args: &[&str]| {
        let output = a2qgen()
            .args(["fuzz", "--draw-only"])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let by_index = draw(&["--seed", "5", "--only", "4"]);
    let seed = format!("{:#x}", a2qgen::fuzz::model_seed(5, 4));
    assert_eq!(by_index, draw(&["--model-seed", &seed]));
    assert_ne!(by_index, draw(&["--seed", "5", "--only", "5"]));
}

#[test]
fn bad_arguments_exit_2() {
    a2qgen()
        .args(["fuzz", "--models", "0", "--draw-only"])
        .assert()
        .code(2);
    a2qgen()
        .args(["fuzz", "--model-seed", "0xzz"])
        .assert()
        .code(2);
    a2qgen()
        .args(["fuzz", "--model", "tests/fixtures/bad/no_layers.toml"])
        .assert()
        .code(2);
}
