//! Verilog generation through rust-hdl.

pub mod wire;
pub mod hadamard;
pub mod mvau;
pub mod stream;
pub mod verilog;
