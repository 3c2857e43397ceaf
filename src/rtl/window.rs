//! The sliding-window unit and the max-pool unit. The window unit is one
//! leaf: a line buffer Yosys infers as a memory (a synchronous write port
//! for the input, a registered read port with an enable for the windows),
//! the write address and row counters, the read counters that walk windows,
//! kernel rows and beats, stride and padding as counters (a padding beat
//! reads nothing and leaves as zeros), and the output register. The
//! max-pool unit wires a window unit into a reducer leaf. Behaviour for
//! rust-hdl's simulator is the cycle model of `sim` (the same registers).

use super::bits::BitVector;
use super::stream::stream_ports;
use super::verilog::{element, index_bits, line, signed_literal, unsigned_literal};
use super::wire::Wire;
use crate::arch::{MaxPoolUnit, SlidingWindowUnit};
use crate::sim::{StreamUnit, WindowState};
use rust_hdl::prelude::*;

/// The window unit's leaf.
#[derive(LogicBlock)]
pub struct SlidingWindowBlock {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    _plan: SlidingWindowUnit,
    _state: WindowState,
}

impl SlidingWindowBlock {
    pub fn new(plan: &SlidingWindowUnit) -> Self {
        let bits = plan.input_shape().bits();
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(bits, bits);
        SlidingWindowBlock {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            _plan: plan.clone(),
            _state: WindowState::new(plan),
        }
    }

    fn verilog(&self) -> String {
        WindowVerilog::new(&self._plan).text()
    }
}

impl Logic for SlidingWindowBlock {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if !self.rst_n.is_high() {
                self._state = WindowState::new(&self._plan);
            } else {
                let e = self._plan.element;
                let input = (self.in_valid.is_high() && self.in_ready.is_high()).then(|| {
                    let data = self.in_data.val();
                    (0..self._plan.simd)
                        .map(|i| data.element(i, e.bits as usize, e.signed) as i64)
                        .collect::<Vec<i64>>()
                });
                let out_fire = self.out_valid.is_high() && self.out_ready.is_high();
                self._state.step(input.as_deref(), out_fire);
            }
        }
        self.in_ready.set(self._state.in_ready(false));
        self.out_valid.set(self._state.out_valid());
        let values: Vec<i128> = self._state.out_data().iter().map(|&v| v.into()).collect();
        self.out_data.next = BitVector::pack(&values, self._plan.element.bits as usize);
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

/// The constants of a window unit's Verilog and how to write them.
struct WindowVerilog<'a> {
    unit: &'a SlidingWindowUnit,
    /// Width of the signed arithmetic on rows, columns and held rows.
    s: usize,
    /// Line-buffer address bits.
    aw: usize,
}

impl<'a> WindowVerilog<'a> {
    fn new(unit: &'a SlidingWindowUnit) -> Self {
        WindowVerilog {
            unit,
            s: unit.arithmetic_bits(),
            aw: unit.address_bits(),
        }
    }

    fn signed(&self, v: i64) -> String {
        signed_literal(v.into(), self.s)
    }

    /// Rows released after each row of windows that does not release
    /// `sh` (those in the top padding, and the last), as a conditional
    /// chain over the window row: the released rows and their words.
    fn release_chains(&self) -> (String, String) {
        let u = self.unit;
        let (oh, _) = u.output();
        let (sh, aw1) = (u.stride.0, self.aw + 1);
        let (mut rows, mut words) = (
            self.signed(sh as i64),
            unsigned_literal(sh * u.row_beats(), aw1),
        );
        let row_bits = index_bits(oh);
        for oy in (0..oh).rev() {
            let start = (oy * sh) as i64 - u.padding.top as i64;
            let released = u.rows_released(start, oy + 1 == oh);
            if released == sh as i64 {
                continue;
            }
            let test = format!("out_row == {}", unsigned_literal(oy, row_bits));
            rows = format!("({test}) ? {} : {rows}", self.signed(released));
            words = format!(
                "({test}) ? {} : {words}",
                unsigned_literal(released as usize * u.row_beats(), aw1)
            );
        }
        (rows, words)
    }

