//! Icarus Verilog as a second, independent simulator of a generated design:
//! a Verilog-2005 stimulus testbench (the input beats read with
//! `$readmemh`, the gap and back-pressure schedules with `$readmemb`,
//! every output beat written with `$fwrite` as `<cycle> <tdata hex>`),
//! built with `iverilog -g2005` and run with `vvp`.
//!
//! The testbench drives the same cycles as the Verilator harness
//! (`testbenches/harness.cpp`): two clock edges with `rst_n` low, then in
//! cycle `c` the driver rule of [`crate::sim`] (a beat offered and not
//! accepted stays offered, else the next beat is offered when
//! `input_gate[c]`), `m_axis_tready = output_ready[c]`, a beat recorded when
//! `m_axis_tvalid && m_axis_tready` before the edge; beyond a schedule the
//! gate is open and tready high. So its beats must equal the Rust
//! simulation's in value and cycle.

use super::beats::beat_to_hex;
use super::verilator::{which, write_source_list};
use crate::arch::Plan;
use crate::rtl::Design;
use crate::sim::Schedule;
use ndarray::ArrayView2;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name of the testbench module.
pub const TESTBENCH_TOP: &str = "a2qgen_tb";

/// Why Icarus could not build or run the testbench.
#[derive(Debug, thiserror::Error)]
pub enum IcarusError {
    #[error("iverilog is not installed (run `make deps`, or apt-get install iverilog)")]
    Missing,
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("iverilog failed: {0}")]
    Build(String),
    #[error("vvp failed: {0}")]
    Run(String),
    #[error("the testbench saw {seen} of {expected} output beats: {log}")]
    Incomplete {
        seen: usize,
        expected: usize,
        log: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> IcarusError + '_ {
    move |e| IcarusError::Io(path.to_path_buf(), e)
}

/// What the testbench reads and how long it may run.
#[derive(Clone, Debug)]
pub struct Bench {
    pub top: String,
    pub input_bits: usize,
    pub output_bits: usize,
    pub input_beats: usize,
    pub output_beats: usize,
    pub gate_cycles: usize,
    pub ready_cycles: usize,
    pub max_cycles: u64,
    /// Folder of `inputs.hex`, `input_gate.mem`, `output_ready.mem` and
    /// `outputs.txt` (an absolute path: `vvp` runs in the RTL folder).
    pub run_dir: PathBuf,
}

