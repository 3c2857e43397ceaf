//! Thresholds that reproduce a graph's float32 activation on every reachable
//! accumulator value, found by bisection and then verified exhaustively over
//! the accumulator's proven range; and the values where float32 rounding
//! decides the output (the real-number result differs, or lands on a tie).

use super::quant::{QuantSpec, Rounding};

/// Largest accumulator range verified value by value, per channel.
pub const MAX_VERIFIED_RANGE: i128 = 1 << 26;

/// How the graph turns one channel's accumulator `A` into an output level.
#[derive(Clone, Debug)]
pub struct ChannelFunction {
    /// Real value of one accumulator step, `s_x * s_w[c]` in float32.
    pub step: f64,
    /// The same product in exact arithmetic (float64 of the float32 scales).
    pub exact_step: f64,
    /// Bias left in float (not an integer number of steps), float32.
    pub residual_bias: f64,
    pub activation: ActivationFunction,
}

#[derive(Clone, Debug)]
pub enum ActivationFunction {
    /// `[Relu ->] Quant`: a zero point of 0 is required by the mapping.
    Quant {
        relu: bool,
        spec: QuantSpec,
        scale: f64,
    },
    /// qonnx `MultiThreshold`: the level is `base + #{j : v >= thresholds[j]}`.
    MultiThreshold { thresholds: Vec<f64>, base: i64 },
}

impl ChannelFunction {
    /// The graph's float32 pre-activation for accumulator `a`.
    pub fn value(&self, a: i64) -> f32 {
        let product = (a as f32) * (self.step as f32);
        product + self.residual_bias as f32
    }

    /// The output level the graph computes (float32 arithmetic).
    pub fn level(&self, a: i64) -> i64 {
        let v = self.value(a);
        match &self.activation {
            ActivationFunction::Quant { relu, spec, scale } => {
                let v = if *relu { v.max(0.0) } else { v };
                spec.integer(f64::from(v), *scale, 0.0)
            }
            ActivationFunction::MultiThreshold { thresholds, base } => {
                base + thresholds.iter().filter(|&&t| f64::from(v) >= t).count() as i64
            }
        }
    }

    /// Where float32 decides: the level in exact arithmetic differs from the
    /// graph's, or the float32 quotient sits exactly on a rounding tie.
    pub fn ambiguity(&self, a: i64) -> Option<Ambiguity> {
        let graph = self.level(a);
        let exact_value = a as f64 * self.exact_step + self.residual_bias;
        let (exact, quotient, tie) = match &self.activation {
            ActivationFunction::Quant { relu, spec, scale } => {
                let v = if *relu {
                    exact_value.max(0.0)
                } else {
                    exact_value
                };
                let y = (v / scale).clamp(spec.min_int() as f64, spec.max_int() as f64);
                let v32 = self.value(a);
                let v32 = if *relu { v32.max(0.0) } else { v32 };
                let q32 = f64::from(v32 / (*scale as f32));
                // qonnx clips before it rounds: a tie beyond the range is none.
                let clipped = q32.clamp(spec.min_int() as f64, spec.max_int() as f64);
                let tie = spec.rounding == Rounding::HalfEven && clipped.fract().abs() == 0.5;
                (spec.rounding.apply(y) as i64, q32, tie)
            }
            ActivationFunction::MultiThreshold { thresholds, base } => {
                let count = thresholds.iter().filter(|&&t| exact_value >= t).count() as i64;
                (base + count, f64::from(self.value(a)), false)
            }
        };
        (exact != graph || tie).then_some(Ambiguity {
            accumulator: a,
            exact_level: exact,
            graph_level: graph,
            float32_quotient: quotient,
            tie,
        })
    }
}

/// One accumulator value whose output float32 rounding decides.
#[derive(Clone, Debug, PartialEq)]
pub struct Ambiguity {
    pub accumulator: i64,
    /// The level in real arithmetic (ties to even).
    pub exact_level: i64,
    /// The level the graph computes, which the thresholds reproduce.
    pub graph_level: i64,
    /// What float32 feeds the rounding (`v / scale`, or `v` for MultiThreshold).
    pub float32_quotient: f64,
    pub tie: bool,
}

/// The thresholds of one channel over `[lo, hi]`, and the values float32
/// decides.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelThresholds {
    pub thresholds: Vec<i64>,
    pub ambiguous: Vec<Ambiguity>,
}

