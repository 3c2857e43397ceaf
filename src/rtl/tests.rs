//! Leaf blocks simulated with rust-hdl's simulator against hand-computed
//! behaviour.

use super::bits::BitVector;
use super::hadamard::ButterflyStage;
use super::mvau::{Accumulator, ComparatorBank, DotProduct, TagLayout};
use super::stream::{StreamFifo, WidthConverter};
use crate::arch::{Converter, Fifo, Mvau, PlanOptions, StreamShape, Unit, build_plan};
use crate::bounds::analyze;
use crate::model::{IntType, parse_model};
use rust_hdl::prelude::*;
use std::path::Path;

/// The MVAU plan of a one-layer model: 4 inputs of `input`, 2 outputs.
fn mvau(input: &str, accumulator: &str, activation: &str, hardware: &str) -> Mvau {
    let text = format!(
        r#"
[model]
name = "leaf"
[input]
length = 4
{input}
[[layers]]
name = "fc"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 4
weights = [[3, -2, 7, -8], [1, 1, 1, 1]]
bias = [5, -3]
accumulator = {accumulator}
activation = {activation}
hardware = {hardware}
"#
    );
    let model = parse_model(&text, Path::new("leaf.toml")).unwrap();
    let plan = build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
    match plan.units.into_iter().next() {
        Some(Unit::Mvau(m)) => *m,
        _ => unreachable!("a dense layer"),
    }
}

/// Simulates `uut` with a 10-unit clock period under `bench`.
fn run<T: Block + ClockedBlock + Send + 'static>(
    mut uut: T,
    bench: impl Fn(Sim<T>) -> Result<(), SimError> + Send + 'static + std::panic::RefUnwindSafe,
) {
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<T>| x.toggle_clock());
    sim.add_testbench(bench);
    sim.run(Box::new(uut), 10_000).unwrap();
}

/// Blocks whose clock input is called `clock`.
trait ClockedBlock {
    fn toggle_clock(&mut self);
}

macro_rules! clocked {
    ($($t:ty),*) => {$(
        impl ClockedBlock for $t {
            fn toggle_clock(&mut self) {
                self.clock.next = !self.clock.val();
            }
        }
    )*};
}
clocked!(
    DotProduct,
    Accumulator,
    ComparatorBank,
    ButterflyStage,
    StreamFifo,
    WidthConverter
);

#[test]
fn dot_product_multiplies_signed_by_unsigned_exactly() {
    for style in ["lut", "dsp"] {
        let plan = mvau(
            "bits = 4\nsigned = false",
            "{ bits = 12 }",
            "{ kind = \"none\" }",
            &format!("{{ pe = 1, simd = 4, multiplier = \"{style}\" }}"),
        );
        let weights = BitVector::pack(&[3, -2, 7, -8], 4);
        let inputs = BitVector::pack(&[15, 15, 1, 15], 4);
        run(
            DotProduct::new(&plan, 0),
            move |mut sim: Sim<DotProduct>| {
                let mut x = sim.init()?;
                x.advance.drive(1);
                x.word.next = weights.clone();
                x.x1.next = inputs.clone();
                wait_clock_cycle!(sim, clock, x);
                // 45 - 30 + 7 - 120 = -98
                sim_assert_eq!(sim, x.sum2.as_signed(), -98, x);
                x.advance.drive(0);
                x.x1.drive(0);
                wait_clock_cycle!(sim, clock, x);
                sim_assert_eq!(sim, x.sum2.as_signed(), -98, x);
                sim.done(x)
            },
        );
    }
}

#[test]
fn accumulator_saturates_after_every_chunk() {
    let plan = mvau(
        "bits = 4\nsigned = false",
        "{ bits = 6, overflow = \"saturate\", allow_overflow = true }",
        "{ kind = \"none\" }",
        "{ pe = 1, simd = 2 }",
    );
    let layout = TagLayout::of(&plan);
    let (first, last) = (layout.encode(&plan, 0, 0), layout.encode(&plan, 0, 1));
    run(
        Accumulator::new(&plan, 0),
        move |mut sim: Sim<Accumulator>| {
            let mut x = sim.init()?;
            x.advance.drive(1);
            x.valid2.drive(1);
            // bias 5 + 40 = 45 saturates to 31; then 31 - 20 = 11 (not 25).
            x.tags2.next = first.clone();
            x.sum2.drive(40);
            wait_clock_cycle!(sim, clock, x);
            x.tags2.next = last.clone();
            x.sum2.drive(-20);
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.acc3.as_signed(), 11, x);
            sim.done(x)
        },
    );
}

#[test]
fn tiled_accumulator_wraps_the_inner_sum() {
    let plan = mvau(
        "bits = 4\nsigned = false",
        "{ bits = 10, tile = { size = 2, inner_bits = 5 }, allow_overflow = true }",
        "{ kind = \"none\" }",
        "{ pe = 1, simd = 1 }",
    );
    let layout = TagLayout::of(&plan);
    let tags: Vec<BitVector> = (0..4).map(|sf| layout.encode(&plan, 0, sf)).collect();
    run(
        Accumulator::new(&plan, 0),
        move |mut sim: Sim<Accumulator>| {
            let mut x = sim.init()?;
            x.advance.drive(1);
            x.valid2.drive(1);
            // Tile 0: 10 + 10 = 20 wraps in 5 bits to -12; bias 5 -> -7.
            // Tile 1: 3 + 4 = 7 -> -7 + 7 = 0.
            for (tag, sum) in tags.iter().zip([10, 10, 3, 4]) {
                x.tags2.next = tag.clone();
                x.sum2.drive(sum);
                wait_clock_cycle!(sim, clock, x);
            }
            sim_assert_eq!(sim, x.acc3.as_signed(), 0, x);
            sim.done(x)
        },
    );
}