/// The Verilog-2005 text of the testbench.
pub fn testbench(bench: &Bench) -> String {
    let file = |name: &str| {
        bench
            .run_dir
            .join(name)
            .display()
            .to_string()
            .replace('\\', "/")
    };
    let mut v = String::new();
    let _ = write!(
        v,
        "// Stimulus testbench written by a2qgen: drives `{top}` with the beats and\n\
         // schedules of {dir}, the cycles of the Verilator harness.\n\
         `timescale 1ns/1ps\n\
         module {tb};\n\
         \x20   localparam IN_BITS = {ib};\n\
         \x20   localparam OUT_BITS = {ob};\n\
         \x20   localparam IN_BEATS = {nin};\n\
         \x20   localparam OUT_BEATS = {nout};\n\
         \x20   localparam GATE_CYCLES = {ng};\n\
         \x20   localparam READY_CYCLES = {nr};\n\
         \x20   localparam MAX_CYCLES = {max};\n\
         \x20   reg clk = 1'b0;\n\
         \x20   reg rst_n = 1'b0;\n\
         \x20   reg [IN_BITS-1:0] s_axis_tdata = {{IN_BITS{{1'b0}}}};\n\
         \x20   reg s_axis_tvalid = 1'b0;\n\
         \x20   wire s_axis_tready;\n\
         \x20   wire [OUT_BITS-1:0] m_axis_tdata;\n\
         \x20   wire m_axis_tvalid;\n\
         \x20   reg m_axis_tready = 1'b0;\n\
         \x20   reg [IN_BITS-1:0] beats [0:IN_BEATS-1];\n\
         \x20   reg gate [0:GATE_CYCLES-1];\n\
         \x20   reg ready [0:READY_CYCLES-1];\n\
         \x20   integer cycle, next, seen, out;\n\
         \x20   reg holding, offer, in_fire;\n\
         \x20   {top} dut (\n\
         \x20       .clk(clk), .rst_n(rst_n),\n\
         \x20       .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),\n\
         \x20       .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)\n\
         \x20   );\n\
         \x20   initial begin\n\
         \x20       $readmemh(\"{inputs}\", beats);\n\
         \x20       $readmemb(\"{gate}\", gate);\n\
         \x20       $readmemb(\"{ready}\", ready);\n\
         \x20       out = $fopen(\"{outputs}\", \"w\");\n\
         \x20       next = 0;\n\
         \x20       seen = 0;\n\
         \x20       holding = 1'b0;\n\
         \x20       #1 clk = 1'b1; #1 clk = 1'b0;\n\
         \x20       #1 clk = 1'b1; #1 clk = 1'b0;\n\
         \x20       rst_n = 1'b1;\n\
         \x20       for (cycle = 0; cycle < MAX_CYCLES && seen < OUT_BEATS; cycle = cycle + 1) begin\n\
         \x20           offer = holding || (next < IN_BEATS && (cycle >= GATE_CYCLES || gate[cycle]));\n\
         \x20           s_axis_tvalid = offer;\n\
         \x20           if (offer) s_axis_tdata = beats[next];\n\
         \x20           m_axis_tready = cycle >= READY_CYCLES || ready[cycle];\n\
         \x20           #1;\n\
         \x20           in_fire = offer && s_axis_tready;\n\
         \x20           if (m_axis_tvalid && m_axis_tready) begin\n\
         \x20               $fwrite(out, \"%0d %h\\n\", cycle, m_axis_tdata);\n\
         \x20               seen = seen + 1;\n\
         \x20           end\n\
         \x20           clk = 1'b1; #1;\n\
         \x20           clk = 1'b0; #1;\n\
         \x20           holding = offer && !in_fire;\n\
         \x20           if (in_fire) next = next + 1;\n\
         \x20       end\n\
         \x20       $fclose(out);\n\
         \x20       if (seen < OUT_BEATS)\n\
         \x20           $display(\"a2qgen_tb: %0d of %0d output beats after %0d cycles, %0d of %0d input beats accepted\", seen, OUT_BEATS, cycle, next, IN_BEATS);\n\
         \x20       $finish;\n\
         \x20   end\n\
         endmodule\n",
        top = bench.top,
        tb = TESTBENCH_TOP,
        dir = bench.run_dir.display(),
        ib = bench.input_bits,
        ob = bench.output_bits,
        nin = bench.input_beats,
        nout = bench.output_beats,
        ng = bench.gate_cycles,
        nr = bench.ready_cycles,
        max = bench.max_cycles,
        inputs = file("inputs.hex"),
        gate = file("input_gate.mem"),
        ready = file("output_ready.mem"),
        outputs = file("outputs.txt"),
    );
    v
}

/// One bit per line, at least one line (open / ready past the end anyway).
fn schedule_lines(bits: &[bool]) -> String {
    if bits.is_empty() {
        return "1\n".to_string();
    }
    bits.iter()
        .map(|&b| if b { "1\n" } else { "0\n" })
        .collect()
}

