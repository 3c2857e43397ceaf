//! The float network quantization starts from: dense layers with ReLU
//! between them, read from `fc{i}_weight.npy` / `fc{i}_bias.npy`, or a
//! network of convolutions, max pools and dense layers that
//! `architecture.toml` lists; and its forward pass (for calibration and
//! for the float accuracy).

use super::QuantizeError;
use crate::model::{MapShape, MaxPool, Window};
use crate::npyio;
use ndarray::{Array1, Array2, ArrayView2, Axis, Dimension, Ix1, Ix2};
use std::path::Path;

/// One float dense layer: `y = W x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatDense {
    pub name: String,
    /// `[out_features, in_features]`.
    pub weights: Array2<f64>,
    /// `[out_features]`; zeros when the layer has no bias file.
    pub bias: Array1<f64>,
}

impl FloatDense {
    pub fn in_features(&self) -> usize {
        self.weights.ncols()
    }

    pub fn out_features(&self) -> usize {
        self.weights.nrows()
    }
}

/// A float MLP: dense layers, ReLU after every layer but the last; or,
/// with `windows`, a CNN whose accumulating layers (`layers`) may be
/// convolutions with max pools between them.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    /// The accumulating layers; a convolution's weights are flattened to
    /// `[out, kh * kw * in]` in `(ky, kx, c)` order, as the model format's.
    pub layers: Vec<FloatDense>,
    pub windows: Option<FloatWindows>,
}

/// The maps of a float CNN: its input map, the window of each
/// accumulating layer (`None` for a dense one), and the max pools that
/// follow each.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatWindows {
    pub input: MapShape,
    pub conv: Vec<Option<Window>>,
    pub pools_after: Vec<Vec<(String, MaxPool)>>,
}

/// The values one accumulating layer sees and makes over a batch.
pub struct LayerValues {
    /// The vectors its dot products run over: `[n, in]` for a dense layer,
    /// every window `[n * pixels, kh * kw * in]` for a convolution.
    pub rows: Array2<f64>,
    /// Its outputs (ReLU applied but on the last), `[n, output length]`.
    pub outputs: Array2<f64>,
}

impl FloatModel {
    /// Checks that the layers chain, hold finite values and exist at all.
    pub fn new(layers: Vec<FloatDense>) -> Result<Self, QuantizeError> {
        let float_error = |layer: &FloatDense, message: String| QuantizeError::FloatModel {
            layer: layer.name.clone(),
            message,
        };
        if layers.is_empty() {
            return Err(QuantizeError::Settings(
                "the float model has no layers".into(),
            ));
        }
        for (index, layer) in layers.iter().enumerate() {
            if layer.in_features() == 0 || layer.out_features() == 0 {
                return Err(float_error(layer, "has an empty weight matrix".into()));
            }
            if layer.bias.len() != layer.out_features() {
                return Err(float_error(
                    layer,
                    format!(
                        "bias has {} elements, the weights {} rows",
                        layer.bias.len(),
                        layer.out_features()
                    ),
                ));
            }
            if let Some(previous) = index.checked_sub(1).map(|i| &layers[i])
                && previous.out_features() != layer.in_features()
            {
                return Err(float_error(
                    layer,
                    format!(
                        "takes {} inputs but `{}` produces {}",
                        layer.in_features(),
                        previous.name,
                        previous.out_features()
                    ),
                ));
            }
            let finite = layer
                .weights
                .iter()
                .chain(&layer.bias)
                .all(|v| v.is_finite());
            if !finite {
                return Err(float_error(layer, "holds a NaN or infinite value".into()));
            }
        }
        Ok(FloatModel {
            layers,
            windows: None,
        })
    }

    /// Reads `fc0_weight.npy`, `fc1_weight.npy`, ... from `dir` until the
    /// next index is missing, each with its optional `fc{i}_bias.npy`.
    pub fn load(dir: &Path) -> Result<Self, QuantizeError> {
        if !dir.is_dir() {
            let problem = crate::input_file::not_a_regular_file(dir)
                .unwrap_or_else(|| "is a file".to_string());
            return Err(QuantizeError::Settings(format!(
                "{}: {problem}; expected the folder of a float model (fc0_weight.npy, ...)",
                dir.display()
            )));
        }
        let architecture = dir.join(super::windows::ARCHITECTURE_FILE);
        if architecture.exists() {
            return super::windows::load_windowed(dir, &architecture);
        }
        let mut layers = Vec::new();
        loop {
            let name = format!("fc{}", layers.len());
            let weight_path = dir.join(format!("{name}_weight.npy"));
            if !weight_path.exists() {
                break;
            }
            let weights = read_float_matrix(&weight_path)?;
            let bias_path = dir.join(format!("{name}_bias.npy"));
            let bias = if bias_path.exists() {
                read_float_vector(&bias_path)?
            } else {
                Array1::zeros(weights.nrows())
            };
            layers.push(FloatDense {
                name,
                weights,
                bias,
            });
        }
        if layers.is_empty() {
            return Err(QuantizeError::Settings(format!(
                "{}: no fc0_weight.npy: not a float model directory",
                dir.display()
            )));
        }
        FloatModel::new(layers)
    }

    pub fn input_length(&self) -> usize {
        match &self.windows {
            Some(windows) => windows.input.len(),
            None => self.layers[0].in_features(),
        }
    }

