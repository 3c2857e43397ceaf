//! The Walsh-Hadamard unit: `k` pipelined butterfly stages and an output
//! register that rounds, shifts and clamps. All stages move together on the
//! unit's `advance` (its output register is empty or being read).

use super::bits::BitVector;
use super::stream::stream_ports;
use super::verilog::{element, extend, line, signed_literal};
use super::wire::Wire;
use crate::arch::HadamardUnit;
use rust_hdl::prelude::*;

/// One butterfly stage: elements `i` and `i + h` of every group of `2h`
/// become `a + b` and `a - b`, one bit wider, registered.
#[derive(LogicBlock)]
pub struct ButterflyStage {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub advance: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    _block: usize,
    _distance: usize,
    _in_bits: usize,
    _in_signed: bool,
    _out_bits: usize,
}

impl ButterflyStage {
    /// Stage `stage` (1-based) over `block` elements of `in_bits` each;
    /// the first stage may take unsigned elements.
    pub fn new(block: usize, stage: u32, in_bits: usize, in_signed: bool, out_bits: usize) -> Self {
        ButterflyStage {
            clock: Default::default(),
            rst_n: Wire::input(1),
            advance: Wire::input(1),
            in_data: Wire::input(block * in_bits),
            in_valid: Wire::input(1),
            out_data: Wire::output(block * out_bits),
            out_valid: Wire::output(1),
            _block: block,
            _distance: 1 << (stage - 1),
            _in_bits: in_bits,
            _in_signed: in_signed,
            _out_bits: out_bits,
        }
    }

    fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let h = self._distance;
        (0..self._block)
            .filter(move |i| i % (2 * h) < h)
            .map(move |i| (i, i + h))
    }

    fn verilog(&self) -> String {
        let (wi, wo) = (self._in_bits, self._out_bits);
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!(
                "// butterfly at distance {}: (a, b) -> (a + b, a - b)",
                self._distance
            ),
        );
        for i in 0..self._block {
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] x{i} = {};",
                    wi - 1,
                    element("in_data", self.in_data.width(), i, wi)
                ),
            );
        }
        for (i, j) in self.pairs() {
            let a = extend(&format!("x{i}"), wi, wo, self._in_signed);
            let b = extend(&format!("x{j}"), wi, wo, self._in_signed);
            line(&mut v, 0, format!("wire [{}:0] a{i} = {a};", wo - 1));
            line(&mut v, 0, format!("wire [{}:0] b{i} = {b};", wo - 1));
        }
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) out_valid <= 1'b0;");
        line(&mut v, 1, "else if (advance) out_valid <= in_valid;");
        line(&mut v, 1, "if (advance) begin");
        for (i, j) in self.pairs() {
            line(
                &mut v,
                2,
                format!(
                    "{} <= a{i} + b{i};",
                    element("out_data", self.out_data.width(), i, wo)
                ),
            );
            line(
                &mut v,
                2,
                format!(
                    "{} <= a{i} - b{i};",
                    element("out_data", self.out_data.width(), j, wo)
                ),
            );
        }
        line(&mut v, 1, "end");
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for ButterflyStage {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if !self.rst_n.is_high() {
                self.out_valid.set(false);
            } else if self.advance.is_high() {
                self.out_valid.next = self.in_valid.val();
            }
            if self.advance.is_high() {
                let data = self.in_data.val();
                let x: Vec<i128> = (0..self._block)
                    .map(|i| data.element(i, self._in_bits, self._in_signed))
                    .collect();
                let mut y = x.clone();
                for (i, j) in self.pairs() {
                    y[i] = x[i] + x[j];
                    y[j] = x[i] - x[j];
                }
                self.out_data.next = BitVector::pack(&y, self._out_bits);
            }
        }
    }

    fn connect(&mut self) {
        self.out_data.connect();
        self.out_valid.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

/// The output register: `(y + 2^(s-1)) >>> s` and the clamp, per element;
/// it also decides the unit's `advance`.
#[derive(LogicBlock)]
pub struct Requantizer {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub advance: Wire,
    _plan: HadamardUnit,
}

impl Requantizer {
    pub fn new(plan: &HadamardUnit) -> Self {
        let y_bits = *plan.stage_bits.last().expect("stage widths") as usize;
        Requantizer {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data: Wire::input(plan.block * y_bits),
            in_valid: Wire::input(1),
            out_data: Wire::output(plan.block * plan.output.bits as usize),
            out_valid: Wire::output(1),
            out_ready: Wire::input(1),
            advance: Wire::output(1),
            _plan: plan.clone(),
        }
    }

    fn y_bits(&self) -> usize {
        *self._plan.stage_bits.last().expect("stage widths") as usize
    }

    /// Width of the rounding arithmetic: room for the rounding constant and
    /// for the output itself.
    fn work_bits(&self) -> usize {
        let shift = self._plan.shift.unwrap_or(0) as usize;
        (self.y_bits() + 1)
            .max(self._plan.output.bits as usize)
            .max(shift + 1)
    }

    fn requantize(&self, y: i128) -> i128 {
        let shifted = match self._plan.shift {
            Some(s) => (y + (1i128 << (s - 1))) >> s,
            None => y,
        };
        match self._plan.clamp {
            Some(t) => shifted.clamp(t.min(), t.max()),
            None => shifted,
        }
    }

    fn verilog(&self) -> String {
        let (yb, wb, ob) = (
            self.y_bits(),
            self.work_bits(),
            self._plan.output.bits as usize,
        );
        let mut v = String::new();
        line(
            &mut v,
            0,
            "// the unit moves when its output register is empty or being read",
        );
        line(&mut v, 0, "always @(*) advance = !out_valid || out_ready;");
        let mut unused = Vec::new();
        for i in 0..self._plan.block {
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] x{i} = {};",
                    yb - 1,
                    element("in_data", self.in_data.width(), i, yb)
                ),
            );
            let y = extend(&format!("x{i}"), yb, wb, true);
            line(&mut v, 0, format!("wire signed [{}:0] y{i} = {y};", wb - 1));
            let rounded = match self._plan.shift {
                Some(s) => format!("(y{i} + {}) >>> {s}", signed_literal(1 << (s - 1), wb)),
                None => format!("y{i}"),
            };
            line(
                &mut v,
                0,
                format!("wire signed [{}:0] r{i} = {rounded};", wb - 1),
            );
            let result = match self._plan.clamp {
                Some(t) => {
                    let (lo, hi) = (signed_literal(t.min(), wb), signed_literal(t.max(), wb));
                    format!("(r{i} < {lo}) ? {lo} : (r{i} > {hi}) ? {hi} : r{i}")
                }
                None => format!("r{i}"),
            };
            line(
                &mut v,
                0,
                format!("wire signed [{}:0] c{i} = {result};", wb - 1),
            );
            if wb > ob {
                unused.push(format!("c{i}[{}:{ob}]", wb - 1));
            }
        }
        if !unused.is_empty() {
            // Sign copies above the output width: in range by the plan.
            line(
                &mut v,
                0,
                format!("wire unused_sign_bits = &{{1'b0, {}}};", unused.join(", ")),
            );
        }
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) out_valid <= 1'b0;");
        line(&mut v, 1, "else if (advance) out_valid <= in_valid;");
        line(&mut v, 1, "if (advance) begin");
        for i in 0..self._plan.block {
            line(
                &mut v,
                2,
                format!(
                    "{} <= c{i}[{}:0];",
                    element("out_data", self.out_data.width(), i, ob),
                    ob - 1
                ),
            );
        }
        line(&mut v, 1, "end");
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for Requantizer {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let advance = !self.out_valid.is_high() || self.out_ready.is_high();
            if !self.rst_n.is_high() {
                self.out_valid.set(false);
            } else if advance {
                self.out_valid.next = self.in_valid.val();
            }
            if advance {
                let data = self.in_data.val();
                let out: Vec<i128> = (0..self._plan.block)
                    .map(|i| self.requantize(data.element(i, self.y_bits(), true)))
                    .collect();
                self.out_data.next = BitVector::pack(&out, self._plan.output.bits as usize);
            }
        }
        let advance = !self.out_valid.is_high() || self.out_ready.is_high();
        self.advance.set(advance);
    }

    fn connect(&mut self) {
        self.out_data.connect();
        self.out_valid.connect();
        self.advance.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

/// The Hadamard unit: stages in a chain, the requantizer last.
#[derive(LogicBlock)]
pub struct HadamardBlock {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub stages: Vec<ButterflyStage>,
    pub requantizer: Requantizer,
}

impl HadamardBlock {
    pub fn new(plan: &HadamardUnit) -> Self {
        let input = plan.input_shape();
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(input.bits(), plan.output_shape().bits());
        let stages = (1..=plan.stages)
            .map(|j| {
                let (in_bits, in_signed) = if j == 1 {
                    (plan.input.bits as usize, plan.input.signed)
                } else {
                    (plan.stage_bits[j as usize - 1] as usize, true)
                };
                ButterflyStage::new(
                    plan.block,
                    j,
                    in_bits,
                    in_signed,
                    plan.stage_bits[j as usize] as usize,
                )
            })
            .collect();
        HadamardBlock {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            stages,
            requantizer: Requantizer::new(plan),
        }
    }
}

impl Logic for HadamardBlock {
    #[hdl_gen]
    fn update(&mut self) {
        self.in_ready.next = self.requantizer.advance.val();
        self.stages[0].in_data.next = self.in_data.val();
        self.stages[0].in_valid.next = self.in_valid.val();
        for i in 0..self.stages.len() {
            self.stages[i].clock.next = self.clock.val();
            self.stages[i].rst_n.next = self.rst_n.val();
            self.stages[i].advance.next = self.requantizer.advance.val();
        }
        for i in 1..self.stages.len() {
            self.stages[i].in_data.next = self.stages[i - 1].out_data.val();
            self.stages[i].in_valid.next = self.stages[i - 1].out_valid.val();
        }
        // The last stage feeds the requantizer (a one-iteration loop, which
        // is how rust-hdl's translator takes a computed index).
        for i in (self.stages.len() - 1)..self.stages.len() {
            self.requantizer.in_data.next = self.stages[i].out_data.val();
            self.requantizer.in_valid.next = self.stages[i].out_valid.val();
        }
        self.requantizer.clock.next = self.clock.val();
        self.requantizer.rst_n.next = self.rst_n.val();
        self.requantizer.out_ready.next = self.out_ready.val();
        self.out_data.next = self.requantizer.out_data.val();
        self.out_valid.next = self.requantizer.out_valid.val();
    }
}
