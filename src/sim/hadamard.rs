//! The Walsh-Hadamard unit: `k` butterfly stage registers and an output
//! register, all moving together on `advance`.

use super::fix::wrap;
use super::unit::StreamUnit;
use crate::arch::HadamardUnit;
use crate::model::IntType;

/// Registers of a Hadamard unit.
#[derive(Clone, Debug)]
pub struct HadamardState {
    block: usize,
    stages: usize,
    shift: Option<u32>,
    clamp: Option<IntType>,
    output_bits: u32,
    /// `stages` registers of `block` values: register `j` holds a block
    /// after butterfly stage `j + 1`.
    stage_values: Vec<i64>,
    stage_valid: Vec<bool>,
    out_values: Vec<i64>,
    out_valid: bool,
}

impl HadamardState {
    pub fn new(plan: &HadamardUnit) -> Self {
        let stages = plan.stages as usize;
        assert_eq!(plan.block, 1 << stages, "the block is 2^stages elements");
        HadamardState {
            block: plan.block,
            stages,
            shift: plan.shift,
            clamp: plan.clamp,
            output_bits: plan.output.bits,
            stage_values: vec![0; stages * plan.block],
            stage_valid: vec![false; stages],
            out_values: vec![0; plan.block],
            out_valid: false,
        }
    }

    fn advance(&self, out_ready: bool) -> bool {
        !self.out_valid || out_ready
    }

    fn load_output_register(&mut self) {
        let last = self.stages - 1;
        self.out_valid = self.stage_valid[last];
        if !self.out_valid {
            return;
        }
        let source = &self.stage_values[last * self.block..];
        for (out, &y) in self.out_values.iter_mut().zip(source) {
            *out = requantize(y, self.shift, self.clamp, self.output_bits);
        }
    }

    pub fn describe(&self) -> String {
        let bits: String = self
            .stage_valid
            .iter()
            .chain(std::iter::once(&self.out_valid))
            .map(|&v| if v { '1' } else { '0' })
            .collect();
        format!("stage valids {bits} (first stage .. output register)")
    }
}

impl StreamUnit for HadamardState {
    fn out_valid(&self) -> bool {
        self.out_valid
    }

    fn out_data(&self) -> &[i64] {
        &self.out_values
    }

    /// `advance = !out_valid || out_ready`: the unit takes a beat whenever
    /// its pipeline moves.
    fn in_ready(&self, out_ready: bool) -> bool {
        self.advance(out_ready)
    }

    /// On `advance` every register takes its predecessor's value through
    /// its stage (the output register first, so each reads the old value);
    /// otherwise all hold. With a valid output, `advance` is the output
    /// leaving, so `out_fire` tells it.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        if !self.advance(out_fire) {
            debug_assert!(input.is_none(), "a stalled Hadamard unit takes no beat");
            return;
        }
        if input.is_none() && !self.stage_valid.contains(&true) {
            // Only bubbles move: the output register becomes invalid.
            self.out_valid = false;
            return;
        }
        self.load_output_register();
        for stage in (1..self.stages).rev() {
            self.stage_valid[stage] = self.stage_valid[stage - 1];
            if self.stage_valid[stage] {
                let (before, after) = self.stage_values.split_at_mut(stage * self.block);
                let source = &before[(stage - 1) * self.block..];
                let target = &mut after[..self.block];
                butterfly(stage, source, target);
            }
        }
        self.stage_valid[0] = input.is_some();
        if let Some(beat) = input {
            butterfly(0, beat, &mut self.stage_values[..self.block]);
        }
    }

    fn is_quiet(&self) -> bool {
        !self.out_valid && !self.stage_valid.contains(&true)
    }
}

/// Butterfly stage `index + 1`: elements `i` and `i + h`, `h = 2^index`,
/// within groups of `2h`, become `(a + b, a - b)`.
fn butterfly(index: usize, source: &[i64], target: &mut [i64]) {
    let h = 1 << index;
    for group in (0..target.len()).step_by(2 * h) {
        for i in group..group + h {
            let (a, b) = (source[i], source[i + h]);
            target[i] = a + b;
            target[i + h] = a - b;
        }
    }
}