    /// Every accumulating layer's rows and outputs for a batch of float
    /// inputs `[n, input_length]`.
    pub fn layer_values(&self, inputs: ArrayView2<f64>) -> Vec<LayerValues> {
        match &self.windows {
            Some(windows) => super::windows::layer_values(self, windows, inputs),
            None => {
                let values = self.activations(inputs);
                values
                    .windows(2)
                    .map(|pair| LayerValues {
                        rows: pair[0].clone(),
                        outputs: pair[1].clone(),
                    })
                    .collect()
            }
        }
    }

    /// The input of every layer and the final logits, for a batch of float
    /// inputs `[n, input_length]`: `result[l]` is layer `l`'s input (ReLU
    /// applied), the last element the raw output of the last layer. Dense
    /// networks only (`windows` is `None`).
    pub fn activations(&self, inputs: ArrayView2<f64>) -> Vec<Array2<f64>> {
        let mut values = vec![inputs.to_owned()];
        for (index, layer) in self.layers.iter().enumerate() {
            let mut out = values[index].dot(&layer.weights.t()) + &layer.bias;
            if index + 1 < self.layers.len() {
                out.mapv_inplace(|v| v.max(0.0));
            }
            values.push(out);
        }
        values
    }

    /// The predicted class of each input: the argmax of the logits, ties to
    /// the lowest index (as the integer model's prediction).
    pub fn predict(&self, inputs: ArrayView2<f64>) -> Vec<usize> {
        let logits = match &self.windows {
            Some(_) => self.layer_values(inputs).pop().expect("a layer").outputs,
            None => self.activations(inputs).pop().expect("at least the input"),
        };
        logits
            .axis_iter(Axis(0))
            .map(|row| argmax(row.iter().copied()))
            .collect()
    }
}

/// The index of the largest value, the lowest index among equals.
pub fn argmax<T: PartialOrd>(values: impl IntoIterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (index, value) in values.into_iter().enumerate() {
        if best.as_ref().is_none_or(|(_, b)| value > *b) {
            best = Some((index, value));
        }
    }
    best.map_or(0, |(index, _)| index)
}

/// A float array whose every value is finite: a NaN or an infinity is
/// reported with the file and the element.
fn read_finite_array(path: &Path) -> Result<ndarray::ArrayD<f64>, QuantizeError> {
    let array = npyio::read_float_array(path)?;
    if let Some((index, value)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(QuantizeError::Npy(npyio::NpyError {
            path: path.to_path_buf(),
            message: format!(
                "element {:?} is {value}: every value must be finite",
                index.slice()
            ),
        }));
    }
    Ok(array)
}

pub(super) fn read_float_vector_of(path: &Path) -> Result<Array1<f64>, QuantizeError> {
    read_float_vector(path)
}

pub(super) fn read_finite(path: &Path) -> Result<ndarray::ArrayD<f64>, QuantizeError> {
    read_finite_array(path)
}

fn read_float_matrix(path: &Path) -> Result<Array2<f64>, QuantizeError> {
    let array = read_finite_array(path)?;
    let shape = array.shape().to_vec();
    array.into_dimensionality::<Ix2>().map_err(|_| {
        QuantizeError::Npy(npyio::NpyError {
            path: path.to_path_buf(),
            message: format!("has shape {shape:?}, expected [out_features, in_features]"),
        })
    })
}

fn read_float_vector(path: &Path) -> Result<Array1<f64>, QuantizeError> {
    let array = read_finite_array(path)?;
    let shape = array.shape().to_vec();
    array.into_dimensionality::<Ix1>().map_err(|_| {
        QuantizeError::Npy(npyio::NpyError {
            path: path.to_path_buf(),
            message: format!("has shape {shape:?}, expected [out_features]"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn two_layer() -> FloatModel {
        FloatModel::new(vec![
            FloatDense {
                name: "fc0".into(),
                weights: array![[1.0, -1.0], [0.5, 0.5]],
                bias: array![0.0, -1.0],
            },
            FloatDense {
                name: "fc1".into(),
                weights: array![[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]],
                bias: array![0.0, 0.0, 0.25],
            },
        ])
        .unwrap()
    }

    #[test]
    fn forward_applies_relu_between_layers_only() {
        let model = two_layer();
        let acts = model.activations(array![[1.0, 3.0]].view());
        // fc0: [1 - 3, 0.5 + 1.5 - 1] = [-2, 1] -> ReLU [0, 1].
        assert_eq!(acts[1], array![[0.0, 1.0]]);
        // fc1: [0, 1, 1.25], no ReLU.
        assert_eq!(acts[2], array![[0.0, 1.0, 1.25]]);
        assert_eq!(model.predict(array![[1.0, 3.0]].view()), vec![2]);
    }

    #[test]
    fn argmax_ties_go_to_the_lowest_index() {
        assert_eq!(argmax([1, 3, 3, 2]), 1);
        assert_eq!(argmax([-1.0, -1.0]), 0);
    }

    #[test]
    fn layers_that_do_not_chain_are_refused() {
        let mut layers = two_layer().layers;
        layers[1].weights = Array2::zeros((3, 3));
        let err = FloatModel::new(layers).unwrap_err();
        assert!(err.to_string().contains("takes 3 inputs"), "{err}");
    }

    #[test]
    fn loads_the_digits_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/float");
        let model = FloatModel::load(&dir).unwrap();
        let shapes: Vec<_> = model
            .layers
            .iter()
            .map(|l| (l.name.as_str(), l.out_features(), l.in_features()))
            .collect();
        assert_eq!(shapes, [("fc0", 64, 64), ("fc1", 32, 64), ("fc2", 10, 32)]);
    }
}
