//! Choosing PE and SIMD for a dense layer, as FINN's folding does: the
//! smallest PE x SIMD whose cycles per vector meet a target.

use crate::model::{Dense, HardwareHints, WeightsHint};

/// Why no folding fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no PE x SIMD folding of a {out_features} x {in_features} layer meets {target} cycles per vector"
)]
pub struct FoldingError {
    pub in_features: usize,
    pub out_features: usize,
    pub target: u64,
}

fn divisors(n: usize) -> impl Iterator<Item = usize> {
    (1..=n).filter(move |d| n.is_multiple_of(*d))
}

/// `(pe, simd)` for `layer`: the model's hints where given; otherwise the
/// smallest `pe * simd` with `(out/pe) * (in/simd) <= target_cycles`
/// (preferring wider SIMD, which needs less input replay), or `1` when no
/// target is given. SIMD always divides the tile size. A hardwired layer
/// without a target is unfolded in what its hints leave out (`pe =
/// out_features`, `simd` the tile or `in_features`): folding one selects
/// among constant circuits, which pays only while the folds are few.
pub fn choose_folding(
    layer: &Dense,
    target_cycles: Option<u64>,
) -> Result<(usize, usize), FoldingError> {
    let HardwareHints { pe, simd, .. } = layer.hardware;
    let span = layer.accumulator.tile.map_or(layer.in_features, |t| t.size);
    let Some(target) = target_cycles else {
        return Ok(if layer.hardware.weights == WeightsHint::Hardwired {
            (pe.unwrap_or(layer.out_features), simd.unwrap_or(span))
        } else {
            (pe.unwrap_or(1), simd.unwrap_or(1))
        });
    };
    let pes: Vec<usize> = pe.map_or_else(|| divisors(layer.out_features).collect(), |p| vec![p]);
    let simds: Vec<usize> = simd.map_or_else(|| divisors(span).collect(), |s| vec![s]);
    pes.iter()
        .flat_map(|&p| simds.iter().map(move |&s| (p, s)))
        .filter(|&(p, s)| ((layer.out_features / p) * (layer.in_features / s)) as u64 <= target)
        .min_by_key(|&(p, s)| (p * s, p))
        .ok_or(FoldingError {
            in_features: layer.in_features,
            out_features: layer.out_features,
            target,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Accumulator, Activation, OverflowMode, Tile};
    use ndarray::Array2;

    fn layer(out_features: usize, in_features: usize, tile: Option<Tile>) -> Dense {
        Dense {
            in_features,
            out_features,
            weight_bits: 4,
            weights: Array2::zeros((out_features, in_features)),
            bias: None,
            accumulator: Accumulator {
                bits: 16,
                tile,
                overflow: OverflowMode::Wrap,
                allow_overflow: false,
            },
            activation: Activation::None,
            hardware: HardwareHints::default(),
        }
    }

    #[test]
    fn smallest_array_meeting_the_target() {
        // 64 x 64 = 4096 MACs in 256 cycles needs 16 lanes; SIMD is preferred.
        assert_eq!(choose_folding(&layer(64, 64, None), Some(256)), Ok((1, 16)));
        assert_eq!(choose_folding(&layer(64, 64, None), Some(4096)), Ok((1, 1)));
        assert_eq!(choose_folding(&layer(64, 64, None), Some(1)), Ok((64, 64)));
        assert!(choose_folding(&layer(64, 64, None), Some(0)).is_err());
    }

    #[test]
    fn simd_divides_the_tile() {
        let tile = Tile {
            size: 8,
            inner_bits: 12,
        };
        // 4 x 32 in 4 cycles: SIMD at most 8 (the tile), so PE must be 4... or 2 x 8 -> 2*4 = 8 > 4.
        assert_eq!(
            choose_folding(&layer(4, 32, Some(tile)), Some(4)),
            Ok((4, 8))
        );
    }

    #[test]
    fn hints_are_kept() {
        let mut l = layer(8, 8, None);
        l.hardware.pe = Some(2);
        assert_eq!(choose_folding(&l, Some(4)), Ok((2, 8)));
        assert_eq!(choose_folding(&l, None), Ok((2, 1)));
    }

    #[test]
    fn hardwired_layers_unfold_what_their_hints_leave_out() {
        let mut l = layer(8, 16, None);
        l.hardware.weights = WeightsHint::Hardwired;
        assert_eq!(choose_folding(&l, None), Ok((8, 16)));
        // A target folds them as ROM layers.
        assert_eq!(choose_folding(&l, Some(64)), Ok((1, 2)));
        l.hardware.pe = Some(2);
        assert_eq!(choose_folding(&l, None), Ok((2, 16)));
        l.accumulator.tile = Some(Tile {
            size: 4,
            inner_bits: 12,
        });
        assert_eq!(choose_folding(&l, None), Ok((2, 4)));
        // `auto` folds as a ROM layer, then chooses.
        l.hardware.weights = WeightsHint::Auto;
        assert_eq!(choose_folding(&l, None), Ok((2, 1)));
    }
}
