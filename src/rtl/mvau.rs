//! The matrix-vector-activation unit (MVAU): a control block that reads the
//! input stream once and replays it for every neuron fold, and `PE` lanes,
//! each a weight ROM, an exact dot product over `SIMD` inputs, an
//! accumulator (inner and outer when tiled) and an activation register.
//! Everything moves together on `advance` (the output register is empty or
//! being read); see `crate::arch` for the cycle semantics.

use super::bits::BitVector;
use super::stream::stream_ports;
use super::verilog::{
    bit, constant_select, element, extend, field, index_bits, line, signed_literal,
    sum_declaration, unsigned_literal,
};
use super::wire::Wire;
use crate::arch::{ActivationPlan, LutProduct, Mvau};
use crate::model::{IntType, MultiplierStyle, OverflowMode};
use rust_hdl::prelude::*;

/// Bit positions in the stage-1 tag bus: which fold step a chunk is.
#[derive(Clone, Copy, Debug)]
pub struct TagLayout {
    pub tiled: bool,
    pub nf_bits: usize,
}

impl TagLayout {
    pub fn of(plan: &Mvau) -> Self {
        TagLayout {
            tiled: plan.accumulator.inner.is_some(),
            nf_bits: index_bits(plan.nf),
        }
    }

    /// Flag bits: untiled `{last, first}`, tiled
    /// `{first_tile, tile_last, tile_first, last}` (LSB first as listed
    /// from the right).
    pub fn flags(&self) -> usize {
        if self.tiled { 4 } else { 2 }
    }

    pub fn width(&self) -> usize {
        self.flags() + self.nf_bits
    }

    /// The tag bus value of fold step (`nf`, `sf`).
    pub fn encode(&self, plan: &Mvau, nf: usize, sf: usize) -> BitVector {
        let last = sf == plan.sf - 1;
        let flags: Vec<bool> = match &plan.accumulator.inner {
            None => vec![sf == 0, last],
            Some(inner) => {
                let tc = inner.chunks_per_tile;
                vec![last, sf.is_multiple_of(tc), sf % tc == tc - 1, sf < tc]
            }
        };
        let mut tags = BitVector::zero(self.width());
        for (i, &flag) in flags.iter().enumerate() {
            tags.set_field(i, &BitVector::from_i128(i128::from(flag), 1));
        }
        tags.set_field(
            self.flags(),
            &BitVector::from_i128(nf as i128, self.nf_bits),
        );
        tags
    }
}

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

/// One PE's weights: `NF * SF` words of `SIMD` weights, read on `advance`.
#[derive(LogicBlock)]
pub struct WeightRom {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub addr: Wire,
    pub word: Wire,
    _words: Vec<BitVector>,
    _file: String,
}

impl WeightRom {
    /// `file` is the `$readmemh` image the generator writes beside the RTL.
    pub fn new(plan: &Mvau, pe: usize, file: String) -> Self {
        let width = plan.simd * plan.weight.bits as usize;
        let words = plan.weights[pe]
            .iter()
            .map(|word| {
                BitVector::pack(
                    &word.iter().map(|&w| w as i128).collect::<Vec<_>>(),
                    plan.weight.bits as usize,
                )
            })
            .collect();
        WeightRom {
            clock: Default::default(),
            advance: Wire::input(1),
            addr: Wire::input(index_bits(plan.nf * plan.sf)),
            word: Wire::output(width),
            _words: words,
            _file: file,
        }
    }

    pub fn file_name(&self) -> &str {
        &self._file
    }

    /// The `$readmemh` image: one hexadecimal word per line, every digit
    /// of the word's width.
    pub fn memory_image(&self) -> String {
        self._words
            .iter()
            .map(|w| format!("{}\n", w.to_hex()))
            .collect()
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!(
                "reg [{}:0] words [0:{}];",
                self.word.width() - 1,
                self._words.len() - 1
            ),
        );
        line(
            &mut v,
            0,
            format!("initial $readmemh(\"{}\", words);", self._file),
        );
        line(
            &mut v,
            0,
            "always @(posedge clock) if (advance) word <= words[addr];",
        );
        v
    }
}

