//! The model: what a quantized network is (types), how it is written on disk
//! (TOML + `.npy`), and the rules that make it valid. Everything downstream
//! reads a validated [`Model`].

mod error;
mod load;
mod spec;
mod types;

pub use error::{LayerRef, ModelError, ModelErrorInfo};
pub use load::{ACCUMULATOR_BITS, MAX_DATA_BITS, MAX_THRESHOLD_BITS, load_model, parse_model};
pub use types::*;
