//! The accumulator of one PE: bias, wrap or saturate after every addition,
//! the inner accumulator of a tile, and the finished-accumulator register.

use super::tags::TagLayout;
use crate::arch::Mvau;
use crate::model::{IntType, OverflowMode};
use crate::rtl::verilog::{constant_select, line, signed_literal, unsigned_literal};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// The accumulator of one PE: bias, wrap or saturate after every addition,
/// an inner accumulator per tile, and the finished-accumulator register.
#[derive(LogicBlock)]
pub struct Accumulator {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub valid2: Wire,
    pub tags2: Wire,
    pub sum2: Wire,
    pub acc3: Wire,
    _plan: Mvau,
    /// This PE's dot-product width (`Mvau::pe_dot_bits`).
    _sum_bits: usize,
    _bias: Vec<i128>,
    _acc: i128,
    _inner: i128,
}

/// `declaration = $signed(a) + $signed(b);`: Verilog extends the narrower
/// operand's sign to the declared width. Yosys 0.23 maps an adder whose
/// operand is sign-extended this way, not by an explicit concatenation, at
/// one LUT per bit instead of two when the other operand is selected by a
/// multiplexer (the accumulator's `tags ? bias : accumulated`). Verilator
/// reports that implicit extension, so `extends` turns its WIDTH warning
/// off for this line.
fn signed_sum_line(v: &mut String, declaration: &str, a: &str, b: &str, extends: bool) {
    let sum = format!("{declaration} = $signed({a}) + $signed({b});");
    if extends {
        line(v, 0, "/* verilator lint_off WIDTH */");
        line(v, 0, sum);
        line(v, 0, "/* verilator lint_on WIDTH */");
    } else {
        line(v, 0, sum);
    }
}

/// Wraps or saturates `value` to a signed `bits`-bit accumulator.
pub fn fix(value: i128, bits: u32, mode: OverflowMode) -> i128 {
    let t = IntType::signed(bits);
    match mode {
        OverflowMode::Wrap => crate::rtl::wire::sign_extend(value, bits as usize),
        OverflowMode::Saturate => value.clamp(t.min(), t.max()),
    }
}

