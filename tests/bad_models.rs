//! Every malformed model under `tests/fixtures/bad/` is refused by
//! `a2qgen info` with exit code 2, no panic, and a message naming the field
//! (and the layer where there is one). Expectations are the file's
//! `# expect: TEXT` comment lines.

use assert_cmd::Command;
use std::path::Path;

#[test]
fn every_bad_model_is_refused_with_a_precise_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} bad fixtures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let output = Command::cargo_bin("a2qgen")
            .unwrap()
            .arg("info")
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = file.file_name().unwrap().to_string_lossy();
        if output.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit {:?}, stderr: {stderr}",
                output.status.code()
            ));
        }
        if stderr.contains("panicked") || !output.stdout.is_empty() {
            failures.push(format!("{name}: panicked or printed output: {stderr}"));
        }
        for want in expected {
            if !stderr.contains(want) {
                failures.push(format!("{name}: message lacks `{want}`: {stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