    fn text(&self) -> String {
        let u = self.unit;
        let (s, aw) = (self.s, self.aw);
        let (oh, ow) = u.output();
        let (kh, _) = u.kernel;
        let cb = u.beats_per_pixel();
        let (rb, words, wb) = (u.row_beats(), u.buffer_words(), u.word_bits());
        let krb = u.window_beats() / kh;
        let sw_beats = u.stride.1 * cb;
        let (row_bits, col_bits, beat_bits) = (index_bits(oh), index_bits(ow), index_bits(rb));
        let lit = |v: i64| self.signed(v);
        let addr = |v: usize| unsigned_literal(v, aw + 1);
        let (released_rows, released_words) = self.release_chains();
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!(
                "// line buffer: {} rows x {rb} words of {wb} bits; input row g in slot g mod {}",
                u.buffer_rows(),
                u.buffer_rows()
            ),
        );
        line(
            &mut v,
            0,
            format!("reg [{}:0] memory [0:{}];", wb - 1, words - 1),
        );
        line(&mut v, 0, format!("reg [{}:0] write_address;", aw - 1));
        line(&mut v, 0, format!("reg [{}:0] write_beat;", beat_bits - 1));
        line(&mut v, 0, "// complete rows written minus rows released");
        line(&mut v, 0, format!("reg signed [{}:0] held;", s - 1));
        line(&mut v, 0, format!("reg [{}:0] out_row;", row_bits - 1));
        line(&mut v, 0, format!("reg [{}:0] out_col;", col_bits - 1));
        for name in ["kernel_row", "beat_in_row", "row_start", "col_start"] {
            line(&mut v, 0, format!("reg signed [{}:0] {name};", s - 1));
        }
        line(
            &mut v,
            0,
            "// words of the window row's first real row, and of the kernel row's",
        );
        line(&mut v, 0, format!("reg [{}:0] base_address;", aw - 1));
        line(&mut v, 0, format!("reg [{}:0] row_address;", aw - 1));
        line(&mut v, 0, format!("reg [{}:0] read_data;", wb - 1));
        line(&mut v, 0, "reg read_pad;");
        line(&mut v, 0, "wire in_fire = in_valid && in_ready;");
        line(&mut v, 0, "wire advance = !out_valid || out_ready;");
        let sdecl = |v: &mut String, name: &str, expr: String| {
            line(v, 0, format!("wire signed [{}:0] {name} = {expr};", s - 1));
        };
        sdecl(
            &mut v,
            "row_top",
            format!("(row_start > {0}) ? row_start : {0}", lit(0)),
        );
        sdecl(
            &mut v,
            "row_end",
            format!(
                "(row_start + {k} < {h}) ? row_start + {k} : {h}",
                k = lit(kh as i64),
                h = lit(u.height as i64)
            ),
        );
        line(&mut v, 0, "wire can_read = held >= row_end - row_top;");
        line(&mut v, 0, "wire issue = advance && can_read;");
        sdecl(&mut v, "row", "row_start + kernel_row".into());
        sdecl(&mut v, "col", "col_start + beat_in_row".into());
        line(
            &mut v,
            0,
            format!(
                "wire pad = row < {z} || row >= {h} || col < {z} || col >= {rb};",
                z = lit(0),
                h = lit(u.height as i64),
                rb = lit(rb as i64)
            ),
        );
        line(
            &mut v,
            0,
            format!("wire [{aw}:0] address_sum = {{1'b0, row_address}} + col[{aw}:0];"),
        );
        line(
            &mut v,
            0,
            format!(
                "wire [{aw}:0] address_wrapped = (address_sum >= {d}) ? address_sum - {d} : address_sum;",
                d = addr(words)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire [{}:0] read_address = address_wrapped[{}:0];",
                aw - 1,
                aw - 1
            ),
        );
        line(
            &mut v,
            0,
            format!("wire unused_address_bit = address_wrapped[{aw}];"),
        );
        line(
            &mut v,
            0,
            format!(
                "wire end_of_kernel_row = beat_in_row == {};",
                lit(krb as i64 - 1)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire end_of_window = end_of_kernel_row && kernel_row == {};",
                lit(kh as i64 - 1)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire end_of_window_row = end_of_window && out_col == {};",
                unsigned_literal(ow - 1, col_bits)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire last_row = out_row == {};",
                unsigned_literal(oh - 1, row_bits)
            ),
        );
        line(&mut v, 0, "wire releasing = issue && end_of_window_row;");
        sdecl(&mut v, "release_rows", released_rows);
        line(
            &mut v,
            0,
            format!("wire [{aw}:0] release_words = {released_words};"),
        );
        line(
            &mut v,
            0,
            format!("wire [{aw}:0] base_sum = {{1'b0, base_address}} + release_words;"),
        );
        line(
            &mut v,
            0,
            format!(
                "wire [{aw}:0] next_base = (base_sum >= {d}) ? base_sum - {d} : base_sum;",
                d = addr(words)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire [{aw}:0] row_sum = {{1'b0, row_address}} + {};",
                addr(rb)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire [{aw}:0] next_row = (row_sum >= {d}) ? row_sum - {d} : row_sum;",
                d = addr(words)
            ),
        );
        line(
            &mut v,
            0,
            "// sums below twice the buffer: the wrapped values fit the address",
        );
        line(
            &mut v,
            0,
            format!("wire unused_wrap_bits = &{{1'b0, next_base[{aw}], next_row[{aw}]}};"),
        );
        line(
            &mut v,
            0,
            format!(
                "wire completed = in_fire && write_beat == {};",
                unsigned_literal(rb - 1, beat_bits)
            ),
        );
        sdecl(
            &mut v,
            "held_plus",
            format!("completed ? held + {} : held", lit(1)),
        );
        line(&mut v, 0, "always @(*) begin");
        line(
            &mut v,
            1,
            format!("in_ready = held < {};", lit(u.buffer_rows() as i64)),
        );
        line(
            &mut v,
            1,
            format!("out_data = read_pad ? {}'d0 : read_data;", wb),
        );
        line(&mut v, 0, "end");
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) begin");
        for (name, value) in [
            ("write_address", unsigned_literal(0, aw)),
            ("write_beat", unsigned_literal(0, beat_bits)),
            ("held", lit(0)),
            ("out_valid", "1'b0".into()),
            ("out_row", unsigned_literal(0, row_bits)),
            ("out_col", unsigned_literal(0, col_bits)),
            ("kernel_row", lit(0)),
            ("beat_in_row", lit(0)),
            ("row_start", lit(-(u.padding.top as i64))),
            ("col_start", lit(-((u.padding.left * cb) as i64))),
            ("base_address", unsigned_literal(0, aw)),
            ("row_address", unsigned_literal(0, aw)),
        ] {
            line(&mut v, 2, format!("{name} <= {value};"));
        }
        line(&mut v, 1, "end else begin");
        line(&mut v, 2, "if (in_fire) begin");
        line(
            &mut v,
            3,
            format!(
                "write_address <= (write_address == {}) ? {} : write_address + {};",
                unsigned_literal(words - 1, aw),
                unsigned_literal(0, aw),
                unsigned_literal(1, aw)
            ),
        );
        line(
            &mut v,
            3,
            format!(
                "write_beat <= (write_beat == {}) ? {} : write_beat + {};",
                unsigned_literal(rb - 1, beat_bits),
                unsigned_literal(0, beat_bits),
                unsigned_literal(1, beat_bits)
            ),
        );
        line(&mut v, 2, "end");
        line(
            &mut v,
            2,
            "held <= releasing ? held_plus - release_rows : held_plus;",
        );
        line(&mut v, 2, "if (advance) out_valid <= issue;");
        line(&mut v, 2, "if (issue) begin");
        line(&mut v, 3, "if (!end_of_kernel_row) begin");
        line(
            &mut v,
            4,
            format!("beat_in_row <= beat_in_row + {};", lit(1)),
        );
        line(&mut v, 3, "end else begin");
        line(&mut v, 4, format!("beat_in_row <= {};", lit(0)));
        line(&mut v, 4, "if (!end_of_window) begin");
        line(&mut v, 5, format!("kernel_row <= kernel_row + {};", lit(1)));
        line(
            &mut v,
            5,
            "// rows above the map (top padding) hold no words",
        );
        line(
            &mut v,
            5,
            format!(
                "if (row >= {}) row_address <= next_row[{}:0];",
                lit(0),
                aw - 1
            ),
        );
        line(&mut v, 4, "end else begin");
        line(&mut v, 5, format!("kernel_row <= {};", lit(0)));
        line(&mut v, 5, "if (!end_of_window_row) begin");
        line(
            &mut v,
            6,
            format!("out_col <= out_col + {};", unsigned_literal(1, col_bits)),
        );
        line(
            &mut v,
            6,
            format!("col_start <= col_start + {};", lit(sw_beats as i64)),
        );
        line(&mut v, 6, "row_address <= base_address;");
        line(&mut v, 5, "end else begin");
        line(
            &mut v,
            6,
            format!("out_col <= {};", unsigned_literal(0, col_bits)),
        );
        line(
            &mut v,
            6,
            format!("col_start <= {};", lit(-((u.padding.left * cb) as i64))),
        );
        line(
            &mut v,
            6,
            format!("base_address <= next_base[{}:0];", aw - 1),
        );
        line(
            &mut v,
            6,
            format!("row_address <= next_base[{}:0];", aw - 1),
        );
        line(&mut v, 6, "if (last_row) begin");
        line(
            &mut v,
            7,
            format!("out_row <= {};", unsigned_literal(0, row_bits)),
        );
        line(
            &mut v,
            7,
            format!("row_start <= {};", lit(-(u.padding.top as i64))),
        );
        line(&mut v, 6, "end else begin");
        line(
            &mut v,
            7,
            format!("out_row <= out_row + {};", unsigned_literal(1, row_bits)),
        );
        line(
            &mut v,
            7,
            format!("row_start <= row_start + {};", lit(u.stride.0 as i64)),
        );
        line(&mut v, 6, "end");
        line(&mut v, 5, "end");
        line(&mut v, 4, "end");
        line(&mut v, 3, "end");
        line(&mut v, 2, "end");
        line(&mut v, 1, "end");
        line(&mut v, 1, "// the memory ports: no reset");
        line(&mut v, 1, "if (in_fire) memory[write_address] <= in_data;");
        line(&mut v, 1, "if (issue) read_pad <= pad;");
        line(
            &mut v,
            1,
            "if (issue && !pad) read_data <= memory[read_address];",
        );
        line(&mut v, 0, "end");
        v
    }
}

