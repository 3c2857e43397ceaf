//! `a2qgen calibrate --fit-only` on the committed runs: the per-unit
//! residuals file and the reseed study, and a clear error for an id that
//! is not in the grid. No Yosys is needed: nothing is synthesized.

use assert_cmd::Command;
use std::path::Path;

fn calibrate(constants: &Path) -> Command {
    let mut command = Command::cargo_bin("a2qgen").unwrap();
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["calibrate", "--fit-only", "--constants"])
        .arg(constants);
    command
}

#[test]
fn residuals_hold_one_row_per_recorded_run_and_refit_the_committed_constants() {
    let dir = tempfile::tempdir().unwrap();
    let (constants, residuals) = (dir.path().join("c.toml"), dir.path().join("r.csv"));
    calibrate(&constants)
        .arg("--residuals")
        .arg(&residuals)
        .assert()
        .success();
    let runs = std::fs::read_to_string("calibration/yosys_runs.csv").unwrap();
    let rows = std::fs::read_to_string(&residuals).unwrap();
    assert_eq!(rows.lines().count(), runs.lines().count());
    // Every row's error is what its measured and estimated counts give.
    for row in rows.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        let (lut, estimate, error): (f64, f64, f64) = (
            cells[4].parse().unwrap(),
            cells[5].parse().unwrap(),
            cells[6].parse().unwrap(),
        );
        // The estimate is printed to 0.1, the error from the unrounded one.
        let slack = 100.0 * 0.05 / lut + 0.05;
        assert!(
            (100.0 * (estimate - lut) / lut - error).abs() <= slack,
            "{row}"
        );
    }
    // The fit is deterministic: it reproduces the committed constants.
    assert_eq!(
        std::fs::read_to_string(&constants).unwrap(),
        std::fs::read_to_string("calibration/constants.toml").unwrap()
    );
}

#[test]
fn the_reseed_study_pairs_every_recorded_mvau_with_its_original() {
    let dir = tempfile::tempdir().unwrap();
    let output = calibrate(&dir.path().join("c.toml"))
        .args(["--reseed", "102,32"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let study = &text[text.find("other weights").expect("the study's table")..];
    // cal102's LUTs (16 PEs whose weights are constants) moved by an
    // eighth under Yosys; cal032's did not move.
    let row = |config: &str| {
        let line = study
            .lines()
            .find(|l| l.starts_with(&format!("| {config} |")));
        let cells: Vec<String> = line
            .expect(config)
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        (cells[2].clone(), cells[5].clone(), cells[8].clone())
    };
    assert_eq!(row("cal102"), ("31".into(), "35".into(), "+12.9%".into()));
    assert_eq!(row("cal032"), ("365".into(), "365".into(), "+0.0%".into()));
}

#[test]
fn an_id_outside_the_grid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = calibrate(&dir.path().join("c.toml"))
        .args(["--reseed", "9999"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--reseed: no config 9999 in the grid"),
        "{stderr}"
    );
    assert!(!dir.path().join("c.toml").exists());
}

/// The CSV records each run's config by value and the calibration resumes
/// by id: a change to how the grid draws its configs must not give a
/// recorded id another config. (A run also records the comparator style
/// `arch` built, where the grid's config leaves the choice to `arch`.)
#[test]
fn every_recorded_run_is_the_config_the_grid_draws_for_its_id() {
    use a2qgen::calibrate::grid::{Config, ROUNDS, grid};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runs = a2qgen::calibrate::read_runs(&root.join("calibration/yosys_runs.csv")).unwrap();
    let configs = grid(&ROUNDS);
    assert!(runs.len() >= configs.len(), "{} runs", runs.len());
    for run in &runs {
        let drawn = configs.get(run.config.id).map(|c| Config {
            thresholds: run.config.thresholds,
            ..c.clone()
        });
        assert_eq!(
            Some(&run.config),
            drawn.as_ref(),
            "{} unit {}",
            run.config.name(),
            run.unit
        );
    }
}
