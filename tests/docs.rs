//! The documentation holds in a fresh clone:
//!
//! - every relative link `[text](path)` and `[text](path#anchor)` of
//!   README.md and `docs/*.md` names a file that exists and, for a Markdown
//!   file, a heading whose GitHub anchor is `anchor`;
//! - every `docs/<page>.md#anchor` written in the sources, tests, scripts
//!   and pages names a page and a heading that exist;
//! - the README's walkthrough runs as written: every `$ a2qgen ...` line in
//!   the code blocks of its "Walkthrough" section is run with the built
//!   binary in a temporary folder holding a copy of `examples/` (so its
//!   relative outputs, `hdl_out/`, `constraints/` and `sim/`, land there and
//!   nothing is written into the repository), must exit 0, and must print
//!   every output line pasted under it (lines `...` mark cuts; the
//!   estimate's own timing is not compared).

mod tools;

use assert_cmd::Command;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// GitHub's anchor of a heading: lower case, every character that is not
/// a letter, a digit, `-`, `_` or a space dropped, spaces made `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The anchors of a Markdown text's headings; a repeated heading gets
/// `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// The targets of the inline links `[text](target)` of a Markdown text,
/// outside code blocks and inline code.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut in_code = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '`' => in_code = !in_code,
                ']' if !in_code && chars.get(i + 1) == Some(&'(') => {
                    let rest: String = chars[i + 2..].iter().collect();
                    if let Some(end) = rest.find(')') {
                        targets.push(rest[..end].to_string());
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    targets
}

/// The `docs/<page>.md` and `docs/<page>.md#anchor` references in any text.
fn page_references(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut references = Vec::new();
    for (start, _) in text.match_indices("docs/") {
        if text[..start].ends_with(|c: char| is_name(c) || c == '/') {
            continue;
        }
        let rest = &text[start + 5..];
        let name_end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        if name_end == 0 || !rest[name_end..].starts_with(".md") {
            continue;
        }
        let mut reference = format!("docs/{}.md", &rest[..name_end]);
        let after = &rest[name_end + 3..];
        if let Some(anchor) = after.strip_prefix('#') {
            let end = anchor.find(|c: char| !is_name(c)).unwrap_or(anchor.len());
            reference.push('#');
            reference.push_str(&anchor[..end]);
        }
        references.push(reference);
    }
    references
}

/// Why `target` (a link in `from_dir`, or a path from the repository root)
/// does not resolve, if it does not.
fn broken(from_dir: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        None
    } else {
        Some(from_dir.join(path))
    };
    if let Some(file) = &file
        && !file.exists()
    {
        return Some(format!("{target}: no file {}", file.display()));
    }
    let anchor = anchor?;
    let page = match &file {
        Some(file) => file.clone(),
        None => return Some(format!("{target}: an anchor needs its page here")),
    };
    if page.extension().is_some_and(|e| e == "md") {
        let text = std::fs::read_to_string(&page).unwrap();
        if !anchors(&text).contains(anchor) {
            return Some(format!(
                "{target}: no heading `{anchor}` in {}",
                page.display()
            ));
        }
    }
    None
}

/// Every broken link of one Markdown file.
fn broken_links(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = file.parent().unwrap();
    let mut errors = Vec::new();
    for target in link_targets(&text) {
        let target = if let Some(anchor) = target.strip_prefix('#') {
            format!("{}#{anchor}", file.file_name().unwrap().to_string_lossy())
        } else {
            target
        };
        if let Some(error) = broken(dir, &target) {
            errors.push(format!("{}: {error}", file.display()));
        }
    }
    errors
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn markdown_pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// Every text file of the repository that may refer to a page: sources,
/// tests, benches, scripts, harness, constraints, examples and pages.
fn referring_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| {
                [
                    "rs", "md", "py", "cpp", "h", "tcl", "ys", "xdc", "toml", "txt",
                ]
                .contains(&e.to_str().unwrap_or(""))
            }) {
                files.push(path);
            }
        }
    }
    let mut files = vec![
        root().join("README.md"),
        root().join("Makefile"),
        root().join("Cargo.toml"),
        root().join(".ci/run"),
    ];
    for dir in [
        "src",
        "tests",
        "benches",
        "testbenches",
        "constraints",
        "examples",
        "docs",
    ] {
        walk(&root().join(dir), &mut files);
    }
    files.retain(|f| f.exists());
    files
}

#[test]
fn every_link_of_the_readme_and_the_pages_resolves() {
    let pages = markdown_pages();
    assert!(pages.len() >= 8, "README and the docs/ pages: {pages:?}");
    let errors: Vec<String> = pages.iter().flat_map(|p| broken_links(p)).collect();
    assert!(errors.is_empty(), "broken links:\n{}", errors.join("\n"));
}

