//! Accumulator registers: which width and overflow behaviour each dense
//! layer's accumulators have in a run (as declared, overridden, or exact),
//! and how a register settles a sum.

use super::error::{OverrideProblem, ReferenceError};
use crate::model::{ACCUMULATOR_BITS, Dense, Layer, Model, OverflowMode};
use std::collections::BTreeMap;
use std::fmt;

/// How the accumulators of a run behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccumulatorMode {
    /// Every accumulator is unbounded: the mathematical result, no overflow.
    Exact,
    /// The model's declared widths and overflow modes, with the given changes.
    Declared(Overrides),
}

impl Default for AccumulatorMode {
    fn default() -> Self {
        AccumulatorMode::Declared(Overrides::default())
    }
}

/// Changes to the declared accumulators, for trade-off studies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Outer accumulator width by layer name.
    pub acc_bits: BTreeMap<String, u32>,
    /// Inner (tile) accumulator width by layer name; the layer must be tiled.
    pub inner_bits: BTreeMap<String, u32>,
    /// Overflow mode for every accumulator of every layer.
    pub overflow: Option<OverflowMode>,
}

/// One accumulator register as a run uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    /// Unbounded (held in `i128`): never overflows.
    Exact,
    /// Two's complement, `bits` wide; `overflow` says what a sum outside
    /// `[-2^(bits-1), 2^(bits-1) - 1]` becomes.
    Bounded { bits: u32, overflow: OverflowMode },
}

impl fmt::Display for Register {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Register::Exact => f.write_str("exact"),
            Register::Bounded { bits, overflow } => write!(f, "{bits}b {overflow}"),
        }
    }
}

/// The inner register of a tiled layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRegister {
    /// Inputs per tile.
    pub size: usize,
    pub register: Register,
}

/// How one dense layer accumulates in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerAccumulation {
    /// The accumulator that starts at the bias.
    pub outer: Register,
    pub tile: Option<TileRegister>,
    /// Products summed exactly before each add: `hardware.simd`, or 1 (the
    /// index order of `b + sum_i w_i x_i`) when the layer does not say. Wrapped
    /// values do not depend on it, but overflow event counts do.
    pub simd: usize,
}

impl fmt::Display for LayerAccumulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tile {
            Some(tile) => write!(
                f,
                "tiles of {}: {} into {}",
                tile.size, tile.register, self.outer
            ),
            None => write!(f, "{}", self.outer),
        }
    }
}

/// The accumulation of every layer in a run, by layer index (`None` for
/// Hadamard layers). Checks that every override names a dense layer.
pub(super) fn resolve(
    model: &Model,
    mode: &AccumulatorMode,
) -> Result<Vec<Option<LayerAccumulation>>, ReferenceError> {
    if let AccumulatorMode::Declared(overrides) = mode {
        check_overrides(model, overrides)?;
    }
    model
        .layers
        .iter()
        .map(|layer| match layer.accumulating() {
            Some(dense) => layer_accumulation(&layer.name, dense, mode).map(Some),
            None => Ok(None),
        })
        .collect()
}

fn layer_accumulation(
    name: &str,
    dense: &Dense,
    mode: &AccumulatorMode,
) -> Result<LayerAccumulation, ReferenceError> {
    let declared = &dense.accumulator;
    let overrides = match mode {
        AccumulatorMode::Exact => {
            return Ok(LayerAccumulation {
                outer: Register::Exact,
                tile: declared.tile.map(|tile| TileRegister {
                    size: tile.size,
                    register: Register::Exact,
                }),
                simd: dense.hardware.simd.unwrap_or(1),
            });
        }
        AccumulatorMode::Declared(overrides) => overrides,
    };
    let overflow = overrides.overflow.unwrap_or(declared.overflow);
    let simd = match (dense.hardware.simd, overflow) {
        (Some(simd), _) => simd,
        (None, OverflowMode::Wrap) => 1,
        (None, OverflowMode::Saturate) => {
            return Err(ReferenceError::SaturateNeedsSimd {
                layer: name.to_string(),
            });
        }
    };
    let bounded = |bits| Register::Bounded { bits, overflow };
    Ok(LayerAccumulation {
        outer: bounded(*overrides.acc_bits.get(name).unwrap_or(&declared.bits)),
        tile: declared.tile.map(|tile| TileRegister {
            size: tile.size,
            register: bounded(*overrides.inner_bits.get(name).unwrap_or(&tile.inner_bits)),
        }),
        simd,
    })
}

