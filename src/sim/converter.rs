//! The stream width converter: an element buffer of `in + out` places.

use super::unit::StreamUnit;
use crate::arch::Converter;

/// Registers of a width converter: the buffered elements, oldest first.
#[derive(Clone, Debug)]
pub struct ConverterState {
    input_elements: usize,
    output_elements: usize,
    buffer: Vec<i64>,
    fill: usize,
}

impl ConverterState {
    pub fn new(plan: &Converter) -> Self {
        Self::with_widths(plan.input_elements, plan.output_elements)
    }

    fn with_widths(input_elements: usize, output_elements: usize) -> Self {
        ConverterState {
            input_elements,
            output_elements,
            buffer: vec![0; input_elements + output_elements],
            fill: 0,
        }
    }

    pub fn describe(&self) -> String {
        format!("{}/{} elements", self.fill, self.buffer.len())
    }
}

impl StreamUnit for ConverterState {
    fn out_valid(&self) -> bool {
        self.fill >= self.output_elements
    }

    /// The oldest `out` elements (meaningful only when `out_valid`).
    fn out_data(&self) -> &[i64] {
        &self.buffer[..self.output_elements]
    }

    /// `fill <= out`: after the removal and the append the buffer never
    /// holds more than `in + out` elements.
    fn in_ready(&self, _out_ready: bool) -> bool {
        self.fill <= self.output_elements
    }

    /// Removes the output beat first when it left, then appends the input.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        if out_fire {
            debug_assert!(self.out_valid());
            self.buffer.copy_within(self.output_elements..self.fill, 0);
            self.fill -= self.output_elements;
        }
        if let Some(beat) = input {
            debug_assert_eq!(beat.len(), self.input_elements);
            self.buffer[self.fill..self.fill + self.input_elements].copy_from_slice(beat);
            self.fill += self.input_elements;
        }
    }

    /// Fewer than `out` elements: no beat to send, room for one more.
    fn is_quiet(&self) -> bool {
        self.fill < self.output_elements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams `beats` input beats of consecutive numbers through a
    /// converter with an always-ready output; returns the output beats and
    /// the cycles they left.
    fn stream(input: usize, output: usize, beats: usize) -> (Vec<Vec<i64>>, Vec<u64>) {
        let mut conv = ConverterState::with_widths(input, output);
        let (mut next, mut out, mut cycles) = (0usize, Vec::new(), Vec::new());
        let total_out = input * beats / output;
        let mut cycle = 0u64;
        while out.len() < total_out {
            let out_fire = conv.out_valid();
            if out_fire {
                out.push(conv.out_data().to_vec());
                cycles.push(cycle);
            }
            let beat: Vec<i64> = (0..input).map(|j| (next * input + j) as i64).collect();
            let take = next < beats && conv.in_ready(true);
            conv.step(take.then_some(&beat[..]), out_fire);
            next += usize::from(take);
            cycle += 1;
            assert!(cycle < 1000, "converter {input}->{output} stuck");
        }
        (out, cycles)
    }

    fn flattened(beats: &[Vec<i64>]) -> Vec<i64> {
        beats.iter().flatten().copied().collect()
    }

    #[test]
    fn widens_4_to_8_at_one_input_beat_per_cycle() {
        let (out, cycles) = stream(4, 8, 6);
        assert_eq!(flattened(&out), (0..24).collect::<Vec<_>>());
        // Inputs in cycles 0..5; an 8-element beat is complete after every
        // second input and leaves the cycle after.
        assert_eq!(cycles, vec![2, 4, 6]);
    }

    #[test]
    fn narrows_8_to_4_at_one_output_beat_per_cycle() {
        let (out, cycles) = stream(8, 4, 3);
        assert_eq!(flattened(&out), (0..24).collect::<Vec<_>>());
        assert_eq!(cycles, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn non_multiples_keep_element_order() {
        for (input, output, beats) in [(4, 6, 6), (6, 4, 4), (3, 2, 4), (2, 3, 3)] {
            let (out, _) = stream(input, output, beats);
            assert_eq!(
                flattened(&out),
                (0..(input * beats) as i64).collect::<Vec<_>>(),
                "{input}->{output}"
            );
        }
    }

    #[test]
    fn ready_depends_on_fill_only() {
        let mut conv = ConverterState::with_widths(4, 6);
        conv.step(Some(&[1, 2, 3, 4]), false);
        assert!(conv.in_ready(true) && !conv.out_valid());
        conv.step(Some(&[5, 6, 7, 8]), false);
        // 8 elements: a beat of 6 is ready, and there is no room for 4 more.
        assert!(conv.out_valid() && !conv.in_ready(true));
        assert_eq!(conv.out_data(), &[1, 2, 3, 4, 5, 6]);
        conv.step(None, true);
        assert_eq!(conv.describe(), "2/10 elements");
        assert!(conv.in_ready(true));
    }
}
