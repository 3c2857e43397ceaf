//! The control block of an MVAU: fold counters, the replay buffer that
//! reads the input stream once and replays it for every neuron fold, the
//! stage-1 chunk register, the valid chain and the stream handshakes.

use super::tags::TagLayout;
use crate::arch::Mvau;
use crate::rtl::bits::BitVector;
use crate::rtl::verilog::{index_bits, line, unsigned_literal};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// Counters, the replay buffer, the stage-1 chunk register, the valid
/// chain and the handshakes of an MVAU.
#[derive(LogicBlock)]
pub struct MvauControl {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub advance: Wire,
    pub rom_addr: Wire,
    pub x1: Wire,
    pub tags1: Wire,
    pub valid2: Wire,
    _plan: Mvau,
    _state: ControlState,
}

/// Registers of the control block, for simulation.
#[derive(Clone, Debug, Default)]
struct ControlState {
    sf: usize,
    nf: usize,
    buffer: Vec<BitVector>,
    valid1: bool,
    last1: bool,
    valid2: bool,
    last2: bool,
    valid3: bool,
    out_valid: bool,
}

impl MvauControl {
    pub fn new(plan: &Mvau) -> Self {
        let tags = TagLayout::of(plan);
        MvauControl {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data: Wire::input(plan.input_shape().bits()),
            in_valid: Wire::input(1),
            in_ready: Wire::output(1),
            out_valid: Wire::output(1),
            out_ready: Wire::input(1),
            advance: Wire::output(1),
            rom_addr: Wire::output(index_bits(plan.nf * plan.sf)),
            x1: Wire::output(plan.input_shape().bits()),
            tags1: Wire::output(tags.width()),
            valid2: Wire::output(1),
            _plan: plan.clone(),
            _state: ControlState {
                buffer: vec![BitVector::zero(plan.input_shape().bits()); plan.sf],
                ..Default::default()
            },
        }
    }

