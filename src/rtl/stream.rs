//! Stream plumbing leaves: a FIFO and an element-width converter.

use super::bits::BitVector;
use super::verilog::{element, index_bits, line, unsigned_literal};
use super::wire::Wire;
use crate::arch::{Converter, Fifo};
use rust_hdl::prelude::*;
use std::collections::VecDeque;

/// The handshake ports every stream block has.
macro_rules! stream_ports {
    ($in_bits:expr, $out_bits:expr) => {
        (
            Wire::input($in_bits),
            Wire::input(1),
            Wire::output(1),
            Wire::output($out_bits),
            Wire::output(1),
            Wire::input(1),
        )
    };
}
pub(crate) use stream_ports;

/// A first-word-fall-through FIFO of `depth` beats.
#[derive(LogicBlock)]
pub struct StreamFifo {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    _depth: usize,
    _beats: VecDeque<BitVector>,
}

impl StreamFifo {
    pub fn new(plan: &Fifo) -> Self {
        let bits = plan.beat.bits();
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(bits, bits);
        StreamFifo {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            _depth: plan.depth,
            _beats: VecDeque::new(),
        }
    }

    fn verilog(&self) -> String {
        let (depth, width) = (self._depth, self.in_data.width());
        let pointer = index_bits(depth);
        let count = index_bits(depth + 1);
        let last = unsigned_literal(depth - 1, pointer);
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!("// {depth} x {width}-bit first-word-fall-through FIFO"),
        );
        line(
            &mut v,
            0,
            format!("reg [{}:0] memory [0:{}];", width - 1, depth - 1),
        );
        line(&mut v, 0, format!("reg [{}:0] read_pointer;", pointer - 1));
        line(&mut v, 0, format!("reg [{}:0] write_pointer;", pointer - 1));
        line(&mut v, 0, format!("reg [{}:0] count;", count - 1));
        line(&mut v, 0, "wire push = in_valid && in_ready;");
        line(&mut v, 0, "wire pop = out_valid && out_ready;");
        line(&mut v, 0, "always @(*) begin");
        line(
            &mut v,
            1,
            format!("in_ready = count != {};", unsigned_literal(depth, count)),
        );
        line(
            &mut v,
            1,
            format!("out_valid = count != {};", unsigned_literal(0, count)),
        );
        line(&mut v, 1, "out_data = memory[read_pointer];");
        line(&mut v, 0, "end");
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) begin");
        line(
            &mut v,
            2,
            format!("read_pointer <= {};", unsigned_literal(0, pointer)),
        );
        line(
            &mut v,
            2,
            format!("write_pointer <= {};", unsigned_literal(0, pointer)),
        );
        line(
            &mut v,
            2,
            format!("count <= {};", unsigned_literal(0, count)),
        );
        line(&mut v, 1, "end else begin");
        line(&mut v, 2, "if (push) begin");
        line(&mut v, 3, "memory[write_pointer] <= in_data;");
        line(
            &mut v,
            3,
            format!(
                "write_pointer <= (write_pointer == {last}) ? {} : write_pointer + {};",
                unsigned_literal(0, pointer),
                unsigned_literal(1, pointer)
            ),
        );
        line(&mut v, 2, "end");
        line(
            &mut v,
            2,
            format!(
                "if (pop) read_pointer <= (read_pointer == {last}) ? {} : read_pointer + {};",
                unsigned_literal(0, pointer),
                unsigned_literal(1, pointer)
            ),
        );
        line(&mut v, 2, "if (push && !pop)");
        line(
            &mut v,
            3,
            format!("count <= count + {};", unsigned_literal(1, count)),
        );
        line(&mut v, 2, "else if (pop && !push)");
        line(
            &mut v,
            3,
            format!("count <= count - {};", unsigned_literal(1, count)),
        );
        line(&mut v, 1, "end");
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for StreamFifo {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if !self.rst_n.is_high() {
                self._beats.clear();
            } else {
                let pop = self.out_valid.is_high() && self.out_ready.is_high();
                let push = self.in_valid.is_high() && self.in_ready.is_high();
                if pop {
                    self._beats.pop_front();
                }
                if push {
                    self._beats.push_back(self.in_data.val());
                }
            }
        }
        let (in_ready, out_valid) = (self._beats.len() < self._depth, !self._beats.is_empty());
        self.in_ready.set(in_ready);
        self.out_valid.set(out_valid);
        self.out_data.next = self
            ._beats
            .front()
            .cloned()
            .unwrap_or_else(|| BitVector::zero(self.out_data.width()));
    }

    fn connect(&mut self) {
        self.in_ready.connect();
        self.out_data.connect();
        self.out_valid.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}

/// Re-packs a stream of `in` elements per beat into `out` elements per beat,
/// keeping element order, with room for `in + out` elements.
#[derive(LogicBlock)]
pub struct WidthConverter {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    _plan: Converter,
    _elements: VecDeque<BitVector>,
}