#[test]
fn comparator_bank_counts_thresholds_of_the_fold() {
    let mut plan = mvau(
        "bits = 4\nsigned = false",
        "{ bits = 12 }",
        "{ kind = \"thresholds\", bits = 2, signed = true, thresholds = [[-5, 0, 5], [0, 10, 20]] }",
        "{ pe = 1, simd = 4 }",
    );
    plan.nf = 2;
    run(
        ComparatorBank::new(&plan, 0),
        move |mut sim: Sim<ComparatorBank>| {
            let mut x = sim.init()?;
            x.advance.drive(1);
            // Channel 0 (fold 0): 3 >= -5, 0 -> 2 hits -> -2 + 2 = 0.
            x.nf3.drive(0);
            x.acc3.drive(3);
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.out.as_signed(), 0, x);
            // Channel 1 (fold 1): 25 passes all three -> 1.
            x.nf3.drive(1);
            x.acc3.drive(25);
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.out.as_signed(), 1, x);
            // -100 passes none -> -2.
            x.acc3.drive(-100);
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.out.as_signed(), -2, x);
            sim.done(x)
        },
    );
}

#[test]
fn butterfly_stages_compute_the_sylvester_transform() {
    // Two stages over a block of 4 unsigned 4-bit inputs = H_4 x.
    let x = [1i128, 2, 3, 15];
    let first = ButterflyStage::new(4, 1, 4, false, 6);
    let input = BitVector::pack(&x, 4);
    run(first, move |mut sim: Sim<ButterflyStage>| {
        let mut s = sim.init()?;
        s.rst_n.drive(1);
        s.advance.drive(1);
        s.in_valid.drive(1);
        s.in_data.next = input.clone();
        wait_clock_cycle!(sim, clock, s);
        let y: Vec<i128> = (0..4)
            .map(|i| s.out_data.val().element(i, 6, true))
            .collect();
        sim_assert_eq!(sim, y, vec![3, -1, 18, -12], s);
        sim_assert!(sim, s.out_valid.is_high(), s);
        sim.done(s)
    });
    let second = ButterflyStage::new(4, 2, 6, true, 7);
    let input = BitVector::pack(&[3, -1, 18, -12], 6);
    run(second, move |mut sim: Sim<ButterflyStage>| {
        let mut s = sim.init()?;
        s.rst_n.drive(1);
        s.advance.drive(1);
        s.in_data.next = input.clone();
        wait_clock_cycle!(sim, clock, s);
        let y: Vec<i128> = (0..4)
            .map(|i| s.out_data.val().element(i, 7, true))
            .collect();
        // H_4 [1, 2, 3, 15] = [21, -13, -15, 11]
        sim_assert_eq!(sim, y, vec![21, -13, -15, 11], s);
        sim.done(s)
    });
}

#[test]
fn fifo_keeps_order_and_reports_full() {
    let plan = Fifo {
        name: "f".into(),
        beat: StreamShape {
            elements: 1,
            element: IntType::unsigned(8),
        },
        depth: 2,
    };
    run(StreamFifo::new(&plan), |mut sim: Sim<StreamFifo>| {
        let mut x = sim.init()?;
        x.rst_n.drive(1);
        x.in_valid.drive(1);
        x.out_ready.drive(0);
        for value in [7, 9] {
            x.in_data.drive(value);
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert!(sim, !x.in_ready.is_high(), x);
        sim_assert_eq!(sim, x.out_data.index(), 7, x);
        // Pop and push in the same cycle.
        x.out_ready.drive(1);
        x.in_data.drive(11);
        wait_clock_cycle!(sim, clock, x);
        sim_assert_eq!(sim, x.out_data.index(), 9, x);
        sim.done(x)
    });
}

#[test]
fn converter_keeps_element_order_across_widths() {
    let plan = Converter {
        name: "c".into(),
        element: IntType::unsigned(4),
        input_elements: 2,
        output_elements: 3,
    };
    run(
        WidthConverter::new(&plan),
        |mut sim: Sim<WidthConverter>| {
            let mut x = sim.init()?;
            x.rst_n.drive(1);
            x.out_ready.drive(1);
            x.in_valid.drive(1);
            let mut seen = Vec::new();
            let mut beat = 0usize;
            for _ in 0..8 {
                // Offer the next beat until it is taken (a beat moves on a
                // clock edge where valid and ready are both high).
                x.in_valid.set(beat < 3);
                x.in_data.next = BitVector::pack(&[(2 * beat) as i128, (2 * beat + 1) as i128], 4);
                wait_clock_false!(sim, clock, x);
                let taken = beat < 3 && x.in_ready.is_high();
                let output = x.out_valid.is_high().then(|| x.out_data.val());
                wait_clock_true!(sim, clock, x);
                if taken {
                    beat += 1;
                }
                if let Some(data) = output {
                    seen.extend((0..3).map(|i| data.element(i, 4, false)));
                }
            }
            sim_assert_eq!(sim, seen, vec![0, 1, 2, 3, 4, 5], x);
            sim.done(x)
        },
    );
}