/// The max-pool reducer: per beat of channels, the running maximum over a
/// window's pixels; the window's last pixel loads the output register.
#[derive(LogicBlock)]
pub struct PoolReducer {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    _plan: MaxPoolUnit,
    _maxima: Vec<i128>,
    _pixel: usize,
    _beat: usize,
    _out: Vec<i128>,
    _out_valid: bool,
}

impl PoolReducer {
    pub fn new(plan: &MaxPoolUnit) -> Self {
        let bits = plan.shape().bits();
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(bits, bits);
        PoolReducer {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            _plan: plan.clone(),
            _maxima: vec![0; plan.channels],
            _pixel: 0,
            _beat: 0,
            _out: vec![0; plan.simd],
            _out_valid: false,
        }
    }

    fn verilog(&self) -> String {
        let p = &self._plan;
        let e = p.element.bits as usize;
        let wb = p.shape().bits();
        let cb = p.window().beats_per_pixel();
        let pixels = p.pool_pixels();
        let (pixel_bits, beat_bits) = (index_bits(pixels), index_bits(cb));
        let sign = if p.element.signed { "signed " } else { "" };
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!("// running maxima of {cb} beats of channels over {pixels} pixels"),
        );
        line(
            &mut v,
            0,
            format!("reg [{}:0] maxima [0:{}];", wb - 1, cb - 1),
        );
        line(&mut v, 0, format!("reg [{}:0] pixel;", pixel_bits - 1));
        line(&mut v, 0, format!("reg [{}:0] beat;", beat_bits - 1));
        line(&mut v, 0, "wire advance = !out_valid || out_ready;");
        line(&mut v, 0, "wire in_fire = in_valid && advance;");
        line(
            &mut v,
            0,
            format!(
                "wire first_pixel = pixel == {};",
                unsigned_literal(0, pixel_bits)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire last_pixel = pixel == {};",
                unsigned_literal(pixels - 1, pixel_bits)
            ),
        );
        line(
            &mut v,
            0,
            format!(
                "wire last_beat = beat == {};",
                unsigned_literal(cb - 1, beat_bits)
            ),
        );
        let index = if cb == 1 {
            "1'b0".to_string()
        } else {
            "beat".to_string()
        };
        line(
            &mut v,
            0,
            format!("wire [{}:0] kept = maxima[{index}];", wb - 1),
        );
        if cb == 1 {
            line(&mut v, 0, "wire unused_beat = beat[0];");
        }
        for j in 0..p.simd {
            line(
                &mut v,
                0,
                format!(
                    "wire {sign}[{}:0] x{j} = {};",
                    e - 1,
                    element("in_data", wb, j, e)
                ),
            );
            line(
                &mut v,
                0,
                format!(
                    "wire {sign}[{}:0] m{j} = {};",
                    e - 1,
                    element("kept", wb, j, e)
                ),
            );
            line(
                &mut v,
                0,
                format!(
                    "wire [{}:0] n{j} = (first_pixel || x{j} > m{j}) ? x{j} : m{j};",
                    e - 1
                ),
            );
        }
        let parts: Vec<String> = (0..p.simd).rev().map(|j| format!("n{j}")).collect();
        line(
            &mut v,
            0,
            format!("wire [{}:0] next_word = {{{}}};", wb - 1, parts.join(", ")),
        );
        line(&mut v, 0, "always @(*) in_ready = advance;");
        line(&mut v, 0, "always @(posedge clock) begin");
        line(&mut v, 1, "if (!rst_n) begin");
        line(&mut v, 2, "out_valid <= 1'b0;");
        line(
            &mut v,
            2,
            format!("pixel <= {};", unsigned_literal(0, pixel_bits)),
        );
        line(
            &mut v,
            2,
            format!("beat <= {};", unsigned_literal(0, beat_bits)),
        );
        line(&mut v, 1, "end else if (advance) begin");
        line(&mut v, 2, "out_valid <= in_fire && last_pixel;");
        line(&mut v, 2, "if (in_fire) begin");
        line(
            &mut v,
            3,
            format!(
                "beat <= last_beat ? {} : beat + {};",
                unsigned_literal(0, beat_bits),
                unsigned_literal(1, beat_bits)
            ),
        );
        line(
            &mut v,
            3,
            format!(
                "if (last_beat) pixel <= last_pixel ? {} : pixel + {};",
                unsigned_literal(0, pixel_bits),
                unsigned_literal(1, pixel_bits)
            ),
        );
        line(&mut v, 2, "end");
        line(&mut v, 1, "end");
        line(
            &mut v,
            1,
            format!("if (in_fire) maxima[{index}] <= next_word;"),
        );
        line(
            &mut v,
            1,
            "if (in_fire && last_pixel) out_data <= next_word;",
        );
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for PoolReducer {
    fn update(&mut self) {
        let p = &self._plan;
        let (simd, e) = (p.simd, p.element);
        let cb = p.window().beats_per_pixel();
        if self.clock.pos_edge() {
            let advance = !self._out_valid || self.out_ready.is_high();
            if !self.rst_n.is_high() {
                self._out_valid = false;
                self._pixel = 0;
                self._beat = 0;
            } else if advance {
                let fire = self.in_valid.is_high();
                self._out_valid = fire && self._pixel + 1 == p.pool_pixels();
                if fire {
                    let data = self.in_data.val();
                    for j in 0..simd {
                        let x = data.element(j, e.bits as usize, e.signed);
                        let m = &mut self._maxima[self._beat * simd + j];
                        *m = if self._pixel == 0 { x } else { (*m).max(x) };
                    }
                    if self._out_valid {
                        self._out =
                            self._maxima[self._beat * simd..(self._beat + 1) * simd].to_vec();
                    }
                    self._beat += 1;
                    if self._beat == cb {
                        self._beat = 0;
                        self._pixel = (self._pixel + 1) % p.pool_pixels();
                    }
                }
            }
        }
        self.in_ready
            .set(!self._out_valid || self.out_ready.is_high());
        self.out_valid.set(self._out_valid);
        self.out_data.next = BitVector::pack(&self._out, e.bits as usize);
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

/// The max-pool unit: a window unit without padding, then the reducer.
#[derive(LogicBlock)]
pub struct MaxPoolBlock {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub window: SlidingWindowBlock,
    pub reducer: PoolReducer,
}

impl MaxPoolBlock {
    pub fn new(plan: &MaxPoolUnit) -> Self {
        let bits = plan.shape().bits();
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(bits, bits);
        MaxPoolBlock {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            window: SlidingWindowBlock::new(&plan.window()),
            reducer: PoolReducer::new(plan),
        }
    }
}

impl Logic for MaxPoolBlock {
    #[hdl_gen]
    fn update(&mut self) {
        self.window.clock.next = self.clock.val();
        self.window.rst_n.next = self.rst_n.val();
        self.reducer.clock.next = self.clock.val();
        self.reducer.rst_n.next = self.rst_n.val();
        self.window.in_data.next = self.in_data.val();
        self.window.in_valid.next = self.in_valid.val();
        self.in_ready.next = self.window.in_ready.val();
        self.reducer.in_data.next = self.window.out_data.val();
        self.reducer.in_valid.next = self.window.out_valid.val();
        self.window.out_ready.next = self.reducer.in_ready.val();
        self.out_data.next = self.reducer.out_data.val();
        self.out_valid.next = self.reducer.out_valid.val();
        self.reducer.out_ready.next = self.out_ready.val();
    }
}
