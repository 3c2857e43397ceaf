//! The matrix-vector-activation unit: fold counters, the input buffer and
//! the four pipeline stages of `arch`'s MVAU, all moving on `advance`.

use super::fix::Fix;
use super::unit::StreamUnit;
use crate::arch::{ActivationPlan, Mvau};

/// Where a fold step sits in the fold sequence; computed at issue and
/// carried down the pipeline with the step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct StepTags {
    nf: usize,
    /// `sf == 0` and `sf == SF - 1`.
    first: bool,
    last: bool,
    /// Tiled only: `sf < TC`, `sf % TC == 0`, `sf % TC == TC - 1`.
    first_tile: bool,
    tile_first: bool,
    tile_last: bool,
}

/// Stage 1: the issued step. It names the buffer slot holding its chunk and
/// the ROM address of its weights (see the module documentation of `sim`
/// for why that equals registering copies).
#[derive(Clone, Copy, Debug, Default)]
struct IssueRegister {
    valid: bool,
    slot: usize,
    address: usize,
    tags: StepTags,
}

/// Stage 2: the exact dot product of every PE (`i128`: `dot_bits` may
/// exceed 64).
#[derive(Clone, Debug)]
struct DotRegister {
    valid: bool,
    tags: StepTags,
    dots: Vec<i128>,
}

/// Stage 3's output: the finished accumulators of one neuron fold.
#[derive(Clone, Debug)]
struct FinishedRegister {
    valid: bool,
    nf: usize,
    accumulators: Vec<i64>,
}

/// Stage 4: the output beat.
#[derive(Clone, Debug)]
struct OutputRegister {
    valid: bool,
    values: Vec<i64>,
}

/// What stage 4 does with a finished accumulator.
#[derive(Clone, Debug)]
enum Activation {
    Accumulator,
    /// `base + #{k : acc >= t[nf][pe][k]}`; `table` is `[nf][pe][count]`.
    Thresholds {
        base: i64,
        count: usize,
        table: Vec<i64>,
    },
}

/// The registers of an MVAU and its constant memories.
#[derive(Clone, Debug)]
pub struct MvauState {
    pe: usize,
    simd: usize,
    /// The dot products may exceed 64 bits: sum them in `i128`.
    wide_dots: bool,
    neuron_folds: usize,
    synapse_folds: usize,
    /// The tags of a step at each `sf` (with `nf` 0), precomputed.
    step_tags: Vec<StepTags>,
    outer: Fix,
    inner: Option<Fix>,
    /// Weight ROMs laid out `[address][pe][simd]` so one step reads one run.
    rom: Vec<i64>,
    /// Initial accumulators `[nf][pe]` (zeros without a bias).
    bias: Vec<i64>,
    activation: Activation,
    // Registers.
    nf: usize,
    sf: usize,
    /// The input vector, `[sf][simd]`, stored during neuron fold 0.
    buffer: Vec<i64>,
    issue: IssueRegister,
    dot: DotRegister,
    accumulators: Vec<i64>,
    inner_accumulators: Vec<i64>,
    /// `pe` zeros: where a tile's inner accumulators start.
    zeros: Vec<i64>,
    finished: FinishedRegister,
    output: OutputRegister,
}

impl MvauState {
    /// The unit of `plan` in its reset state. [`crate::sim::Simulator::new`]
    /// checks plans first; a malformed one panics here.
    pub fn new(plan: &Mvau) -> Self {
        let (pe, simd, nf, sf) = (plan.pe, plan.simd, plan.nf, plan.sf);
        MvauState {
            pe,
            simd,
            wide_dots: plan.dot_bits > 64,
            neuron_folds: nf,
            synapse_folds: sf,
            step_tags: step_tags(plan),
            outer: Fix::new(plan.accumulator.bits, plan.accumulator.overflow),
            inner: plan
                .accumulator
                .inner
                .as_ref()
                .map(|i| Fix::new(i.bits, plan.accumulator.overflow)),
            rom: rom_words(plan),
            bias: fold_major(plan.bias.as_deref(), nf, pe),
            activation: activation(plan),
            nf: 0,
            sf: 0,
            buffer: vec![0; sf * simd],
            issue: IssueRegister::default(),
            dot: DotRegister {
                valid: false,
                tags: StepTags::default(),
                dots: vec![0; pe],
            },
            accumulators: vec![0; pe],
            inner_accumulators: vec![0; pe],
            zeros: vec![0; pe],
            finished: FinishedRegister {
                valid: false,
                nf: 0,
                accumulators: vec![0; pe],
            },
            output: OutputRegister {
                valid: false,
                values: vec![0; pe],
            },
        }
    }

    fn advance(&self, out_ready: bool) -> bool {
        !self.output.valid || out_ready
    }

    /// No step in stages 1..3 and none to replay.
    fn is_empty(&self) -> bool {
        self.nf == 0 && !self.issue.valid && !self.dot.valid && !self.finished.valid
    }

