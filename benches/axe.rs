//! AXE on one 1024 x 1024 dense layer (W4, uint4 inputs, a 14-bit
//! accumulator whose budget binds) with 2048 calibration vectors: the time
//! of AXE-OPTQ and AXE-GPFQ at the weight bits' scale (one greedy pass per
//! channel, as Brevitas), from the float layer to the proven model: the
//! calibration moments, OPTQ's Cholesky factor, the greedy passes and the
//! proof.
//!
//! `cargo bench --bench axe` (or `make bench`). Under `cargo test` it runs
//! once on a 32 x 32 layer as a smoke test.

use a2qgen::model::IntType;
use a2qgen::quantize::{
    FloatDense, FloatModel, QuantizeMethod, QuantizeSettings, ScaleSearch, quantize,
};
use ndarray::{Array1, Array2};
use std::time::Instant;

const BITS: u32 = 14;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (rows, cols, samples) = if benchmarking {
        (1024, 1024, 2048)
    } else {
        (32, 32, 64)
    };
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let weights =
        Array2::from_shape_simple_fn((rows, cols), || (next() % 2001) as f64 / 1000.0 - 1.0);
    let float = FloatModel::new(vec![FloatDense {
        name: "fc0".into(),
        weights,
        bias: Array1::zeros(rows),
    }])
    .unwrap();
    let calibration = Array2::from_shape_simple_fn((samples, cols), || (next() % 16) as i64);
    let input = IntType::unsigned(4);
    let runs = [
        (
            QuantizeMethod::AxeOptq,
            ScaleSearch::Projected,
            "weight bits' scale",
        ),
        (
            QuantizeMethod::AxeGpfq,
            ScaleSearch::Projected,
            "weight bits' scale",
        ),
    ];
    for (method, search, label) in runs {
        let mut settings = QuantizeSettings::new("bench", input, 1.0 / 16.0, BITS);
        settings.method = method;
        settings.scale_search = search;
        let start = Instant::now();
        let quantized = quantize(&float, calibration.view(), &settings).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{method}: {rows} x {cols} layer, {samples} calibration vectors, {label}: {seconds:.2} s ({:.0} channels/s), zero weights {:.1}%, proven at {BITS} bits",
            rows as f64 / seconds,
            100.0 * quantized.layers[0].zero_weight_fraction
        );
    }
}
