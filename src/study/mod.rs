//! The accumulator-width study (`docs/study.md`): trained models, each
//! built as {ROM, hardwired} x {proven, 32-bit} accumulators, measured by
//! Yosys and scored by the bit-exact reference. This module owns the
//! variants and how they are built (`design`), the results file, which is
//! also the cache of Yosys runs keyed by a hash of the generated Verilog
//! (`results`), and what is made from it alone: the table, the headline,
//! the per-part breakdown (`report`) and the plot (`plot`). The driver that
//! runs Yosys is `examples/study.rs` (`make study`).

pub mod design;
pub mod driver;
pub mod plot;
pub mod report;
pub mod results;

pub use design::{
    BuiltVariant, TrainedModel, VariantBuild, build_variant, design_hash, read_trained_models,
};
pub use results::{PartRow, Status, StudyRow, parse_parts, parse_results, parts_csv, results_csv};

use std::fmt;

/// Where the weights live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weights {
    Rom,
    Hardwired,
}

impl Weights {
    /// The weights named `rom` or `hardwired` (the CSV's key, and the
    /// study driver's `--only`).
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "rom" => Some(Weights::Rom),
            "hardwired" => Some(Weights::Hardwired),
            _ => None,
        }
    }
}

/// The accumulator widths a variant declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Accumulators {
    /// Each layer at its least proven width, as trained.
    Proven,
    /// Every accumulator 32 bits, thresholds unchanged.
    Wide32,
}

/// One of the four designs built from a trained model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Variant {
    pub weights: Weights,
    pub accumulators: Accumulators,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::new(Weights::Rom, Accumulators::Proven),
        Variant::new(Weights::Rom, Accumulators::Wide32),
        Variant::new(Weights::Hardwired, Accumulators::Proven),
        Variant::new(Weights::Hardwired, Accumulators::Wide32),
    ];

    pub const fn new(weights: Weights, accumulators: Accumulators) -> Self {
        Variant {
            weights,
            accumulators,
        }
    }

    /// The names used in the CSV: `rom` / `hardwired`.
    pub fn weights_key(self) -> &'static str {
        match self.weights {
            Weights::Rom => "rom",
            Weights::Hardwired => "hardwired",
        }
    }

    /// The names used in the CSV: `proven` / `32`.
    pub fn accumulators_key(self) -> &'static str {
        match self.accumulators {
            Accumulators::Proven => "proven",
            Accumulators::Wide32 => "32",
        }
    }

    /// `rom_proven`, `hardwired_acc32`, ...: the variant's work folder.
    pub fn dir_name(self) -> String {
        let acc = match self.accumulators {
            Accumulators::Proven => "proven",
            Accumulators::Wide32 => "acc32",
        };
        format!("{}_{acc}", self.weights_key())
    }

    /// The variant of the CSV's two keys.
    pub fn from_keys(weights: &str, accumulators: &str) -> Option<Self> {
        let weights = Weights::from_key(weights)?;
        let accumulators = match accumulators {
            "proven" => Accumulators::Proven,
            "32" => Accumulators::Wide32,
            _ => return None,
        };
        Some(Variant::new(weights, accumulators))
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let acc = match self.accumulators {
            Accumulators::Proven => "proven",
            Accumulators::Wide32 => "32-bit",
        };
        write!(f, "{}, {acc}", self.weights_key())
    }
}

/// Why the study could not run or read its files.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{file}: line {line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Io(String),
    #[error("model `{model}`: {message}")]
    Model { model: String, message: String },
}

#[cfg(test)]
mod tests;