impl WidthConverter {
    pub fn new(plan: &Converter) -> Self {
        let element = plan.element.bits as usize;
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) = stream_ports!(
            plan.input_elements * element,
            plan.output_elements * element
        );
        WidthConverter {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            _plan: plan.clone(),
            _elements: VecDeque::new(),
        }
    }

    /// The next value of buffer slot `slot`: input element `i` when the
    /// beat lands at `slot - i`, else the slot `output` places up after a
    /// take, else itself. Slots past the last full beat keep their value
    /// on a take: nothing reads them before an input beat fills them.
    fn slot_update(&self, slot: usize) -> String {
        let e = self._plan.element.bits as usize;
        let (input, output, capacity) = (
            self._plan.input_elements,
            self._plan.output_elements,
            self._plan.capacity(),
        );
        let buffer_bits = capacity * e;
        let here = element("buffer", buffer_bits, slot, e);
        let mut value = if slot + output < capacity {
            format!(
                "take ? {} : {here}",
                element("buffer", buffer_bits, slot + output, e)
            )
        } else {
            here
        };
        for i in (0..input).rev() {
            let Some(at) = slot.checked_sub(i).filter(|&k| k <= output) else {
                continue;
            };
            value = format!(
                "insert{at} ? {} : ({value})",
                element("in_data", self.in_data.width(), i, e)
            );
        }
        value
    }

    fn verilog(&self) -> String {
        let e = self._plan.element.bits as usize;
        let (input, output, capacity) = (
            self._plan.input_elements,
            self._plan.output_elements,
            self._plan.capacity(),
        );
        let fill_bits = index_bits(capacity + 1);
        let lit = |v: usize| unsigned_literal(v, fill_bits);
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!("// {input} to {output} elements of {e} bits per beat"),
        );
        line(&mut v, 0, format!("reg [{}:0] buffer;", capacity * e - 1));
        line(&mut v, 0, format!("reg [{}:0] fill;", fill_bits - 1));
        line(&mut v, 0, "wire take = out_valid && out_ready;");
        line(&mut v, 0, "wire give = in_valid && in_ready;");
        line(
            &mut v,
            0,
            format!(
                "wire [{}:0] kept = take ? fill - {} : fill;",
                fill_bits - 1,
                lit(output)
            ),
        );
        line(&mut v, 0, "always @(*) begin");
        line(&mut v, 1, format!("out_valid = fill >= {};", lit(output)));
        line(&mut v, 1, format!("in_ready = fill <= {};", lit(output)));
        line(
            &mut v,
            1,
            format!("out_data = buffer[{}:0];", output * e - 1),
        );
        line(&mut v, 0, "end");
        // One multiplexer per slot, written out: a `case` over slices of
        // the whole buffer leaves synthesis a wide priority structure.
        // An input beat lands behind the `kept` elements.
        for k in 0..=output {
            line(
                &mut v,
                0,
                format!("wire insert{k} = give && kept == {};", lit(k)),
            );
        }
        for slot in 0..capacity {
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] next{slot} = {};",
                    e - 1,
                    self.slot_update(slot)
                ),
            );
        }
        let slots: Vec<String> = (0..capacity).rev().map(|p| format!("next{p}")).collect();
        line(
            &mut v,
            0,
            format!(
                "wire [{}:0] next_buffer = {{{}}};",
                capacity * e - 1,
                slots.join(", ")
            ),
        );
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, format!("if (!rst_n) fill <= {};", lit(0)));
        line(
            &mut v,
            1,
            format!("else fill <= give ? kept + {} : kept;", lit(input)),
        );
        line(&mut v, 1, "buffer <= next_buffer;");
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for WidthConverter {
    fn update(&mut self) {
        let e = self._plan.element.bits as usize;
        let (input, output) = (self._plan.input_elements, self._plan.output_elements);
        if self.clock.pos_edge() {
            if !self.rst_n.is_high() {
                self._elements.clear();
            } else {
                if self.out_valid.is_high() && self.out_ready.is_high() {
                    self._elements.drain(..output);
                }
                if self.in_valid.is_high() && self.in_ready.is_high() {
                    let data = self.in_data.val();
                    self._elements
                        .extend((0..input).map(|i| data.field(i * e, e)));
                }
            }
        }
        let fill = self._elements.len();
        self.out_valid.set(fill >= output);
        self.in_ready.set(fill <= output);
        let mut data = BitVector::zero(output * e);
        for (i, v) in self._elements.iter().take(output).enumerate() {
            data.set_field(i * e, v);
        }
        self.out_data.next = data;
    }

    fn connect(&mut self) {
        self.in_ready.connect();
        self.out_data.connect();
        self.out_valid.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
