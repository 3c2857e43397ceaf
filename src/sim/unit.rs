//! The interface every unit model offers the top level: the combinational
//! outputs of its current state, and the step to its next state.

/// A block between an input stream and an output stream.
pub trait StreamUnit {
    /// `valid` of the output stream, from state.
    fn out_valid(&self) -> bool;

    /// `data` of the output stream, from state (meaningful when valid).
    fn out_data(&self) -> &[i64];

    /// `ready` of the input stream given the output stream's `ready`
    /// (FIFOs, converters and window units ignore it: their ready comes
    /// from state alone).
    fn in_ready(&self, out_ready: bool) -> bool;

    /// The clock edge: `input` is the beat taken in this cycle (when the
    /// input stream fired), `out_fire` whether the output beat left.
    fn step(&mut self, input: Option<&[i64]>, out_fire: bool);

    /// No output beat and nothing in flight: a cycle without an input beat
    /// leaves the state as it is, and the unit is ready. The top level
    /// skips such units in such cycles (most units, most cycles).
    fn is_quiet(&self) -> bool;
}

/// What one clock cycle did at a unit's two streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocked {
    pub in_ready: bool,
    pub in_fire: bool,
    pub out_fire: bool,
    /// `out_valid` and [`StreamUnit::is_quiet`] of the state after the edge.
    pub next_out_valid: bool,
    pub next_quiet: bool,
}

/// One cycle of `unit`: its ready from `out_ready`, both fires, then the
/// step. `input` yields the upstream beat and is called only when the input
/// fires. Generic so that each unit kind gets its own inlined copy.
#[inline]
pub fn clock<'a, U: StreamUnit>(
    unit: &mut U,
    in_valid: bool,
    input: impl FnOnce() -> &'a [i64],
    out_ready: bool,
) -> Clocked {
    let in_ready = unit.in_ready(out_ready);
    let in_fire = in_valid && in_ready;
    let out_fire = unit.out_valid() && out_ready;
    unit.step(in_fire.then(input), out_fire);
    debug_assert!(
        !unit.is_quiet() || unit.in_ready(false),
        "a quiet unit is ready"
    );
    Clocked {
        in_ready,
        in_fire,
        out_fire,
        next_out_valid: unit.out_valid(),
        next_quiet: unit.is_quiet(),
    }
}
