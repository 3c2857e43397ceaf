//! The top module: the input driver, the chain of units, and the cycle loop
//! (see the module documentation of `sim` for the order of evaluation).

use super::check::check_plan;
use super::converter::ConverterState;
use super::fifo::FifoState;
use super::hadamard::HadamardState;
use super::mvau::MvauState;
use super::result::{SimResult, UnitStats};
use super::schedule::Schedule;
use super::unit::{Clocked, StreamUnit, clock};
use super::window::{PoolState, WindowState};
use crate::arch::{Plan, Unit};
use ndarray::ArrayView2;

/// Why a simulation did not produce its outputs.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("inputs have {found} elements per vector; the plan takes {expected}")]
    InputShape { found: usize, expected: usize },
    #[error("input vector {vector}, element {element}: {value} is outside the input type {ty}")]
    InputRange {
        vector: usize,
        element: usize,
        value: i64,
        ty: crate::model::IntType,
    },
    #[error("the plan cannot be simulated: {0}")]
    Plan(String),
    #[error(
        "stopped at the cycle limit {limit} with {beats} of {expected} output beats out \
         (deadlock?); input: {driver}; units: {states}"
    )]
    CycleLimit {
        limit: u64,
        beats: usize,
        expected: usize,
        driver: String,
        states: String,
    },
}

/// The registers of one unit of the pipeline.
#[derive(Clone, Debug)]
enum UnitState {
    Fifo(FifoState),
    Converter(ConverterState),
    Hadamard(HadamardState),
    Mvau(Box<MvauState>),
    Window(Box<WindowState>),
    Pool(Box<PoolState>),
}

impl UnitState {
    fn new(unit: &Unit) -> Self {
        match unit {
            Unit::Fifo(f) => UnitState::Fifo(FifoState::new(f)),
            Unit::Converter(c) => UnitState::Converter(ConverterState::new(c)),
            Unit::Hadamard(h) => UnitState::Hadamard(HadamardState::new(h)),
            Unit::Mvau(m) => UnitState::Mvau(Box::new(MvauState::new(m))),
            Unit::SlidingWindow(w) => UnitState::Window(Box::new(WindowState::new(w))),
            Unit::MaxPool(p) => UnitState::Pool(Box::new(PoolState::new(p))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            UnitState::Fifo(_) => "fifo",
            UnitState::Converter(_) => "converter",
            UnitState::Hadamard(_) => "hadamard",
            UnitState::Mvau(_) => "mvau",
            UnitState::Window(_) => "window",
            UnitState::Pool(_) => "maxpool",
        }
    }

    fn out_data(&self) -> &[i64] {
        match self {
            UnitState::Fifo(u) => u.out_data(),
            UnitState::Converter(u) => u.out_data(),
            UnitState::Hadamard(u) => u.out_data(),
            UnitState::Mvau(u) => u.out_data(),
            UnitState::Window(u) => u.out_data(),
            UnitState::Pool(u) => u.out_data(),
        }
    }

    /// One cycle of this unit (see [`clock`]): one dispatch per unit and
    /// cycle, the unit's own methods inlined behind it.
    fn clock<'a>(
        &mut self,
        in_valid: bool,
        input: impl FnOnce() -> &'a [i64],
        out_ready: bool,
    ) -> Clocked {
        match self {
            UnitState::Fifo(u) => clock(u, in_valid, input, out_ready),
            UnitState::Converter(u) => clock(u, in_valid, input, out_ready),
            UnitState::Hadamard(u) => clock(u, in_valid, input, out_ready),
            UnitState::Mvau(u) => clock(u.as_mut(), in_valid, input, out_ready),
            UnitState::Window(u) => clock(u.as_mut(), in_valid, input, out_ready),
            UnitState::Pool(u) => clock(u.as_mut(), in_valid, input, out_ready),
        }
    }

    fn describe(&self) -> String {
        match self {
            UnitState::Fifo(u) => u.describe(),
            UnitState::Converter(u) => u.describe(),
            UnitState::Hadamard(u) => u.describe(),
            UnitState::Mvau(u) => u.describe(),
            UnitState::Window(u) => u.describe(),
            UnitState::Pool(u) => u.describe(),
        }
    }

