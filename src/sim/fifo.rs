//! The stream FIFO: a ring of `depth` beats.

use super::unit::StreamUnit;
use crate::arch::Fifo;

/// Registers of a FIFO: the stored beats, where the oldest is, how many.
#[derive(Clone, Debug)]
pub struct FifoState {
    elements: usize,
    depth: usize,
    /// `depth` slots of `elements` values each.
    slots: Vec<i64>,
    head: usize,
    count: usize,
    /// Highest `count` seen at the end of a cycle (a statistic, not a register).
    max_count: usize,
}

impl FifoState {
    pub fn new(plan: &Fifo) -> Self {
        Self::with_shape(plan.beat.elements, plan.depth)
    }

    fn with_shape(elements: usize, depth: usize) -> Self {
        assert!(depth > 0, "a FIFO holds at least one beat");
        FifoState {
            elements,
            depth,
            slots: vec![0; elements * depth],
            head: 0,
            count: 0,
            max_count: 0,
        }
    }

    pub fn occupancy(&self) -> usize {
        self.count
    }

    pub fn max_occupancy(&self) -> usize {
        self.max_count
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn describe(&self) -> String {
        format!("{}/{} beats", self.count, self.depth)
    }

    fn slot(&self, index: usize) -> &[i64] {
        let start = index * self.elements;
        &self.slots[start..start + self.elements]
    }
}

impl StreamUnit for FifoState {
    fn out_valid(&self) -> bool {
        self.count > 0
    }

    /// The oldest beat (meaningful only when `out_valid`).
    fn out_data(&self) -> &[i64] {
        self.slot(self.head)
    }

    /// `count < depth`: a full FIFO refuses a beat even in a cycle where it
    /// pops one.
    fn in_ready(&self, _out_ready: bool) -> bool {
        self.count < self.depth
    }

    /// Pops the oldest beat when it left, then appends `input` if one came in.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool) {
        if out_fire {
            debug_assert!(self.out_valid());
            self.head += 1;
            if self.head == self.depth {
                self.head = 0;
            }
            self.count -= 1;
        }
        if let Some(beat) = input {
            debug_assert!(self.count < self.depth);
            let mut tail = self.head + self.count;
            if tail >= self.depth {
                tail -= self.depth;
            }
            let start = tail * self.elements;
            self.slots[start..start + self.elements].copy_from_slice(beat);
            self.count += 1;
            self.max_count = self.max_count.max(self.count);
        }
    }

    fn is_quiet(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fifo_is_not_valid_and_takes_a_beat() {
        let mut fifo = FifoState::with_shape(2, 2);
        assert!(!fifo.out_valid());
        assert!(fifo.in_ready(true));
        fifo.step(Some(&[1, 2]), false);
        assert!(fifo.out_valid());
        assert_eq!(fifo.out_data(), &[1, 2]);
    }

    #[test]
    fn full_fifo_refuses_even_while_popping() {
        let mut fifo = FifoState::with_shape(1, 2);
        fifo.step(Some(&[1]), false);
        fifo.step(Some(&[2]), false);
        assert!(!fifo.in_ready(true));
        assert_eq!(fifo.max_occupancy(), 2);
        // A pop alone: one place frees up for the next cycle.
        fifo.step(None, true);
        assert!(fifo.in_ready(true));
        assert_eq!(fifo.out_data(), &[2]);
    }

    #[test]
    fn simultaneous_push_and_pop_keep_order_and_count() {
        let mut fifo = FifoState::with_shape(1, 3);
        fifo.step(Some(&[10]), false);
        let mut popped = Vec::new();
        for value in 11..20 {
            popped.push(fifo.out_data()[0]);
            fifo.step(Some(&[value]), true);
            assert_eq!(fifo.occupancy(), 1);
        }
        assert_eq!(popped, (10..19).collect::<Vec<_>>());
        assert_eq!(fifo.out_data(), &[19]);
        assert_eq!(fifo.max_occupancy(), 1);
    }

    #[test]
    fn drains_in_arrival_order_across_the_ring_end() {
        let mut fifo = FifoState::with_shape(2, 3);
        fifo.step(Some(&[0, 0]), false);
        fifo.step(None, true);
        for v in 1..=3 {
            fifo.step(Some(&[v, -v]), false);
        }
        let mut out = Vec::new();
        while fifo.out_valid() {
            out.push(fifo.out_data().to_vec());
            fifo.step(None, true);
        }
        assert_eq!(out, vec![vec![1, -1], vec![2, -2], vec![3, -3]]);
        assert!(!fifo.out_valid());
    }
}
