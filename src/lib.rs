//! a2qgen: from an accumulator-aware quantized model to proven accumulator
//! widths, a bit-exact reference, and streaming dataflow hardware.
//!
//! Data flows `model` → `bounds` → `arch` → (`reference`, `sim`, `rtl`,
//! `estimate`); see `docs/design.md#1-purpose-and-data-flow`, and the rest
//! of `docs/design.md` for the semantics, the bounds and the hardware.

pub mod arch;
pub mod bounds;
pub mod calibrate;
pub mod cli;
pub mod cosim;
pub mod estimate;
pub mod fuzz;
pub mod import;
pub mod input_file;
pub mod model;
pub mod npyio;
pub mod output;
pub mod quantize;
pub mod reference;
pub mod rtl;
pub mod search;
pub mod sim;
pub mod study;
pub mod sweep;
pub mod synth;
pub mod table;