    fn fifo_occupancy(&self) -> Option<(usize, usize)> {
        match self {
            UnitState::Fifo(u) => Some((u.max_occupancy(), u.depth())),
            _ => None,
        }
    }
}

/// The top-level input: presents the beats of the input vectors in order,
/// holding each until it is accepted.
struct Driver<'a> {
    /// All input vectors, row after row.
    values: &'a [i64],
    elements: usize,
    beats: usize,
    next: usize,
    presenting: bool,
}

impl<'a> Driver<'a> {
    fn new(values: &'a [i64], elements: usize) -> Self {
        Driver {
            values,
            elements,
            beats: values.len() / elements,
            next: 0,
            presenting: false,
        }
    }

    /// `tvalid` in `cycle`: a beat already presented stays; a new one is
    /// presented only when the gate is open.
    fn tvalid(&mut self, cycle: u64, schedule: &Schedule) -> bool {
        if !self.presenting && self.next < self.beats && schedule.gate(cycle) {
            self.presenting = true;
        }
        self.presenting
    }

    fn beat(&self) -> &'a [i64] {
        &self.values[self.next * self.elements..(self.next + 1) * self.elements]
    }

    fn accepted(&mut self) {
        self.presenting = false;
        self.next += 1;
    }

    fn describe(&self) -> String {
        let state = if self.presenting {
            "presenting"
        } else {
            "idle"
        };
        format!("beat {} of {} {state}", self.next, self.beats)
    }
}

/// One unit with the valid of its output stream and its stall counters.
struct Slot {
    name: String,
    unit: UnitState,
    /// The unit's `out_valid` and `is_quiet` in the current state (kept
    /// beside it so the cycle loop reads flags rather than dispatching on
    /// the unit kind).
    out_valid: bool,
    quiet: bool,
    input_stalls: u64,
    output_stalls: u64,
}

impl Slot {
    /// One cycle of this unit given the valid at its input and the ready
    /// at its output; returns its input ready.
    #[inline]
    fn clock<'a>(
        &mut self,
        in_valid: bool,
        input: impl FnOnce() -> &'a [i64],
        out_ready: bool,
    ) -> bool {
        if self.quiet && !in_valid {
            // No beat in, none out, nothing in flight: the step would
            // change nothing, and a quiet unit is ready.
            return true;
        }
        self.output_stalls += u64::from(self.out_valid && !out_ready);
        let clocked = self.unit.clock(in_valid, input, out_ready);
        self.input_stalls += u64::from(in_valid && !clocked.in_ready);
        self.out_valid = clocked.next_out_valid;
        self.quiet = clocked.next_quiet;
        clocked.in_ready
    }
}

/// The whole accelerator: its units in stream order.
pub struct Simulator {
    slots: Vec<Slot>,
    input_element: crate::model::IntType,
    input_elements: usize,
    input_length: usize,
    output_elements: usize,
    output_beats_per_vector: usize,
}

impl Simulator {
    /// The accelerator of `plan`, in its reset state.
    pub fn new(plan: &Plan) -> Result<Self, SimError> {
        check_plan(plan)?;
        let slots = plan
            .units
            .iter()
            .map(|u| Slot {
                name: u.name().to_string(),
                unit: UnitState::new(u),
                out_valid: false,
                quiet: true,
                input_stalls: 0,
                output_stalls: 0,
            })
            .collect();
        Ok(Simulator {
            slots,
            input_element: plan.input().element,
            input_elements: plan.input().elements,
            input_length: plan.input_length,
            output_elements: plan.output().elements,
            output_beats_per_vector: plan.output_beats_per_vector(),
        })
    }

    /// Runs from reset until every output beat of `inputs` has left, or
    /// fails at `max_cycles`.
    pub fn run(
        mut self,
        inputs: ArrayView2<i64>,
        schedule: &Schedule,
        max_cycles: u64,
    ) -> Result<SimResult, SimError> {
        let values = self.checked_inputs(inputs)?;
        let mut driver = Driver::new(&values, self.input_elements);
        let vectors = inputs.nrows();
        let mut result =
            SimResult::new(vectors, self.output_elements, self.output_beats_per_vector);
        let expected = vectors * self.output_beats_per_vector;
        let mut cycle = 0u64;
        while result.beat_count() < expected {
            if cycle >= max_cycles {
                return Err(self.stuck(max_cycles, &result, expected, &driver));
            }
            self.cycle(cycle, &mut driver, schedule, &mut result);
            cycle += 1;
        }
        result.units = self.stats();
        Ok(result)
    }

