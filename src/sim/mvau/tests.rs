//! MVAU register-level tests on plans built by hand.

use super::*;
use crate::arch::{AccumulatorPlan, InnerAccumulator};
use crate::bounds::ValueRange;
use crate::model::{IntType, MultiplierStyle, OverflowMode, WeightStorage};

/// An MVAU plan for the `[out][in]` matrix `weights`, laid out as `arch`
/// documents: PE `p` at address `a` holds channel `(a / sf) * pe + p`,
/// inputs `(a % sf) * simd ..`.
struct HandPlan {
    weights: Vec<Vec<i64>>,
    pe: usize,
    simd: usize,
    bias: Option<Vec<i64>>,
    bits: u32,
    overflow: OverflowMode,
    /// `(chunks per tile, inner bits)`.
    tile: Option<(usize, u32)>,
    /// Output type and `[channel][k]` thresholds.
    thresholds: Option<(IntType, Vec<Vec<i64>>)>,
}

impl HandPlan {
    fn new(weights: Vec<Vec<i64>>, pe: usize, simd: usize, bits: u32) -> Self {
        HandPlan {
            weights,
            pe,
            simd,
            bias: None,
            bits,
            overflow: OverflowMode::Wrap,
            tile: None,
            thresholds: None,
        }
    }

    fn build(&self) -> Mvau {
        let (out_features, in_features) = (self.weights.len(), self.weights[0].len());
        let (pe, simd) = (self.pe, self.simd);
        let (nf, sf) = (out_features / pe, in_features / simd);
        let channel = |n: usize, p: usize| n * pe + p;
        let weights = (0..pe)
            .map(|p| {
                (0..nf * sf)
                    .map(|a| {
                        let row = &self.weights[channel(a / sf, p)];
                        row[(a % sf) * simd..(a % sf + 1) * simd].to_vec()
                    })
                    .collect()
            })
            .collect();
        let per_pe = |values: &[i64]| -> Vec<Vec<i64>> {
            (0..pe)
                .map(|p| (0..nf).map(|n| values[channel(n, p)]).collect())
                .collect()
        };
        let (activation, output, thresholds) = match &self.thresholds {
            None => (ActivationPlan::None, IntType::signed(self.bits), None),
            Some((output, table)) => (
                ActivationPlan::Thresholds {
                    output: *output,
                    count: table[0].len(),
                    compare_bits: self.bits + 1,
                    style: crate::arch::ThresholdStyle::Parallel,
                },
                *output,
                Some(
                    (0..pe)
                        .map(|p| (0..nf).map(|n| table[channel(n, p)].clone()).collect())
                        .collect(),
                ),
            ),
        };
        Mvau {
            name: "hand".into(),
            layer: 0,
            in_features,
            out_features,
            pe,
            simd,
            nf,
            sf,
            input: IntType::signed(8),
            weight: IntType::signed(8),
            multiplier: MultiplierStyle::Lut,
            storage: WeightStorage::Rom,
            storage_choice: None,
            product_bits: 16,
            dot_bits: 16 + simd.ilog2() + 1,
            accumulator: AccumulatorPlan {
                bits: self.bits,
                overflow: self.overflow,
                inner: self.tile.map(|(chunks, bits)| InnerAccumulator {
                    tile_size: chunks * simd,
                    chunks_per_tile: chunks,
                    bits,
                }),
            },
            activation,
            output,
            weights,
            constant_dots: Vec::new(),
            rom_dots: Vec::new(),
            bias: self.bias.as_deref().map(per_pe),
            thresholds,
            proven_range: ValueRange::ZERO,
            proven_tile_range: None,
        }
    }
}

/// Output beats `(cycle, values)` of `unit` fed `vectors` (each cut into
/// SIMD chunks, offered back to back) with output ready when `ready(cycle)`.
fn run(
    unit: &mut MvauState,
    vectors: &[Vec<i64>],
    ready: impl Fn(u64) -> bool,
    cycles: u64,
) -> Vec<(u64, Vec<i64>)> {
    let chunks: Vec<&[i64]> = vectors.iter().flat_map(|v| v.chunks(unit.simd)).collect();
    let (mut next, mut beats) = (0, Vec::new());
    for cycle in 0..cycles {
        let out_ready = ready(cycle);
        let out_fire = unit.out_valid() && out_ready;
        if out_fire {
            beats.push((cycle, unit.out_data().to_vec()));
        }
        let in_fire = next < chunks.len() && unit.in_ready(out_ready);
        unit.step(in_fire.then(|| chunks[next]), out_fire);
        next += usize::from(in_fire);
    }
    beats
}

fn always(_: u64) -> bool {
    true
}

#[test]
fn two_by_two_with_two_neuron_and_two_synapse_folds() {
    let mut hand = HandPlan::new(vec![vec![1, 2], vec![3, 4]], 1, 1, 8);
    hand.bias = Some(vec![10, -5]);
    let plan = hand.build();
    assert_eq!((plan.nf, plan.sf), (2, 2));
    let mut unit = MvauState::new(&plan);
    let beats = run(&mut unit, &[vec![5, 6], vec![-1, 2]], always, 20);
    // Vector 0: steps issue in cycles 0..3 (chunks taken in 0 and 1, then
    // replayed); fold 0's last step issues in cycle 1, its beat is valid in
    // cycle 1 + 4, fold 1's in 3 + 4. Vector 1's chunks go in at 4 and 5.
    assert_eq!(
        beats,
        vec![
            (5, vec![10 + 5 + 12]),
            (7, vec![-5 + 15 + 24]),
            (9, vec![10 - 1 + 4]),
            (11, vec![-5 - 3 + 8]),
        ]
    );
}

