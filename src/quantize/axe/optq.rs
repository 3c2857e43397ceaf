//! OPTQ (GPTQ): each weight's rounding error is spread over the weights
//! not yet fixed through the upper Cholesky factor of the inverse of the
//! damped input Hessian `H = E[x x^T]`, which is the least-squares
//! correction of the layer's output on the calibration inputs.

use super::budget::ChannelBudget;
use super::fix;
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Damping added to the Hessian's diagonal, as a fraction of its mean.
const DAMPING: f64 = 0.01;

/// The factor OPTQ corrects with: upper-triangular `U` with `U^T U = (H +
/// damping)^-1`.
#[derive(Clone, Debug)]
pub struct Optq {
    factor: Array2<f64>,
}

impl Optq {
    /// From the Hessian of the layer's (quantized) inputs. Inputs that are
    /// zero on every calibration vector get a unit diagonal, and the whole
    /// diagonal is damped, so constant or degenerate calibration data still
    /// gives a positive definite matrix; should rounding defeat the
    /// factorization, the damping grows tenfold until it succeeds.
    pub fn new(hessian: ArrayView2<f64>) -> Self {
        let n = hessian.nrows();
        let mut h = hessian.to_owned();
        for i in 0..n {
            if h[[i, i]] <= 0.0 {
                h[[i, i]] = 1.0;
            }
        }
        let mean_diagonal = (0..n).map(|i| h[[i, i]]).sum::<f64>() / n.max(1) as f64;
        let mut damping = DAMPING * mean_diagonal;
        loop {
            let mut damped = h.clone();
            for i in 0..n {
                damped[[i, i]] += damping;
            }
            if let Some(factor) = inverse_upper_factor(damped.view()) {
                return Optq { factor };
            }
            damping *= 10.0;
        }
    }

    /// The integer weights of one channel at `scale`, the float weights
    /// `target` corrected as each one is fixed.
    pub fn channel(
        &self,
        target: ArrayView1<f64>,
        scale: f64,
        thresholds: &[f64],
        tile_size: usize,
        budget: &mut ChannelBudget,
    ) -> Vec<i64> {
        let n = target.len();
        let mut w = target.to_vec();
        let mut q = vec![0i64; n];
        for i in 0..n {
            let (taken, qi) = fix(w[i], thresholds[i / tile_size], scale, budget, i);
            q[i] = qi;
            let row = self.factor.row(i);
            let error = (taken - scale * qi as f64) / row[i];
            if error != 0.0 {
                for (wj, uij) in w[i + 1..].iter_mut().zip(row.iter().skip(i + 1)) {
                    *wj -= error * uij;
                }
            }
        }
        q
    }
}

/// Lower Cholesky factor `L` of a symmetric matrix, `A = L L^T`; `None`
/// when a pivot is not positive.
pub fn cholesky_lower(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = {
                let (ri, rj) = (l.row(i), l.row(j));
                ri.iter().zip(rj.iter()).take(j).map(|(x, y)| x * y).sum()
            };
            let value = a[[i, j]] - dot;
            if i == j {
                if !(value > 0.0 && value.is_finite()) {
                    return None;
                }
                l[[i, i]] = value.sqrt();
            } else {
                l[[i, j]] = value / l[[j, j]];
            }
        }
    }
    Some(l)
}

/// The inverse of a lower-triangular matrix with a positive diagonal,
/// row by row: `X_i = (e_i - sum_{k<i} L_ik X_k) / L_ii`.
fn invert_lower(l: ArrayView2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut x = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        let mut row = vec![0.0; i + 1];
        row[i] = 1.0;
        for k in 0..i {
            let lik = l[[i, k]];
            if lik != 0.0 {
                for (r, xk) in row.iter_mut().zip(x.row(k).iter()).take(k + 1) {
                    *r -= lik * xk;
                }
            }
        }
        let pivot = l[[i, i]];
        for (j, r) in row.into_iter().enumerate() {
            x[[i, j]] = r / pivot;
        }
    }
    x
}

/// Upper-triangular `U` with `U^T U = A^-1` for a positive definite `A`:
/// with `J` the reversal, `J A J = L L^T` gives `A = V V^T` for the upper
/// `V = J L J`, so `A^-1 = V^-T V^-1` and `U = V^-1 = J L^-1 J`.
pub fn inverse_upper_factor(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let reversed = Array2::from_shape_fn((n, n), |(i, j)| a[[n - 1 - i, n - 1 - j]]);
    let inverse = invert_lower(cholesky_lower(reversed.view())?.view());
    Some(Array2::from_shape_fn((n, n), |(i, j)| {
        inverse[[n - 1 - i, n - 1 - j]]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_factor_squares_to_the_inverse() {
        let a = array![[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]];
        let u = inverse_upper_factor(a.view()).unwrap();
        for i in 0..3 {
            for j in 0..i {
                assert_eq!(u[[i, j]], 0.0);
            }
        }
        let product = u.t().dot(&u).dot(&a);
        for i in 0..3 {
            for j in 0..3 {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((product[[i, j]] - expected).abs() < 1e-12, "{product}");
            }
        }
    }

    #[test]
    fn a_singular_hessian_is_damped_into_a_factor() {
        // Constant calibration data: rank one, and a dead input.
        let h = array![[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
        assert!(cholesky_lower(h.view()).is_none());
        let optq = Optq::new(h.view());
        assert!(optq.factor.iter().all(|v| v.is_finite()));
        assert!((0..3).all(|i| optq.factor[[i, i]] > 0.0));
    }
}