    /// One clock cycle, as one pass from the output backwards (see the
    /// module documentation of `sim` for why that is the clock edge).
    fn cycle(
        &mut self,
        cycle: u64,
        driver: &mut Driver<'_>,
        schedule: &Schedule,
        result: &mut SimResult,
    ) {
        let driver_valid = driver.tvalid(cycle, schedule);
        let mut ready = schedule.ready(cycle);
        if let Some(last) = self.slots.last()
            && last.out_valid
            && ready
        {
            result.record(cycle, last.unit.out_data());
        }
        for i in (1..self.slots.len()).rev() {
            let (upstream, rest) = self.slots.split_at_mut(i);
            let previous = &upstream[i - 1];
            ready = rest[0].clock(previous.out_valid, || previous.unit.out_data(), ready);
        }
        if let Some(first) = self.slots.first_mut() {
            ready = first.clock(driver_valid, || driver.beat(), ready);
        }
        if driver_valid && ready {
            result.record_first_input(cycle);
            driver.accepted();
        }
    }

    /// The inputs as one row-major run, every value checked against the
    /// input type.
    fn checked_inputs(&self, inputs: ArrayView2<i64>) -> Result<Vec<i64>, SimError> {
        if inputs.ncols() != self.input_length {
            return Err(SimError::InputShape {
                found: inputs.ncols(),
                expected: self.input_length,
            });
        }
        let ty = self.input_element;
        for ((vector, element), &value) in inputs.indexed_iter() {
            if !ty.contains(i128::from(value)) {
                return Err(SimError::InputRange {
                    vector,
                    element,
                    value,
                    ty,
                });
            }
        }
        Ok(inputs.iter().copied().collect())
    }

    fn stuck(
        &self,
        limit: u64,
        result: &SimResult,
        expected: usize,
        driver: &Driver<'_>,
    ) -> SimError {
        let states: Vec<String> = self
            .slots
            .iter()
            .map(|s| format!("{} ({}): {}", s.name, s.unit.kind(), s.unit.describe()))
            .collect();
        SimError::CycleLimit {
            limit,
            beats: result.beat_count(),
            expected,
            driver: driver.describe(),
            states: states.join("; "),
        }
    }

    fn stats(&self) -> Vec<UnitStats> {
        self.slots
            .iter()
            .map(|s| UnitStats {
                name: s.name.clone(),
                kind: s.unit.kind(),
                input_stalls: s.input_stalls,
                output_stalls: s.output_stalls,
                fifo_occupancy: s.unit.fifo_occupancy(),
            })
            .collect()
    }
}

/// Runs `plan` on `inputs` (`[vectors, input_length]`) under `schedule`,
/// stopping with an error at [`cycle_limit`].
pub fn simulate(
    plan: &Plan,
    inputs: ArrayView2<i64>,
    schedule: &Schedule,
) -> Result<SimResult, SimError> {
    let limit = cycle_limit(plan, inputs.nrows(), schedule);
    simulate_with_limit(plan, inputs, schedule, limit)
}

/// [`simulate`] with an explicit cycle limit.
pub fn simulate_with_limit(
    plan: &Plan,
    inputs: ArrayView2<i64>,
    schedule: &Schedule,
    max_cycles: u64,
) -> Result<SimResult, SimError> {
    Simulator::new(plan)?.run(inputs, schedule, max_cycles)
}

/// A cycle count no live run reaches, to stop a deadlocked one:
/// `(vectors + 2) * II * 50 + latency + 1000`, plus the schedule's gated
/// input cycles and not-ready output cycles (each can hold the pipeline
/// for a cycle). A free run takes about `vectors * II + latency`.
pub fn cycle_limit(plan: &Plan, vectors: usize, schedule: &Schedule) -> u64 {
    (vectors as u64)
        .saturating_add(2)
        .saturating_mul(plan.initiation_interval.max(1))
        .saturating_mul(50)
        .saturating_add(plan.latency)
        .saturating_add(1000)
        .saturating_add(schedule.blocked_cycles())
}
