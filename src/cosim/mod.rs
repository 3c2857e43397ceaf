//! Co-simulation: the bit-exact reference, the cycle-accurate Rust model and
//! the Verilated RTL on the same inputs and handshake schedules.

pub mod beats;
pub mod verilator;
