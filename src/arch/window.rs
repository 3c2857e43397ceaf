//! The sliding-window unit (im2col in hardware) and the max-pool unit built
//! on it: their parameters, buffer sizes, rates, and the counters both
//! share. [`WindowControl`] is the one description of when the unit writes
//! a beat into its line buffer, when it may emit one, and from where: the
//! simulator steps it with data, the plan steps it without to time the
//! unit, and the Verilog of `rtl::window` implements the same registers.
//! The rules are in `docs/design.md#sliding-window-unit`.

use super::StreamShape;
use crate::model::IntType;
use serde::Serialize;

/// Cycles from a window beat's issue to its output beat being valid (one
/// registered read of the line buffer).
pub const WINDOW_LATENCY: u64 = 1;

/// Zero rows and columns around the input map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Padding {
    pub top: usize,
    pub left: usize,
    pub bottom: usize,
    pub right: usize,
}

impl Padding {
    pub const NONE: Padding = Padding {
        top: 0,
        left: 0,
        bottom: 0,
        right: 0,
    };

    /// `[top, left, bottom, right]`, the order of the model format.
    pub fn from_array([top, left, bottom, right]: [usize; 4]) -> Self {
        Padding {
            top,
            left,
            bottom,
            right,
        }
    }
}

/// Streams every `kh x kw` window of an `H x W x C` map (NHWC, channel
/// fastest, `simd` channels per beat) as one vector of `kh*kw*C` elements
/// in `(ky, kx, c)` order, `c` fastest: windows in row-major order of their
/// top-left corner, `stride` apart, over the map with `padding` zeros
/// around it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlidingWindowUnit {
    pub name: String,
    pub layer: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    /// `(kh, kw)`.
    pub kernel: (usize, usize),
    /// `(sh, sw)`.
    pub stride: (usize, usize),
    pub padding: Padding,
    /// Elements per beat, in and out; divides `channels`.
    pub simd: usize,
    pub element: IntType,
}

