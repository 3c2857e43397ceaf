//! `a2qgen info` on every bundled example, under snapshot.

use assert_cmd::Command;

fn info(model: &str) -> String {
    let output = Command::cargo_bin("a2qgen")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["info", model])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn info_mlp3() {
    insta::assert_snapshot!(info("examples/mlp3.toml"));
}

#[test]
fn info_hadamard_tiled() {
    insta::assert_snapshot!(info("examples/hadamard_tiled.toml"));
}
