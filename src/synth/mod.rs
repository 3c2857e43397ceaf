//! Synthesis with Yosys (`synth_xilinx -family xc7 -flatten -noiopad`):
//! writing the RTL of a plan, one run per top module, and the `stat`
//! counts read back as xc7 resources (per part of a layer when the
//! hierarchy is kept).

mod design;
pub mod parts;
mod stat;
mod yosys;

pub use design::{WrittenDesign, is_layer, unit_module, write_design};
pub use stat::{CellCounts, LUT_MEMORY_CELLS, Measured, StatError, parse_modules, parse_stat};
pub use yosys::{
    HIERARCHICAL_COMMAND, SYNTH_COMMAND, SynthError, SynthJob, SynthRun, YOSYS_ENV, run_jobs,
    yosys_binary, yosys_version,
};