impl SlidingWindowUnit {
    /// Why these parameters describe no unit, if they do not.
    pub fn problem(&self) -> Option<String> {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let p = self.padding;
        if self.height == 0 || self.width == 0 || self.channels == 0 {
            return Some(format!(
                "`{}`: an empty map {} x {} x {}",
                self.name, self.height, self.width, self.channels
            ));
        }
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return Some(format!(
                "`{}`: kernel {kh} x {kw}, stride {sh} x {sw}",
                self.name
            ));
        }
        if self.simd == 0 || !self.channels.is_multiple_of(self.simd) {
            return Some(format!(
                "`{}`: SIMD {} does not divide {} channels",
                self.name, self.simd, self.channels
            ));
        }
        if self.height + p.top + p.bottom < kh || self.width + p.left + p.right < kw {
            return Some(format!(
                "`{}`: a {kh} x {kw} kernel exceeds the padded map",
                self.name
            ));
        }
        // A padding row or column the kernel never reaches is not hardware.
        if p.top >= kh || p.bottom >= kh || p.left >= kw || p.right >= kw {
            return Some(format!(
                "`{}`: padding {:?} reaches beyond a {kh} x {kw} kernel",
                self.name, p
            ));
        }
        None
    }

    /// `(OH, OW)`: `(H + top + bottom - kh) / sh + 1` and the same across.
    pub fn output(&self) -> (usize, usize) {
        let p = self.padding;
        (
            (self.height + p.top + p.bottom - self.kernel.0) / self.stride.0 + 1,
            (self.width + p.left + p.right - self.kernel.1) / self.stride.1 + 1,
        )
    }

    /// Beats per pixel, `C / SIMD`.
    pub fn beats_per_pixel(&self) -> usize {
        self.channels / self.simd
    }

    /// Beats of one input row, `W * C / SIMD`: a row of the line buffer.
    pub fn row_beats(&self) -> usize {
        self.width * self.beats_per_pixel()
    }

    /// Beats of one window, `kh * kw * C / SIMD`.
    pub fn window_beats(&self) -> usize {
        self.kernel.0 * self.kernel.1 * self.beats_per_pixel()
    }

    /// Elements of one window, the vector the next unit takes.
    pub fn window_length(&self) -> usize {
        self.kernel.0 * self.kernel.1 * self.channels
    }

    /// Windows per image, `OH * OW`.
    pub fn windows(&self) -> usize {
        let (oh, ow) = self.output();
        oh * ow
    }

    /// Rows of the line buffer: `2*kh + sh - 1`. `kh` rows hold a window;
    /// the next row of windows needs `sh` more; the first row of windows of
    /// the next image needs up to `kh` rows of it while up to `kh + sh - 1`
    /// rows of this one are still held. With that many the input never
    /// waits for the buffer while the windows are slower, and the windows
    /// never wait for the input while it is ahead, so the unit's rate is
    /// the slower of its two sides (section 5 of the design document).
    pub fn buffer_rows(&self) -> usize {
        2 * self.kernel.0 + self.stride.0 - 1
    }

    /// Words (beats of `SIMD` elements) of the line buffer:
    /// `(2*kh + sh - 1) * W * C / SIMD`.
    pub fn buffer_words(&self) -> usize {
        self.buffer_rows() * self.row_beats()
    }

    /// Bits of one line-buffer word.
    pub fn word_bits(&self) -> usize {
        self.simd * self.element.bits as usize
    }

    pub fn input_beats_per_image(&self) -> usize {
        self.height * self.row_beats()
    }

    pub fn output_beats_per_image(&self) -> usize {
        self.windows() * self.window_beats()
    }

    /// One beat per cycle on each side; the slower side sets the rate.
    pub fn cycles_per_image(&self) -> u64 {
        self.input_beats_per_image()
            .max(self.output_beats_per_image()) as u64
    }

    pub fn latency(&self) -> u64 {
        WINDOW_LATENCY
    }

    pub fn input_shape(&self) -> StreamShape {
        StreamShape {
            elements: self.simd,
            element: self.element,
        }
    }

    /// Line-buffer address bits.
    pub fn address_bits(&self) -> usize {
        bits_to_count(self.buffer_words())
    }

    /// Width of the hardware's signed row, column and held-row arithmetic:
    /// room for every row and column position, padding and kernel
    /// included, and for a line-buffer address, plus a sign bit.
    pub fn arithmetic_bits(&self) -> usize {
        let (oh, ow) = self.output();
        let (kh, _) = self.kernel;
        let (sh, sw) = self.stride;
        let cb = self.beats_per_pixel();
        let largest = [
            self.height + kh + sh * oh + self.padding.top,
            self.row_beats() + self.window_beats() + sw * cb * ow + self.padding.left * cb,
            self.buffer_rows() + kh + sh,
            oh,
            ow,
            1 << self.address_bits(),
        ]
        .into_iter()
        .max()
        .expect("constants");
        bits_to_count(largest + 1) + 1
    }

    /// Real input rows a row of windows starting at input row `row_start`
    /// (`oy*sh - top`, negative in the top padding) reads.
    pub fn rows_needed(&self, row_start: i64) -> i64 {
        let h = self.height as i64;
        (row_start + self.kernel.0 as i64).min(h) - row_start.max(0)
    }

    /// Rows released after the last beat of the row of windows starting at
    /// `row_start`: up to the next row's first real row, or the rest of
    /// the image after the last row of windows (rows below it included,
    /// written or not).
    pub fn rows_released(&self, row_start: i64, last_row: bool) -> i64 {
        let top = row_start.max(0);
        if last_row {
            self.height as i64 - top
        } else {
            (row_start + self.stride.0 as i64).max(0) - top
        }
    }
}

/// Bits needed to count `0..n` (at least 1).
fn bits_to_count(n: usize) -> usize {
    let mut bits = 1;
    while (1usize << bits) < n {
        bits += 1;
    }
    bits
}

/// Where a window beat comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSource {
    /// The line-buffer word at this address.
    Buffer(usize),
    /// A padding beat: zeros, nothing read.
    Padding,
}

