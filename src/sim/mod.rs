//! The cycle-accurate model of the generated hardware, built from an
//! [`arch::Plan`](crate::arch::Plan) alone (never from the model): one struct
//! per unit kind holding exactly that unit's registers, stepped cycle by
//! cycle under the semantics documented in [`crate::arch`]. The Verilog
//! (`rtl`) implements the same semantics and the Verilator harness drives it
//! with the same stimulus, so both must report every output beat in the
//! same cycle with the same values.
//!
//! # One cycle
//!
//! Boundary `0` is the top input stream, boundary `i` (1..n) the stream
//! from unit `i-1` to unit `i`, boundary `n` the top output stream. Each
//! cycle `c`, in this order:
//!
//! 1. valids come from state: the driver's `tvalid` (below) at boundary 0,
//!    every unit's `out_valid` at the boundary after it;
//! 2. readies propagate backwards from the output: boundary `n` is
//!    `output_ready[c]`, and each unit's `in_ready` is computed from the
//!    ready of the boundary after it (combinational through `advance` for
//!    the MVAU and the Hadamard unit, from state alone for FIFOs and
//!    converters);
//! 3. every boundary fires when valid and ready; a firing top-output beat
//!    is recorded with cycle `c`;
//! 4. every unit steps to its next state given the beat it took in (if any)
//!    and whether its output beat left: the hardware's "all registers
//!    update at the clock edge".
//!
//! The simulator computes the same in one pass from the output backwards:
//! each unit's ready needs only the ready behind it, already computed, and
//! a unit steps after its downstream neighbour and before its upstream one,
//! so every value it reads is from the state before the edge. A unit with
//! no output beat, nothing in flight and no beat offered is skipped: its
//! step would change nothing and it is ready (see [`StreamUnit::is_quiet`]).
//!
//! # Stimulus (the Verilator harness implements the same)
//!
//! The input vectors, `i64 [batch, input_length]`, are cut into beats of
//! `plan.input().elements` consecutive elements: beat `b` of vector `v`
//! holds elements `b*E .. (b+1)*E` of row `v`; beats of vector `v` all come
//! before those of `v + 1`. Every value must lie in the model's input type
//! (refused otherwise: hardware would silently truncate it).
//!
//! A [`Schedule`] has `input_gate` and `output_ready`, one `bool` per cycle
//! (index = cycle, cycle 0 = first cycle after reset); beyond the end of a
//! vector the gate is open and ready is high. The driver at cycle `c`:
//!
//! * if a beat is presented and has not been accepted, it keeps presenting
//!   it (AXI-Stream: `tvalid` stays high until the beat moves), whatever
//!   `input_gate[c]` says;
//! * otherwise, if beats remain and `input_gate[c]` is true, it presents the
//!   next beat (`tvalid = 1` in cycle `c`);
//! * otherwise `tvalid = 0`.
//!
//! A beat is accepted in the cycle where `tvalid && tready`; the next beat
//! can then be presented in the very next cycle. The output `tready` in
//! cycle `c` is `output_ready[c]`.
//!
//! ## Files
//!
//! [`Schedule::write_files`] writes `input_gate.txt` and `output_ready.txt`:
//! each exactly one line of `'0'`/`'1'` characters, the character at
//! position `c` being cycle `c`, then a newline.
//!
//! ## Random schedules
//!
//! [`Schedule::random`]`(gap, backpressure, seed, cycles)` runs one
//! [`SplitMix64`] generator started at `seed`; for each cycle `c` in
//! `0..cycles` it draws two numbers, first for the gate then for the ready:
//! `input_gate[c] = !(u1 < gap)`, `output_ready[c] = !(u2 < backpressure)`,
//! with `u = (next() >> 11) as f64 * 2^-53`, a uniform double in `[0, 1)`.
//! SplitMix64's `next()`: `state += 0x9E3779B97F4A7C15` (wrapping), then
//! `z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//! z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)` (wrapping
//! multiplies). The harness reads the files, so it never needs this.
//!
//! # Results
//!
//! Every output beat with its vector index, its beat index within the
//! vector, the cycle it moved and its elements ([`SimResult`]); the output
//! vectors in channel order ([`SimResult::outputs`]: beat order, the MVAU
//! beat of fold `nf` holding channels `nf*PE ..`). Figures:
//!
//! * total cycles: the cycle after the last output beat moved;
//! * latency: the cycle of the first output beat minus the cycle the first
//!   input beat moved; with no gaps and no back-pressure it equals
//!   `plan.latency`;
//! * initiation interval: the spacing between the first output beats of
//!   consecutive vectors (vectors 1..n). The maximum is what is compared
//!   with `plan.initiation_interval`; the mean is reported beside it;
//! * per unit, input stalls (a beat presented at its input and not
//!   accepted) and output stalls (its output valid and not ready), and the
//!   maximum occupancy of every FIFO (beats held at the end of a cycle).
//!
//! # Readings of `arch`'s semantics where it is terse
//!
//! * MVAU stage 1 keeps the buffer slot and the ROM address of the step
//!   rather than copies of the chunk and of the ROM word; stage 2 reads them
//!   before stage 1 reloads, and the slot is only rewritten when stage 1
//!   reloads, so the values are the same as with the copies.
//! * MVAU stage 3 updates `acc` (and `inner`) only when its input is valid;
//!   the finished register is loaded with valid = `valid && last` on every
//!   advance. All four MVAU stages, like the Hadamard stages, move only on
//!   `advance`; a bubble (invalid stage) moves with them, so a stalled
//!   output freezes the whole unit.
//! * Thresholds count `#{k : acc >= t[k]}` on the clamped thresholds; as the
//!   thresholds are non-decreasing (validated) this is a binary search.
//! * Hadamard butterflies are exact (each stage is one bit wider); the
//!   output register applies the shift, then the clamp, then keeps the
//!   output type's width (a no-op for a plan built from proven ranges).
//! * The window unit reads its line buffer before the input beat of the
//!   same edge is written; the two never share a slot (a slot is written
//!   only while no held row uses it), so the order only mirrors the RTL.
//!   Its counters are [`crate::arch::WindowControl`], shared with the
//!   plan's timeline.
//! * Elements, accumulators and thresholds are `i64` (the model format
//!   keeps them within 64 bits). A dot product of `SIMD` products can be
//!   wider (`dot_bits` up to 64 + log2 SIMD): it is summed in `i64` when
//!   `dot_bits <= 64` and in `i128` otherwise, so every width the format
//!   accepts is simulated exactly. Thresholds compare at `compare_bits`
//!   (one more than the accumulator) in hardware; in `i64` the comparison
//!   of a 64-bit accumulator with an `i64` threshold is already exact.

mod check;
mod converter;
mod fifo;
mod fix;
mod hadamard;
mod mvau;
mod result;
mod schedule;
mod top;
mod unit;
mod window;

pub use converter::ConverterState;
pub use fifo::FifoState;
pub use hadamard::HadamardState;
pub use mvau::MvauState;
pub use result::{IiSummary, OutputBeat, SimResult, UnitStats};
pub use schedule::{Schedule, ScheduleError, SplitMix64};
pub use top::{SimError, Simulator, cycle_limit, simulate, simulate_with_limit};
pub use unit::{Clocked, StreamUnit, clock};
pub use window::{PoolState, WindowState};
