//! Hardwired dot products: a PE's weights as constants. Each nonzero
//! weight becomes a constant-coefficient product (a shift for a power of
//! two, a shift-and-add over its canonical signed digits otherwise), a zero
//! weight no hardware at all, and a balanced adder tree sums the products
//! that exist. Every product and tree node is as wide as its exact range
//! over the actual weights and the input type, so a small L1 norm narrows
//! the tree and not only the accumulator. `rtl` writes these circuits and
//! `estimate` counts them; neither re-derives a width.

use crate::bounds::ValueRange;
use crate::model::{IntType, min_signed_bits};

/// One digit `±2^shift` of a canonical signed-digit (non-adjacent) form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDigit {
    pub shift: u32,
    pub negative: bool,
}

/// The canonical signed-digit form of `value`, lowest digit first: no two
/// adjacent digits are nonzero, so it has the fewest nonzero digits of any
/// signed-digit form (and a shift-and-add of it the fewest adders).
pub fn signed_digits(value: i64) -> Vec<SignedDigit> {
    let mut n = i128::from(value);
    let mut digits = Vec::new();
    let mut shift = 0;
    while n != 0 {
        if n.rem_euclid(2) == 1 {
            // n = 1 (mod 4): digit +1; n = 3 (mod 4): digit -1, so that
            // the next digit is zero.
            let negative = n.rem_euclid(4) == 3;
            n += if negative { 1 } else { -1 };
            digits.push(SignedDigit { shift, negative });
        }
        n >>= 1;
        shift += 1;
    }
    digits
}

/// `weight * x` for the input lane `lane`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstantProduct {
    pub lane: usize,
    pub weight: i64,
    /// Nonempty: zero weights have no product.
    pub digits: Vec<SignedDigit>,
    /// Exact range over the input type, and its signed width.
    pub range: ValueRange,
    pub bits: u32,
}

impl ConstantProduct {
    /// Two-input adders (or subtractors) of the shift-and-add: one per
    /// digit after the first, and a subtraction from zero when every
    /// digit is negative (a positive power of two is wiring alone).
    pub fn adders(&self) -> usize {
        let negation = usize::from(self.digits.iter().all(|d| d.negative));
        self.digits.len() - 1 + negation
    }
}

/// A node of the adder tree: the sum of one or two nodes of the level
/// below (one: the odd node out, passed up unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    pub left: usize,
    pub right: Option<usize>,
    /// Exact range of the sum, and its signed width.
    pub range: ValueRange,
    pub bits: u32,
}

/// The hardwired dot product of one PE at one fold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstantDot {
    pub products: Vec<ConstantProduct>,
    /// `levels[0]` holds one node per product (`left` its index);
    /// `levels[l + 1][k]` sums nodes `2k` and `2k + 1` of `levels[l]`. The
    /// last level has one node, the root; no levels when no product exists.
    pub levels: Vec<Vec<TreeNode>>,
}

impl ConstantDot {
    /// The circuit of `sum_j weights[j] * x[j]` for `x` of type `input`.
    pub fn new(weights: &[i64], input: IntType) -> Self {
        let products: Vec<ConstantProduct> = weights
            .iter()
            .enumerate()
            .filter(|&(_, &w)| w != 0)
            .map(|(lane, &weight)| {
                let range = scaled_range(weight, input);
                ConstantProduct {
                    lane,
                    weight,
                    digits: signed_digits(weight),
                    range,
                    bits: min_signed_bits(range.lo, range.hi),
                }
            })
            .collect();
        let mut levels = Vec::new();
        if !products.is_empty() {
            let leaves = products
                .iter()
                .enumerate()
                .map(|(k, p)| TreeNode {
                    left: k,
                    right: None,
                    range: p.range,
                    bits: p.bits,
                })
                .collect();
            levels.push(leaves);
        }
        while levels.last().is_some_and(|l: &Vec<TreeNode>| l.len() > 1) {
            let below = levels.last().expect("checked");
            let next = (0..below.len().div_ceil(2))
                .map(|k| {
                    let right = (2 * k + 1 < below.len()).then_some(2 * k + 1);
                    let mut range = below[2 * k].range;
                    if let Some(r) = right {
                        range = ValueRange::new(
                            range.lo + below[r].range.lo,
                            range.hi + below[r].range.hi,
                        );
                    }
                    TreeNode {
                        left: 2 * k,
                        right,
                        range,
                        bits: min_signed_bits(range.lo, range.hi),
                    }
                })
                .collect();
            levels.push(next);
        }
        ConstantDot { products, levels }
    }

    /// Exact range of the whole sum (zero when no weight is nonzero).
    pub fn range(&self) -> ValueRange {
        self.root().map_or(ValueRange::ZERO, |r| r.range)
    }

    pub fn root(&self) -> Option<&TreeNode> {
        self.levels.last().map(|l| &l[0])
    }

    /// The bits of every shifted input the whole sum adds, counted within
    /// the low `width` bits: an unsigned input added as is spans its own
    /// bits; negated or signed, its sign extension spans the rest of the
    /// width. Synthesis merges the shift-and-adds and the tree into one
    /// multi-operand sum over these bits.
    pub fn summand_bits(&self, input: IntType, width: u32) -> u32 {
        self.products
            .iter()
            .flat_map(|p| &p.digits)
            .filter(|d| d.shift < width)
            .map(|d| {
                let span = width - d.shift;
                if d.negative || input.signed {
                    span
                } else {
                    input.bits.min(span)
                }
            })
            .sum()
    }

