//! The dot product of one PE: `SIMD` signed multipliers (DSP, LUT or
//! lookup-table products) and an exact balanced adder tree, registered.
//! Every product and tree node is as wide as the plan's exact range for it
//! (`arch::RomDot`).

use crate::arch::{LutProduct, Mvau, RomDot};
use crate::model::{IntType, MultiplierStyle};
use crate::rtl::verilog::{bit, element, extend, field, line, unsigned_literal};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// `SIMD` signed multipliers and an exact balanced adder tree, registered.
#[derive(LogicBlock)]
pub struct DotProduct {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub x1: Wire,
    pub word: Wire,
    pub sum2: Wire,
    _simd: usize,
    _input: IntType,
    _weight: IntType,
    /// The exact widths of this PE's products and tree.
    _tree: RomDot,
    _style: MultiplierStyle,
    /// Per lane, how its LUT product is built (`Mvau::lut_product`).
    _lut_products: Vec<LutProduct>,
}

impl DotProduct {
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        DotProduct {
            clock: Default::default(),
            advance: Wire::input(1),
            x1: Wire::input(plan.input_shape().bits()),
            word: Wire::input(plan.simd * plan.weight.bits as usize),
            sum2: Wire::output(plan.pe_dot_bits(pe) as usize),
            _simd: plan.simd,
            _input: plan.input,
            _weight: plan.weight,
            _tree: plan.rom_dots[pe].clone(),
            _style: plan.multiplier,
            _lut_products: (0..plan.simd)
                .map(|lane| plan.lut_product(pe, lane))
                .collect(),
        }
    }

    /// Product `j` as a wire `p{j}` of its lane's exact width.
    fn product(&self, v: &mut String, j: usize) {
        let lane = self._tree.products[j];
        let (n, w, pb) = (
            self._input.bits as usize,
            self._weight.bits as usize,
            lane.bits as usize,
        );
        let word_bits = self.word.width();
        let x = element("x1", self.x1.width(), j, n);
        let wj = element("word", word_bits, j, w);
        if lane.is_zero() {
            // Every weight of the lane is zero (only LUT lanes are sized
            // by their weights): no multiplier reads its input or weight.
            line(v, 0, format!("wire [0:0] p{j} = 1'b0;"));
            line(v, 0, format!("wire unused_lane{j} = &{{1'b0, {x}, {wj}}};"));
            return;
        }
        match self._style {
            MultiplierStyle::Dsp => {
                let (xs, x_bits) = if self._input.signed {
                    (format!("$signed({x})"), n)
                } else {
                    (format!("$signed({{1'b0, {x}}})"), n + 1)
                };
                // A product is as wide as its wider operand; when the
                // product's range needs fewer bits (uint1 x int1), its
                // low `pb` bits are the value.
                let full = w.max(x_bits);
                if full <= pb {
                    line(
                        v,
                        0,
                        format!("(* use_dsp = \"yes\" *) wire signed [{}:0] p{j};", pb - 1),
                    );
                    line(v, 0, format!("assign p{j} = $signed({wj}) * {xs};"));
                } else {
                    line(
                        v,
                        0,
                        format!(
                            "(* use_dsp = \"yes\" *) wire signed [{}:0] p{j}_full;",
                            full - 1
                        ),
                    );
                    line(v, 0, format!("assign p{j}_full = $signed({wj}) * {xs};"));
                    line(
                        v,
                        0,
                        format!("wire signed [{}:0] p{j} = p{j}_full[{}:0];", pb - 1, pb - 1),
                    );
                    line(
                        v,
                        0,
                        format!(
                            "wire unused_p{j}_high_bits = &{{1'b0, p{j}_full[{}:{pb}]}};",
                            full - 1
                        ),
                    );
                }
            }
            MultiplierStyle::Lut => {
                // Shift-and-add, a LUT multiplier no tool turns into a
                // DSP: one partial product per bit of the selecting operand
                // (`LutProduct::by_weight`), the other operand extended to
                // the product's width; a signed selector's top bit weighs
                // negative. The weight counts at its lane's width: the
                // bits above only repeat its sign.
                let LutProduct {
                    weight_bits,
                    by_weight,
                } = self._lut_products[j];
                let lane_bits = weight_bits as usize;
                line(v, 0, format!("wire [{}:0] element{j} = {x};", n - 1));
                let (selector_bits, selector_signed) = if by_weight {
                    (lane_bits, true)
                } else {
                    (n, self._input.signed)
                };
                // The shift-and-add runs at least as wide as its operands
                // (a product of int1 inputs can be narrower than the
                // weight); the low `pb` bits are the value.
                let wb = pb.max(n).max(lane_bits);
                let operand = if by_weight {
                    extend(&format!("element{j}"), n, wb, self._input.signed)
                } else {
                    line(
                        v,
                        0,
                        format!(
                            "wire [{}:0] weight{j} = {};",
                            lane_bits - 1,
                            field("word", word_bits, j * w, lane_bits)
                        ),
                    );
                    extend(&format!("weight{j}"), lane_bits, wb, true)
                };
                line(v, 0, format!("wire [{}:0] xe{j} = {operand};", wb - 1));
                let zero = unsigned_literal(0, wb);
                let selector_bit = |b: usize| {
                    if by_weight {
                        bit("word", word_bits, j * w + b)
                    } else {
                        format!("element{j}[{b}]")
                    }
                };
                let terms: Vec<String> = (0..selector_bits)
                    .map(|b| {
                        let shifted = if b == 0 {
                            format!("xe{j}")
                        } else {
                            format!("(xe{j} << {b})")
                        };
                        let sign = if selector_signed && b == selector_bits - 1 {
                            "-"
                        } else {
                            "+"
                        };
                        format!("{sign} ({} ? {shifted} : {zero})", selector_bit(b))
                    })
                    .collect();
                let body = terms.join(" ");
                let body = body.strip_prefix("+ ").unwrap_or(&body).to_string();
                let body = if body.starts_with('-') {
                    format!("{zero} {body}")
                } else {
                    body
                };
                if wb == pb {
                    line(
                        v,
                        0,
                        format!("(* use_dsp = \"no\" *) wire [{}:0] p{j};", pb - 1),
                    );
                    line(v, 0, format!("assign p{j} = {body};"));
                } else {
                    line(
                        v,
                        0,
                        format!("(* use_dsp = \"no\" *) wire [{}:0] p{j}_full;", wb - 1),
                    );
                    line(v, 0, format!("assign p{j}_full = {body};"));
                    line(
                        v,
                        0,
                        format!("wire [{}:0] p{j} = p{j}_full[{}:0];", pb - 1, pb - 1),
                    );
                    line(
                        v,
                        0,
                        format!(
                            "wire unused_p{j}_high_bits = &{{1'b0, p{j}_full[{}:{pb}]}};",
                            wb - 1
                        ),
                    );
                }
            }
        }
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        let style = match self._style {
            MultiplierStyle::Dsp => "DSP",
            MultiplierStyle::Lut => "LUT",
        };
        line(
            &mut v,
            0,
            format!(
                "// {} {style} products of {} x {}",
                self._simd, self._weight, self._input
            ),
        );
        for j in 0..self._simd {
            self.product(&mut v, j);
        }
        let w = self._weight.bits as usize;
        let unread: Vec<String> = match self._style {
            MultiplierStyle::Dsp => Vec::new(),
            MultiplierStyle::Lut => (0..self._simd)
                .filter(|&j| !self._tree.products[j].is_zero())
                .map(|j| (j, self._lut_products[j].weight_bits as usize))
                .filter(|&(_, bits)| bits < w)
                .map(|(j, bits)| format!("word[{} +: {}]", j * w + bits, w - bits))
                .collect(),
        };
        if !unread.is_empty() {
            // Weight bits that only repeat their lane's sign.
            line(
                &mut v,
                0,
                format!("wire unused_sign_bits = &{{1'b0, {}}};", unread.join(", ")),
            );
        }
        // The balanced tree, each node at its exact width (`RomDot`).
        let total = self.sum2.width();
        let leaves = &self._tree.levels[0];
        let mut level: Vec<(String, usize)> = leaves
            .iter()
            .enumerate()
            .map(|(j, node)| (format!("p{j}"), node.bits as usize))
            .collect();
        for (depth, nodes) in self._tree.levels.iter().enumerate().skip(1) {
            let next = nodes
                .iter()
                .enumerate()
                .map(|(k, node)| match node.right {
                    Some(r) => {
                        let width = node.bits as usize;
                        let name = format!("s{depth}_{k}");
                        let ((a, wa), (b, wb)) = (&level[node.left], &level[r]);
                        line(
                            &mut v,
                            0,
                            format!(
                                "wire [{}:0] {name} = {} + {};",
                                width - 1,
                                extend(a, *wa, width, true),
                                extend(b, *wb, width, true)
                            ),
                        );
                        (name, width)
                    }
                    None => level[node.left].clone(),
                })
                .collect();
            level = next;
        }
        let (root, width) = &level[0];
        line(
            &mut v,
            0,
            format!(
                "always @(posedge clock) if (advance) sum2 <= {};",
                extend(root, *width, total, true)
            ),
        );
        v
    }
}

impl Logic for DotProduct {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let (n, w) = (self._input.bits as usize, self._weight.bits as usize);
            let (word, x1) = (self.word.val(), self.x1.val());
            let sum: i128 = (0..self._simd)
                .map(|j| word.element(j, w, true) * x1.element(j, n, self._input.signed))
                .sum();
            self.sum2.drive(sum);
        }
    }

    fn connect(&mut self) {
        self.sum2.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