/// Writes the stimulus and the testbench into `run_dir`, builds it with the
/// design's files from `rtl_dir`, runs it, and returns `(cycle, tdata hex)`
/// per output beat.
pub fn simulate(
    design: &Design,
    plan: &Plan,
    inputs: ArrayView2<i64>,
    schedule: &Schedule,
    max_cycles: u64,
    rtl_dir: &Path,
    run_dir: &Path,
) -> Result<Vec<(u64, String)>, IcarusError> {
    if which("iverilog").is_none() || which("vvp").is_none() {
        return Err(IcarusError::Missing);
    }
    std::fs::create_dir_all(run_dir).map_err(io_error(run_dir))?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (rtl_dir, run_dir) = (absolute(rtl_dir), absolute(run_dir));
    let shape = plan.input();
    let mut beats = String::new();
    for row in inputs.rows() {
        for chunk in row.to_vec().chunks(shape.elements) {
            let _ = writeln!(beats, "{}", beat_to_hex(chunk, shape.element));
        }
    }
    let write = |name: &str, text: &str| {
        let path = run_dir.join(name);
        std::fs::write(&path, text).map_err(io_error(&path))
    };
    write("inputs.hex", &beats)?;
    write("input_gate.mem", &schedule_lines(&schedule.input_gate))?;
    write("output_ready.mem", &schedule_lines(&schedule.output_ready))?;
    let expected = inputs.nrows() * plan.output_beats_per_vector();
    let bench = Bench {
        top: design.top.clone(),
        input_bits: shape.bits(),
        output_bits: plan.output().bits(),
        input_beats: inputs.nrows() * plan.input_length / shape.elements,
        output_beats: expected,
        gate_cycles: schedule.input_gate.len().max(1),
        ready_cycles: schedule.output_ready.len().max(1),
        max_cycles,
        run_dir: run_dir.clone(),
    };
    let tb = run_dir.join("a2qgen_tb.v");
    write("a2qgen_tb.v", &testbench(&bench))?;
    let vvp_file = run_dir.join("a2qgen_tb.vvp");
    let sources = run_dir.join("sources.f");
    write_source_list(design, &rtl_dir, &sources).map_err(io_error(&sources))?;
    let built = Command::new("iverilog")
        .args(["-g2005", "-s", TESTBENCH_TOP, "-o"])
        .arg(&vvp_file)
        .arg(&tb)
        .arg("-c")
        .arg(&sources)
        .output()
        .map_err(io_error(Path::new("iverilog")))?;
    if !built.status.success() {
        return Err(IcarusError::Build(first_lines(&built.stderr, 5)));
    }
    let ran = Command::new("vvp")
        .current_dir(&rtl_dir)
        .args(["-n"])
        .arg(&vvp_file)
        .output()
        .map_err(io_error(Path::new("vvp")))?;
    let log =
        String::from_utf8_lossy(&ran.stdout).to_string() + &String::from_utf8_lossy(&ran.stderr);
    if !ran.status.success() {
        return Err(IcarusError::Run(first_lines(log.as_bytes(), 5)));
    }
    let path = run_dir.join("outputs.txt");
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    let beats: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let (cycle, hex) = l.split_once(' ')?;
            Some((cycle.parse().ok()?, hex.to_string()))
        })
        .collect();
    if beats.len() < expected {
        return Err(IcarusError::Incomplete {
            seen: beats.len(),
            expected,
            log: first_lines(log.as_bytes(), 5),
        });
    }
    Ok(beats)
}

fn first_lines(text: &[u8], count: usize) -> String {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(count)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_testbench_names_its_files_and_sizes() {
        let bench = Bench {
            top: "m_top".into(),
            input_bits: 1,
            output_bits: 130,
            input_beats: 3,
            output_beats: 2,
            gate_cycles: 5,
            ready_cycles: 1,
            max_cycles: 99,
            run_dir: PathBuf::from("/tmp/run"),
        };
        let text = testbench(&bench);
        assert!(text.contains("module a2qgen_tb;"));
        assert!(text.contains("localparam OUT_BITS = 130;"));
        assert!(text.contains("$readmemh(\"/tmp/run/inputs.hex\", beats);"));
        assert!(text.contains("m_top dut ("));
        assert!(text.contains("$fwrite(out, \"%0d %h\\n\", cycle, m_axis_tdata);"));
        assert_eq!(schedule_lines(&[]), "1\n");
        assert_eq!(schedule_lines(&[true, false]), "1\n0\n");
    }
}
