//! Proving one 4096 x 4096 dense layer with 8-bit weights over uint8 inputs
//! (goal: under 1 s on one core). Prints the time and channels per second.

use a2qgen::bounds::{ValueRange, dense_bounds};
use a2qgen::model::{Accumulator, Activation, Dense, HardwareHints, OverflowMode};
use ndarray::Array2;
use std::time::Instant;

fn main() {
    let (rows, cols) = (4096, 4096);
    // A deterministic spread of int8 weights.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let weights = Array2::from_shape_simple_fn((rows, cols), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 256) as i64 - 128
    });
    let layer = Dense {
        in_features: cols,
        out_features: rows,
        weight_bits: 8,
        weights,
        bias: None,
        accumulator: Accumulator {
            bits: 32,
            tile: None,
            overflow: OverflowMode::Wrap,
            allow_overflow: false,
        },
        activation: Activation::None,
        hardware: HardwareHints::default(),
    };
    let inputs = vec![ValueRange::new(0, 255); cols];
    let mut best = f64::INFINITY;
    let mut min_bits = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let bounds = dense_bounds(&layer, &inputs);
        best = best.min(start.elapsed().as_secs_f64());
        min_bits = bounds.min_bits;
    }
    println!(
        "bounds: 4096 x 4096 W8 layer proven in {:.1} ms (best of 5, one core), {:.0} channels/s, min width {min_bits} bits",
        best * 1e3,
        rows as f64 / best
    );
}
