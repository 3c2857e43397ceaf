//! Activation scales from calibration data: how much float value one step of
//! each hidden layer's quantized output stands for.

use super::float::FloatModel;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// What the float network does on the calibration inputs, per layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// `activation_scales[l]` for hidden layer `l`: float output = scale *
    /// integer output.
    pub activation_scales: Vec<f64>,
    /// `inputs[l]`: statistics of layer `l`'s float input vectors.
    pub inputs: Vec<InputStatistics>,
}

/// First and second moments of a layer's float input `x` over the
/// calibration inputs: enough to evaluate exactly the mean squared error
/// that any change of a channel's weights and bias makes in its
/// pre-activation `w . x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputStatistics {
    /// `E[x]`.
    pub mean: Array1<f64>,
    /// `E[x x^T]`.
    pub second_moment: Array2<f64>,
}

impl InputStatistics {
    /// The moments of the rows of `values` (`[n, features]`, `n >= 1`).
    pub fn of(values: ArrayView2<f64>) -> Self {
        let count = values.nrows().max(1) as f64;
        InputStatistics {
            mean: values.sum_axis(Axis(0)) / count,
            second_moment: values.t().dot(&values) / count,
        }
    }

    /// `E[(x . e + d)^2] = e^T E[x x^T] e + 2 d E[x] . e + d^2` for a
    /// weight error `e` and a bias error `d`.
    pub fn mean_squared_error(&self, weight_error: ArrayView1<f64>, bias_error: f64) -> f64 {
        weight_error.dot(&self.second_moment.dot(&weight_error))
            + 2.0 * bias_error * self.mean.dot(&weight_error)
            + bias_error * bias_error
    }

    /// `E[sum_i x_i]`.
    pub fn mean_sum(&self) -> f64 {
        self.mean.sum()
    }
}

/// Runs the float network on `inputs` (float values, `[n, input_length]`)
/// and sets each hidden layer's output scale so that the `percentile`-th
/// percentile of its post-ReLU values maps to the top output level
/// `2^bits - 1`; larger values clip there.
pub fn calibrate(
    float: &FloatModel,
    inputs: ArrayView2<f64>,
    activation_bits: u32,
    percentile: f64,
) -> Calibration {
    let values = float.layer_values(inputs);
    let levels = ((1u64 << activation_bits) - 1) as f64;
    let hidden = &values[..float.layers.len() - 1];
    Calibration {
        activation_scales: hidden
            .iter()
            .map(|v| activation_scale(&v.outputs, percentile, levels))
            .collect(),
        inputs: values
            .iter()
            .map(|v| InputStatistics::of(v.rows.view()))
            .collect(),
    }
}

/// The scale for one layer's post-ReLU values. A percentile of zero (a
/// mostly dead layer) falls back to the maximum, and an all-zero layer to
/// 1: every output is then 0, and any positive scale says so.
fn activation_scale(values: &Array2<f64>, percentile: f64, levels: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let top = [
        percentile_of_sorted(&sorted, percentile),
        *sorted.last().unwrap_or(&0.0),
    ]
    .into_iter()
    .find(|&v| v > 0.0)
    .unwrap_or(levels);
    top / levels
}

/// The `p`-th percentile (`0 <= p <= 100`) with linear interpolation
/// between the closest ranks, as numpy's default.
pub fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return 0.0;
    };
    let position = p / 100.0 * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    if below >= sorted.len() - 1 {
        return last;
    }
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::float::FloatDense;
    use ndarray::array;

    #[test]
    fn percentile_interpolates_like_numpy() {
        let sorted = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_of_sorted(&sorted, 100.0), 4.0);
        assert_eq!(percentile_of_sorted(&sorted, 50.0), 2.0);
        // numpy.percentile([0, 1, 2, 3, 4], 90) = 3.6
        assert!((percentile_of_sorted(&sorted, 90.0) - 3.6).abs() < 1e-12);
        assert_eq!(percentile_of_sorted(&[], 50.0), 0.0);
    }

    #[test]
    fn scales_map_the_percentile_to_the_top_level() {
        // One hidden layer copying its input, then a last layer.
        let float = FloatModel::new(vec![
            FloatDense {
                name: "fc0".into(),
                weights: array![[1.0, 0.0], [0.0, 1.0]],
                bias: array![0.0, 0.0],
            },
            FloatDense {
                name: "fc1".into(),
                weights: array![[1.0, 1.0]],
                bias: array![0.0],
            },
        ])
        .unwrap();
        let inputs = array![[0.0, 3.0], [1.5, -2.0]];
        let calibration = calibrate(&float, inputs.view(), 2, 100.0);
        // Post-ReLU values [0, 3, 1.5, 0]: max 3 over 3 levels.
        assert_eq!(calibration.activation_scales, vec![1.0]);
        // Layer 0 input sums 3 and -0.5; layer 1 input sums 3 and 1.5.
        let sums: Vec<f64> = calibration.inputs.iter().map(|s| s.mean_sum()).collect();
        assert_eq!(sums, vec![1.25, 2.25]);
        assert_eq!(calibration.inputs[1].mean, array![0.75, 1.5]);
    }

    #[test]
    fn moments_give_the_mean_squared_error_of_an_affine_change() {
        let x = array![[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]];
        let stats = InputStatistics::of(x.view());
        let (e, d) = (array![0.5, -0.25], 0.125);
        let direct = x
            .outer_iter()
            .map(|row| (row.dot(&e) + d).powi(2))
            .sum::<f64>()
            / 3.0;
        assert!((stats.mean_squared_error(e.view(), d) - direct).abs() < 1e-12);
    }

    #[test]
    fn a_dead_layer_still_gets_a_positive_scale() {
        let values = Array2::<f64>::zeros((4, 3));
        assert_eq!(activation_scale(&values, 99.9, 15.0), 1.0);
        let mostly_dead = array![[0.0, 0.0], [0.0, 6.0]];
        assert_eq!(activation_scale(&mostly_dead, 50.0, 3.0), 2.0);
    }
}
