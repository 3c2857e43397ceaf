//! Sliding-window layers. A convolution gathers each window of its input map
//! (row-major over output pixels; taps in `(ky, kx, c)` order, padding as
//! zeros) and runs its dense layer on it, in the dense layer's accumulation
//! order. A max pool keeps the largest element of each window per channel.

use super::OverflowEvents;
use super::dense::DenseStage;
use super::error::Overwide;
use crate::model::{MaxPool, Window};

pub(super) struct ConvStage {
    window: Window,
    dense: DenseStage,
}

/// The output pixels of `window`, row-major.
fn pixels(window: &Window) -> impl Iterator<Item = (usize, usize)> + '_ {
    (0..window.out_height()).flat_map(move |oy| (0..window.out_width()).map(move |ox| (oy, ox)))
}

impl ConvStage {
    pub fn new(window: Window, dense: DenseStage) -> Self {
        ConvStage { window, dense }
    }

    pub fn out_length(&self) -> usize {
        self.window.out_height() * self.window.out_width() * self.dense.out_features()
    }

    pub fn taps(&self) -> usize {
        self.window.taps()
    }

    /// Multiply-accumulates per input map.
    pub fn macs(&self) -> usize {
        self.dense.macs() * self.window.out_height() * self.window.out_width()
    }

    /// Every output pixel's accumulators, pixel after pixel; `window` is
    /// scratch of `taps()` elements.
    pub fn accumulate(
        &self,
        x: &[i64],
        window: &mut [i64],
        acc: &mut [i128],
        events: &mut OverflowEvents,
    ) {
        let outputs = acc.chunks_exact_mut(self.dense.out_features());
        for ((oy, ox), acc) in pixels(&self.window).zip(outputs) {
            for (value, tap) in window.iter_mut().zip(self.window.taps_at(oy, ox)) {
                *value = tap.map_or(0, |element| x[element]);
            }
            self.dense.accumulate(window, acc, events);
        }
    }

    /// The outputs of every pixel from its accumulators.
    pub fn activate(&self, acc: &[i128], out: &mut [i64]) -> Result<(), Overwide> {
        let channels = self.dense.out_features();
        let pixels = acc
            .chunks_exact(channels)
            .zip(out.chunks_exact_mut(channels));
        for (pixel, (acc, out)) in pixels.enumerate() {
            self.dense.activate(acc, out).map_err(|e| Overwide {
                element: pixel * channels + e.element,
                value: e.value,
            })?;
        }
        Ok(())
    }
}

pub(super) struct MaxPoolStage {
    window: Window,
}

impl MaxPoolStage {
    pub fn new(pool: &MaxPool) -> Self {
        MaxPoolStage {
            window: pool.window,
        }
    }

    pub fn out_length(&self) -> usize {
        self.window.out_height() * self.window.out_width() * self.window.input.channels
    }

    pub fn apply(&self, x: &[i64], out: &mut [i64]) {
        let channels = self.window.input.channels;
        for ((oy, ox), out) in pixels(&self.window).zip(out.chunks_exact_mut(channels)) {
            out.fill(i64::MIN);
            for (tap, element) in self.window.taps_at(oy, ox).enumerate() {
                let element = element.expect("pooling windows have no padding");
                let slot = &mut out[tap % channels];
                *slot = (*slot).max(x[element]);
            }
        }
    }
}