    /// Stage 4: activation of the finished accumulators.
    fn load_output_register(&mut self) {
        self.output.valid = self.finished.valid;
        if !self.finished.valid {
            return;
        }
        let nf = self.finished.nf;
        match &self.activation {
            Activation::Accumulator => self
                .output
                .values
                .copy_from_slice(&self.finished.accumulators),
            Activation::Thresholds { base, count, table } => {
                for (p, (out, &acc)) in self
                    .output
                    .values
                    .iter_mut()
                    .zip(&self.finished.accumulators)
                    .enumerate()
                {
                    let start = (nf * self.pe + p) * count;
                    let thresholds = &table[start..start + count];
                    *out = base + thresholds.partition_point(|&t| t <= acc) as i64;
                }
            }
        }
    }

    /// Stage 3: add the dot products into the accumulators (through the
    /// tile accumulators when tiled); the last step of a fold hands the
    /// accumulators to the finished register.
    fn accumulate(&mut self) {
        let DotRegister { valid, tags, .. } = self.dot;
        self.finished.valid = valid && tags.last;
        if !valid {
            return;
        }
        let bias = &self.bias[tags.nf * self.pe..(tags.nf + 1) * self.pe];
        match self.inner {
            None => accumulate_into(
                &mut self.accumulators,
                &self.dot.dots,
                tags.first.then_some(bias),
                self.outer,
            ),
            Some(inner) => {
                let tile_start = if tags.tile_first {
                    Some(&self.zeros[..])
                } else {
                    None
                };
                accumulate_into(
                    &mut self.inner_accumulators,
                    &self.dot.dots,
                    tile_start,
                    inner,
                );
                if tags.tile_last {
                    accumulate_into(
                        &mut self.accumulators,
                        &self.inner_accumulators,
                        tags.first_tile.then_some(bias),
                        self.outer,
                    );
                }
            }
        }
        if tags.last {
            self.finished.nf = tags.nf;
            self.finished
                .accumulators
                .copy_from_slice(&self.accumulators);
        }
    }

    /// Stage 2: `sum_j w[j] * x[j]` per PE, exact.
    fn compute_dots(&mut self) {
        let IssueRegister {
            valid,
            slot,
            address,
            tags,
        } = self.issue;
        self.dot.valid = valid;
        self.dot.tags = tags;
        if !valid {
            return;
        }
        let chunk = &self.buffer[slot * self.simd..(slot + 1) * self.simd];
        let words = &self.rom[address * self.pe * self.simd..(address + 1) * self.pe * self.simd];
        if self.wide_dots {
            wide_dot_products(&mut self.dot.dots, words, chunk);
        } else {
            dot_products(&mut self.dot.dots, words, chunk);
        }
    }

    /// Stage 1: issue the step at the counters, storing the chunk during
    /// neuron fold 0, then advance the counters (`sf` fastest).
    fn issue_step(&mut self, input: Option<&[i64]>) {
        debug_assert!(input.is_none() || self.nf == 0);
        let issue = self.nf != 0 || input.is_some();
        self.issue.valid = issue;
        if !issue {
            return;
        }
        let (nf, sf) = (self.nf, self.sf);
        if let Some(chunk) = input {
            self.buffer[sf * self.simd..(sf + 1) * self.simd].copy_from_slice(chunk);
        }
        self.issue.slot = sf;
        self.issue.address = nf * self.synapse_folds + sf;
        self.issue.tags = StepTags {
            nf,
            ..self.step_tags[sf]
        };
        self.sf += 1;
        if self.sf == self.synapse_folds {
            self.sf = 0;
            self.nf += 1;
            if self.nf == self.neuron_folds {
                self.nf = 0;
            }
        }
    }

    pub fn describe(&self) -> String {
        let bit = |v: bool| if v { '1' } else { '0' };
        format!(
            "nf={} sf={}, stage valids {}{}{}{} (issue, dot, finished, output)",
            self.nf,
            self.sf,
            bit(self.issue.valid),
            bit(self.dot.valid),
            bit(self.finished.valid),
            bit(self.output.valid)
        )
    }
}

impl StreamUnit for MvauState {
    fn out_valid(&self) -> bool {
        self.output.valid
    }

    fn out_data(&self) -> &[i64] {
        &self.output.values
    }

    /// `advance && nf == 0`: the input is read only in the first neuron fold.
    fn in_ready(&self, out_ready: bool) -> bool {
        self.advance(out_ready) && self.nf == 0
    }

    /// On `advance` every stage takes its predecessor's value, the output
    /// end first so each reads the old one, and a step issues when
    /// `nf != 0` or a chunk came in. Otherwise all registers hold.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        if !self.advance(out_fire) {
            debug_assert!(input.is_none(), "a stalled MVAU takes no beat");
            return;
        }
        if input.is_none() && self.is_empty() {
            // Nothing in flight and nothing to issue: every stage would
            // load an invalid value, so only the output valid changes.
            self.output.valid = false;
            return;
        }
        self.load_output_register();
        self.accumulate();
        self.compute_dots();
        self.issue_step(input);
    }

    fn is_quiet(&self) -> bool {
        !self.output.valid && self.is_empty()
    }
}