fn check_overrides(model: &Model, overrides: &Overrides) -> Result<(), ReferenceError> {
    let outer = overrides
        .acc_bits
        .iter()
        .map(|(name, &bits)| (name, bits, false));
    let inner = overrides
        .inner_bits
        .iter()
        .map(|(name, &bits)| (name, bits, true));
    for (name, bits, is_inner) in outer.chain(inner) {
        let problem = override_problem(model, name, bits, is_inner);
        if let Some(problem) = problem {
            return Err(ReferenceError::Override {
                layer: name.clone(),
                inner: is_inner,
                problem,
            });
        }
    }
    Ok(())
}

fn override_problem(model: &Model, name: &str, bits: u32, inner: bool) -> Option<OverrideProblem> {
    let Some(layer) = model.layers.iter().find(|l| l.name == name) else {
        return Some(OverrideProblem::UnknownLayer {
            known: layer_names(&model.layers),
        });
    };
    let Some(dense) = layer.accumulating() else {
        return Some(OverrideProblem::NotDense(layer.kind_name()));
    };
    if inner && dense.accumulator.tile.is_none() {
        return Some(OverrideProblem::NotTiled);
    }
    if !ACCUMULATOR_BITS.contains(&bits) {
        return Some(OverrideProblem::Width { bits });
    }
    None
}

fn layer_names(layers: &[Layer]) -> String {
    layers
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A register reduced to what the inner loop needs: the range a value may
/// keep, and what to do with one outside it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settle {
    lo: i128,
    hi: i128,
    /// Wrapping to `bits` is a shift left then an arithmetic shift right.
    wrap_shift: u32,
    saturate: bool,
}

impl Settle {
    pub fn new(register: Register) -> Self {
        match register {
            // Weights fit 32 bits and values 64, so products fit 95 bits and
            // sums of fewer than 2^32 of them stay inside i128: the full range
            // never triggers.
            Register::Exact => Settle {
                lo: i128::MIN,
                hi: i128::MAX,
                wrap_shift: 0,
                saturate: false,
            },
            Register::Bounded { bits, overflow } => Settle {
                lo: -(1i128 << (bits - 1)),
                hi: (1i128 << (bits - 1)) - 1,
                wrap_shift: 128 - bits,
                saturate: overflow == OverflowMode::Saturate,
            },
        }
    }

    /// The register's content after it is loaded with the exact `value`:
    /// counts an overflow event when `value` is outside the register's range.
    #[inline]
    pub fn settle(self, value: i128, events: &mut u64) -> i128 {
        if self.lo <= value && value <= self.hi {
            return value;
        }
        *events += 1;
        if self.saturate {
            value.clamp(self.lo, self.hi)
        } else {
            (value << self.wrap_shift) >> self.wrap_shift
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(register: Register, value: i128) -> (i128, u64) {
        let mut events = 0;
        let settled = Settle::new(register).settle(value, &mut events);
        (settled, events)
    }

    const WRAP4: Register = Register::Bounded {
        bits: 4,
        overflow: OverflowMode::Wrap,
    };
    const SATURATE4: Register = Register::Bounded {
        bits: 4,
        overflow: OverflowMode::Saturate,
    };

    #[test]
    fn wrap_is_twos_complement() {
        assert_eq!(settle(WRAP4, 7), (7, 0));
        assert_eq!(settle(WRAP4, -8), (-8, 0));
        assert_eq!(settle(WRAP4, 8), (-8, 1));
        assert_eq!(settle(WRAP4, 14), (-2, 1));
        assert_eq!(settle(WRAP4, -9), (7, 1));
        assert_eq!(settle(WRAP4, 100), (100 - 6 * 16, 1));
    }

    #[test]
    fn wrap_to_64_bits_matches_i64_wrapping() {
        let wrap64 = Register::Bounded {
            bits: 64,
            overflow: OverflowMode::Wrap,
        };
        let value = i64::MAX as i128 + 5;
        assert_eq!(settle(wrap64, value), (i64::MAX.wrapping_add(5) as i128, 1));
    }

    #[test]
    fn saturate_clamps() {
        assert_eq!(settle(SATURATE4, 14), (7, 1));
        assert_eq!(settle(SATURATE4, -100), (-8, 1));
        assert_eq!(settle(SATURATE4, -8), (-8, 0));
    }

    #[test]
    fn exact_never_overflows() {
        assert_eq!(settle(Register::Exact, 1 << 100), (1 << 100, 0));
    }
}
