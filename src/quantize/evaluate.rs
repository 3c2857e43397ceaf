//! How a quantized model scores on a labelled set beside its float
//! original: the integer model through the bit-exact reference at its
//! declared widths, the float one with `f64` matmuls on the same inputs.

use super::QuantizeError;
use super::float::FloatModel;
use crate::model::Model;
use crate::reference::{AccumulatorMode, Reference, predictions};
use ndarray::{ArrayView1, ArrayView2};
use std::fmt;

/// Correct predictions out of a total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accuracy {
    pub correct: usize,
    pub total: usize,
}

impl Accuracy {
    fn of(predicted: impl IntoIterator<Item = i64>, labels: ArrayView1<i64>) -> Self {
        let correct = predicted
            .into_iter()
            .zip(labels)
            .filter(|(p, label)| p == *label)
            .count();
        Accuracy {
            correct,
            total: labels.len(),
        }
    }

    pub fn percent(&self) -> f64 {
        100.0 * self.correct as f64 / self.total.max(1) as f64
    }
}

impl fmt::Display for Accuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2}% ({}/{})",
            self.percent(),
            self.correct,
            self.total
        )
    }
}

/// The integer model beside the float one on the same labelled inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub integer: Accuracy,
    pub float: Accuracy,
    /// Accumulator overflow events in the integer run: 0 for proven widths.
    pub overflow_events: u64,
}

/// Scores `model` (integer inputs `[n, input length]`) and `float` (the
/// same inputs times `input_scale`) against `labels` (`[n]`).
pub fn compare_on(
    float: &FloatModel,
    model: &Model,
    input_scale: f64,
    inputs: ArrayView2<i64>,
    labels: ArrayView1<i64>,
) -> Result<Comparison, QuantizeError> {
    if labels.len() != inputs.nrows() {
        return Err(QuantizeError::Evaluation(format!(
            "{} labels for {} inputs",
            labels.len(),
            inputs.nrows()
        )));
    }
    let evaluation = |e: crate::reference::ReferenceError| QuantizeError::Evaluation(e.to_string());
    let reference = Reference::new(model, &AccumulatorMode::default()).map_err(evaluation)?;
    let run = reference.run(inputs).map_err(evaluation)?;
    let float_inputs = inputs.mapv(|v| v as f64 * input_scale);
    let float_predictions = float.predict(float_inputs.view());
    Ok(Comparison {
        integer: Accuracy::of(predictions(run.outputs.view()), labels),
        float: Accuracy::of(float_predictions.into_iter().map(|p| p as i64), labels),
        overflow_events: run.overflow.iter().map(|events| events.total()).sum(),
    })
}