impl Accumulator {
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        let bias = match &plan.bias {
            Some(b) => b[pe].iter().map(|&v| v as i128).collect(),
            None => vec![0; plan.nf],
        };
        Accumulator {
            clock: Default::default(),
            advance: Wire::input(1),
            valid2: Wire::input(1),
            tags2: Wire::input(TagLayout::of(plan).width()),
            sum2: Wire::input(plan.pe_dot_bits(pe) as usize),
            acc3: Wire::output(plan.accumulator.bits as usize),
            _plan: plan.clone(),
            _sum_bits: plan.pe_dot_bits(pe) as usize,
            _bias: bias,
            _acc: 0,
            _inner: 0,
        }
    }

    /// Verilog assigning `fix(bits, base + addend)` to wire `name`.
    fn fixed_sum(
        v: &mut String,
        name: &str,
        base: (&str, usize),
        addend: (&str, usize),
        bits: usize,
        mode: OverflowMode,
    ) {
        if mode == OverflowMode::Wrap {
            // Wrapping keeps the low `bits` bits, which only the operands'
            // low `bits` bits decide.
            let operand = |(expr, width): (&str, usize)| {
                if width > bits {
                    format!("{expr}[{}:0]", bits - 1)
                } else {
                    expr.to_string()
                }
            };
            let narrower = base.1 < bits || addend.1 < bits;
            signed_sum_line(
                v,
                &format!("wire [{}:0] {name}", bits - 1),
                &operand(base),
                &operand(addend),
                narrower,
            );
            let high: Vec<String> = [base, addend]
                .iter()
                .filter(|(_, width)| *width > bits)
                .map(|(expr, width)| format!("{expr}[{}:{bits}]", width - 1))
                .collect();
            if !high.is_empty() {
                line(
                    v,
                    0,
                    format!(
                        "wire unused_{name}_high_bits = &{{1'b0, {}}};",
                        high.join(", ")
                    ),
                );
            }
            return;
        }
        let width = base.1.max(addend.1) + 1;
        signed_sum_line(
            v,
            &format!("wire signed [{}:0] {name}_total", width - 1),
            base.0,
            addend.0,
            true,
        );
        let value = match mode {
            OverflowMode::Wrap => format!("{name}_total[{}:0]", bits - 1),
            OverflowMode::Saturate => {
                let t = IntType::signed(bits as u32);
                let (lo, hi) = (
                    signed_literal(t.min(), width),
                    signed_literal(t.max(), width),
                );
                let (lo_p, hi_p) = (signed_literal(t.min(), bits), signed_literal(t.max(), bits));
                format!(
                    "({name}_total > {hi}) ? {hi_p} : ({name}_total < {lo}) ? {lo_p} : {name}_total[{}:0]",
                    bits - 1
                )
            }
        };
        line(v, 0, format!("wire [{}:0] {name} = {value};", bits - 1));
    }

    fn verilog(&self) -> String {
        let p = &self._plan;
        let layout = TagLayout::of(p);
        let (pb, db) = (p.accumulator.bits as usize, self._sum_bits);
        let mode = p.accumulator.overflow;
        let mut v = String::new();
        line(&mut v, 0, format!("// {pb}-bit accumulator, {mode}"));
        line(&mut v, 0, format!("reg [{}:0] accumulated;", pb - 1));
        line(
            &mut v,
            0,
            format!(
                "wire [{}:0] nf2 = tags2[{}:{}];",
                layout.nf_bits - 1,
                layout.width() - 1,
                layout.flags()
            ),
        );
        let biases: Vec<String> = self._bias.iter().map(|&b| signed_literal(b, pb)).collect();
        let reads_nf2 = constant_select(
            &mut v,
            0,
            &format!("wire [{}:0] bias", pb - 1),
            ("nf2", layout.nf_bits),
            &biases,
        );
        if !reads_nf2 {
            line(&mut v, 0, "wire unused_nf2 = &{1'b0, nf2};");
        }
        match &p.accumulator.inner {
            None => {
                line(
                    &mut v,
                    0,
                    format!("wire [{}:0] base = tags2[0] ? bias : accumulated;", pb - 1),
                );
                Self::fixed_sum(&mut v, "updated", ("base", pb), ("sum2", db), pb, mode);
                line(
                    &mut v,
                    0,
                    "always @(posedge clock) if (advance && valid2) begin",
                );
                line(&mut v, 1, "accumulated <= updated;");
                line(&mut v, 1, "if (tags2[1]) acc3 <= updated;");
                line(&mut v, 0, "end");
            }
            Some(inner) => {
                let ib = inner.bits as usize;
                line(
                    &mut v,
                    0,
                    format!(
                        "// tiles of {} inputs in a {ib}-bit inner accumulator",
                        inner.tile_size
                    ),
                );
                line(&mut v, 0, format!("reg [{}:0] inner;", ib - 1));
                line(
                    &mut v,
                    0,
                    format!(
                        "wire [{}:0] inner_base = tags2[1] ? {} : inner;",
                        ib - 1,
                        unsigned_literal(0, ib)
                    ),
                );
                Self::fixed_sum(
                    &mut v,
                    "inner_updated",
                    ("inner_base", ib),
                    ("sum2", db),
                    ib,
                    mode,
                );
                line(
                    &mut v,
                    0,
                    format!(
                        "wire [{}:0] outer_base = tags2[3] ? bias : accumulated;",
                        pb - 1
                    ),
                );
                Self::fixed_sum(
                    &mut v,
                    "updated",
                    ("outer_base", pb),
                    ("inner_updated", ib),
                    pb,
                    mode,
                );
                line(
                    &mut v,
                    0,
                    "always @(posedge clock) if (advance && valid2) begin",
                );
                line(&mut v, 1, "inner <= inner_updated;");
                line(&mut v, 1, "if (tags2[2]) accumulated <= updated;");
                line(&mut v, 1, "if (tags2[0]) acc3 <= updated;");
                line(&mut v, 0, "end");
            }
        }
        v
    }

    fn step(&mut self) {
        let p = &self._plan;
        let layout = TagLayout::of(p);
        let (pb, mode) = (p.accumulator.bits, p.accumulator.overflow);
        let tags = self.tags2.val();
        let bit = |i: usize| tags.bit(i);
        let nf = tags.field(layout.flags(), layout.nf_bits).to_usize();
        let bias = self._bias.get(nf).copied().unwrap_or(0);
        let sum = self.sum2.as_signed();
        match &p.accumulator.inner {
            None => {
                let base = if bit(0) { bias } else { self._acc };
                self._acc = fix(base + sum, pb, mode);
                if bit(1) {
                    self.acc3.drive(self._acc);
                }
            }
            Some(inner) => {
                let inner_base = if bit(1) { 0 } else { self._inner };
                self._inner = fix(inner_base + sum, inner.bits, mode);
                let outer_base = if bit(3) { bias } else { self._acc };
                let updated = fix(outer_base + self._inner, pb, mode);
                if bit(2) {
                    self._acc = updated;
                }
                if bit(0) {
                    self.acc3.drive(updated);
                }
            }
        }
    }
}

impl Logic for Accumulator {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() && self.valid2.is_high() {
            self.step();
        }
    }

    fn connect(&mut self) {
        self.acc3.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
