//! The activation stage of one PE: the comparator bank of a thresholded
//! layer ([`ComparatorBank`]), or the plain output register of a layer
//! without activation ([`PassThrough`]).

use crate::arch::{ActivationPlan, Mvau, ThresholdStyle};
use crate::model::IntType;
use crate::rtl::verilog::{
    constant_select, extend, index_bits, line, signed_literal, sum_declaration, unsigned_literal,
};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// The output register `base + #{k : acc >= t[nf][k]}`: `2^B - 1`
/// comparators against the thresholds of the neuron fold, or a binary
/// search of them by `B` comparators in series (`ThresholdStyle`).
#[derive(LogicBlock)]
pub struct ComparatorBank {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub acc3: Wire,
    pub nf3: Wire,
    pub out: Wire,
    _thresholds: Vec<Vec<i64>>,
    _output: IntType,
    _compare_bits: usize,
    _style: ThresholdStyle,
}

impl ComparatorBank {
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        let ActivationPlan::Thresholds {
            output,
            compare_bits,
            style,
            ..
        } = plan.activation
        else {
            panic!("a comparator bank needs thresholds");
        };
        ComparatorBank {
            clock: Default::default(),
            advance: Wire::input(1),
            acc3: Wire::input(plan.accumulator.bits as usize),
            nf3: Wire::input(index_bits(plan.nf)),
            out: Wire::output(output.bits as usize),
            _thresholds: plan.thresholds.as_ref().expect("thresholds")[pe].clone(),
            _output: output,
            _compare_bits: compare_bits as usize,
            _style: style,
        }
    }

    /// The binary search: the thresholds are non-decreasing, so the count
    /// of those at or below the accumulator has its bits decided from the
    /// top: bit `b` compares with threshold `prefix * 2^(b+1) + 2^b - 1`,
    /// where `prefix` holds the bits above `b` found so far. Each stage's
    /// threshold is a constant function of the fold index and the prefix.
    /// Returns the count, its highest bit first (every stage's selector
    /// reads `nf3`).
    fn search(&self, v: &mut String) -> String {
        let (cb, bits) = (self._compare_bits, self._output.bits as usize);
        let nf_bits = self.nf3.width();
        let mut found: Vec<String> = Vec::new();
        for stage in 0..bits {
            let b = bits - 1 - stage;
            let selector = format!("select{b}");
            let concatenation = std::iter::once("nf3".to_string())
                .chain(found.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ");
            line(
                v,
                0,
                format!(
                    "wire [{}:0] {selector} = {{{concatenation}}};",
                    nf_bits + stage - 1
                ),
            );
            let values: Vec<String> = self
                ._thresholds
                .iter()
                .flat_map(|row| {
                    (0..1usize << stage).map(move |p| {
                        let k = (p << (b + 1)) + (1 << b) - 1;
                        signed_literal(row[k] as i128, cb)
                    })
                })
                .collect();
            let declaration = format!("wire signed [{}:0] t_bit{b}", cb - 1);
            if !constant_select(v, 0, &declaration, (&selector, nf_bits + stage), &values) {
                line(
                    v,
                    0,
                    format!("wire unused_{selector} = &{{1'b0, {selector}}};"),
                );
            }
            line(v, 0, format!("wire found{b} = value >= t_bit{b};"));
            found.push(format!("found{b}"));
        }
        format!("{{{}}}", found.join(", "))
    }

    fn verilog(&self) -> String {
        let (cb, ab, ob) = (
            self._compare_bits,
            self.acc3.width(),
            self._output.bits as usize,
        );
        let count = self._thresholds[0].len();
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!("// {count} thresholds per channel, compared at {cb} bits"),
        );
        line(
            &mut v,
            0,
            format!(
                "wire signed [{}:0] value = {};",
                cb - 1,
                extend("acc3", ab, cb, true)
            ),
        );
        let (hits, reads_nf3) = match self._style {
            ThresholdStyle::Parallel => self.parallel(&mut v),
            ThresholdStyle::Search => (self.search(&mut v), true),
        };
        if !reads_nf3 {
            line(&mut v, 0, "wire unused_nf3 = &{1'b0, nf3};");
        }
        let base = if self._output.signed {
            1usize << (ob - 1)
        } else {
            0
        };
        line(
            &mut v,
            0,
            format!(
                "always @(posedge clock) if (advance) out <= {hits} + {};",
                unsigned_literal(base, ob)
            ),
        );
        v
    }

    /// One comparator per threshold, each against the threshold the fold
    /// selects, and their count. Returns the count's wire and whether any
    /// selection reads `nf3`.
    fn parallel(&self, v: &mut String) -> (String, bool) {
        let (cb, ob) = (self._compare_bits, self._output.bits as usize);
        let count = self._thresholds[0].len();
        let selector = ("nf3", self.nf3.width());
        let mut reads_nf3 = false;
        for k in 0..count {
            let values: Vec<String> = self
                ._thresholds
                .iter()
                .map(|row| signed_literal(row[k] as i128, cb))
                .collect();
            let declaration = format!("wire signed [{}:0] t{k}", cb - 1);
            reads_nf3 |= constant_select(v, 0, &declaration, selector, &values);
        }
        let hits: Vec<String> = (0..count)
            .map(|k| extend(&format!("(value >= t{k})"), 1, ob, false))
            .collect();
        // `count < 2^ob`: every partial count fits `ob` bits.
        sum_declaration(v, 0, "hits", ob, &hits);
        ("hits".to_string(), reads_nf3)
    }
}

impl Logic for ComparatorBank {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let acc = self.acc3.as_signed();
            let row = self._thresholds.get(self.nf3.index());
            let hits = row.map_or(0, |r| r.iter().filter(|&&t| acc >= t as i128).count()) as i128;
            self.out.drive(self._output.min() + hits);
        }
    }

    fn connect(&mut self) {
        self.out.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

/// The output register of a layer without activation.
#[derive(LogicBlock)]
pub struct PassThrough {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub acc3: Wire,
    pub out: Wire,
}

impl PassThrough {
    pub fn new(plan: &Mvau) -> Self {
        let bits = plan.accumulator.bits as usize;
        PassThrough {
            clock: Default::default(),
            advance: Wire::input(1),
            acc3: Wire::input(bits),
            out: Wire::output(bits),
        }
    }
}

impl Logic for PassThrough {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            self.out.next = self.acc3.val();
        }
    }

    fn connect(&mut self) {
        self.out.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(posedge clock) if (advance) out <= acc3;\n".into())
    }
}
