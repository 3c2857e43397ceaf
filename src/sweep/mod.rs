//! Trade-off studies (`docs/design.md#1-purpose-and-data-flow`, item 5): test accuracy against
//! resources as the accumulator width `P` shrinks.
//!
//! Two series can be measured at each `P`:
//!
//! - **quantized**: the float model is quantized again at `P` with
//!   accumulator-aware quantization, so every width is proven and the
//!   reference must see no overflow; what shrinking `P` costs is accuracy,
//!   through the tighter norm budget;
//! - **fixed**: one given integer model has every accumulator narrowed to
//!   `P` (`allow_overflow`, wrapping or saturating), which is what happens
//!   without accumulator-aware training: below the model's proven width the
//!   accumulators overflow.
//!
//! Each point is scored by the bit-exact reference on a labelled set,
//! bounded by `bounds` (the minimum width per layer) and priced from its
//! hardware plan by [`resources::price`].

mod fixed;
mod measure;
mod plot;
mod quantized;
mod report;
pub mod resources;

pub use fixed::{fixed_point, narrowed};
pub use measure::{LabelledSet, accuracy_of, measure};
pub(crate) use plot::{LABEL_SIZE, LabelPlacer};
pub use plot::{PlotError, svg};
pub use quantized::quantized_point;
pub use report::{csv, csv_columns, markdown};
pub use resources::{Pricing, ResourceComparison};

use crate::arch::ArchError;
use crate::model::OverflowMode;
use crate::quantize::{Accuracy, QuantizeError};
use crate::reference::ReferenceError;
use std::fmt;

/// Which series a point belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    /// The float model quantized (A2Q / A2Q+) at each width.
    Quantized,
    /// A given model with its accumulators narrowed to each width.
    Fixed(OverflowMode),
}

impl Series {
    /// The series' name in the CSV: `quantized`, `fixed-wrap`, `fixed-saturate`.
    pub fn key(self) -> &'static str {
        match self {
            Series::Quantized => "quantized",
            Series::Fixed(OverflowMode::Wrap) => "fixed-wrap",
            Series::Fixed(OverflowMode::Saturate) => "fixed-saturate",
        }
    }

    /// What the series is, for a plot's legend.
    pub fn legend(self) -> String {
        match self {
            Series::Quantized => "quantized at each P (proven)".into(),
            Series::Fixed(mode) => format!("fixed model narrowed to P, {mode}"),
        }
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Series::Quantized => f.write_str("quantized"),
            Series::Fixed(mode) => write!(f, "fixed, {mode}"),
        }
    }
}

/// One point of a sweep: a series at one accumulator width.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub series: Series,
    pub acc_bits: u32,
    pub outcome: Outcome,
}

/// What was found at a point.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Measured(Box<Measurement>),
    /// The width is below the least one the quantizer can use: some layer's
    /// norm budget is below 1, so every weight would be zero.
    BelowUsable {
        layer: String,
        least_bits: u32,
    },
}

impl SweepRow {
    pub fn measurement(&self) -> Option<&Measurement> {
        match &self.outcome {
            Outcome::Measured(m) => Some(m),
            Outcome::BelowUsable { .. } => None,
        }
    }
}

/// A scored, bounded and priced model.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The model's name (`<name>_p<P>` for quantized points).
    pub model: String,
    /// Test accuracy of the bit-exact reference at the declared widths.
    pub accuracy: Accuracy,
    /// One entry per dense layer, in order.
    pub layers: Vec<LayerPoint>,
    pub resources: ResourceComparison,
}

impl Measurement {
    /// Every declared width is at least its proven minimum.
    pub fn proven(&self) -> bool {
        self.layers.iter().all(LayerPoint::proven)
    }

    pub fn overflow_events(&self) -> u64 {
        self.layers.iter().map(|l| l.overflow_events).sum()
    }
}

/// One dense layer at a point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerPoint {
    pub name: String,
    /// The (outer) accumulator width the point runs with.
    pub declared_bits: u32,
    /// The least width the exact range needs (outer accumulator; a tiled
    /// layer's inner accumulator is reported by `check`).
    pub min_bits: u32,
    /// Settles that left the register's range over the test set, inner and
    /// outer accumulators together.
    pub overflow_events: u64,
}

impl LayerPoint {
    pub fn proven(&self) -> bool {
        self.declared_bits >= self.min_bits
    }
}

/// Why a sweep point could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("P = {acc_bits}: {source}")]
    Quantize {
        acc_bits: u32,
        source: QuantizeError,
    },
    #[error("model `{model}`: {source}")]
    Reference {
        model: String,
        source: ReferenceError,
    },
    #[error("model `{model}`: {source}")]
    Plan { model: String, source: ArchError },
    #[error("model `{model}`: {message}")]
    Pricing { model: String, message: String },
    #[error("{0}")]
    Test(String),
}

#[cfg(test)]
mod tests;
