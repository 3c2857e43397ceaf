//! Co-simulation: the bit-exact reference, the cycle-accurate Rust model and
//! the Verilated RTL on the same inputs and handshake schedules. They pass
//! when all three give the same value for every element of every output
//! beat and the Rust model and Verilator the same cycle for every beat.

pub mod beats;
pub mod icarus;
mod run;
pub mod verilator;

pub use run::{
    CosimError, CosimOptions, CosimReport, Fault, Mismatch, cosimulate, schedule_cycles,
    schedule_for, write_stimulus,
};