/// The counters of a sliding-window unit (no data). The write side puts
/// input beats at consecutive line-buffer addresses, wrapping at the end:
/// input row `g` (counted over all images) in row slot `g mod R`. `held`
/// counts complete rows written minus rows released; the read side may
/// release rows not yet written (rows no window reads), making it negative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowControl {
    // Constants.
    rows: usize,
    row_beats: usize,
    words: usize,
    out_rows: usize,
    out_cols: usize,
    kernel_rows: usize,
    kernel_row_beats: usize,
    stride_row: i64,
    stride_beats: i64,
    first_row_start: i64,
    first_col_start: i64,
    // Write side.
    write_address: usize,
    write_beat: usize,
    held: i64,
    // Read side.
    out_row: usize,
    out_col: usize,
    kernel_row: usize,
    /// `kx * C/SIMD + cb` within the kernel row.
    beat_in_row: usize,
    /// `oy*sh - top`: the input row of the window's first kernel row.
    row_start: i64,
    /// `(ox*sw - left) * C/SIMD`: the beat within an input row of the
    /// window's first column.
    col_start: i64,
    /// Row slot of input row `max(0, row_start)` of the current image.
    base_slot: usize,
}

impl WindowControl {
    pub fn new(unit: &SlidingWindowUnit) -> Self {
        let (out_rows, out_cols) = unit.output();
        let cb = unit.beats_per_pixel();
        let first_row_start = -(unit.padding.top as i64);
        let first_col_start = -((unit.padding.left * cb) as i64);
        WindowControl {
            rows: unit.buffer_rows(),
            row_beats: unit.row_beats(),
            words: unit.buffer_words(),
            out_rows,
            out_cols,
            kernel_rows: unit.kernel.0,
            kernel_row_beats: unit.kernel.1 * cb,
            stride_row: unit.stride.0 as i64,
            stride_beats: (unit.stride.1 * cb) as i64,
            first_row_start,
            first_col_start,
            write_address: 0,
            write_beat: 0,
            held: 0,
            out_row: 0,
            out_col: 0,
            kernel_row: 0,
            beat_in_row: 0,
            row_start: first_row_start,
            col_start: first_col_start,
            base_slot: 0,
        }
    }

    /// `in_ready`: the row being written has a free slot.
    pub fn can_write(&self) -> bool {
        self.held < self.rows as i64
    }

    /// The line-buffer address of the next input beat.
    pub fn write_address(&self) -> usize {
        self.write_address
    }

    /// Whether every row the current row of windows reads is complete.
    pub fn can_read(&self, unit: &SlidingWindowUnit) -> bool {
        self.held >= unit.rows_needed(self.row_start)
    }

    /// The source of the next window beat.
    pub fn source(&self, unit: &SlidingWindowUnit) -> WindowSource {
        let row = self.row_start + self.kernel_row as i64;
        let col = self.col_start + self.beat_in_row as i64;
        if row < 0 || row >= unit.height as i64 || col < 0 || col >= self.row_beats as i64 {
            return WindowSource::Padding;
        }
        let offset = (row - self.row_start.max(0)) as usize;
        let mut slot = self.base_slot + offset;
        if slot >= self.rows {
            slot -= self.rows;
        }
        WindowSource::Buffer(slot * self.row_beats + col as usize)
    }

    /// The clock edge: `write` when an input beat was taken, `issue` when a
    /// window beat was issued.
    pub fn step(&mut self, unit: &SlidingWindowUnit, write: bool, issue: bool) {
        let mut completed = 0;
        if write {
            self.write_address += 1;
            if self.write_address == self.words {
                self.write_address = 0;
            }
            self.write_beat += 1;
            if self.write_beat == self.row_beats {
                self.write_beat = 0;
                completed = 1;
            }
        }
        let released = if issue { self.advance_read(unit) } else { 0 };
        self.held += completed - released;
    }

