//! The bit-exact integer reference: the functional truth. It reads only the
//! model and knows nothing of hardware beyond what the model itself declares
//! about accumulation order (`hardware.simd`, tiles), which decides where
//! saturating accumulators clamp.
//!
//! Semantics are `docs/design.md#2-integer-semantics`: values between layers are `i64`;
//! products and sums are exact in `i128`; each accumulator register settles
//! (wraps, saturates, or stays exact) after its initial value and after every
//! add, in the hardware order, and every settle whose exact value left the
//! register's range counts as an overflow event.

mod accumulator;
#[cfg(test)]
mod conv_tests;
mod dense;
mod error;
mod forward;
mod hadamard;
#[cfg(test)]
mod tests;
mod window;

pub use accumulator::{AccumulatorMode, LayerAccumulation, Overrides, Register, TileRegister};
pub use error::{OverrideProblem, ReferenceError, override_target};

use crate::model::{LayerKind, Model};
use dense::DenseStage;
use hadamard::HadamardStage;
use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, Ix2};
use std::ops::AddAssign;
use window::{ConvStage, MaxPoolStage};

/// A model ready to run: its layers laid out for the inner loop with the
/// run's accumulator registers.
pub struct Reference<'m> {
    model: &'m Model,
    stages: Vec<Stage>,
    /// `None` for layers without accumulators (Hadamard, maxpool).
    accumulation: Vec<Option<LayerAccumulation>>,
}

enum Stage {
    Dense(DenseStage),
    Hadamard(HadamardStage),
    Conv(ConvStage),
    MaxPool(MaxPoolStage),
}

impl Stage {
    /// Whether the stage has accumulators (dense and convolution).
    fn accumulates(&self) -> bool {
        matches!(self, Stage::Dense(_) | Stage::Conv(_))
    }
}

/// Overflow events of one layer in a run: settles whose exact value left the
/// register's range (and was wrapped or clamped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverflowEvents {
    /// Inner (tile) accumulator; 0 for untiled layers.
    pub inner: u64,
    /// Outer accumulator, including the initial bias value.
    pub outer: u64,
}

impl OverflowEvents {
    pub fn total(&self) -> u64 {
        self.inner + self.outer
    }
}

impl AddAssign for OverflowEvents {
    fn add_assign(&mut self, other: Self) {
        self.inner += other.inner;
        self.outer += other.outer;
    }
}

/// What a run yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// The last layer's outputs, `[batch, output length]`.
    pub outputs: Array2<i64>,
    /// Summed over the batch, one entry per layer (zero for Hadamard layers).
    pub overflow: Vec<OverflowEvents>,
}

/// Every layer's values in a traced run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerTrace {
    pub name: String,
    /// Dense layers: final accumulators `[batch, out_features]`, before the
    /// activation.
    pub accumulators: Option<Array2<i64>>,
    /// The values the layer passes on, `[batch, length]`.
    pub outputs: Array2<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedRun {
    pub result: RunResult,
    /// One per layer, in order.
    pub layers: Vec<LayerTrace>,
}

impl<'m> Reference<'m> {
    /// Prepares `model` with accumulators as `mode` says. Fails when an
    /// override does not fit the model or a saturating layer lacks
    /// `hardware.simd`.
    pub fn new(model: &'m Model, mode: &AccumulatorMode) -> Result<Self, ReferenceError> {
        let accumulation = accumulator::resolve(model, mode)?;
        let stages = model
            .layers
            .iter()
            .zip(&accumulation)
            .map(|(layer, accumulation)| match (&layer.kind, accumulation) {
                (LayerKind::Dense(dense), Some(accumulation)) => {
                    Stage::Dense(DenseStage::new(dense, accumulation))
                }
                (LayerKind::Hadamard(hadamard), _) => Stage::Hadamard(HadamardStage::new(hadamard)),
                (LayerKind::Conv(conv), Some(accumulation)) => Stage::Conv(ConvStage::new(
                    conv.window,
                    DenseStage::new(&conv.dense, accumulation),
                )),
                (LayerKind::MaxPool(pool), _) => Stage::MaxPool(MaxPoolStage::new(pool)),
                (LayerKind::Dense(_) | LayerKind::Conv(_), None) => {
                    unreachable!("resolve gives every accumulating layer one")
                }
            })
            .collect();
        Ok(Reference {
            model,
            stages,
            accumulation,
        })
    }

    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// How layer `index` accumulates in this run; `None` for Hadamard layers.
    pub fn accumulation(&self, index: usize) -> Option<&LayerAccumulation> {
        self.accumulation[index].as_ref()
    }

