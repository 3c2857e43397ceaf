//! The sliding-window unit: a line buffer written by the input stream and
//! read window beat by window beat under [`WindowControl`], through one
//! output register that moves on `advance`; and the max-pool unit, the same
//! window unit feeding a reducer.

use super::unit::StreamUnit;
use crate::arch::{MaxPoolUnit, SlidingWindowUnit, WindowControl, WindowSource};

/// Registers and line buffer of a sliding-window unit.
#[derive(Clone, Debug)]
pub struct WindowState {
    unit: SlidingWindowUnit,
    control: WindowControl,
    /// `buffer_words` words of `simd` elements.
    memory: Vec<i64>,
    out_values: Vec<i64>,
    out_valid: bool,
}

impl WindowState {
    pub fn new(unit: &SlidingWindowUnit) -> Self {
        WindowState {
            unit: unit.clone(),
            control: WindowControl::new(unit),
            memory: vec![0; unit.buffer_words() * unit.simd],
            out_values: vec![0; unit.simd],
            out_valid: false,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}; output valid {}",
            self.control.describe(),
            self.out_valid
        )
    }
}

impl StreamUnit for WindowState {
    fn out_valid(&self) -> bool {
        self.out_valid
    }

    fn out_data(&self) -> &[i64] {
        &self.out_values
    }

    /// The row being written has a free slot: from state alone.
    fn in_ready(&self, _out_ready: bool) -> bool {
        self.control.can_write()
    }

    /// On `advance = !out_valid || out_ready` a window beat issues when its
    /// rows are complete: the output register takes the line-buffer word
    /// (read before this edge's write) or zeros for padding. The input beat,
    /// if any, is written at the write address.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        let advance = !self.out_valid || out_fire;
        let issue = advance && self.control.can_read(&self.unit);
        if advance {
            self.out_valid = issue;
            if issue {
                let simd = self.unit.simd;
                match self.control.source(&self.unit) {
                    WindowSource::Buffer(address) => self
                        .out_values
                        .copy_from_slice(&self.memory[address * simd..(address + 1) * simd]),
                    WindowSource::Padding => self.out_values.fill(0),
                }
            }
        }
        if let Some(beat) = input {
            let start = self.control.write_address() * self.unit.simd;
            self.memory[start..start + beat.len()].copy_from_slice(beat);
        }
        self.control.step(&self.unit, input.is_some(), issue);
    }

    fn is_quiet(&self) -> bool {
        !self.out_valid && !self.control.can_read(&self.unit)
    }
}

/// The reducer of a max-pool unit: the running maximum of each beat of
/// channels over the `kh*kw` pixels of a window, and an output register.
#[derive(Clone, Debug)]
struct Reducer {
    simd: usize,
    beats_per_pixel: usize,
    pixels: usize,
    /// `beats_per_pixel` words of `simd` running maxima.
    maxima: Vec<i64>,
    pixel: usize,
    beat: usize,
    out_values: Vec<i64>,
    out_valid: bool,
}

impl Reducer {
    fn advance(&self, out_ready: bool) -> bool {
        !self.out_valid || out_ready
    }

    /// On advance: the beat (if any) enters the maximum of its channels;
    /// the window's last pixel loads the output register.
    fn step(&mut self, input: Option<&[i64]>, advance: bool) {
        if !advance {
            return;
        }
        let Some(beat) = input else {
            self.out_valid = false;
            return;
        };
        let word = &mut self.maxima[self.beat * self.simd..(self.beat + 1) * self.simd];
        for (m, &x) in word.iter_mut().zip(beat) {
            *m = if self.pixel == 0 { x } else { (*m).max(x) };
        }
        self.out_valid = self.pixel + 1 == self.pixels;
        if self.out_valid {
            self.out_values.copy_from_slice(word);
        }
        self.beat += 1;
        if self.beat == self.beats_per_pixel {
            self.beat = 0;
            self.pixel += 1;
            if self.pixel == self.pixels {
                self.pixel = 0;
            }
        }
    }
}

/// A max-pool unit: its window unit and its reducer.
#[derive(Clone, Debug)]
pub struct PoolState {
    window: WindowState,
    reducer: Reducer,
    /// The window beat handed to the reducer in a step.
    passed: Vec<i64>,
}

impl PoolState {
    pub fn new(unit: &MaxPoolUnit) -> Self {
        let window = unit.window();
        PoolState {
            reducer: Reducer {
                simd: unit.simd,
                beats_per_pixel: window.beats_per_pixel(),
                pixels: unit.pool_pixels(),
                maxima: vec![0; unit.channels],
                pixel: 0,
                beat: 0,
                out_values: vec![0; unit.simd],
                out_valid: false,
            },
            window: WindowState::new(&window),
            passed: vec![0; unit.simd],
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "window: {}; reducer pixel {} beat {}, output valid {}",
            self.window.describe(),
            self.reducer.pixel,
            self.reducer.beat,
            self.reducer.out_valid
        )
    }
}

impl StreamUnit for PoolState {
    fn out_valid(&self) -> bool {
        self.reducer.out_valid
    }

    fn out_data(&self) -> &[i64] {
        &self.reducer.out_values
    }

    fn in_ready(&self, _out_ready: bool) -> bool {
        self.window.control.can_write()
    }

    /// The reducer's `advance` is the window unit's output ready.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        let advance = self.reducer.advance(out_fire);
        let passed = self.window.out_valid && advance;
        if passed {
            self.passed.copy_from_slice(&self.window.out_values);
        }
        self.reducer
            .step(passed.then_some(self.passed.as_slice()), advance);
        self.window.step(input, passed);
    }

    fn is_quiet(&self) -> bool {
        !self.reducer.out_valid && self.window.is_quiet()
    }
}