    /// Moves the read counters past one issued beat; returns the rows
    /// released.
    fn advance_read(&mut self, unit: &SlidingWindowUnit) -> i64 {
        self.beat_in_row += 1;
        if self.beat_in_row < self.kernel_row_beats {
            return 0;
        }
        self.beat_in_row = 0;
        self.kernel_row += 1;
        if self.kernel_row < self.kernel_rows {
            return 0;
        }
        self.kernel_row = 0;
        self.out_col += 1;
        self.col_start += self.stride_beats;
        if self.out_col < self.out_cols {
            return 0;
        }
        self.out_col = 0;
        self.col_start = self.first_col_start;
        let last_row = self.out_row + 1 == self.out_rows;
        let released = unit.rows_released(self.row_start, last_row);
        self.base_slot += released as usize;
        if self.base_slot >= self.rows {
            self.base_slot -= self.rows;
        }
        if last_row {
            self.out_row = 0;
            self.row_start = self.first_row_start;
        } else {
            self.out_row += 1;
            self.row_start += self.stride_row;
        }
        released
    }

    pub fn describe(&self) -> String {
        format!(
            "held rows {}, write beat {} of the row; window row {} col {}, kernel row {}, beat {}",
            self.held,
            self.write_beat,
            self.out_row,
            self.out_col,
            self.kernel_row,
            self.beat_in_row
        )
    }
}

/// Output valid times of the unit's beats for input beats offered at
/// `arrivals`, with the output always ready: the counters stepped cycle
/// by cycle, as the plan's other timelines apply each unit's rule.
pub fn window_timeline(unit: &SlidingWindowUnit, arrivals: &[u64]) -> Vec<u64> {
    let images = arrivals.len() / unit.input_beats_per_image();
    let outputs = images * unit.output_beats_per_image();
    let mut control = WindowControl::new(unit);
    let mut result = Vec::with_capacity(outputs);
    let (mut next_in, mut cycle) = (0usize, 0u64);
    while result.len() < outputs {
        let write = next_in < arrivals.len() && arrivals[next_in] <= cycle && control.can_write();
        let issue = control.can_read(unit);
        if issue {
            result.push(cycle + WINDOW_LATENCY);
        }
        if write {
            next_in += 1;
        }
        control.step(unit, write, issue);
        cycle += 1;
    }
    result
}

/// `kh x kw` max pooling, `stride` apart, of an `H x W x C` map (NHWC in and
/// out, `simd` channels per beat): a sliding window without padding, then a
/// reducer that keeps the running maximum of each beat of channels over
/// the window's `kh*kw` pixels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaxPoolUnit {
    pub name: String,
    pub layer: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub simd: usize,
    pub element: IntType,
}

/// Cycles from the last beat of a pooling window entering the reducer to
/// its maximum being valid.
pub const POOL_REDUCER_LATENCY: u64 = 1;

impl MaxPoolUnit {
    /// The window unit inside: the same map and kernel, no padding.
    pub fn window(&self) -> SlidingWindowUnit {
        SlidingWindowUnit {
            name: format!("{}_window", self.name),
            layer: self.layer,
            height: self.height,
            width: self.width,
            channels: self.channels,
            kernel: self.kernel,
            stride: self.stride,
            padding: Padding::NONE,
            simd: self.simd,
            element: self.element,
        }
    }

    pub fn problem(&self) -> Option<String> {
        self.window().problem()
    }

    /// `(PH, PW)`.
    pub fn output(&self) -> (usize, usize) {
        self.window().output()
    }

    /// Pixels of a pooling window, `kh * kw`.
    pub fn pool_pixels(&self) -> usize {
        self.kernel.0 * self.kernel.1
    }

    pub fn cycles_per_image(&self) -> u64 {
        self.window().cycles_per_image()
    }

    /// The window unit's, then the reducer's output register.
    pub fn latency(&self) -> u64 {
        WINDOW_LATENCY + POOL_REDUCER_LATENCY
    }

    pub fn shape(&self) -> StreamShape {
        StreamShape {
            elements: self.simd,
            element: self.element,
        }
    }

    pub fn output_beats_per_image(&self) -> usize {
        let (ph, pw) = self.output();
        ph * pw * self.window().beats_per_pixel()
    }
}

