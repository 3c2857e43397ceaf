//! A hardwired PE: its weights are constants of the Verilog. The dot
//! product is the plan's [`ConstantDot`]: per lane, a constant-coefficient
//! circuit per distinct nonzero weight, selected by the registered fold
//! address when the layer is folded, and an adder tree over the lanes that
//! are read, every wire as wide as the plan says. No weight ROM; the rest
//! of the lane (tags, accumulator, activation) is the ROM lane's.

use super::accumulator::Accumulator;
use super::tags::{TagLayout, TagPipe};
use super::thresholds::{ComparatorBank, PassThrough};
use crate::arch::{ActivationPlan, ConstantDot, Mvau, SelectedLane};
use crate::model::IntType;
use crate::rtl::verilog::{element, extend, index_bits, line, unsigned_literal};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// The registered dot product of one PE's constant circuit.
#[derive(LogicBlock)]
pub struct HardwiredDot {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    /// The fold address of the step being issued; registered beside the
    /// chunk (where a ROM registers its word), it selects each lane's
    /// product in stage 2. An unfolded layer has one address.
    pub addr: Wire,
    pub x1: Wire,
    pub sum2: Wire,
    _input: IntType,
    /// `[address][lane]`.
    _weights: Vec<Vec<i64>>,
    _circuit: ConstantDot,
    /// The registered address, for simulation.
    _addr1: usize,
}

impl HardwiredDot {
    /// PE `pe` of a hardwired layer.
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        HardwiredDot {
            clock: Default::default(),
            advance: Wire::input(1),
            addr: Wire::input(index_bits(plan.nf * plan.sf)),
            x1: Wire::input(plan.input_shape().bits()),
            sum2: Wire::output(plan.dot_bits as usize),
            _input: plan.input,
            _weights: plan.weights[pe].clone(),
            _circuit: plan.constant_dots[pe].clone(),
            _addr1: 0,
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
                "// hardwired: {} of {} lanes read, {} constant products over {} fold address(es), inputs {}",
                circuit.lanes.len(),
                self.x1.width() / n,
                circuit.products.len(),
                circuit.addresses,
                self._input
            ),
        );
        if circuit.selects() {
            let ab = self.addr.width();
            line(&mut v, 0, format!("reg [{}:0] addr1;", ab - 1));
            line(
                &mut v,
                0,
                "always @(posedge clock) if (advance) addr1 <= addr;",
            );
        } else {
            line(&mut v, 0, "wire unused_addr = &{1'b0, addr};");
        }
        let read: Vec<usize> = circuit.lanes.iter().map(|l| l.lane).collect();
        let unread: Vec<String> = (0..x_bits / n)
            .filter(|j| !read.contains(j))
            .map(|j| element("x1", x_bits, j, n))
            .collect();
        if !unread.is_empty() {
            // Inputs whose weight is zero at every address: no hardware
            // reads them.
            line(
                &mut v,
                0,
                format!("wire unused_inputs = &{{1'b0, {}}};", unread.join(", ")),
            );
        }
        for (k, lane) in circuit.lanes.iter().enumerate() {
            self.lane_verilog(&mut v, k, lane);
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

    /// Lane `k` of the circuit: its input, one constant product per
    /// distinct nonzero weight, and `t0_k`, the product of the registered
    /// address (a wire when the lane takes one product at every address).
    fn lane_verilog(&self, v: &mut String, k: usize, lane: &SelectedLane) {
        let n = self._input.bits as usize;
        let x_bits = self.x1.width();
        let circuit = &self._circuit;
        let j = lane.lane;
        let lb = lane.bits as usize;
        line(
            v,
            0,
            format!(
                "wire [{}:0] in{j} = {};",
                n - 1,
                element("x1", x_bits, j, n)
            ),
        );
        let products: Vec<usize> = (0..circuit.products.len())
            .filter(|&i| circuit.products[i].lane == j)
            .collect();
        for &i in &products {
            let p = &circuit.products[i];
            let pb = p.bits as usize;
            let xe = format!("xe{j}_{pb}");
            // One extension of the input per product width.
            if !v.contains(&format!("wire [{}:0] {xe} =", pb - 1)) {
                line(
                    v,
                    0,
                    format!(
                        "wire [{}:0] {xe} = {};",
                        pb - 1,
                        extend(&format!("in{j}"), n, pb, self._input.signed)
                    ),
                );
            }
            // Positive digits first, so that only an all-negative form
            // starts from zero.
            let mut digits = p.digits.clone();
            digits.sort_by_key(|d| d.negative);
            let mut body = String::new();
            for (d_index, d) in digits.iter().enumerate() {
                let term = if d.shift == 0 {
                    xe.clone()
                } else {
                    format!("({xe} << {})", d.shift)
                };
                match (d_index, d.negative) {
                    (0, false) => body.push_str(&term),
                    (0, true) => body.push_str(&format!("{} - {term}", unsigned_literal(0, pb))),
                    (_, false) => body.push_str(&format!(" + {term}")),
                    (_, true) => body.push_str(&format!(" - {term}")),
                }
            }
            line(
                v,
                0,
                format!("wire [{}:0] p{i} = {body}; // {} * in{j}", pb - 1, p.weight),
            );
        }
        let value = |choice: Option<usize>| match choice {
            Some(i) => extend(
                &format!("p{i}"),
                circuit.products[i].bits as usize,
                lb,
                true,
            ),
            None => unsigned_literal(0, lb),
        };
        if lane.inputs() == 1 {
            line(
                v,
                0,
                format!("wire [{}:0] t0_{k} = {};", lb - 1, value(lane.choice[0])),
            );
            return;
        }
        // The most frequent choice is the default (and covers the addresses
        // a step never issues); the others list their addresses.
        let mut choices: Vec<Option<usize>> = lane.choice.clone();
        choices.sort_unstable();
        choices.dedup();
        let count = |c: &Option<usize>| lane.choice.iter().filter(|x| *x == c).count();
        let default = *choices
            .iter()
            .max_by_key(|c| (count(c), std::cmp::Reverse(**c)))
            .expect("a lane has addresses");
        let ab = self.addr.width();
        line(v, 0, format!("reg [{}:0] t0_{k};", lb - 1));
        line(v, 0, "always @(*)");
        line(v, 1, "case (addr1)");
        for c in choices.iter().filter(|c| **c != default) {
            let addresses: Vec<String> = (0..lane.choice.len())
                .filter(|&a| lane.choice[a] == *c)
                .map(|a| unsigned_literal(a, ab))
                .collect();
            line(
                v,
                2,
                format!("{}: t0_{k} = {};", addresses.join(", "), value(*c)),
            );
        }
        line(v, 2, format!("default: t0_{k} = {};", value(default)));
        line(v, 1, "endcase");
    }
}

impl Logic for HardwiredDot {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let (n, x1) = (self._input.bits as usize, self.x1.val());
            let word = &self._weights[self._addr1.min(self._weights.len() - 1)];
            let sum: i128 = word
                .iter()
                .enumerate()
                .map(|(j, &w)| i128::from(w) * x1.element(j, n, self._input.signed))
                .sum();
            self.sum2.drive(sum);
            self._addr1 = self.addr.index();
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