#[test]
fn back_pressure_holds_the_beat_and_the_whole_pipeline() {
    let mut hand = HandPlan::new(vec![vec![1, 2], vec![3, 4]], 1, 1, 8);
    hand.bias = Some(vec![10, -5]);
    let mut unit = MvauState::new(&hand.build());
    // Not ready in cycles 5..=7: beat 0 waits; the pipeline behind it
    // freezes, so fold 1's beat comes 3 cycles late too.
    let beats = run(&mut unit, &[vec![5, 6]], |c| !(5..=7).contains(&c), 20);
    assert_eq!(beats, vec![(8, vec![27]), (10, vec![34])]);
}

#[test]
fn input_is_refused_while_replaying_and_while_stalled() {
    let hand = HandPlan::new(vec![vec![1, 2], vec![3, 4]], 1, 1, 8);
    let mut unit = MvauState::new(&hand.build());
    assert!(unit.in_ready(true));
    unit.step(Some(&[1]), false);
    unit.step(Some(&[1]), false);
    // Neuron fold 1 replays the buffer: no input taken, ready or not.
    assert!(!unit.in_ready(true));
    assert!(unit.describe().starts_with("nf=1 sf=0"));
}

#[test]
fn pe_outputs_hold_consecutive_channels_with_thresholds() {
    // 4 channels on 2 PEs: fold 0 holds channels 0, 1; fold 1 holds 2, 3.
    let weights = vec![vec![1, 0], vec![0, 1], vec![1, 1], vec![-1, -1]];
    let mut hand = HandPlan::new(weights, 2, 2, 8);
    // Signed 2-bit outputs: base -2, thresholds [0, 5, 10] for every channel.
    hand.thresholds = Some((IntType::signed(2), vec![vec![0, 5, 10]; 4]));
    let mut unit = MvauState::new(&hand.build());
    let beats = run(&mut unit, &[vec![4, 7]], always, 12);
    // acc = [4, 7, 11, -11] -> counts [1, 2, 3, 0] -> [-1, 0, 1, -2].
    assert_eq!(beats, vec![(4, vec![-1, 0]), (5, vec![1, -2])]);
}

#[test]
fn saturation_clamps_after_every_add_in_hardware_order() {
    // One channel, SIMD 1: the sums are 2*7 = 14, then 14 + 1*(-7).
    let weights = vec![vec![7, -7]];
    let x = vec![vec![2, 1]];
    let mut saturating = HandPlan::new(weights.clone(), 1, 1, 4);
    saturating.overflow = OverflowMode::Saturate;
    let beats = run(&mut MvauState::new(&saturating.build()), &x, always, 10);
    // 14 saturates to 7, and 7 - 7 = 0: not the exact 7.
    assert_eq!(beats, vec![(5, vec![0])]);
    let wrapping = HandPlan::new(weights, 1, 1, 4);
    let beats = run(&mut MvauState::new(&wrapping.build()), &x, always, 10);
    // 14 wraps to -2, -2 - 7 = -9 wraps to 7: wrapping is exact modulo 16.
    assert_eq!(beats, vec![(5, vec![7])]);
    let mut negative = HandPlan::new(vec![vec![-8, -8]], 1, 1, 4);
    negative.overflow = OverflowMode::Saturate;
    negative.bias = Some(vec![3]);
    let beats = run(
        &mut MvauState::new(&negative.build()),
        &[vec![1, 1]],
        always,
        10,
    );
    assert_eq!(beats, vec![(5, vec![-8])]);
}

#[test]
fn tiles_accumulate_in_the_inner_register_first() {
    // SIMD 1, 4 inputs, tiles of 2 chunks; inner 4 bits saturating, outer 8.
    let mut hand = HandPlan::new(vec![vec![5, 5, 1, -1]], 1, 1, 8);
    hand.overflow = OverflowMode::Saturate;
    hand.tile = Some((2, 4));
    hand.bias = Some(vec![100]);
    let beats = run(
        &mut MvauState::new(&hand.build()),
        &[vec![1, 1, 3, 1]],
        always,
        12,
    );
    // Tile 0: 5 + 5 = 10 saturates to 7; tile 1: 3 - 1 = 2.
    // Outer: 100 + 7 = 107, then 107 + 2 = 109.
    assert_eq!(beats, vec![(7, vec![109])]);
    // The same with a 6-bit outer accumulator that saturates too: 30 + 7
    // clamps to 31, and 31 + 2 stays 31.
    hand.bits = 6;
    hand.bias = Some(vec![30]);
    let beats = run(
        &mut MvauState::new(&hand.build()),
        &[vec![1, 1, 3, 1]],
        always,
        12,
    );
    assert_eq!(beats, vec![(7, vec![31])]);
}

#[test]
fn wide_dot_products_are_exact_beyond_64_bits() {
    let (big, small) = (i64::from(i32::MIN), i64::from(i32::MIN) + 1);
    let words = [big, big, big, small];
    let chunk = [big, big, big, big];
    let mut dots = [0i128; 1];
    super::wide_dot_products(&mut dots, &words, &chunk);
    let exact = 3 * (1i128 << 62) + (1i128 << 62) - (1i128 << 31);
    assert_eq!(dots[0], exact);
    assert!(dots[0] > i128::from(i64::MAX));
}
