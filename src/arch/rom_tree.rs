//! The exact widths of a ROM-fed dot product. A lane of a PE multiplies
//! the input by whatever weight its ROM word holds at the current address,
//! so its product ranges over the lane's smallest to largest weight (and
//! zero) times the input type's range; a tree node ranges over the sum of
//! its children's ranges. Accumulator-aware weights are small, so these
//! ranges are far narrower than the types' and the adder tree shrinks with
//! them. `rtl` writes the tree at these widths and `estimate` counts it;
//! neither re-derives a width.

use super::hardwired::TreeNode;
use crate::bounds::ValueRange;
use crate::model::{IntType, min_signed_bits};

/// One lane's product: its exact range over the weights it can be
/// multiplied by and the input type, and its signed width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneProduct {
    pub range: ValueRange,
    pub bits: u32,
}

impl LaneProduct {
    /// The product of an input of type `input` and any weight in
    /// `[lo, hi]` (a range containing zero).
    pub fn new(lo: i128, hi: i128, input: IntType) -> Self {
        let corners = [
            lo * input.min(),
            lo * input.max(),
            hi * input.min(),
            hi * input.max(),
        ];
        let range = ValueRange::new(
            *corners.iter().min().expect("four corners"),
            *corners.iter().max().expect("four corners"),
        );
        LaneProduct {
            range,
            bits: min_signed_bits(range.lo, range.hi),
        }
    }

    /// Whether the product is the constant zero (every weight of the lane
    /// is zero).
    pub fn is_zero(&self) -> bool {
        self.range == ValueRange::ZERO
    }
}

/// The dot product of one PE over every address of its ROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RomDot {
    /// One per lane.
    pub products: Vec<LaneProduct>,
    /// `levels[0]` holds one node per lane (`left` its index);
    /// `levels[l + 1][k]` sums nodes `2k` and `2k + 1` of `levels[l]` (the
    /// odd node out passes up alone). The last level has one node, the root.
    pub levels: Vec<Vec<TreeNode>>,
}

impl RomDot {
    /// The balanced tree over `products` (at least one).
    pub fn new(products: Vec<LaneProduct>) -> Self {
        assert!(!products.is_empty(), "a dot product has lanes");
        let leaves: Vec<TreeNode> = products
            .iter()
            .enumerate()
            .map(|(lane, p)| TreeNode {
                left: lane,
                right: None,
                range: p.range,
                bits: p.bits,
            })
            .collect();
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let next = (0..below.len().div_ceil(2))
                .map(|k| {
                    let right = (2 * k + 1 < below.len()).then_some(2 * k + 1);
                    let left = below[2 * k].range;
                    let range = right.map_or(left, |r| {
                        ValueRange::new(left.lo + below[r].range.lo, left.hi + below[r].range.hi)
                    });
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
        RomDot { products, levels }
    }

    pub fn root(&self) -> &TreeNode {
        &self.levels.last().expect("a tree has a root")[0]
    }

    /// Widths of the two-input adders whose operands are both not the
    /// constant zero (an adder of zero is a wire after synthesis).
    pub fn adders(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels
            .iter()
            .enumerate()
            .skip(1)
            .flat_map(move |(l, level)| {
                let below = &self.levels[l - 1];
                level
                    .iter()
                    .filter(move |n| {
                        n.right.is_some_and(|r| {
                            below[n.left].range != ValueRange::ZERO
                                && below[r].range != ValueRange::ZERO
                        })
                    })
                    .map(|n| n.bits)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_span_the_lane_weights_times_the_input() {
        let input = IntType::unsigned(4);
        // Weights in [-3, 2]: products in [-45, 30], 7 bits.
        let p = LaneProduct::new(-3, 2, input);
        assert_eq!(p.range, ValueRange::new(-45, 30));
        assert_eq!(p.bits, 7);
        // The most negative int4 weight by the largest signed input.
        let q = LaneProduct::new(-8, 7, IntType::signed(4));
        assert_eq!(q.range, ValueRange::new(-56, 64));
        assert_eq!(q.bits, 8);
        assert!(LaneProduct::new(0, 0, input).is_zero());
        assert_eq!(LaneProduct::new(0, 0, input).bits, 1);
    }

    #[test]
    fn nodes_sum_their_children_and_zero_lanes_add_nothing() {
        let input = IntType::unsigned(4);
        let lanes = [(-1, 1), (0, 0), (-8, 7), (0, 2), (-2, 0)];
        let dot = RomDot::new(
            lanes
                .iter()
                .map(|&(lo, hi)| LaneProduct::new(lo, hi, input))
                .collect(),
        );
        // Levels of 5, 3, 2 and 1 nodes.
        let sizes: Vec<usize> = dot.levels.iter().map(Vec::len).collect();
        assert_eq!(sizes, [5, 3, 2, 1]);
        // [-15, 15] + 0; [-120, 105] + [0, 30]; [-30, 0] passes up.
        assert_eq!(dot.levels[1][0].range, ValueRange::new(-15, 15));
        assert_eq!(dot.levels[1][1].range, ValueRange::new(-120, 135));
        assert_eq!(dot.levels[1][2].range, ValueRange::new(-30, 0));
        assert_eq!(dot.root().range, ValueRange::new(-165, 150));
        assert_eq!(dot.root().bits, 9);
        // Lane 0 plus the zero lane 1 is a wire; the other three add.
        let adders: Vec<u32> = dot.adders().collect();
        assert_eq!(adders, [9, 9, 9]);
    }
}
