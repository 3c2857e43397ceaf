//! Scoring one model: accuracy and overflow events from the bit-exact
//! reference at the declared widths, minimum widths from `bounds`, and
//! resources from its hardware plan.

use super::resources::{Pricing, price};
use super::{LayerPoint, Measurement, SweepError};
use crate::bounds::analyze;
use crate::model::Model;
use crate::quantize::Accuracy;
use crate::reference::{AccumulatorMode, OverflowEvents, Reference, predictions};
use ndarray::{ArrayView1, ArrayView2};

/// Integer test inputs `[n, input length]` and their class labels `[n]`.
#[derive(Clone, Copy, Debug)]
pub struct LabelledSet<'a> {
    pub inputs: ArrayView2<'a, i64>,
    pub labels: ArrayView1<'a, i64>,
}

impl<'a> LabelledSet<'a> {
    pub fn new(
        inputs: ArrayView2<'a, i64>,
        labels: ArrayView1<'a, i64>,
    ) -> Result<Self, SweepError> {
        if inputs.nrows() != labels.len() {
            return Err(SweepError::Test(format!(
                "{} labels for {} inputs",
                labels.len(),
                inputs.nrows()
            )));
        }
        if inputs.nrows() == 0 {
            return Err(SweepError::Test("no test vectors".into()));
        }
        Ok(LabelledSet { inputs, labels })
    }
}

/// Runs `model` as declared (its widths and overflow modes) on `test`,
/// bounds it and prices it.
pub fn measure(
    model: &Model,
    test: LabelledSet,
    pricing: &Pricing,
) -> Result<Measurement, SweepError> {
    let reference_error = |source| SweepError::Reference {
        model: model.name.clone(),
        source,
    };
    let reference = Reference::new(model, &AccumulatorMode::default()).map_err(reference_error)?;
    let run = reference.run(test.inputs).map_err(reference_error)?;
    Ok(Measurement {
        model: model.name.clone(),
        accuracy: accuracy_of(predictions(run.outputs.view()).view(), test.labels),
        layers: layer_points(model, &run.overflow),
        resources: price(model, pricing)?,
    })
}

/// Predictions equal to their labels, out of all.
pub fn accuracy_of(predicted: ArrayView1<i64>, labels: ArrayView1<i64>) -> Accuracy {
    let correct = predicted
        .iter()
        .zip(labels)
        .filter(|(p, label)| p == label)
        .count();
    Accuracy {
        correct,
        total: labels.len(),
    }
}

/// Per dense layer: its width, the proven minimum and the overflow events
/// of the run (`overflow` has one entry per layer of the model).
fn layer_points(model: &Model, overflow: &[OverflowEvents]) -> Vec<LayerPoint> {
    let bounds = analyze(model);
    bounds
        .layers
        .iter()
        .zip(overflow)
        .filter_map(|(layer, events)| {
            layer.dense.as_ref().map(|dense| LayerPoint {
                name: layer.name.clone(),
                declared_bits: dense.declared_bits,
                min_bits: dense.min_bits,
                overflow_events: events.total(),
            })
        })
        .collect()
}
