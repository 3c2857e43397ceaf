//! The model: what a quantized network is (types), how it is stored on disk
//! (TOML + `.npy`: read by `load`, written by `write`), and the rules that
//! make it valid. Everything downstream reads a validated [`Model`].

mod error;
mod load;
mod spec;
mod types;
mod write;

pub use error::{LayerRef, ModelError, ModelErrorInfo};
pub(crate) use load::check_identifier;
pub use load::{
    ACCUMULATOR_BITS, MAX_DATA_BITS, MAX_ELEMENT_BITS, MAX_HADAMARD_BLOCK, MAX_THRESHOLD_BITS,
    MAX_VECTOR_LENGTH, array_files, load_model, parse_model,
};
pub use types::*;
pub use write::{WriteModelError, stage_model, write_model};
