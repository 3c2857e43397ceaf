//! A hardwired PE: its weights are constants of the Verilog. The dot
//! product is the plan's [`ConstantDot`]: a constant-coefficient circuit per
//! nonzero weight and an adder tree over those only, every wire as wide as
//! the plan says. No weight ROM; the rest of the lane (tags, accumulator,
//! activation) is the ROM lane's.

use super::accumulator::Accumulator;
use super::tags::{TagLayout, TagPipe};
use super::thresholds::{ComparatorBank, PassThrough};
use crate::arch::{ActivationPlan, ConstantDot, Mvau};
use crate::model::IntType;
use crate::rtl::verilog::{element, extend, index_bits, line, unsigned_literal};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// The registered dot product of one PE's constant circuit.
#[derive(LogicBlock)]
pub struct HardwiredDot {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    /// The fold address; an unfolded layer has one, so it selects nothing.
    pub addr: Wire,
    pub x1: Wire,
    pub sum2: Wire,
    _input: IntType,
    _weights: Vec<i64>,
    _circuit: ConstantDot,
}

impl HardwiredDot {
    /// PE `pe` of an unfolded hardwired layer (one address).
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        assert_eq!(
            plan.nf * plan.sf,
            1,
            "hardwired layers are unfolded (the model loader refuses folding)"
        );
        HardwiredDot {
            clock: Default::default(),
            advance: Wire::input(1),
            addr: Wire::input(index_bits(plan.nf * plan.sf)),
            x1: Wire::input(plan.input_shape().bits()),
            sum2: Wire::output(plan.dot_bits as usize),
            _input: plan.input,
            _weights: plan.weights[pe][0].clone(),
            _circuit: plan.constant_dots[pe][0].clone(),
        }
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        let n = self._input.bits as usize;
        let x_bits = self.x1.width();
        let circuit = &self._circuit;
        line(
            &mut v,
            0,
            format!(
                "// hardwired: {} of {} weights nonzero, inputs {}",
                circuit.products.len(),
                self._weights.len(),
                self._input
            ),
        );
        line(&mut v, 0, "wire unused_addr = &{1'b0, addr};");
        let unread: Vec<String> = (0..self._weights.len())
            .filter(|&j| self._weights[j] == 0)
            .map(|j| element("x1", x_bits, j, n))
            .collect();
        if !unread.is_empty() {
            // Inputs whose weight is zero: no hardware reads them.
            line(
                &mut v,
                0,
                format!("wire unused_inputs = &{{1'b0, {}}};", unread.join(", ")),
            );
        }
        for (k, p) in circuit.products.iter().enumerate() {
            let (j, pb) = (p.lane, p.bits as usize);
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] in{j} = {};",
                    n - 1,
                    element("x1", x_bits, j, n)
                ),
            );
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] xe{j} = {};",
                    pb - 1,
                    extend(&format!("in{j}"), n, pb, self._input.signed)
                ),
            );
            // Positive digits first, so that only an all-negative form
            // starts from zero.
            let mut digits = p.digits.clone();
            digits.sort_by_key(|d| d.negative);
            let mut body = String::new();
            for (i, d) in digits.iter().enumerate() {
                let term = if d.shift == 0 {
                    format!("xe{j}")
                } else {
                    format!("(xe{j} << {})", d.shift)
                };
                match (i, d.negative) {
                    (0, false) => body.push_str(&term),
                    (0, true) => body.push_str(&format!("{} - {term}", unsigned_literal(0, pb))),
                    (_, false) => body.push_str(&format!(" + {term}")),
                    (_, true) => body.push_str(&format!(" - {term}")),
                }
            }
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] t0_{k} = {body}; // {} * in{j}",
                    pb - 1,
                    p.weight
                ),
            );
        }
        for (l, level) in circuit.levels.iter().enumerate().skip(1) {
            let below = &circuit.levels[l - 1];
            for (k, node) in level.iter().enumerate() {
                let b = node.bits as usize;
                let operand =
                    |i: usize| extend(&format!("t{}_{i}", l - 1), below[i].bits as usize, b, true);
                let value = match node.right {
                    Some(r) => format!("{} + {}", operand(node.left), operand(r)),
                    None => operand(node.left),
                };
                line(&mut v, 0, format!("wire [{}:0] t{l}_{k} = {value};", b - 1));
            }
        }
        let total = self.sum2.width();
        let sum = match circuit.root() {
            Some(root) => extend(
                &format!("t{}_0", circuit.levels.len() - 1),
                root.bits as usize,
                total,
                true,
            ),
            None => unsigned_literal(0, total),
        };
        line(
            &mut v,
            0,
            format!("always @(posedge clock) if (advance) sum2 <= {sum};"),
        );
        v
    }
}

