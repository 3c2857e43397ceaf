//! What a simulation yields: the output beats with their cycles, and the
//! figures derived from them.

use ndarray::Array2;

/// When an output beat left the top module and which one it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BeatTiming {
    vector: usize,
    beat: usize,
    cycle: u64,
}

/// One output beat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputBeat<'a> {
    /// Index of the input vector it belongs to.
    pub vector: usize,
    /// Index of the beat within that vector's output.
    pub beat: usize,
    /// The cycle where `out_valid && out_ready`.
    pub cycle: u64,
    pub values: &'a [i64],
}

/// Stalls of one unit, and the occupancy of a FIFO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitStats {
    pub name: String,
    pub kind: &'static str,
    /// Cycles with a beat presented at its input that was not accepted.
    pub input_stalls: u64,
    /// Cycles with its output valid and not ready.
    pub output_stalls: u64,
    /// FIFOs: the most beats held at the end of a cycle, and the depth.
    pub fifo_occupancy: Option<(usize, usize)>,
}

/// The spacing between the first output beats of consecutive vectors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IiSummary {
    /// The largest spacing: what is compared with the plan's II.
    pub max: u64,
    pub mean: f64,
}

/// Every output beat of a run, and per-unit figures.
#[derive(Clone, Debug, PartialEq)]
pub struct SimResult {
    vectors: usize,
    elements: usize,
    beats_per_vector: usize,
    timings: Vec<BeatTiming>,
    /// The elements of every beat, beat after beat.
    values: Vec<i64>,
    first_input_cycle: Option<u64>,
    pub units: Vec<UnitStats>,
}

impl SimResult {
    pub(super) fn new(vectors: usize, elements: usize, beats_per_vector: usize) -> Self {
        let beats = vectors * beats_per_vector;
        SimResult {
            vectors,
            elements,
            beats_per_vector,
            timings: Vec::with_capacity(beats),
            values: Vec::with_capacity(beats * elements),
            first_input_cycle: None,
            units: Vec::new(),
        }
    }

    /// Records the next output beat, which moved in `cycle`.
    pub(super) fn record(&mut self, cycle: u64, values: &[i64]) {
        let index = self.timings.len();
        self.timings.push(BeatTiming {
            vector: index / self.beats_per_vector,
            beat: index % self.beats_per_vector,
            cycle,
        });
        self.values.extend_from_slice(values);
    }

    pub(super) fn record_first_input(&mut self, cycle: u64) {
        self.first_input_cycle.get_or_insert(cycle);
    }

    pub(super) fn beat_count(&self) -> usize {
        self.timings.len()
    }

    pub fn vectors(&self) -> usize {
        self.vectors
    }

    /// Elements per output beat.
    pub fn elements(&self) -> usize {
        self.elements
    }

    pub fn beats_per_vector(&self) -> usize {
        self.beats_per_vector
    }

    pub fn beats(&self) -> impl ExactSizeIterator<Item = OutputBeat<'_>> + '_ {
        self.timings
            .iter()
            .zip(self.values.chunks_exact(self.elements.max(1)))
            .map(|(t, values)| OutputBeat {
                vector: t.vector,
                beat: t.beat,
                cycle: t.cycle,
                values,
            })
    }

    /// The output vectors, `[vectors, output_length]`: each vector's beats
    /// in order, elements in beat order (channel order).
    pub fn outputs(&self) -> Array2<i64> {
        let length = self.beats_per_vector * self.elements;
        Array2::from_shape_vec((self.vectors, length), self.values.clone())
            .expect("every vector has all its beats")
    }

    /// `[beats, 3 + elements]`: vector, beat, cycle, then the elements.
    pub fn beats_table(&self) -> Array2<i64> {
        let columns = 3 + self.elements;
        let mut table = Vec::with_capacity(self.timings.len() * columns);
        for beat in self.beats() {
            table.extend([beat.vector as i64, beat.beat as i64, beat.cycle as i64]);
            table.extend_from_slice(beat.values);
        }
        Array2::from_shape_vec((self.timings.len(), columns), table).expect("rows of equal width")
    }

    /// The cycle after the last output beat moved (0 without beats).
    pub fn total_cycles(&self) -> u64 {
        self.timings.last().map_or(0, |t| t.cycle + 1)
    }

    /// The cycle the first input beat moved.
    pub fn first_input_cycle(&self) -> Option<u64> {
        self.first_input_cycle
    }

    /// The cycle the first beat of every vector moved.
    pub fn vector_first_beat_cycles(&self) -> Vec<u64> {
        self.timings
            .iter()
            .filter(|t| t.beat == 0)
            .map(|t| t.cycle)
            .collect()
    }

    /// First output beat's cycle minus the first input beat's cycle.
    pub fn latency(&self) -> Option<u64> {
        Some(self.timings.first()?.cycle - self.first_input_cycle?)
    }

    /// Spacing of the first output beats of vectors `1..n` after their
    /// predecessors; `None` with fewer than two vectors.
    pub fn initiation_interval(&self) -> Option<IiSummary> {
        let starts = self.vector_first_beat_cycles();
        let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let max = *gaps.iter().max()?;
        let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
        Some(IiSummary { max, mean })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> SimResult {
        let mut r = SimResult::new(2, 2, 2);
        r.record_first_input(3);
        r.record_first_input(9);
        r.record(10, &[1, 2]);
        r.record(11, &[3, 4]);
        r.record(17, &[5, 6]);
        r.record(20, &[7, 8]);
        r
    }

    #[test]
    fn beats_know_their_vector_and_position() {
        let r = result();
        let beats: Vec<(usize, usize, u64)> =
            r.beats().map(|b| (b.vector, b.beat, b.cycle)).collect();
        assert_eq!(beats, vec![(0, 0, 10), (0, 1, 11), (1, 0, 17), (1, 1, 20)]);
        assert_eq!(r.outputs(), ndarray::array![[1, 2, 3, 4], [5, 6, 7, 8]]);
        assert_eq!(r.beats_table().row(3).to_vec(), vec![1, 1, 20, 7, 8]);
    }

    #[test]
    fn figures_come_from_the_beat_cycles() {
        let r = result();
        assert_eq!(r.total_cycles(), 21);
        assert_eq!(r.latency(), Some(7));
        assert_eq!(
            r.initiation_interval(),
            Some(IiSummary { max: 7, mean: 7.0 })
        );
        assert_eq!(SimResult::new(0, 2, 2).initiation_interval(), None);
        assert_eq!(SimResult::new(0, 2, 2).latency(), None);
    }
}