/// `2^bits - 1` thresholds with `base + #{k : A >= t[k]} == level(A)` for
/// every `A` in `[lo, hi]`, checked value by value.
pub fn derive(
    function: &ChannelFunction,
    lo: i64,
    hi: i64,
    base: i64,
    bits: u32,
) -> Result<ChannelThresholds, String> {
    if i128::from(hi) - i128::from(lo) > MAX_VERIFIED_RANGE {
        return Err(format!(
            "accumulator range [{lo}, {hi}] is wider than {MAX_VERIFIED_RANGE} values, too wide to verify every value"
        ));
    }
    let levels = (1i64 << bits) - 1;
    let thresholds: Vec<i64> = (1..=levels)
        .map(|k| first_reaching(function, lo, hi, base + k))
        .collect();
    let mut ambiguous = Vec::new();
    for a in lo..=hi {
        let level = function.level(a);
        let counted = base + thresholds.partition_point(|&t| t <= a) as i64;
        if counted != level {
            return Err(format!(
                "the graph's output is not monotone in the accumulator: at {a} it gives level {level}, the thresholds {counted}"
            ));
        }
        if let Some(found) = function.ambiguity(a) {
            ambiguous.push(found);
        }
    }
    Ok(ChannelThresholds {
        thresholds,
        ambiguous,
    })
}

/// The least `A` in `[lo, hi]` whose level is at least `target` (`lo` when
/// every value reaches it, `hi + 1` when none does), by bisection.
fn first_reaching(function: &ChannelFunction, lo: i64, hi: i64, target: i64) -> i64 {
    if function.level(lo) >= target {
        return lo;
    }
    if function.level(hi) < target {
        return hi + 1;
    }
    let (mut below, mut reaching) = (lo, hi);
    while reaching - below > 1 {
        let mid = below + (reaching - below) / 2;
        if function.level(mid) >= target {
            reaching = mid;
        } else {
            below = mid;
        }
    }
    reaching
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relu_quant(step: f64, scale: f64, bits: u32, rounding: Rounding) -> ChannelFunction {
        ChannelFunction {
            step,
            exact_step: step,
            residual_bias: 0.0,
            activation: ActivationFunction::Quant {
                relu: true,
                spec: QuantSpec {
                    bits,
                    signed: false,
                    narrow: false,
                    rounding,
                },
                scale,
            },
        }
    }

    #[test]
    fn thresholds_of_a_uint2_relu_reproduce_every_value() {
        // v = A / 4, out = round(v / 0.5): levels change at A = 1, 3, 5
        // (v / 0.5 = 0.5, 1.5, 2.5: ties, to even: 0, 2, 2), so at 2, 3, 6.
        let f = relu_quant(0.25, 0.5, 2, Rounding::HalfEven);
        let t = derive(&f, -10, 20, 0, 2).unwrap();
        assert_eq!(t.thresholds, vec![2, 3, 6]);
        for a in -10..=20 {
            let counted = t.thresholds.iter().filter(|&&x| a >= x).count() as i64;
            assert_eq!(counted, f.level(a), "at {a}");
        }
        // The ties are reported with the side the graph takes.
        let ties: Vec<(i64, i64)> = t
            .ambiguous
            .iter()
            .filter(|x| x.tie)
            .map(|x| (x.accumulator, x.graph_level))
            .collect();
        assert_eq!(ties, vec![(1, 0), (3, 2), (5, 2)]);
    }

    #[test]
    fn a_float32_rounding_that_crosses_a_tie_is_reported() {
        // step = 0.1 in float32 is 0.100000001490116; A = 5 gives
        // 0.5 exactly in float32 (5 * 0.1f rounds to 0.5), a tie that the
        // graph rounds to even (0), while the exact product of the float32
        // scale is just above 0.5 and rounds to 1.
        let mut f = relu_quant(f64::from(0.1f32), 1.0, 2, Rounding::HalfEven);
        f.exact_step = f64::from(0.1f32);
        let t = derive(&f, 0, 40, 0, 2).unwrap();
        let at5 = t.ambiguous.iter().find(|x| x.accumulator == 5).unwrap();
        assert!(at5.tie);
        assert_eq!(at5.float32_quotient, 0.5);
        assert_eq!((at5.graph_level, at5.exact_level), (0, 1));
        // The thresholds follow the graph: A = 5 stays at level 0.
        assert_eq!(t.thresholds[0], 6);
    }

    #[test]
    fn levels_out_of_range_sit_at_the_range_ends() {
        let f = relu_quant(1.0, 1.0, 2, Rounding::Floor);
        let t = derive(&f, 1, 2, 0, 2).unwrap();
        assert_eq!(t.thresholds, vec![1, 2, 3]);
    }

    #[test]
    fn multithreshold_counts_with_its_base() {
        let f = ChannelFunction {
            step: 0.5,
            exact_step: 0.5,
            residual_bias: 0.25,
            activation: ActivationFunction::MultiThreshold {
                thresholds: vec![-1.0, 0.0, 1.0],
                base: -2,
            },
        };
        let t = derive(&f, -10, 10, -2, 2).unwrap();
        // v = A/2 + 1/4 >= -1 from A = -2, >= 0 from A = 0, >= 1 from A = 2.
        assert_eq!(t.thresholds, vec![-2, 0, 2]);
    }

    #[test]
    fn too_wide_a_range_is_refused() {
        let f = relu_quant(1.0, 1.0, 2, Rounding::Floor);
        assert!(
            derive(&f, 0, 1 << 27, 0, 2)
                .unwrap_err()
                .contains("too wide")
        );
    }
}
