//! The integer bias and the threshold activation of one channel, from the
//! float bias and the float quantized ReLU.

use crate::bounds::ValueRange;
use crate::model::IntType;
use ndarray::Array1;

/// The integer bias `round(bias / acc_scale)`, clamped so that the channel's
/// exact range (`weights_range` plus the bias) still fits `accumulator_bits`.
/// Returns the bias and whether it was clamped.
pub fn integer_bias(
    bias: f64,
    acc_scale: f64,
    weights_range: ValueRange,
    accumulator_bits: u32,
) -> (i64, bool) {
    let accumulator = IntType::signed(accumulator_bits);
    // The weights alone fit (the projection made sure), so this room
    // always contains 0.
    let lowest = accumulator.min() - weights_range.lo;
    let highest = accumulator.max() - weights_range.hi;
    debug_assert!(lowest <= 0 && 0 <= highest, "the weights alone overflow");
    let wanted = (bias / acc_scale).round();
    let clamped = wanted.clamp(lowest as f64, highest as f64);
    // The float clamp can land a hair outside the integer room for room
    // ends beyond 2^53; the integer clamp settles it.
    let value = (clamped as i128).clamp(lowest, highest);
    (value as i64, clamped != wanted)
}

/// Thresholds that make `#{k : acc >= t[k]}` the quantized ReLU
/// `clamp(round(relu(acc_scale * acc) / output_scale), 0, 2^bits - 1)`
/// (rounding half up): the output reaches `k + 1` exactly when
/// `acc_scale * acc >= (k + 0.5) * output_scale`, i.e. when
/// `acc >= ceil((k + 0.5) * output_scale / acc_scale)`.
///
/// Each threshold is clamped to `[reachable.lo, reachable.hi + 1]`, the
/// channel's exact accumulator range widened by one: on every reachable
/// accumulator value the count is unchanged, and the thresholds stay
/// within one bit of the accumulator width, whatever the scales.
pub fn relu_thresholds(
    acc_scale: f64,
    output_scale: f64,
    bits: u32,
    reachable: ValueRange,
) -> Array1<i64> {
    let count = (1usize << bits) - 1;
    let lowest = reachable.lo.max(i128::from(i64::MIN));
    let highest = (reachable.hi + 1).min(i128::from(i64::MAX));
    Array1::from_iter((0..count).map(|k| {
        let exact = ((k as f64 + 0.5) * output_scale / acc_scale).ceil();
        let clamped = exact.clamp(lowest as f64, highest as f64) as i128;
        clamped.clamp(lowest, highest) as i64
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quantized ReLU evaluated directly, in floats.
    fn quantized_relu(acc: i64, acc_scale: f64, output_scale: f64, bits: u32) -> i64 {
        let value = (acc as f64 * acc_scale).max(0.0) / output_scale;
        ((value + 0.5).floor() as i64).clamp(0, (1 << bits) - 1)
    }

    fn count_at_or_above(thresholds: &Array1<i64>, acc: i64) -> i64 {
        thresholds.iter().filter(|&&t| acc >= t).count() as i64
    }

    #[test]
    fn hand_example() {
        // acc_scale 1/4, output scale 1, 2 bits: the output steps up at
        // float values 0.5, 1.5, 2.5, i.e. accumulators 2, 6, 10.
        let reachable = ValueRange::new(-100, 100);
        let t = relu_thresholds(0.25, 1.0, 2, reachable);
        assert_eq!(t, Array1::from(vec![2, 6, 10]));
        // acc 9 is 2.25 -> 2; acc 10 is 2.5 -> 3 (half up); -5 -> 0.
        assert_eq!(count_at_or_above(&t, 9), 2);
        assert_eq!(count_at_or_above(&t, 10), 3);
        assert_eq!(count_at_or_above(&t, -5), 0);
        for acc in -100..=100 {
            assert_eq!(
                count_at_or_above(&t, acc),
                quantized_relu(acc, 0.25, 1.0, 2),
                "acc {acc}"
            );
        }
    }

    #[test]
    fn thresholds_implement_the_quantized_relu_for_dyadic_scales() {
        // Scales that are powers of two keep every float step exact, so
        // the direct evaluation is a trustworthy oracle.
        for (acc_scale, output_scale, bits) in [
            (0.125, 0.5, 4),
            (1.0 / 64.0, 0.75, 3),
            (0.5, 0.25, 1),
            (2.0, 1.0, 4),
        ] {
            let reachable = ValueRange::new(-300, 300);
            let t = relu_thresholds(acc_scale, output_scale, bits, reachable);
            assert!(t.windows(2).into_iter().all(|w| w[0] <= w[1]), "{t}");
            for acc in -300..=300 {
                assert_eq!(
                    count_at_or_above(&t, acc),
                    quantized_relu(acc, acc_scale, output_scale, bits),
                    "acc {acc}, scales {acc_scale} {output_scale}, {bits} bits"
                );
            }
        }
    }

    #[test]
    fn thresholds_beyond_the_reachable_range_are_clamped_to_it() {
        // acc_scale tiny: the exact thresholds are huge; the range [-8, 7]
        // never reaches them, so they become hi + 1 = 8.
        let t = relu_thresholds(1e-9, 1.0, 2, ValueRange::new(-8, 7));
        assert_eq!(t, Array1::from(vec![8, 8, 8]));
        // A threshold below the range (here 1 < 5) is raised to its low
        // end: every reachable accumulator passes it either way.
        let t = relu_thresholds(1.0, 1e-9, 1, ValueRange::new(5, 9));
        assert_eq!(t, Array1::from(vec![5]));
    }

    #[test]
    fn bias_is_rounded_then_clamped_into_the_room_the_weights_leave() {
        // 8 bits: [-128, 127]; weights reach [-100, 90]: room [-28, 37].
        let weights = ValueRange::new(-100, 90);
        assert_eq!(integer_bias(2.6, 0.5, weights, 8), (5, false));
        assert_eq!(integer_bias(40.0, 1.0, weights, 8), (37, true));
        assert_eq!(integer_bias(-40.0, 1.0, weights, 8), (-28, true));
    }
}
