//! Building the Verilator model of a design with the generic harness, and
//! running it on files.

use crate::output::{read_manifest, write_manifest};
use crate::rtl::Design;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The harness source, compiled into every model.
pub const HARNESS: &str = include_str!("../../testbenches/harness.cpp");

/// Why Verilator could not build or run the design.
#[derive(Debug, thiserror::Error)]
pub enum VerilatorError {
    #[error("verilator is not installed (run `make deps`, or apt-get install verilator)")]
    Missing,
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("verilator failed to build {top} (log: {log})")]
    Build { top: String, log: PathBuf },
    #[error("verilator -Wall warns: {0}")]
    Lint(String),
    #[error("the harness failed (exit {code:?}): {stderr}")]
    Run { code: Option<i32>, stderr: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> VerilatorError + '_ {
    move |e| VerilatorError::Io(path.to_path_buf(), e)
}

/// Writes the design's files into `dir` (only those whose contents changed,
/// so that time stamps stay meaningful) and removes the stale ones an
/// earlier design listed in the folder's manifest; other files are left
/// alone.
pub fn write_rtl(design: &Design, dir: &Path) -> Result<(), VerilatorError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut wanted = Vec::new();
    for (name, text) in design.verilog.iter().chain(&design.memories) {
        let path = dir.join(name);
        wanted.push(name.clone());
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(io_error(&path))?;
        }
    }
    for stale in read_manifest(dir).iter().filter(|n| !wanted.contains(n)) {
        let path = dir.join(stale);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    write_manifest(dir, &wanted).map_err(io_error(dir))
}

/// Writes the absolute paths of the design's Verilog files in `rtl_dir`,
/// one per line, to `list`: the argument file that Verilator (`-f`) and
/// Icarus (`-c`) read. A design of many PEs has thousands of files, and
/// their paths on one command line exceed the kernel's limit on a single
/// argument once Verilator's wrapper hands them to its shell.
pub fn write_source_list(design: &Design, rtl_dir: &Path, list: &Path) -> io::Result<()> {
    let rtl_dir = std::path::absolute(rtl_dir)?;
    let text: String = design
        .verilog
        .iter()
        .map(|(name, _)| {
            let path = rtl_dir.join(name).display().to_string();
            if path.contains(char::is_whitespace) {
                format!("\"{path}\"\n")
            } else {
                path + "\n"
            }
        })
        .collect();
    std::fs::write(list, text)
}

/// How to build the harness executable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile with VCD tracing.
    pub trace: bool,
    /// Build fast rather than run fast: the C++ compiler at `-O0` on one
    /// file of the whole model (Verilator's own optimisations stay on: they
    /// make less C++ to compile), for designs simulated over a few thousand
    /// cycles where the build dominates.
    pub quick: bool,
    /// With `quick`: Verilator runs with `-Wall` and any warning stops the
    /// build (a lint in the same pass as the model's generation).
    pub lint: bool,
    /// A folder holding Verilator's runtime objects (`verilated.o`, ...)
    /// compiled once with the same flags and reused by every quick build
    /// (filled by the first). Only used with `quick`.
    pub runtime_cache: Option<PathBuf>,
}

/// The objects of Verilator's runtime library a quick build can reuse.
const RUNTIME_OBJECTS: [&str; 4] = [
    "verilated.o",
    "verilated.d",
    "verilated_threads.o",
    "verilated_threads.d",
];