/// The output register's value: rounding shift, clamp, output width.
fn requantize(y: i64, shift: Option<u32>, clamp: Option<IntType>, output_bits: u32) -> i64 {
    let shifted = match shift {
        Some(s) => (y + (1i64 << (s - 1))) >> s,
        None => y,
    };
    let clamped = match clamp {
        Some(t) => shifted.clamp(t.min() as i64, t.max() as i64),
        None => shifted,
    };
    wrap(clamped, output_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(block: usize, shift: Option<u32>, clamp: Option<u32>) -> HadamardUnit {
        let stages = block.trailing_zeros();
        HadamardUnit {
            name: "h".into(),
            layer: 0,
            block,
            stages,
            length: block,
            input: IntType::signed(4),
            stage_bits: (0..=stages).map(|j| 4 + j).collect(),
            shift,
            clamp: clamp.map(IntType::signed),
            output: IntType::signed(clamp.unwrap_or(4 + stages)),
        }
    }

    /// `y = H_n x` by the Sylvester matrix, `H[i][j] = (-1)^popcount(i & j)`.
    fn sylvester(x: &[i64]) -> Vec<i64> {
        (0..x.len())
            .map(|i| {
                (0..x.len())
                    .map(|j| {
                        if (i & j).count_ones() % 2 == 0 {
                            x[j]
                        } else {
                            -x[j]
                        }
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn computes_the_sylvester_transform_after_k_plus_1_cycles() {
        let mut h = HadamardState::new(&unit(4, None, None));
        let x = [3, -8, 7, 1];
        h.step(Some(&x), false); // accepted in cycle 0
        for cycle in 1..=2 {
            assert!(!h.out_valid(), "cycle {cycle}");
            h.step(None, false);
        }
        // k = 2 stages: valid in cycle 3 = k + 1.
        assert!(h.out_valid());
        assert_eq!(h.out_data(), sylvester(&x).as_slice());
    }

    #[test]
    fn eight_point_transform_matches_the_matrix() {
        let mut h = HadamardState::new(&unit(8, None, None));
        let x = [1, 2, -3, 4, 5, -6, 7, -8];
        h.step(Some(&x), false);
        for _ in 0..3 {
            h.step(None, false);
        }
        assert!(h.out_valid());
        assert_eq!(h.out_data(), sylvester(&x).as_slice());
    }

    #[test]
    fn rounds_half_up_then_clamps() {
        assert_eq!(requantize(3, Some(1), None, 8), 2); // 1.5 -> 2
        assert_eq!(requantize(-3, Some(1), None, 8), -1); // -1.5 -> -1
        assert_eq!(requantize(-5, Some(2), None, 8), -1); // -1.25 -> -1
        assert_eq!(requantize(100, Some(1), Some(IntType::signed(6)), 6), 31);
        assert_eq!(requantize(-100, None, Some(IntType::signed(6)), 6), -32);
    }

    #[test]
    fn a_stalled_output_freezes_the_pipeline_bubbles_included() {
        let mut h = HadamardState::new(&unit(2, None, None));
        h.step(Some(&[1, 2]), false); // cycle 0: beat A accepted
        assert!(h.in_ready(false)); // output not valid yet: advance
        h.step(None, false); // cycle 1: A to the output register, a bubble behind
        assert!(h.out_valid()); // cycle 2 = 0 + k + 1
        assert_eq!(h.out_data(), &[3, -1]);
        // The output is held while not ready, and no beat is taken.
        for _ in 0..3 {
            assert!(!h.in_ready(false));
            h.step(None, false);
            assert_eq!(h.out_data(), &[3, -1]);
        }
        // A leaves and B enters in the same cycle; the bubble reaches the
        // output first: stages do not close up.
        assert!(h.in_ready(true));
        h.step(Some(&[5, 1]), true);
        assert!(!h.out_valid());
        h.step(None, false);
        assert!(h.out_valid());
        assert_eq!(h.out_data(), &[6, 4]);
    }
}
