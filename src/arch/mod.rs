//! The hardware plan: the one description of the accelerator. Folding,
//! element types, stream widths, memory contents and layouts, FIFO depths,
//! pipeline latencies and the initiation interval are decided here and only
//! here; `rtl`, `sim` and `estimate` read a [`Plan`] and never re-derive them.
//! The plan is described in `docs/design.md#4-hardware-plan`, the rules below
//! in `docs/design.md#5-cycle-semantics`.
//!
//! # Cycle semantics (shared by `sim` and `rtl`)
//!
//! Every stream is a handshake of `data`, `valid`, `ready`; a beat moves in a
//! cycle where both are high. Element `j` of a beat sits at bits
//! `[j*W +: W]`, two's complement when signed. Registers update at the end of
//! a cycle; a synchronous active-low reset clears every valid bit and
//! counter. Cycle 0 is the first cycle after reset.
//!
//! * **FIFO** (`depth` beats): `out_valid = count > 0`, `out_data` = oldest
//!   beat, `in_ready = count < depth`; push and pop in the same cycle allowed.
//! * **Width converter** (`in` to `out` elements, capacity `in + out`):
//!   `out_valid = fill >= out`, `out_data` = the first `out` elements,
//!   `in_ready = fill <= out`. At the end of a cycle an output beat is removed
//!   first, then an input beat is appended.
//! * **Hadamard unit**: a global `advance = !out_valid || out_ready`;
//!   `in_ready = advance`. On `advance`, `k` butterfly stage registers and an
//!   output register (rounding shift and clamp) shift by one; an accepted
//!   beat is valid at the output `k + 1` cycles later.
//! * **MVAU**: `advance = !out_valid || out_ready`; a fold step is issued when
//!   `advance && (nf != 0 || in_valid)`, `in_ready = advance && nf == 0`.
//!   Fold steps run `sf` fastest, then `nf`; during `nf == 0` the chunk comes
//!   from the input stream and is stored, later folds replay it. Stages on
//!   `advance`: (1) chunk and weight-ROM word registers, (2) exact dot-product
//!   registers, (3) accumulate (`bias` initialises the outer accumulator,
//!   wrap or saturate after every add, tiles into an inner accumulator) and
//!   the finished accumulator register, (4) the output register after
//!   thresholds. The output beat of fold `nf` holds channels
//!   `nf*PE .. nf*PE + PE`; it is valid 4 cycles after its last step issued.
//!
//!   In detail, with `TC` the chunks per tile: stage 1 registers the chunk
//!   `x` (SIMD elements), the ROM word of every PE at address `nf*SF + sf`,
//!   and the tags `first = sf == 0`, `last = sf == SF-1`,
//!   `first_tile = sf < TC`, `tile_first = sf % TC == 0`,
//!   `tile_last = sf % TC == TC-1` and `nf`; a hardwired layer has no ROM
//!   and registers the address instead (its weights are constants of stage
//!   2's circuits, which select by it when folded). Stage 2 registers per PE the
//!   exact `sum_j w[j] * x[j]` and passes the tags on. Stage 3, when its
//!   input is valid: untiled, `acc = fix(P, (first ? bias[nf] : acc) + sum)`;
//!   tiled, `inner = fix(Pi, (tile_first ? 0 : inner) + sum)` and, when
//!   `tile_last`, `acc = fix(P, (first_tile ? bias[nf] : acc) + inner)`;
//!   `fix` wraps or saturates to the width. When `last`, the new `acc` of
//!   every PE goes to the finished register with `nf` (valid), otherwise
//!   that register's valid clears. Stage 4 loads the output register from
//!   the finished register: thresholds `#{k : acc >= t[pe][nf][k]}` plus the
//!   output base (counted by a binary search or by parallel comparators,
//!   [`ThresholdStyle`], within the cycle), or the accumulator itself.
//! * **Hadamard stages**: stage `j` (1..=k) pairs elements `i` and `i + h`,
//!   `h = 2^(j-1)`, within groups of `2h`, into `(a + b, a - b)`; after `k`
//!   stages this is `H_n x` in Sylvester order. The output register applies
//!   `(y + 2^(s-1)) >> s` (arithmetic) and the clamp, when declared.
//! * **Sliding-window unit**: `in_ready = held < R` (from state);
//!   `advance = !out_valid || out_ready`; a window beat issues when
//!   `advance` and `held` covers the rows its window row reads. On
//!   `advance` `out_valid` takes `issue`; on `issue` the read register
//!   takes the line-buffer word at the beat's address (read before the
//!   edge's write) and the padding flag (a padding beat reads nothing and
//!   leaves as zeros); an input beat is written at the write address. Its
//!   beat is valid one cycle after it issues. [`WindowControl`] is the rule.
//! * **Max-pool unit**: a window unit, then a reducer with
//!   `advance = !out_valid || out_ready` (the window's output ready): on
//!   `advance` `out_valid` takes `in_valid && last pixel`, an accepted beat
//!   replaces or raises its word of running maxima, the last pixel's new
//!   word loads the output register.
//! * **Top**: input stream, then per layer: its unit, a FIFO, and a width
//!   converter when the next unit takes another beat width; the last unit
//!   drives the output stream.

mod fold;
mod hardwired;
mod plan;
mod report;
mod rom_tree;
mod window;

pub use fold::{FoldingError, choose_folding};
pub use hardwired::{
    ConstantDot, ConstantProduct, SelectedLane, SignedDigit, TreeNode, signed_digits,
};
pub use plan::*;
pub use report::plan_table;
pub use rom_tree::{LaneProduct, RomDot};
pub use window::{
    MaxPoolUnit, POOL_REDUCER_LATENCY, Padding, SlidingWindowUnit, WINDOW_LATENCY, WindowControl,
    WindowSource, pool_timeline, window_timeline,
};
