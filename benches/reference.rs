//! Throughput of the bit-exact reference on `examples/mlp3.toml`: MAC/s over
//! 10^4 random input vectors, on one thread and on all threads.
//!
//! `cargo bench --bench reference` (or `make bench`). Under `cargo test` it
//! runs once on a few vectors as a smoke test.

use a2qgen::model::{IntType, load_model};
use a2qgen::reference::{AccumulatorMode, Reference};
use ndarray::Array2;
use std::path::Path;
use std::time::{Duration, Instant};

const VECTORS: usize = 10_000;
const REPETITIONS: usize = 20;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mlp3.toml");
    let model = load_model(&path).expect("the bundled example loads");
    let reference = Reference::new(&model, &AccumulatorMode::default()).expect("declared widths");
    let vectors = if benchmarking { VECTORS } else { 10 };
    let inputs = random_inputs(vectors, model.input_length, model.input);
    let macs = (vectors * reference.macs_per_vector()) as f64;
    if !benchmarking {
        reference.run(inputs.view()).expect("the reference runs");
        return;
    }

    println!(
        "reference on {} ({} MACs per vector), {vectors} vectors, best of {REPETITIONS}:",
        path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path)
            .display(),
        reference.macs_per_vector()
    );
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let one = single.install(|| best_time(|| reference.run(inputs.view())));
    let all = best_time(|| reference.run(inputs.view()));
    let threads = rayon::current_num_threads();
    report("1 thread", one, vectors, macs);
    report(&format!("{threads} threads"), all, vectors, macs);
}

fn best_time<T, E: std::fmt::Debug>(mut run: impl FnMut() -> Result<T, E>) -> Duration {
    (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run().expect("the reference runs"));
            start.elapsed()
        })
        .min()
        .expect("at least one repetition")
}

fn report(label: &str, time: Duration, vectors: usize, macs: f64) {
    let seconds = time.as_secs_f64();
    println!(
        "  {label:<10} {:>8.2} ms  {:>7.1} M MAC/s  {:>6.2} M vectors/s",
        seconds * 1e3,
        macs / seconds / 1e6,
        vectors as f64 / seconds / 1e6
    );
}

/// Uniform values of the input type from a fixed seed (SplitMix64), so that
/// runs are comparable.
fn random_inputs(vectors: usize, length: usize, input: IntType) -> Array2<i64> {
    let mut state: u64 = 0x2026_1124;
    let span = (input.max() - input.min() + 1) as u64;
    Array2::from_shape_simple_fn((vectors, length), || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        input.min() as i64 + (z % span) as i64
    })
}