/// A fingerprint of everything the executable depends on.
fn fingerprint(design: &Design, options: &BuildOptions) -> String {
    let mut hasher = DefaultHasher::new();
    design.verilog.hash(&mut hasher);
    design.top.hash(&mut hasher);
    HARNESS.hash(&mut hasher);
    options.trace.hash(&mut hasher);
    options.quick.hash(&mut hasher);
    options.lint.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Builds (or reuses) the harness executable for `design`, whose files are
/// in `rtl_dir`, under `build_dir`. Rebuilds only when the RTL changed.
pub fn build(
    design: &Design,
    rtl_dir: &Path,
    build_dir: &Path,
    trace: bool,
) -> Result<PathBuf, VerilatorError> {
    let options = BuildOptions {
        trace,
        ..BuildOptions::default()
    };
    build_with(design, rtl_dir, build_dir, &options)
}

/// [`build`] with every option.
pub fn build_with(
    design: &Design,
    rtl_dir: &Path,
    build_dir: &Path,
    options: &BuildOptions,
) -> Result<PathBuf, VerilatorError> {
    let obj = build_dir.join(if options.trace { "obj_trace" } else { "obj" });
    let binary = obj.join("harness");
    let stamp = obj.join("a2qgen.stamp");
    let print = fingerprint(design, options);
    if binary.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(print.as_str()) {
        return Ok(binary);
    }
    if which("verilator").is_none() {
        return Err(VerilatorError::Missing);
    }
    std::fs::create_dir_all(&obj).map_err(io_error(&obj))?;
    // Verilator's make runs in the object folder: every path must be absolute.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (obj, rtl_dir, build_dir) = (absolute(&obj), absolute(rtl_dir), absolute(build_dir));
    let binary = obj.join("harness");
    let harness = build_dir.join("harness.cpp");
    std::fs::write(&harness, HARNESS).map_err(io_error(&harness))?;
    let mut command = Command::new("verilator");
    command.args(["--cc", "--exe", "--prefix", "Vtop", "-Wno-fatal"]);
    if options.quick {
        // Make runs separately below, after the runtime objects are in place.
        command.args(["-CFLAGS", "-O0"]);
        if options.lint {
            command.arg("-Wall");
        }
    } else {
        command.args(["--build", "-O3", "-j", "2"]);
    }
    command
        .args(["--top-module", &design.top, "-o", "harness"])
        .arg("-Mdir")
        .arg(&obj);
    if options.trace {
        command.arg("--trace");
    }
    let sources = build_dir.join("sources.f");
    write_source_list(design, &rtl_dir, &sources).map_err(io_error(&sources))?;
    command.arg("-f").arg(&sources).arg(&harness);
    let log = build_dir.join("verilator.log");
    let mut output = command.output().map_err(io_error(Path::new("verilator")))?;
    if options.quick && options.lint {
        // Warnings only: an error (or a crash) of the generating pass is
        // a failed build, which `--lint-only` may not see.
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("%Warning") {
            return Err(VerilatorError::Lint(first_messages(&stderr)));
        }
    }
    if options.quick && output.status.success() {
        let cache = options.runtime_cache.as_deref().map(absolute);
        let reused = cache.as_deref().is_some_and(|c| copy_runtime(c, &obj));
        let make = Command::new("make")
            .arg("-C")
            .arg(&obj)
            .args(["-f", "Vtop.mk", "VM_PARALLEL_BUILDS=0"])
            .args(["OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"])
            .output()
            .map_err(io_error(Path::new("make")))?;
        output.stdout.extend_from_slice(&make.stdout);
        output.stderr.extend_from_slice(&make.stderr);
        output.status = make.status;
        if let (Some(cache), false, true) = (cache, reused, make.status.success()) {
            // Best effort: a failed copy only costs the next build time.
            let _ = save_runtime(&obj, &cache);
        }
    }
    let mut text = output.stdout;
    text.extend_from_slice(&output.stderr);
    std::fs::write(&log, text).map_err(io_error(&log))?;
    if !output.status.success() || !binary.is_file() {
        return Err(VerilatorError::Build {
            top: design.top.clone(),
            log,
        });
    }
    std::fs::write(&stamp, print).map_err(io_error(&stamp))?;
    Ok(binary)
}

/// The first two `%` lines of Verilator's output, each cut at 300 characters.
pub fn first_messages(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.starts_with('%'))
        .take(2)
        .map(|l| l.chars().take(300).collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Copies the cached runtime objects into `obj` (newer than the makefile
/// Verilator just wrote, so make keeps them); false when the cache is
/// incomplete.
fn copy_runtime(cache: &Path, obj: &Path) -> bool {
    RUNTIME_OBJECTS
        .iter()
        .all(|name| cache.join(name).is_file())
        && RUNTIME_OBJECTS
            .iter()
            .all(|name| std::fs::copy(cache.join(name), obj.join(name)).is_ok())
}

/// Saves the runtime objects of `obj` into `cache`, each file renamed into
/// place so that a concurrent build never sees half of one.
fn save_runtime(obj: &Path, cache: &Path) -> io::Result<()> {
    std::fs::create_dir_all(cache)?;
    for name in RUNTIME_OBJECTS {
        let staged = tempfile::NamedTempFile::new_in(cache)?;
        std::fs::copy(obj.join(name), staged.path())?;
        staged.persist(cache.join(name)).map_err(|e| e.error)?;
    }
    Ok(())
}

/// Runs the harness in `run_dir` (which holds the stimulus files) with the
/// ROM images found in `rtl_dir`; returns `(cycle, tdata hex)` per beat.
pub fn run(
    binary: &Path,
    rtl_dir: &Path,
    run_dir: &Path,
    beats: usize,
    max_cycles: u64,
    trace: Option<&Path>,
) -> Result<Vec<(u64, String)>, VerilatorError> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut command = Command::new(absolute(binary));
    command
        .current_dir(rtl_dir)
        .arg(absolute(run_dir))
        .arg(beats.to_string())
        .arg(max_cycles.to_string());
    if let Some(trace) = trace {
        command.arg(absolute(trace));
    }
    let output = command.output().map_err(io_error(binary))?;
    if !output.status.success() {
        return Err(VerilatorError::Run {
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let path = run_dir.join("outputs.txt");
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (cycle, hex) = l.split_once(' ')?;
            Some((cycle.parse().ok()?, hex.to_string()))
        })
        .collect())
}

/// The path of `tool` on `PATH`, if any.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(files: &[&str]) -> Design {
        Design {
            top: "t".into(),
            verilog: files
                .iter()
                .map(|f| (f.to_string(), format!("// {f}\n")))
                .collect(),
            memories: Vec::new(),
        }
    }

    #[test]
    fn rewriting_the_rtl_removes_only_files_of_the_earlier_design() {
        let dir = tempfile::tempdir().unwrap();
        write_rtl(&design(&["a.v", "b.v"]), dir.path()).unwrap();
        std::fs::write(dir.path().join("notes.v"), "// mine").unwrap();
        write_rtl(&design(&["a.v", "c.v"]), dir.path()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [crate::output::MANIFEST, "a.v", "c.v", "notes.v"]);
        assert_eq!(read_manifest(dir.path()), ["a.v", "c.v"]);
    }
}
