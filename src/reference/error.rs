//! Why the reference refuses a configuration or a batch of inputs.

use crate::model::IntType;
use thiserror::Error;

/// A failure of [`Reference::new`](super::Reference::new) or of a run.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// An accumulator override that does not apply to the model.
    #[error("accumulator override `{}`: {problem}", override_target(layer, *inner))]
    Override {
        layer: String,
        /// The override is for the inner (tile) accumulator.
        inner: bool,
        problem: OverrideProblem,
    },

    /// Saturation is order dependent, and the order is set by `hardware.simd`.
    #[error(
        "layer `{layer}`: saturating accumulation needs `hardware.simd`, which defines the \
         order products are added in (saturation depends on that order)"
    )]
    SaturateNeedsSimd { layer: String },

    #[error("inputs have shape {found:?}, expected [batch, {expected}] or [{expected}]")]
    InputShape { expected: usize, found: Vec<usize> },

    #[error(
        "input [{vector}][{element}] = {value} is outside the model's input type {input} \
         ({}..={})",
        input.min(),
        input.max()
    )]
    InputValue {
        vector: usize,
        element: usize,
        value: i64,
        input: IntType,
    },

    /// Only possible with exact (unbounded) accumulators or an unclamped
    /// Hadamard layer: values between layers are 64-bit.
    #[error(
        "vector {vector}, layer `{layer}`, element {element}: value {value} does not fit 64 bits"
    )]
    ValueTooWide {
        vector: usize,
        layer: String,
        element: usize,
        value: i128,
    },
}

/// What is wrong with one accumulator override.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OverrideProblem {
    #[error("no layer has this name (layers: {known})")]
    UnknownLayer { known: String },
    #[error("it is a {0} layer, which has no accumulator")]
    NotDense(&'static str),
    #[error("the layer is not tiled, so it has no inner accumulator")]
    NotTiled,
    #[error("{bits} bits is out of range {}..={}", crate::model::ACCUMULATOR_BITS.start(), crate::model::ACCUMULATOR_BITS.end())]
    Width { bits: u32 },
}

/// How an override is written on the command line: `fc0` or `fc0.inner`.
pub fn override_target(layer: &str, inner: bool) -> String {
    if inner {
        format!("{layer}.inner")
    } else {
        layer.to_string()
    }
}

/// A value that does not fit the 64 bits passed between layers; the caller
/// adds the vector and the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Overwide {
    pub element: usize,
    pub value: i128,
}

impl Overwide {
    pub fn at(self, vector: usize, layer: &str) -> ReferenceError {
        ReferenceError::ValueTooWide {
            vector,
            layer: layer.to_string(),
            element: self.element,
            value: self.value,
        }
    }
}

/// Narrows a value to the 64 bits passed between layers.
pub(super) fn narrow(element: usize, value: i128) -> Result<i64, Overwide> {
    i64::try_from(value).map_err(|_| Overwide { element, value })
}
