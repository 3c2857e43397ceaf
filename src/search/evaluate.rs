//! Measuring one configuration of per-layer widths: quantized from the
//! float model, scored by the bit-exact reference on the judged (and the
//! reported) split, priced by the analytical estimate. Each configuration
//! is quantized and measured once; the search asks again freely.

use super::{SearchData, SearchError, describe_widths};
use crate::estimate::Resources;
use crate::quantize::{
    AccumulatorWidths, Accuracy, QuantizeError, QuantizeSettings, Quantized, quantize,
};
use crate::reference::{AccumulatorMode, Reference, predictions};
use crate::sweep::{LabelledSet, Pricing, SweepError, accuracy_of, measure};
use ndarray::Array1;
use std::collections::BTreeMap;

/// A measured configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// One accumulator width per dense layer.
    pub widths: Vec<u32>,
    /// Accuracy on the judged split.
    pub judged: Accuracy,
    /// Accuracy on the reported split, when there is one.
    pub reported: Option<Accuracy>,
    /// The estimated resources of the generated design.
    pub resources: Resources,
    /// Per layer, the relative pre-activation error on the calibration
    /// inputs (the second-order estimate).
    pub relative_errors: Vec<f64>,
    /// Per layer, the least width the exact accumulator range needs.
    pub min_bits: Vec<u32>,
}

/// What quantizing at a configuration gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    Measured(Point),
    /// Some layer's width leaves it a norm budget below 1: every weight
    /// would be zero.
    BelowUsable {
        widths: Vec<u32>,
        layer: String,
        least_bits: u32,
    },
}

impl Evaluation {
    pub fn widths(&self) -> &[u32] {
        match self {
            Evaluation::Measured(point) => &point.widths,
            Evaluation::BelowUsable { widths, .. } => widths,
        }
    }
}

/// Quantizes and measures configurations, remembering each.
pub struct Evaluator<'a, 's> {
    data: SearchData<'a>,
    template: &'s QuantizeSettings,
    measured: BTreeMap<Vec<u32>, Evaluation>,
}

impl<'a, 's> Evaluator<'a, 's> {
    pub fn new(data: SearchData<'a>, template: &'s QuantizeSettings) -> Self {
        Evaluator {
            data,
            template,
            measured: BTreeMap::new(),
        }
    }

    pub fn layer_names(&self) -> Vec<String> {
        self.data
            .float
            .layers
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// The float model's accuracy on `set`.
    pub fn float_accuracy(&self, set: LabelledSet) -> Accuracy {
        let inputs = set.inputs.mapv(|v| v as f64 * self.template.input_scale);
        let predicted: Array1<i64> = self
            .data
            .float
            .predict(inputs.view())
            .into_iter()
            .map(|p| p as i64)
            .collect();
        accuracy_of(predicted.view(), set.labels)
    }

    /// The template with layer `l` at `widths[l]`.
    pub fn settings(&self, widths: &[u32]) -> QuantizeSettings {
        let per_layer = self
            .data
            .float
            .layers
            .iter()
            .zip(widths)
            .map(|(layer, &bits)| (layer.name.clone(), bits))
            .collect();
        QuantizeSettings {
            accumulator: AccumulatorWidths {
                default_bits: widths.iter().copied().max().unwrap_or(32),
                per_layer,
            },
            ..self.template.clone()
        }
    }

    /// The model quantized at `widths`.
    pub fn quantize(&self, widths: &[u32]) -> Result<Quantized, SearchError> {
        quantize(
            self.data.float,
            self.data.calibration,
            &self.settings(widths),
        )
        .map_err(|source| SearchError::Quantize {
            widths: describe_widths(widths),
            source,
        })
    }

    /// Quantizes and measures `widths`, once.
    pub fn evaluate(&mut self, widths: &[u32]) -> Result<Evaluation, SearchError> {
        if let Some(known) = self.measured.get(widths) {
            return Ok(known.clone());
        }
        let evaluation = match self.quantize(widths) {
            Ok(quantized) => Evaluation::Measured(self.measure(widths, &quantized)?),
            Err(SearchError::Quantize {
                source:
                    QuantizeError::BelowUsableWidth {
                        layer, least_bits, ..
                    },
                ..
            }) => Evaluation::BelowUsable {
                widths: widths.to_vec(),
                layer,
                least_bits,
            },
            Err(e) => return Err(e),
        };
        self.measured.insert(widths.to_vec(), evaluation.clone());
        Ok(evaluation)
    }

    fn measure(&self, widths: &[u32], quantized: &Quantized) -> Result<Point, SearchError> {
        let judged = measure(&quantized.model, self.data.judged, &Pricing::Estimate)?;
        let reported = match self.data.reported {
            Some(set) => Some(accuracy_on(quantized, set)?),
            None => None,
        };
        Ok(Point {
            widths: widths.to_vec(),
            judged: judged.accuracy,
            reported,
            resources: judged.resources.estimated.declared,
            relative_errors: quantized.layers.iter().map(|l| l.relative_error).collect(),
            min_bits: judged.layers.iter().map(|l| l.min_bits).collect(),
        })
    }
}

/// The bit-exact reference's accuracy on `set`.
fn accuracy_on(quantized: &Quantized, set: LabelledSet) -> Result<Accuracy, SearchError> {
    let model = &quantized.model;
    let error = |source| {
        SearchError::Measure(SweepError::Reference {
            model: model.name.clone(),
            source,
        })
    };
    let reference = Reference::new(model, &AccumulatorMode::default()).map_err(error)?;
    let run = reference.run(set.inputs).map_err(error)?;
    Ok(accuracy_of(
        predictions(run.outputs.view()).view(),
        set.labels,
    ))
}
