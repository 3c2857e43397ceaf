//! Running Yosys: one process per synthesized top, in the folder of the
//! RTL (so `$readmemh` finds its images by their relative names), with a
//! time limit after which the child is killed.

use super::stat::{CellCounts, Measured, StatError, parse_modules, parse_stat};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The environment variable naming the Yosys binary (default `yosys`).
pub const YOSYS_ENV: &str = "A2QGEN_YOSYS";

/// The synthesis command every run uses, as
/// `docs/design.md#7-resource-estimates` states it.
pub const SYNTH_COMMAND: &str = "synth_xilinx -family xc7 -flatten -noiopad";
/// The same without `-flatten`: every module is mapped on its own, so its
/// share of the resources can be read (ABC cannot merge logic across the
/// module boundaries, so the sum can differ from the flattened count).
pub const HIERARCHICAL_COMMAND: &str = "synth_xilinx -family xc7 -noiopad";

/// The Yosys binary to run.
pub fn yosys_binary() -> PathBuf {
    std::env::var_os(YOSYS_ENV).map_or_else(|| PathBuf::from("yosys"), PathBuf::from)
}

/// Yosys's version line, or `None` when it cannot be run.
pub fn yosys_version() -> Option<String> {
    let output = Command::new(yosys_binary()).arg("-V").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// One synthesis: the Verilog `files` in `dir`, `top` as the top module.
#[derive(Clone, Debug)]
pub struct SynthJob {
    /// What the run is, for progress and messages.
    pub label: String,
    pub dir: PathBuf,
    pub files: Vec<String>,
    pub top: String,
    /// Keep the module hierarchy ([`HIERARCHICAL_COMMAND`]) instead of
    /// flattening; its files are `<top>.hier.*`.
    pub hierarchy: bool,
}

/// A finished synthesis.
#[derive(Clone, Debug)]
pub struct SynthRun {
    pub label: String,
    pub top: String,
    pub cells: CellCounts,
    pub measured: Measured,
    /// Every module's own cells (one entry, the top, when flattened).
    pub modules: Vec<(String, CellCounts)>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(
        "yosys not found (`{0}`): install it (apt-get install yosys) or point {YOSYS_ENV} at it"
    )]
    Missing(String),
    #[error("{label}: could not run yosys: {source}")]
    Io {
        label: String,
        source: std::io::Error,
    },
    #[error("{label}: yosys failed (exit {code:?}); see {log}:\n{tail}")]
    Failed {
        label: String,
        code: Option<i32>,
        log: String,
        tail: String,
    },
    #[error("{label}: yosys took longer than {seconds} s and was stopped")]
    Timeout { label: String, seconds: u64 },
    #[error("{label}: {source}")]
    Stat { label: String, source: StatError },
}

impl SynthJob {
    /// The Yosys script: read every file, synthesize `top`, write `stat`.
    pub fn script(&self) -> String {
        let command = if self.hierarchy {
            HIERARCHICAL_COMMAND
        } else {
            SYNTH_COMMAND
        };
        format!(
            "read_verilog {}\n{command} -top {top}\ntee -q -o {stat} stat\n",
            self.files.join(" "),
            top = self.top,
            stat = self.file_name("stat"),
        )
    }

    fn file_name(&self, extension: &str) -> String {
        let stem = if self.hierarchy { ".hier" } else { "" };
        format!("{}{stem}.{extension}", self.top)
    }

    fn path(&self, extension: &str) -> PathBuf {
        self.dir.join(self.file_name(extension))
    }

    fn io_error(&self, source: std::io::Error) -> SynthError {
        SynthError::Io {
            label: self.label.clone(),
            source,
        }
    }

    /// Runs Yosys on this job, stopping it after `timeout`.
    pub fn run(&self, timeout: Duration) -> Result<SynthRun, SynthError> {
        let script = self.path("ys");
        std::fs::write(&script, self.script()).map_err(|e| self.io_error(e))?;
        let log = self.path("log");
        let started = Instant::now();
        let child = self.spawn(&script, &log)?;
        let status = wait_or_kill(child, timeout).map_err(|e| self.io_error(e))?;
        let seconds = started.elapsed().as_secs_f64();
        let Some(status) = status else {
            return Err(SynthError::Timeout {
                label: self.label.clone(),
                seconds: timeout.as_secs(),
            });
        };
        if !status.success() {
            return Err(SynthError::Failed {
                label: self.label.clone(),
                code: status.code(),
                log: log.display().to_string(),
                tail: log_tail(&log),
            });
        }
        let text = std::fs::read_to_string(self.path("stat")).map_err(|e| self.io_error(e))?;
        let cells = parse_stat(&text, &self.top).map_err(|source| SynthError::Stat {
            label: self.label.clone(),
            source,
        })?;
        let modules = parse_modules(&text);
        // The generator writes one module per instance, so the design's
        // resources are the sum of every module's own.
        let measured = if self.hierarchy {
            modules
                .iter()
                .map(|(_, cells)| Measured::from_cells(cells))
                .sum()
        } else {
            Measured::from_cells(&cells)
        };
        Ok(SynthRun {
            label: self.label.clone(),
            top: self.top.clone(),
            measured,
            cells,
            modules,
            seconds,
        })
    }

    fn spawn(&self, script: &Path, log: &Path) -> Result<Child, SynthError> {
        let log_file = std::fs::File::create(log).map_err(|e| self.io_error(e))?;
        let binary = yosys_binary();
        Command::new(&binary)
            .current_dir(&self.dir)
            .arg("-q")
            .arg("-l")
            .arg(log.file_name().expect("a log file name"))
            .arg("-s")
            .arg(script.file_name().expect("a script file name"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| self.io_error(e))?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => SynthError::Missing(binary.display().to_string()),
                _ => self.io_error(e),
            })
    }
}

/// Waits for `child`; kills it and returns `None` after `timeout`.
fn wait_or_kill(
    mut child: Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of a log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// A finished run's line: above the bar on a terminal, plainly on stderr
/// otherwise (indicatif hides its bar, and its lines, off a terminal).
fn report(bar: &ProgressBar, progress: bool, line: String) {
    if !progress {
        return;
    }
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Runs `jobs` on `threads` workers, with a progress bar on stderr when
/// `progress`; `finished(index, result)` is called as each job ends.
/// Results come back in job order.
pub fn run_jobs(
    jobs: &[SynthJob],
    timeout: Duration,
    threads: usize,
    progress: bool,
    finished: impl Fn(usize, &Result<SynthRun, SynthError>) + Sync,
) -> Vec<Result<SynthRun, SynthError>> {
    let bar = if progress {
        ProgressBar::new(jobs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} yosys: {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    // Workers take jobs in order, so an interrupted batch has done a prefix.
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<SynthRun, SynthError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else { break };
                    bar.set_message(job.label.clone());
                    let result = job.run(timeout);
                    let line = match &result {
                        Ok(run) => format!("  {} in {:.1} s", run.label, run.seconds),
                        Err(e) => format!("  {e}"),
                    };
                    report(&bar, progress, line);
                    finished(index, &result);
                    bar.inc(1);
                    *results[index].lock().expect("result slot") = Some(result);
                }
            });
        }
    });
    let results = results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("result slot")
                .expect("every job ran")
        })
        .collect();
    bar.finish_and_clear();
    results
}