/// Output valid times of a max-pool unit: the window unit's timeline, and
/// the reducer's register one cycle after each window's last beat.
pub fn pool_timeline(unit: &MaxPoolUnit, arrivals: &[u64]) -> Vec<u64> {
    let window = window_timeline(&unit.window(), arrivals);
    let cb = unit.window().beats_per_pixel();
    let k = unit.pool_pixels();
    window
        .chunks(k * cb)
        .flat_map(|w| w[(k - 1) * cb..].iter().map(|c| c + POOL_REDUCER_LATENCY))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(
        hw: (usize, usize),
        c: usize,
        k: (usize, usize),
        s: (usize, usize),
        pad: [usize; 4],
        simd: usize,
    ) -> SlidingWindowUnit {
        SlidingWindowUnit {
            name: "w".into(),
            layer: 0,
            height: hw.0,
            width: hw.1,
            channels: c,
            kernel: k,
            stride: s,
            padding: Padding::from_array(pad),
            simd,
            element: IntType::signed(4),
        }
    }

    /// The beats the counters emit for one image, as `(iy, ix, cb)` or
    /// padding, from the line-buffer addresses and the order of writes.
    fn emitted(u: &SlidingWindowUnit) -> Vec<Option<(usize, usize, usize)>> {
        let mut c = WindowControl::new(u);
        let mut stored = vec![None; u.buffer_words()];
        let total_in = u.input_beats_per_image();
        let cb = u.beats_per_pixel();
        let (mut written, mut out) = (0, Vec::new());
        while out.len() < u.output_beats_per_image() {
            let write = written < total_in && c.can_write();
            let issue = c.can_read(u);
            if issue {
                out.push(match c.source(u) {
                    WindowSource::Padding => None,
                    WindowSource::Buffer(a) => Some(stored[a].expect("read before written")),
                });
            }
            if write {
                let b = written;
                stored[c.write_address()] =
                    Some((b / u.row_beats(), (b % u.row_beats()) / cb, b % cb));
                written += 1;
            }
            c.step(u, write, issue);
        }
        out
    }

    fn im2col(u: &SlidingWindowUnit) -> Vec<Option<(usize, usize, usize)>> {
        let (oh, ow) = u.output();
        let mut out = Vec::new();
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..u.kernel.0 {
                    for kx in 0..u.kernel.1 {
                        for cb in 0..u.beats_per_pixel() {
                            let iy = (oy * u.stride.0 + ky) as i64 - u.padding.top as i64;
                            let ix = (ox * u.stride.1 + kx) as i64 - u.padding.left as i64;
                            let real = (0..u.height as i64).contains(&iy)
                                && (0..u.width as i64).contains(&ix);
                            out.push(real.then_some((iy as usize, ix as usize, cb)));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn counters_emit_the_windows_in_im2col_order() {
        let cases = [
            unit((5, 4), 2, (3, 3), (1, 1), [1, 1, 1, 1], 1),
            unit((6, 7), 4, (3, 2), (2, 2), [0, 1, 0, 0], 2),
            unit((5, 5), 1, (1, 1), (2, 2), [0, 0, 0, 0], 1),
            unit((3, 4), 3, (4, 5), (1, 1), [1, 0, 0, 1], 3),
            unit((8, 3), 2, (2, 3), (3, 1), [0, 0, 1, 0], 1),
        ];
        for u in &cases {
            assert_eq!(u.problem(), None);
            assert_eq!(emitted(u), im2col(u), "{u:?}");
        }
    }

    #[test]
    fn output_size_and_buffer() {
        let u = unit((32, 32), 16, (3, 3), (1, 1), [1, 1, 1, 1], 4);
        assert_eq!(u.output(), (32, 32));
        assert_eq!(u.buffer_rows(), 6);
        assert_eq!(u.buffer_words(), 6 * 32 * 4);
        assert_eq!(u.cycles_per_image(), 32 * 32 * 9 * 4);
        let strided = unit((7, 7), 1, (3, 3), (2, 2), [0, 0, 0, 0], 1);
        assert_eq!(strided.output(), (3, 3));
        assert!(
            unit((3, 3), 1, (3, 3), (1, 1), [3, 0, 0, 0], 1)
                .problem()
                .is_some()
        );
    }
}
