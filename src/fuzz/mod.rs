//! Whole-chain random verification: a seeded generator of valid models over
//! the whole space of the format ([`model_gen`]), the chain every drawn
//! model runs through (`check`, `gen`, Verilator lint, co-simulation with
//! gaps and back-pressure, Icarus Verilog), the features each model covers,
//! and the shrinking of a failing model to a small reproducer.

pub mod coverage;
pub mod draw;
pub mod model_gen;

pub use coverage::{Coverage, Feature, features};
pub use draw::{Draw, model_seed};
pub use model_gen::{GenConfig, SizeClass, draw_model, model_name};
pub mod chain;
pub mod run;
pub mod shrink;

pub use chain::{ChainOptions, Failure, Passed, Stage, Stimulus, run_chain};
pub use run::{
    Case, FuzzOptions, FuzzReport, ModelRun, Reproducer, Source, fuzz, reproduce_command,
};