#[test]
fn every_page_reference_in_the_repository_resolves() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for file in referring_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for reference in page_references(&text) {
            checked += 1;
            if let Some(error) = broken(&root(), &reference) {
                errors.push(format!("{}: {error}", file.display()));
            }
        }
    }
    assert!(checked >= 20, "only {checked} references found");
    assert!(
        errors.is_empty(),
        "broken references:\n{}",
        errors.join("\n")
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug(" 3. Accumulator bounds"), "3-accumulator-bounds");
    assert_eq!(
        slug(" `a2qgen cosim`: three views that must agree"),
        "a2qgen-cosim-three-views-that-must-agree"
    );
    assert_eq!(
        slug(" Results: accuracy, LUTs & FFs"),
        "results-accuracy-luts--ffs"
    );
    let text = "# A\n## Limits\n```\n## Not a heading\n```\n### Limits\n#NoSpace\n";
    let found: Vec<String> = anchors(text).into_iter().collect();
    assert_eq!(found, ["a", "limits", "limits-1"]);
}

#[test]
fn the_checker_finds_broken_links_and_references() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.md"), "# Page\n\n## 2. Section two\n").unwrap();
    let good = "[a](page.md) [b](page.md#2-section-two) [c](#top) [d](https://x.org/y)\n# Top\n";
    std::fs::write(dir.path().join("good.md"), good).unwrap();
    assert_eq!(
        broken_links(&dir.path().join("good.md")),
        Vec::<String>::new()
    );

    let bad = "# Bad\n[a](missing.md) [b](page.md#3-section-three) [c](#nowhere)\n\
               `[code](missing.md)`\n```\n[fenced](missing.md)\n```\n";
    std::fs::write(dir.path().join("bad.md"), bad).unwrap();
    let errors = broken_links(&dir.path().join("bad.md"));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("missing.md"), "{errors:?}");
    assert!(errors[1].contains("3-section-three"), "{errors:?}");
    assert!(errors[2].contains("nowhere"), "{errors:?}");

    // Built at run time so that this file holds no broken reference itself.
    let text = format!(
        "see `docs/{}.md#{}` and docs/{}.md, not my_docs/x.md",
        "design", "9-no-such-section", "nowhere"
    );
    let references = page_references(&text);
    assert_eq!(references.len(), 2, "{references:?}");
    assert!(broken(&root(), &references[0]).is_some());
    assert!(broken(&root(), &references[1]).is_some());
    let good = format!("`docs/{}.md#{}`", "design", "3-accumulator-bounds");
    assert_eq!(broken(&root(), &page_references(&good)[0]), None);
}

/// One `$ a2qgen ...` line of the walkthrough and the output pasted under it.
struct Step {
    args: Vec<String>,
    expected: Vec<String>,
}

/// The steps of the README's "Walkthrough" section, in order.
fn walkthrough_steps(readme: &str) -> Vec<Step> {
    let section: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("## Walkthrough"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let mut steps: Vec<Step> = Vec::new();
    let mut fenced = false;
    let mut collecting = false;
    for line in section {
        if line.starts_with("```") {
            fenced = !fenced;
            collecting = false;
        } else if fenced && let Some(command) = line.strip_prefix("$ a2qgen ") {
            assert!(
                !command.contains(['"', '\'', '\\', '|', '>', '<']),
                "the walkthrough's commands are plain words: {command}"
            );
            steps.push(Step {
                args: command.split_whitespace().map(str::to_string).collect(),
                expected: Vec::new(),
            });
            collecting = true;
        } else if fenced && collecting {
            steps.last_mut().unwrap().expected.push(line.to_string());
        }
    }
    steps
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let steps = walkthrough_steps(&readme);
    let commands: Vec<&str> = steps.iter().map(|s| s.args[0].as_str()).collect();
    for needed in ["info", "check", "gen", "infer", "cosim", "estimate"] {
        assert!(
            commands.contains(&needed),
            "no `a2qgen {needed}` in {commands:?}"
        );
    }
    let work = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples"), &work.path().join("examples"));
    for step in &steps {
        let line = format!("a2qgen {}", step.args.join(" "));
        if step.args[0] == "cosim" && !tools::have("verilator") {
            continue;
        }
        let output = Command::cargo_bin("a2qgen")
            .unwrap()
            .current_dir(work.path())
            .args(&step.args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "`{line}` exited with {:?}:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        let printed: BTreeSet<&str> = stdout.lines().collect();
        for expected in &step.expected {
            if expected == "..." || expected.contains("estimated in") {
                continue;
            }
            assert!(
                printed.contains(expected.as_str()),
                "`{line}` no longer prints this line of the README:\n{expected}\nit printed:\n{stdout}"
            );
        }
    }
}

#[test]
fn the_walkthrough_parser_reads_commands_and_their_output() {
    let readme = "# x\n```text\n$ a2qgen info m.toml\nnot this\n```\n\
                  ## Walkthrough\n\n```text\n$ a2qgen info m.toml\nline 1\n...\n```\n\
                  ```sh\nyosys -s x.ys\n```\n```text\n$ a2qgen check m.toml --json c.json\n```\n\
                  ## Next\n```text\n$ a2qgen gen m.toml\n```\n";
    let steps = walkthrough_steps(readme);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].args, ["info", "m.toml"]);
    assert_eq!(steps[0].expected, ["line 1", "..."]);
    assert_eq!(steps[1].args, ["check", "m.toml", "--json", "c.json"]);
    assert!(steps[1].expected.is_empty());
}