/// `acc[p] = fix((start[p] or acc[p]) + add[p])` for every PE: `start` is
/// the initial value when the sum restarts (bias, or zero for a tile).
#[inline(always)]
fn accumulate_into<T: Copy + Into<i128>>(
    accumulators: &mut [i64],
    add: &[T],
    start: Option<&[i64]>,
    fix: Fix,
) {
    match start {
        Some(start) => {
            for ((acc, &a), &s) in accumulators.iter_mut().zip(add).zip(start) {
                *acc = fix.add(s, a.into());
            }
        }
        None => {
            for (acc, &a) in accumulators.iter_mut().zip(add) {
                *acc = fix.add(*acc, a.into());
            }
        }
    }
}

/// `dots[p] = sum_j words[p][j] * chunk[j]`, `words` being `[pe][simd]`,
/// for dot products of at most 64 bits (each product fits 64 bits: the
/// model's elements have at most 32). The usual SIMD widths get a copy
/// with the width known at compile time (fully unrolled: several times
/// faster than a loop of unknown length).
#[inline]
fn dot_products(dots: &mut [i128], words: &[i64], chunk: &[i64]) {
    match chunk.len() {
        1 => fixed_width_dots::<1>(dots, words, chunk),
        2 => fixed_width_dots::<2>(dots, words, chunk),
        4 => fixed_width_dots::<4>(dots, words, chunk),
        8 => fixed_width_dots::<8>(dots, words, chunk),
        16 => fixed_width_dots::<16>(dots, words, chunk),
        32 => fixed_width_dots::<32>(dots, words, chunk),
        simd => {
            for (dot, word) in dots.iter_mut().zip(words.chunks_exact(simd)) {
                *dot = word
                    .iter()
                    .zip(chunk)
                    .map(|(w, x)| w * x)
                    .sum::<i64>()
                    .into();
            }
        }
    }
}

#[inline]
fn fixed_width_dots<const S: usize>(dots: &mut [i128], words: &[i64], chunk: &[i64]) {
    let x: &[i64; S] = chunk.try_into().expect("a chunk of SIMD elements");
    for (dot, word) in dots.iter_mut().zip(words.chunks_exact(S)) {
        let w: &[i64; S] = word.try_into().expect("a ROM word of SIMD weights");
        *dot = (0..S).map(|j| w[j] * x[j]).sum::<i64>().into();
    }
}

/// [`dot_products`] summed in `i128`, for dot products wider than 64 bits.
fn wide_dot_products(dots: &mut [i128], words: &[i64], chunk: &[i64]) {
    for (dot, word) in dots.iter_mut().zip(words.chunks_exact(chunk.len())) {
        *dot = word
            .iter()
            .zip(chunk)
            .map(|(&w, &x)| i128::from(w) * i128::from(x))
            .sum();
    }
}

/// The tags of the step at each synapse fold, with `TC` the chunks per
/// tile (`SF` when not tiled, which makes the tile tags unused).
fn step_tags(plan: &Mvau) -> Vec<StepTags> {
    let tc = plan
        .accumulator
        .inner
        .as_ref()
        .map_or(plan.sf, |i| i.chunks_per_tile);
    (0..plan.sf)
        .map(|sf| StepTags {
            nf: 0,
            first: sf == 0,
            last: sf == plan.sf - 1,
            first_tile: sf < tc,
            tile_first: sf % tc == 0,
            tile_last: sf % tc == tc - 1,
        })
        .collect()
}

/// The plan's `[pe][address][simd]` ROMs as one `[address][pe][simd]` run.
fn rom_words(plan: &Mvau) -> Vec<i64> {
    let addresses = plan.nf * plan.sf;
    let mut rom = Vec::with_capacity(addresses * plan.pe * plan.simd);
    for address in 0..addresses {
        for pe_rom in &plan.weights {
            rom.extend_from_slice(&pe_rom[address]);
        }
    }
    rom
}

/// `[pe][nf]` values as one `[nf][pe]` run; zeros when absent.
fn fold_major(values: Option<&[Vec<i64>]>, nf: usize, pe: usize) -> Vec<i64> {
    (0..nf)
        .flat_map(|n| (0..pe).map(move |p| values.map_or(0, |v| v[p][n])))
        .collect()
}

fn activation(plan: &Mvau) -> Activation {
    match (&plan.activation, &plan.thresholds) {
        (ActivationPlan::Thresholds { output, count, .. }, Some(thresholds)) => {
            let mut table = Vec::with_capacity(plan.nf * plan.pe * count);
            for n in 0..plan.nf {
                for pe_table in thresholds {
                    table.extend_from_slice(&pe_table[n]);
                }
            }
            Activation::Thresholds {
                base: output.min() as i64,
                count: *count,
                table,
            }
        }
        (ActivationPlan::Thresholds { .. }, None) => {
            panic!(
                "`{}`: thresholds planned without a threshold table",
                plan.name
            )
        }
        (ActivationPlan::None, _) => Activation::Accumulator,
    }
}

#[cfg(test)]
mod tests;