    /// Length of the vectors the last layer produces.
    pub fn output_length(&self) -> usize {
        self.model.output_length(self.model.layers.len() - 1)
    }

    /// Multiply-accumulates per input vector, over all dense layers.
    pub fn macs_per_vector(&self) -> usize {
        self.stages
            .iter()
            .map(|stage| match stage {
                Stage::Dense(dense) => dense.macs(),
                Stage::Conv(conv) => conv.macs(),
                Stage::Hadamard(_) | Stage::MaxPool(_) => 0,
            })
            .sum()
    }

    /// Runs every row of `inputs` (`[batch, input length]`) through the model,
    /// in parallel over vectors.
    pub fn run(&self, inputs: ArrayView2<i64>) -> Result<RunResult, ReferenceError> {
        self.run_observed(inputs, |_| forward::Discard)
            .map(|(result, _)| result)
    }

    /// Like [`run`](Self::run), keeping every layer's accumulators and outputs.
    pub fn run_with_trace(&self, inputs: ArrayView2<i64>) -> Result<TracedRun, ReferenceError> {
        let (result, recorders) =
            self.run_observed(inputs, |vectors| forward::Recorder::new(self, vectors))?;
        let layers = forward::Recorder::merge(self, inputs.nrows(), recorders);
        Ok(TracedRun { result, layers })
    }
}

/// `array` as a batch of input vectors: `[batch, input_length]` as is, and a
/// single `[input_length]` vector as a batch of one.
pub fn as_batch(array: ArrayD<i64>, input_length: usize) -> Result<Array2<i64>, ReferenceError> {
    let found = array.shape().to_vec();
    let shape_error = || ReferenceError::InputShape {
        expected: input_length,
        found: found.clone(),
    };
    match found.as_slice() {
        [length] if *length == input_length => array
            .into_shape_with_order((1, input_length))
            .map_err(|_| shape_error()),
        [_, length] if *length == input_length => array
            .into_dimensionality::<Ix2>()
            .map_err(|_| shape_error()),
        _ => Err(shape_error()),
    }
}

/// The predicted class of each row: the index of its largest value, the
/// lowest such index on ties (-1 for an empty row).
pub fn predictions(outputs: ArrayView2<i64>) -> Array1<i64> {
    outputs.outer_iter().map(argmax).collect()
}

/// The predicted classes of a model's outputs: the argmax of the outputs,
/// or, for a model with output scales (per-channel steps, as an imported
/// last layer has), of the float32 outputs they stand for; ties to the
/// lowest index. What `infer` scores against labels.
pub fn model_predictions(model: &Model, outputs: ArrayView2<i64>) -> Array1<i64> {
    let Some(scale) = &model.output_scale else {
        return predictions(outputs);
    };
    let scale: Vec<f32> = scale.iter().map(|&s| s as f32).collect();
    outputs
        .outer_iter()
        .map(|row| {
            let mut best = 0;
            let value = |c: usize| row[c] as f32 * scale[c];
            for c in 1..row.len() {
                if value(c) > value(best) {
                    best = c;
                }
            }
            best as i64
        })
        .collect()
}

fn argmax(row: ArrayView1<i64>) -> i64 {
    let mut best: Option<(usize, i64)> = None;
    for (index, &value) in row.iter().enumerate() {
        if best.is_none_or(|(_, top)| value > top) {
            best = Some((index, value));
        }
    }
    best.map_or(-1, |(index, _)| index as i64)
}

#[cfg(test)]
mod api_tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn predictions_break_ties_to_the_lowest_index() {
        let outputs = array![[1, 5, 5, 2], [-3, -7, -3, -9], [0, 0, 0, 1]];
        assert_eq!(predictions(outputs.view()), array![1, 0, 3]);
    }

    #[test]
    fn as_batch_accepts_one_vector_or_a_batch() {
        let one = as_batch(array![1i64, 2, 3].into_dyn(), 3).unwrap();
        assert_eq!(one, array![[1, 2, 3]]);
        let two = as_batch(array![[1i64, 2], [3, 4]].into_dyn(), 2).unwrap();
        assert_eq!(two.dim(), (2, 2));
        let wrong = as_batch(array![[1i64, 2, 3]].into_dyn(), 2).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "inputs have shape [1, 3], expected [batch, 2] or [2]"
        );
    }
}