impl Logic for WeightRom {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            self.word.next = self
                ._words
                .get(self.addr.index())
                .cloned()
                .unwrap_or_else(|| BitVector::zero(self.word.width()));
        }
    }

    fn connect(&mut self) {
        self.word.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

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
    _product_bits: usize,
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
            sum2: Wire::output(plan.dot_bits as usize),
            _simd: plan.simd,
            _input: plan.input,
            _weight: plan.weight,
            _product_bits: plan.product_bits as usize,
            _style: plan.multiplier,
            _lut_products: (0..plan.simd)
                .map(|lane| plan.lut_product(pe, lane))
                .collect(),
        }
    }

    /// Product `j` as a Verilog expression of `_product_bits` bits.
    fn product(&self, v: &mut String, j: usize) {
        let (n, w, pb) = (
            self._input.bits as usize,
            self._weight.bits as usize,
            self._product_bits,
        );
        let word_bits = self.word.width();
        let x = element("x1", self.x1.width(), j, n);
        let wj = element("word", word_bits, j, w);
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
                let operand = if by_weight {
                    extend(&format!("element{j}"), n, pb, self._input.signed)
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
                    extend(&format!("weight{j}"), lane_bits, pb, true)
                };
                line(v, 0, format!("wire [{}:0] xe{j} = {operand};", pb - 1));
                let zero = unsigned_literal(0, pb);
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
                line(
                    v,
                    0,
                    format!("(* use_dsp = \"no\" *) wire [{}:0] p{j};", pb - 1),
                );
                line(v, 0, format!("assign p{j} = {body};"));
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
        // Balanced tree: level l sums 2^l products, so l more bits suffice.
        let total = self.sum2.width();
        let mut level: Vec<(String, usize)> = (0..self._simd)
            .map(|j| (format!("p{j}"), self._product_bits))
            .collect();
        let mut depth = 0;
        while level.len() > 1 {
            depth += 1;
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for (k, pair) in level.chunks(2).enumerate() {
                match pair {
                    [(a, wa), (b, wb)] => {
                        let width = ((*wa).max(*wb) + 1).min(total);
                        let name = format!("s{depth}_{k}");
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
                        next.push((name, width));
                    }
                    [single] => next.push(single.clone()),
                    _ => unreachable!("chunks of two"),
                }
            }
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

/// Delays the stage-1 tags to stages 2 and 3 for one lane.
#[derive(LogicBlock)]
pub struct TagPipe {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub tags1: Wire,
    pub tags2: Wire,
    /// The neuron fold of the finished accumulator (thresholds only).
    pub nf3: Vec<Wire>,
    _layout: TagLayout,
}

impl TagPipe {
    pub fn new(plan: &Mvau) -> Self {
        let layout = TagLayout::of(plan);
        let thresholds = matches!(plan.activation, ActivationPlan::Thresholds { .. });
        TagPipe {
            clock: Default::default(),
            advance: Wire::input(1),
            tags1: Wire::input(layout.width()),
            tags2: Wire::output(layout.width()),
            nf3: if thresholds {
                vec![Wire::output(layout.nf_bits)]
            } else {
                Vec::new()
            },
            _layout: layout,
        }
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        line(&mut v, 0, "always @(posedge clock) if (advance) begin");
        line(&mut v, 1, "tags2 <= tags1;");
        if !self.nf3.is_empty() {
            let (lo, hi) = (self._layout.flags(), self._layout.width() - 1);
            line(&mut v, 1, format!("nf3$0 <= tags2[{hi}:{lo}];"));
        }
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for TagPipe {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let flags = self._layout.flags();
            for nf3 in &mut self.nf3 {
                nf3.next = self.tags2.val().field(flags, nf3.width());
            }
            self.tags2.next = self.tags1.val();
        }
    }

    fn connect(&mut self) {
        self.tags2.connect();
        self.nf3.iter_mut().for_each(Wire::connect);
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

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
        OverflowMode::Wrap => super::wire::sign_extend(value, bits as usize),
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
            sum2: Wire::input(plan.dot_bits as usize),
            acc3: Wire::output(plan.accumulator.bits as usize),
            _plan: plan.clone(),
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
        let (pb, db) = (p.accumulator.bits as usize, p.dot_bits as usize);
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

/// `2^B - 1` comparators against the thresholds of the neuron fold, into
/// the output register: `base + #{k : acc >= t[nf][k]}`.
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
}

impl ComparatorBank {
    pub fn new(plan: &Mvau, pe: usize) -> Self {
        let ActivationPlan::Thresholds {
            output,
            compare_bits,
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
        }
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
        let selector = ("nf3", self.nf3.width());
        let mut reads_nf3 = false;
        for k in 0..count {
            let values: Vec<String> = self
                ._thresholds
                .iter()
                .map(|row| signed_literal(row[k] as i128, cb))
                .collect();
            let declaration = format!("wire signed [{}:0] t{k}", cb - 1);
            reads_nf3 |= constant_select(&mut v, 0, &declaration, selector, &values);
        }
        if !reads_nf3 {
            line(&mut v, 0, "wire unused_nf3 = &{1'b0, nf3};");
        }
        line(
            &mut v,
            0,
            format!(
                "wire signed [{}:0] value = {};",
                cb - 1,
                extend("acc3", ab, cb, true)
            ),
        );
        let hits: Vec<String> = (0..count)
            .map(|k| extend(&format!("(value >= t{k})"), 1, ob, false))
            .collect();
        let base = if self._output.signed {
            1usize << (ob - 1)
        } else {
            0
        };
        // `count < 2^ob`: every partial count fits `ob` bits.
        sum_declaration(&mut v, 0, "hits", ob, &hits);
        line(
            &mut v,
            0,
            format!(
                "always @(posedge clock) if (advance) out <= hits + {};",
                unsigned_literal(base, ob)
            ),
        );
        v
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

/// One processing element: ROM, dot product, accumulator, activation.
#[derive(LogicBlock)]
pub struct PeLane {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub rom_addr: Wire,
    pub x1: Wire,
    pub tags1: Wire,
    pub valid2: Wire,
    pub out: Wire,
    pub rom: WeightRom,
    pub dot: DotProduct,
    pub tags: TagPipe,
    pub acc: Accumulator,
    pub thresholds: Vec<ComparatorBank>,
    pub passthrough: Vec<PassThrough>,
}

impl PeLane {
    pub fn new(plan: &Mvau, pe: usize, rom_file: String) -> Self {
        let thresholds = matches!(plan.activation, ActivationPlan::Thresholds { .. });
        PeLane {
            clock: Default::default(),
            advance: Wire::input(1),
            rom_addr: Wire::input(index_bits(plan.nf * plan.sf)),
            x1: Wire::input(plan.input_shape().bits()),
            tags1: Wire::input(TagLayout::of(plan).width()),
            valid2: Wire::input(1),
            out: Wire::output(plan.output.bits as usize),
            rom: WeightRom::new(plan, pe, rom_file),
            dot: DotProduct::new(plan, pe),
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

impl Logic for PeLane {
    #[hdl_gen]
    fn update(&mut self) {
        self.rom.clock.next = self.clock.val();
        self.rom.advance.next = self.advance.val();
        self.rom.addr.next = self.rom_addr.val();
        self.dot.clock.next = self.clock.val();
        self.dot.advance.next = self.advance.val();
        self.dot.x1.next = self.x1.val();
        self.dot.word.next = self.rom.word.val();
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

/// Concatenates the PE outputs into one beat: PE `p` at `[p*W +: W]`.
#[derive(LogicBlock)]
pub struct OutputPacker {
    pub elements: Vec<Wire>,
    pub data: Wire,
    _bits: usize,
}

impl OutputPacker {
    pub fn new(plan: &Mvau) -> Self {
        let bits = plan.output.bits as usize;
        OutputPacker {
            elements: (0..plan.pe).map(|_| Wire::input(bits)).collect(),
            data: Wire::output(plan.pe * bits),
            _bits: bits,
        }
    }
}

impl Logic for OutputPacker {
    fn update(&mut self) {
        let mut data = BitVector::zero(self.elements.len() * self._bits);
        for (p, element) in self.elements.iter().enumerate() {
            data.set_field(p * self._bits, &element.val());
        }
        self.data.next = data;
    }

    fn connect(&mut self) {
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        let parts: Vec<String> = (0..self.elements.len())
            .rev()
            .map(|p| format!("elements${p}"))
            .collect();
        Verilog::Custom(format!("always @(*) data = {{{}}};\n", parts.join(", ")))
    }
}

/// The MVAU: control, PE lanes and the output packer.
#[derive(LogicBlock)]
pub struct MvauBlock {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub control: MvauControl,
    pub lanes: Vec<PeLane>,
    pub packer: OutputPacker,
}

impl MvauBlock {
    /// `rom_file(pe)` names the weight image of each PE.
    pub fn new(plan: &Mvau, rom_file: impl Fn(usize) -> String) -> Self {
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(plan.input_shape().bits(), plan.output_shape().bits());
        MvauBlock {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            control: MvauControl::new(plan),
            lanes: (0..plan.pe)
                .map(|p| PeLane::new(plan, p, rom_file(p)))
                .collect(),
            packer: OutputPacker::new(plan),
        }
    }
}

impl Logic for MvauBlock {
    #[hdl_gen]
    fn update(&mut self) {
        self.control.clock.next = self.clock.val();
        self.control.rst_n.next = self.rst_n.val();
        self.control.in_data.next = self.in_data.val();
        self.control.in_valid.next = self.in_valid.val();
        self.control.out_ready.next = self.out_ready.val();
        self.in_ready.next = self.control.in_ready.val();
        self.out_valid.next = self.control.out_valid.val();
        self.out_data.next = self.packer.data.val();
        for i in 0..self.lanes.len() {
            self.lanes[i].clock.next = self.clock.val();
            self.lanes[i].advance.next = self.control.advance.val();
            self.lanes[i].rom_addr.next = self.control.rom_addr.val();
            self.lanes[i].x1.next = self.control.x1.val();
            self.lanes[i].tags1.next = self.control.tags1.val();
            self.lanes[i].valid2.next = self.control.valid2.val();
            self.packer.elements[i].next = self.lanes[i].out.val();
        }
    }
}
