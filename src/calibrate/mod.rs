//! Calibration of the estimator against Yosys: a grid of small models is
//! synthesized, every run recorded, and the estimator's constants fitted
//! per block type and resource.

pub mod fit;
pub mod grid;
pub mod reseed;
pub mod runs;

pub use grid::{Config, ConfigKind, grid};
pub use runs::{CalibrationRun, RunRecord, config_plan, read_runs, synthesize_grid};