    fn verilog(&self) -> String {
        let p = &self._plan;
        let tags = TagLayout::of(p);
        let (sfb, nfb, ab) = (index_bits(p.sf), tags.nf_bits, index_bits(p.nf * p.sf));
        let chunk = p.input_shape().bits();
        let sf = |v: usize| unsigned_literal(v, sfb);
        let nf = |v: usize| unsigned_literal(v, nfb);
        let ad = |v: usize| unsigned_literal(v, ab);
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!(
                "// NF = {}, SF = {}: fold steps run sf fastest, then nf",
                p.nf, p.sf
            ),
        );
        line(&mut v, 0, format!("reg [{}:0] sf;", sfb - 1));
        line(&mut v, 0, format!("reg [{}:0] nf;", nfb - 1));
        line(&mut v, 0, "reg valid1, last1, last2, valid3;");
        if p.nf > 1 {
            line(
                &mut v,
                0,
                "// the input vector, replayed for neuron folds after the first",
            );
            line(
                &mut v,
                0,
                format!("reg [{}:0] buffer [0:{}];", chunk - 1, p.sf - 1),
            );
        }
        line(&mut v, 0, "always @(*) begin");
        line(&mut v, 1, "advance = !out_valid || out_ready;");
        line(&mut v, 1, format!("in_ready = advance && nf == {};", nf(0)));
        line(&mut v, 0, "end");
        line(
            &mut v,
            0,
            format!("wire issue = advance && (nf != {} || in_valid);", nf(0)),
        );
        let chunk_source = if p.nf > 1 {
            format!("(nf == {}) ? in_data : buffer[sf]", nf(0))
        } else {
            "in_data".into()
        };
        line(
            &mut v,
            0,
            format!("wire [{}:0] chunk = {chunk_source};", chunk - 1),
        );
        line(
            &mut v,
            0,
            format!("wire step_last = sf == {};", sf(p.sf - 1)),
        );
        line(
            &mut v,
            0,
            format!("wire [{}:0] step_tags;", tags.width() - 1),
        );
        line(
            &mut v,
            0,
            format!(
                "assign step_tags[{}:0] = {};",
                tags.width() - 1,
                self.tag_expression(&sf)
            ),
        );
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) begin");
        for reg in ["sf", "nf", "rom_addr"] {
            let zero = match reg {
                "sf" => sf(0),
                "nf" => nf(0),
                _ => ad(0),
            };
            line(&mut v, 2, format!("{reg} <= {zero};"));
        }
        for reg in ["valid1", "valid2", "valid3", "out_valid"] {
            line(&mut v, 2, format!("{reg} <= 1'b0;"));
        }
        line(&mut v, 1, "end else if (advance) begin");
        line(&mut v, 2, "if (issue) begin");
        if p.nf > 1 {
            line(
                &mut v,
                3,
                format!("if (nf == {}) buffer[sf] <= in_data;", nf(0)),
            );
        }
        line(
            &mut v,
            3,
            format!("sf <= step_last ? {} : sf + {};", sf(0), sf(1)),
        );
        line(
            &mut v,
            3,
            format!(
                "if (step_last) nf <= (nf == {}) ? {} : nf + {};",
                nf(p.nf - 1),
                nf(0),
                nf(1)
            ),
        );
        line(
            &mut v,
            3,
            format!(
                "rom_addr <= (rom_addr == {}) ? {} : rom_addr + {};",
                ad(p.nf * p.sf - 1),
                ad(0),
                ad(1)
            ),
        );
        line(&mut v, 2, "end");
        line(&mut v, 2, "valid1 <= issue;");
        line(&mut v, 2, "valid2 <= valid1;");
        line(&mut v, 2, "valid3 <= valid2 && last2;");
        line(&mut v, 2, "out_valid <= valid3;");
        line(&mut v, 1, "end");
        line(&mut v, 1, "if (advance) begin");
        line(&mut v, 2, "x1 <= chunk;");
        line(&mut v, 2, "tags1 <= step_tags;");
        line(&mut v, 2, "last1 <= step_last;");
        line(&mut v, 2, "last2 <= last1;");
        line(&mut v, 1, "end");
        line(&mut v, 0, "end");
        v
    }

    /// Verilog for the tag bus of the step being issued (see [`TagLayout`]).
    fn tag_expression(&self, sf: &dyn Fn(usize) -> String) -> String {
        let p = &self._plan;
        let flags = match &p.accumulator.inner {
            None => vec!["step_last".to_string(), format!("sf == {}", sf(0))],
            Some(inner) => {
                let tc = inner.chunks_per_tile;
                let starts: Vec<String> = (0..p.sf)
                    .step_by(tc)
                    .map(|s| format!("sf == {}", sf(s)))
                    .collect();
                let ends: Vec<String> = (tc - 1..p.sf)
                    .step_by(tc)
                    .map(|s| format!("sf == {}", sf(s)))
                    .collect();
                vec![
                    format!("sf < {}", sf(tc)),
                    format!("({})", ends.join(" || ")),
                    format!("({})", starts.join(" || ")),
                    "step_last".to_string(),
                ]
            }
        };
        let flags: Vec<String> = flags.into_iter().map(|f| format!("({f})")).collect();
        format!("{{nf, {}}}", flags.join(", "))
    }

    fn step(&mut self) {
        let p = &self._plan;
        let tags = TagLayout::of(p);
        let s = &mut self._state;
        let advance = !s.out_valid || self.out_ready.is_high();
        if !self.rst_n.is_high() {
            *s = ControlState {
                buffer: std::mem::take(&mut s.buffer),
                ..Default::default()
            };
            self.rom_addr.drive(0);
            return;
        }
        if !advance {
            return;
        }
        let issue = s.nf != 0 || self.in_valid.is_high();
        let chunk = if s.nf == 0 {
            self.in_data.val()
        } else {
            s.buffer[s.sf].clone()
        };
        self.x1.next = chunk;
        self.tags1.next = tags.encode(p, s.nf, s.sf);
        let step_last = s.sf == p.sf - 1;
        s.out_valid = s.valid3;
        s.valid3 = s.valid2 && s.last2;
        s.valid2 = s.valid1;
        s.last2 = s.last1;
        s.valid1 = issue;
        s.last1 = step_last;
        if issue {
            if s.nf == 0 {
                s.buffer[s.sf] = self.in_data.val();
            }
            s.sf = if step_last { 0 } else { s.sf + 1 };
            if step_last {
                s.nf = (s.nf + 1) % p.nf;
            }
            self.rom_addr
                .drive(((s.nf * p.sf + s.sf) % (p.nf * p.sf)) as i128);
        }
    }
}

impl Logic for MvauControl {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.step();
        }
        let s = &self._state;
        let advance = !s.out_valid || self.out_ready.is_high();
        let (in_ready, out_valid, valid2) = (advance && s.nf == 0, s.out_valid, s.valid2);
        self.advance.set(advance);
        self.in_ready.set(in_ready);
        self.out_valid.set(out_valid);
        self.valid2.set(valid2);
    }

    fn connect(&mut self) {
        for w in [
            &mut self.in_ready,
            &mut self.out_valid,
            &mut self.advance,
            &mut self.rom_addr,
            &mut self.x1,
            &mut self.tags1,
            &mut self.valid2,
        ] {
            w.connect();
        }
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
