//! GPFQ: each weight is chosen so that the quantized layer's output on the
//! calibration inputs follows the float layer's, through the running error
//! `u_t = sum_{j<=t} (w_j x_j - q_j x~_j)` of the outputs (float weights on
//! float inputs `x`, quantized weights on the inputs `x~` the quantized
//! layers before produce): `q_t = Q(<x~_t, u_{t-1} + w_t x_t> /
//! ||x~_t||^2)`. The inner products come from the calibration moments, so
//! a channel costs `O(n^2)` whatever the number of calibration vectors.

use super::budget::ChannelBudget;
use super::fix;
use ndarray::{Array2, ArrayView1};

/// The moments GPFQ needs: `cross[t][j] = E[x~_t x_j]` and `gram[t][j] =
/// E[x~_t x~_j]`.
#[derive(Clone, Debug)]
pub struct Gpfq {
    cross: Array2<f64>,
    gram: Array2<f64>,
}

impl Gpfq {
    pub fn new(cross: Array2<f64>, gram: Array2<f64>) -> Self {
        Gpfq { cross, gram }
    }

    /// The integer weights of one channel at `scale`. An input that is
    /// zero on every calibration vector gets a zero weight: nothing in the
    /// data says what it should be.
    pub fn channel(
        &self,
        target: ArrayView1<f64>,
        scale: f64,
        thresholds: &[f64],
        tile_size: usize,
        budget: &mut ChannelBudget,
    ) -> Vec<i64> {
        let n = target.len();
        let mut q = vec![0i64; n];
        let mut quantized = vec![0.0; n];
        for t in 0..n {
            let energy = self.gram[[t, t]];
            let value = if energy > 0.0 {
                let float_part: f64 = self
                    .cross
                    .row(t)
                    .iter()
                    .zip(target.iter())
                    .take(t + 1)
                    .map(|(a, w)| a * w)
                    .sum();
                let quantized_part: f64 = self
                    .gram
                    .row(t)
                    .iter()
                    .zip(&quantized)
                    .take(t)
                    .map(|(h, v)| h * v)
                    .sum();
                (float_part - quantized_part) / energy
            } else {
                0.0
            };
            let (_, qt) = fix(value, thresholds[t / tile_size], scale, budget, t);
            q[t] = qt;
            quantized[t] = scale * qt as f64;
        }
        q
    }
}
