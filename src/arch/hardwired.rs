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

    /// The bits of its shifted inputs within the low `width` bits of a
    /// sum: an unsigned input added as is spans its own bits; negated or
    /// signed, its sign extension spans the rest of the width.
    pub fn summand_bits(&self, input: IntType, width: u32) -> u32 {
        self.digits
            .iter()
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

/// One input lane of a PE's hardwired dot product: at each fold address
/// it passes on one of its constant products, or zero where the weight is
/// zero. A lane whose addresses all take the same product is a wire; one
/// that takes several is a multiplexer on the registered fold address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedLane {
    pub lane: usize,
    /// Per fold address, the index in [`ConstantDot::products`] of the
    /// product this lane passes on, `None` where its weight is zero.
    pub choice: Vec<Option<usize>>,
    /// Exact range over every address and the input type, and its signed
    /// width.
    pub range: ValueRange,
    pub bits: u32,
}

impl SelectedLane {
    /// The distinct choices (products and zero) this lane selects among:
    /// one means no multiplexer.
    pub fn inputs(&self) -> usize {
        let mut seen: Vec<Option<usize>> = self.choice.clone();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Whether any address has a zero weight.
    pub fn selects_zero(&self) -> bool {
        self.choice.contains(&None)
    }
}

/// The hardwired dot product of one PE over all its fold addresses: per
/// lane, one constant product per distinct nonzero weight the lane takes,
/// the lane's selection among them by the fold address, and a balanced
/// adder tree over the lanes that are not zero at every address. Unfolded
/// (one address), each lane is its one product and nothing is selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstantDot {
    /// Lane by lane, the lane's distinct nonzero weights in increasing
    /// order.
    pub products: Vec<ConstantProduct>,
    /// The lanes with a nonzero weight at some address, in lane order.
    pub lanes: Vec<SelectedLane>,
    /// `levels[0]` holds one node per selected lane (`left` its index in
    /// `lanes`); `levels[l + 1][k]` sums nodes `2k` and `2k + 1` of
    /// `levels[l]`. The last level has one node, the root; no levels when
    /// every weight is zero. Every range is the hull, over the addresses,
    /// of the node's exact range at that address.
    pub levels: Vec<Vec<TreeNode>>,
    /// Fold addresses (`NF * SF`).
    pub addresses: usize,
}

impl ConstantDot {
    /// The circuit of `sum_j words[a][j] * x[j]` at address `a`, for `x`
    /// of type `input`; `words` holds one word per address, all of one
    /// length.
    pub fn new(words: &[Vec<i64>], input: IntType) -> Self {
        let simd = words.first().map_or(0, Vec::len);
        let mut products = Vec::new();
        let mut lanes = Vec::new();
        for lane in 0..simd {
            let mut values: Vec<i64> = words.iter().map(|w| w[lane]).filter(|&w| w != 0).collect();
            if values.is_empty() {
                continue;
            }
            values.sort_unstable();
            values.dedup();
            let first = products.len();
            products.extend(values.iter().map(|&weight| {
                let range = scaled_range(weight, input);
                ConstantProduct {
                    lane,
                    weight,
                    digits: signed_digits(weight),
                    range,
                    bits: min_signed_bits(range.lo, range.hi),
                }
            }));
            let choice: Vec<Option<usize>> = words
                .iter()
                .map(|w| {
                    (w[lane] != 0).then(|| first + values.binary_search(&w[lane]).expect("listed"))
                })
                .collect();
            let range = hull(
                choice
                    .iter()
                    .map(|c| c.map_or(ValueRange::ZERO, |k| products[k].range)),
            );
            lanes.push(SelectedLane {
                lane,
                choice,
                range,
                bits: min_signed_bits(range.lo, range.hi),
            });
        }
        let levels = tree(&products, &lanes, words.len());
        ConstantDot {
            products,
            lanes,
            levels,
            addresses: words.len(),
        }
    }

    /// Whether some lane selects by the fold address.
    pub fn selects(&self) -> bool {
        self.lanes.iter().any(|l| l.inputs() > 1)
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
            .map(|p| p.summand_bits(input, width))
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

/// The balanced adder tree over the selected lanes: each node's range at
/// an address is the sum of its inputs' ranges there (exact, as every
/// input is independent), and its range overall the hull over addresses.
fn tree(
    products: &[ConstantProduct],
    lanes: &[SelectedLane],
    addresses: usize,
) -> Vec<Vec<TreeNode>> {
    if lanes.is_empty() {
        return Vec::new();
    }
    // Per node, its range at each address.
    let mut at: Vec<Vec<ValueRange>> = lanes
        .iter()
        .map(|l| {
            l.choice
                .iter()
                .map(|c| c.map_or(ValueRange::ZERO, |k| products[k].range))
                .collect()
        })
        .collect();
    let mut levels = vec![
        lanes
            .iter()
            .enumerate()
            .map(|(k, l)| TreeNode {
                left: k,
                right: None,
                range: l.range,
                bits: l.bits,
            })
            .collect::<Vec<_>>(),
    ];
    while at.len() > 1 {
        let next: Vec<Vec<ValueRange>> = at
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => (0..addresses)
                    .map(|i| ValueRange::new(a[i].lo + b[i].lo, a[i].hi + b[i].hi))
                    .collect(),
                [a] => a.clone(),
                _ => unreachable!("chunks of two"),
            })
            .collect();
        let level = next
            .iter()
            .enumerate()
            .map(|(k, ranges)| {
                let range = hull(ranges.iter().copied());
                TreeNode {
                    left: 2 * k,
                    right: (2 * k + 1 < at.len()).then_some(2 * k + 1),
                    range,
                    bits: min_signed_bits(range.lo, range.hi),
                }
            })
            .collect();
        levels.push(level);
        at = next;
    }
    levels
}

