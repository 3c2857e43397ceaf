//! Verilog generation through rust-hdl. The design is a tree of rust-hdl
//! blocks built from an `arch::Plan`: parents derive `LogicBlock` and wire
//! their children in `#[hdl_gen]` update functions; leaves (ROM, dot
//! product, accumulator, comparator bank, butterfly, FIFO, converter)
//! implement `Logic` by hand with their Verilog and their behaviour, over
//! the run-time-width [`wire::Wire`], whose values are [`bits::BitVector`]s
//! of any width. rust-hdl's `generate_verilog` writes
//! the text; [`emit`] makes it one module per file with headers. The
//! hardware it describes is in `docs/design.md#4-hardware-plan`.

pub mod bits;
pub mod emit;
pub mod files;
pub mod hadamard;
pub mod mvau;
pub mod stream;
pub mod top;
pub mod verilog;
pub mod window;
pub mod wire;

pub use emit::{Design, generate, generate_named};
pub use files::{DesignOutputs, ScriptOptions, claim_design, stage_design};

#[cfg(test)]
mod tests;
