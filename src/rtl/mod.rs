//! Verilog generation through rust-hdl.

pub mod emit;
pub mod hadamard;
pub mod mvau;
pub mod stream;
pub mod top;
pub mod verilog;
pub mod wire;