impl Logic for HardwiredDot {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let (n, x1) = (self._input.bits as usize, self.x1.val());
            let sum: i128 = self
                ._weights
                .iter()
                .enumerate()
                .map(|(j, &w)| i128::from(w) * x1.element(j, n, self._input.signed))
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

/// One hardwired processing element: constant dot product, tag pipe,
/// accumulator and activation (no ROM).
#[derive(LogicBlock)]
pub struct HardwiredLane {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub rom_addr: Wire,
    pub x1: Wire,
    pub tags1: Wire,
    pub valid2: Wire,
    pub out: Wire,
    pub dot: HardwiredDot,
    pub tags: TagPipe,
    pub acc: Accumulator,
    pub thresholds: Vec<ComparatorBank>,
    pub passthrough: Vec<PassThrough>,
}

impl HardwiredLane {
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        let thresholds = matches!(plan.activation, ActivationPlan::Thresholds { .. });
        HardwiredLane {
            clock: Default::default(),
            advance: Wire::input(1),
            rom_addr: Wire::input(index_bits(plan.nf * plan.sf)),
            x1: Wire::input(plan.input_shape().bits()),
            tags1: Wire::input(TagLayout::of(plan).width()),
            valid2: Wire::input(1),
            out: Wire::output(plan.output.bits as usize),
            dot: HardwiredDot::new(plan, pe),
            tags: TagPipe::new(plan),
            acc: Accumulator::new(plan, pe),
            thresholds: if thresholds {
                vec![ComparatorBank::new(plan, pe)]
            } else {
                Vec::new()
            },
            passthrough: if thresholds {
                Vec::new()
            } else {
                vec![PassThrough::new(plan)]
            },
        }
    }
}

impl Logic for HardwiredLane {
    #[hdl_gen]
    fn update(&mut self) {
        self.dot.clock.next = self.clock.val();
        self.dot.advance.next = self.advance.val();
        self.dot.addr.next = self.rom_addr.val();
        self.dot.x1.next = self.x1.val();
        self.tags.clock.next = self.clock.val();
        self.tags.advance.next = self.advance.val();
        self.tags.tags1.next = self.tags1.val();
        self.acc.clock.next = self.clock.val();
        self.acc.advance.next = self.advance.val();
        self.acc.valid2.next = self.valid2.val();
        self.acc.tags2.next = self.tags.tags2.val();
        self.acc.sum2.next = self.dot.sum2.val();
        for i in 0..self.thresholds.len() {
            self.thresholds[i].clock.next = self.clock.val();
            self.thresholds[i].advance.next = self.advance.val();
            self.thresholds[i].acc3.next = self.acc.acc3.val();
            self.thresholds[i].nf3.next = self.tags.nf3[i].val();
            self.out.next = self.thresholds[i].out.val();
        }
        for i in 0..self.passthrough.len() {
            self.passthrough[i].clock.next = self.clock.val();
            self.passthrough[i].advance.next = self.advance.val();
            self.passthrough[i].acc3.next = self.acc.acc3.val();
            self.out.next = self.passthrough[i].out.val();
        }
    }
}