    /// How many shifted inputs the sum adds.
    pub fn terms(&self) -> usize {
        self.products.iter().map(|p| p.digits.len()).sum()
    }

    /// Widths of the tree's two-input adders.
    pub fn tree_adders(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels
            .iter()
            .skip(1)
            .flatten()
            .filter(|n| n.right.is_some())
            .map(|n| n.bits)
    }
}

/// Range of `weight * x` over the input type (it contains zero).
fn scaled_range(weight: i64, input: IntType) -> ValueRange {
    let w = i128::from(weight);
    let (a, b) = (w * input.min(), w * input.max());
    ValueRange::new(a.min(b), a.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(digits: &[SignedDigit]) -> i128 {
        digits
            .iter()
            .map(|d| {
                let v = 1i128 << d.shift;
                if d.negative { -v } else { v }
            })
            .sum()
    }

    #[test]
    fn signed_digits_are_canonical() {
        for w in -40000i64..=40000 {
            let d = signed_digits(w);
            assert_eq!(value(&d), i128::from(w), "{w}");
            assert!(
                d.windows(2).all(|p| p[1].shift > p[0].shift + 1),
                "{w}: adjacent digits {d:?}"
            );
        }
        for w in [i64::MIN, i64::MAX, -(1 << 15), (1 << 15) - 1] {
            assert_eq!(value(&signed_digits(w)), i128::from(w), "{w}");
        }
        // Powers of two are one digit; 7 = 8 - 1; -8 = -(2^3).
        assert_eq!(signed_digits(16).len(), 1);
        assert_eq!(
            signed_digits(7),
            [
                SignedDigit {
                    shift: 0,
                    negative: true
                },
                SignedDigit {
                    shift: 3,
                    negative: false
                }
            ]
        );
        assert_eq!(
            signed_digits(-8),
            [SignedDigit {
                shift: 3,
                negative: true
            }]
        );
        assert!(signed_digits(0).is_empty());
    }

    #[test]
    fn tree_widths_are_exact_ranges() {
        let input = IntType::unsigned(4);
        let dot = ConstantDot::new(&[0, 3, -1, 0, 8, 0, -8], input);
        // Four products: 3x in [0, 45] (7 bits), -x in [-15, 0] (5 bits),
        // 8x in [0, 120] (8 bits), -8x in [-120, 0] (8 bits).
        let bits: Vec<u32> = dot.products.iter().map(|p| p.bits).collect();
        assert_eq!(bits, [7, 5, 8, 8]);
        assert_eq!(dot.levels.len(), 3);
        // 3x - x in [-15, 45] (7 bits); 8x - 8x in [-120, 120] (8 bits).
        assert_eq!(dot.levels[1][0].range, ValueRange::new(-15, 45));
        assert_eq!(dot.levels[1][1].bits, 8);
        assert_eq!(dot.range(), ValueRange::new(-135, 165));
        assert_eq!(dot.root().unwrap().bits, 9);
        assert_eq!(dot.tree_adders().count(), 3);
        let adders: usize = dot.products.iter().map(ConstantProduct::adders).sum();
        // 3 = 4 - 1 takes one adder; -1 and -8 a negation each.
        assert_eq!(adders, 3);
    }

    #[test]
    fn the_root_range_is_the_sum_of_extreme_products() {
        let input = IntType::signed(3);
        let weights = [5, -7, 1, 0, -4, 2, 11];
        let dot = ConstantDot::new(&weights, input);
        let (lo, hi) = weights.iter().fold((0i128, 0i128), |(lo, hi), &w| {
            let (a, b) = (i128::from(w) * -4, i128::from(w) * 3);
            (lo + a.min(b), hi + a.max(b))
        });
        assert_eq!(dot.range(), ValueRange::new(lo, hi));
        // Every node is the sum of its inputs.
        for l in 1..dot.levels.len() {
            for n in &dot.levels[l] {
                let below = &dot.levels[l - 1];
                let r = n.right.map_or(ValueRange::ZERO, |r| below[r].range);
                assert_eq!(n.range.lo, below[n.left].range.lo + r.lo);
                assert_eq!(n.range.hi, below[n.left].range.hi + r.hi);
            }
        }
    }

    #[test]
    fn summands_span_the_input_or_the_width_when_negated() {
        // 3 = 4 - 1 and -1: -x (8 bits), +4x (4 bits), -x (8 bits).
        let dot = ConstantDot::new(&[3, 0, -1], IntType::unsigned(4));
        assert_eq!(dot.terms(), 3);
        assert_eq!(dot.summand_bits(IntType::unsigned(4), 8), 20);
        // Signed inputs extend their sign over the width: 8 + 6 + 8.
        let signed = ConstantDot::new(&[3, 0, -1], IntType::signed(4));
        assert_eq!(signed.summand_bits(IntType::signed(4), 8), 22);
        // Digits at or above the width add nothing to it.
        let high = ConstantDot::new(&[256], IntType::unsigned(4));
        assert_eq!(high.summand_bits(IntType::unsigned(4), 8), 0);
    }

    #[test]
    fn an_all_zero_row_has_no_circuit() {
        let dot = ConstantDot::new(&[0, 0, 0], IntType::signed(8));
        assert!(dot.products.is_empty() && dot.levels.is_empty());
        assert_eq!(dot.range(), ValueRange::ZERO);
    }
}