/// The smallest range holding every range of `ranges` (and zero).
fn hull(ranges: impl Iterator<Item = ValueRange>) -> ValueRange {
    ranges.fold(ValueRange::ZERO, |h, r| {
        ValueRange::new(h.lo.min(r.lo), h.hi.max(r.hi))
    })
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
        let dot = ConstantDot::new(&[vec![0, 3, -1, 0, 8, 0, -8]], input);
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
        let dot = ConstantDot::new(&[weights.to_vec()], input);
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
        let dot = ConstantDot::new(&[vec![3, 0, -1]], IntType::unsigned(4));
        assert_eq!(dot.terms(), 3);
        assert_eq!(dot.summand_bits(IntType::unsigned(4), 8), 20);
        // Signed inputs extend their sign over the width: 8 + 6 + 8.
        let signed = ConstantDot::new(&[vec![3, 0, -1]], IntType::signed(4));
        assert_eq!(signed.summand_bits(IntType::signed(4), 8), 22);
        // Digits at or above the width add nothing to it.
        let high = ConstantDot::new(&[vec![256]], IntType::unsigned(4));
        assert_eq!(high.summand_bits(IntType::unsigned(4), 8), 0);
    }

    #[test]
    fn an_all_zero_row_has_no_circuit() {
        let dot = ConstantDot::new(&[vec![0, 0, 0]], IntType::signed(8));
        assert!(dot.products.is_empty() && dot.levels.is_empty());
        assert_eq!(dot.range(), ValueRange::ZERO);
        let folded = ConstantDot::new(&[vec![0, 0], vec![0, 0]], IntType::signed(8));
        assert!(folded.lanes.is_empty() && folded.levels.is_empty());
    }

    #[test]
    fn folded_lanes_hold_one_product_per_distinct_weight() {
        let input = IntType::unsigned(4);
        // Lane 0 takes 3, 3, -1; lane 1 is all zero; lane 2 is 5 or zero;
        // lane 3 is 2 at every address.
        let words = [vec![3, 0, 5, 2], vec![3, 0, 0, 2], vec![-1, 0, 5, 2]];
        let dot = ConstantDot::new(&words, input);
        let weights: Vec<(usize, i64)> = dot.products.iter().map(|p| (p.lane, p.weight)).collect();
        assert_eq!(weights, [(0, -1), (0, 3), (2, 5), (3, 2)]);
        let lanes: Vec<usize> = dot.lanes.iter().map(|l| l.lane).collect();
        assert_eq!(lanes, [0, 2, 3]);
        assert_eq!(dot.lanes[0].choice, [Some(1), Some(1), Some(0)]);
        assert_eq!(dot.lanes[1].choice, [Some(2), None, Some(2)]);
        let inputs: Vec<usize> = dot.lanes.iter().map(SelectedLane::inputs).collect();
        assert_eq!(inputs, [2, 2, 1]);
        assert!(dot.lanes[1].selects_zero() && !dot.lanes[2].selects_zero());
        // Lane 0 in [-15, 45]: the hull of 3x and -x.
        assert_eq!(dot.lanes[0].range, ValueRange::new(-15, 45));
        assert_eq!(dot.lanes[0].bits, 7);
        assert!(dot.selects());
        assert!(!ConstantDot::new(&[vec![1, 2]], input).selects());
    }

    #[test]
    fn folded_node_ranges_are_exact_over_the_addresses() {
        // At address 0 the sum is 7x0 - 7x1, at address 1 -7x0 + 7x1: the
        // root's range is [-105, 105] (8 bits), not the sum of the lanes'
        // hulls [-210, 210] (9 bits).
        let input = IntType::unsigned(4);
        let dot = ConstantDot::new(&[vec![7, -7], vec![-7, 7]], input);
        assert_eq!(dot.lanes[0].range, ValueRange::new(-105, 105));
        assert_eq!(dot.range(), ValueRange::new(-105, 105));
        assert_eq!(dot.root().unwrap().bits, 8);
        // Every address's exact range lies within the root's, and some
        // address reaches each end.
        let words = [
            vec![1, -3, 0, 2, 6],
            vec![-8, 0, 0, 2, 7],
            vec![0, 5, 0, 2, -1],
        ];
        let dot = ConstantDot::new(&words, IntType::signed(3));
        let exact: Vec<ValueRange> = words
            .iter()
            .map(|w| ConstantDot::new(std::slice::from_ref(w), IntType::signed(3)).range())
            .collect();
        let lo = exact.iter().map(|r| r.lo).min().unwrap();
        let hi = exact.iter().map(|r| r.hi).max().unwrap();
        assert_eq!(dot.range(), ValueRange::new(lo, hi));
    }
}
