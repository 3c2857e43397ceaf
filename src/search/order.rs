//! The search's decisions, apart from quantizing and measuring: which
//! layers are least sensitive, how many of them may step down together
//! (bisection), and which configurations no other beats (Pareto front).

use std::cmp::Ordering;

/// How much one layer suffers when it alone steps down to its next
/// narrower width, the others held at the current configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sensitivity {
    /// Index of the layer among the model's dense layers.
    pub layer: usize,
    /// Correct predictions on the judged split after the step (measured).
    pub correct: usize,
    /// Increase of the layer's relative pre-activation error on the
    /// calibration inputs by the step (the second-order estimate).
    pub error_increase: f64,
}

/// Least sensitive first: the most correct predictions after the step
/// (measured), then the smallest second-order error increase (estimated,
/// deciding among layers the measurement cannot tell apart), then the
/// lower layer index.
pub fn least_sensitive_first(sensitivities: &[Sensitivity]) -> Vec<usize> {
    let mut sorted = sensitivities.to_vec();
    sorted.sort_by(|a, b| {
        b.correct
            .cmp(&a.correct)
            .then_with(|| {
                a.error_increase
                    .partial_cmp(&b.error_increase)
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| a.layer.cmp(&b.layer))
    });
    sorted.into_iter().map(|s| s.layer).collect()
}

/// The largest `k` in `known..=most` for which `within(k)` holds, given
/// that it holds for `known` (`1 <= known <= most`) and assuming that it
/// holds for every `k` below one that does. Calls `within` about
/// `log2(most - known + 1)` times, never for `known`.
pub fn largest_within<E>(
    known: usize,
    most: usize,
    mut within: impl FnMut(usize) -> Result<bool, E>,
) -> Result<usize, E> {
    let (mut lo, mut hi) = (known, most.max(known));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if within(mid)? {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

/// The indices of the points no other point dominates (at least as
/// accurate and at most as costly, better in one), by rising cost; of
/// equal points the first is kept.
pub fn pareto_front(points: &[(usize, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    // By rising cost, then falling accuracy: each point is on the front
    // when it is more accurate than everything cheaper.
    order.sort_by(|&a, &b| {
        points[a]
            .1
            .partial_cmp(&points[b].1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| points[b].0.cmp(&points[a].0))
            .then_with(|| a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best: Option<usize> = None;
    for index in order {
        let correct = points[index].0;
        if best.is_none_or(|b| correct > b) {
            front.push(index);
            best = Some(correct);
        }
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitivity(layer: usize, correct: usize, error_increase: f64) -> Sensitivity {
        Sensitivity {
            layer,
            correct,
            error_increase,
        }
    }

    #[test]
    fn measured_accuracy_orders_first_and_the_estimate_breaks_ties() {
        let order = least_sensitive_first(&[
            sensitivity(0, 530, 0.001),
            sensitivity(1, 534, 0.300),
            sensitivity(2, 530, 0.0002),
            sensitivity(3, 534, 0.010),
            sensitivity(4, 530, 0.0002),
        ]);
        assert_eq!(order, vec![3, 1, 2, 4, 0]);
    }

    #[test]
    fn bisection_finds_the_last_feasible_count_in_few_calls() {
        for most in 1..=40 {
            for last in 1..=most {
                let mut calls = Vec::new();
                let found = largest_within::<()>(1, most, |k| {
                    calls.push(k);
                    Ok(k <= last)
                })
                .unwrap();
                assert_eq!(found, last, "most {most}, last feasible {last}");
                assert!(!calls.contains(&1), "the known count is not measured again");
                let bound = (most as f64).log2().ceil() as usize;
                assert!(
                    calls.len() <= bound,
                    "most {most}: {} calls, at most {bound}",
                    calls.len()
                );
            }
        }
    }

    #[test]
    fn bisection_stops_at_the_first_error() {
        let result = largest_within(1, 8, |k| if k > 4 { Err(k) } else { Ok(true) });
        assert_eq!(result, Err(5));
    }

    #[test]
    fn the_front_keeps_only_undominated_points_by_rising_cost() {
        // (correct, cost)
        let points = [
            (534, 8000.0), // 0: most accurate
            (532, 7000.0), // 1
            (532, 7500.0), // 2: dominated by 1
            (520, 7000.0), // 3: dominated by 1
            (501, 5300.0), // 4: cheapest
            (534, 8000.0), // 5: equal to 0, the first is kept
            (510, 6000.0), // 6
        ];
        assert_eq!(pareto_front(&points), vec![4, 6, 1, 0]);
    }
}
