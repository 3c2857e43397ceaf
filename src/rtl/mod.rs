//! Verilog generation through rust-hdl.

pub mod wire;
#[cfg(test)] mod experiment;
pub mod hadamard;
pub mod mvau;
pub mod stream;
pub mod verilog;
