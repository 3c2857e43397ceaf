//! The reseed study: a few grid configs synthesized again with other
//! pseudo-random weights, biases and thresholds. It separates the part of
//! the estimator's error that the structure of a config explains (it stays
//! when only the values change) from the part that follows the values
//! (Yosys and ABC finding more or less logic to share).

use super::grid::Config;
use super::runs::{RunRecord, config_plan};
use crate::estimate::{Block, Constants, estimate_unit};
use crate::table::{Align, Table};
use std::collections::BTreeMap;

/// Mixed into a config's seed to draw its other values.
const RESEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The same config with other weights, biases and thresholds.
pub fn reseeded(config: &Config) -> Config {
    Config {
        seed: config.seed ^ RESEED,
        ..config.clone()
    }
}

fn percent(to: f64, from: f64) -> String {
    format!("{:+.1}%", 100.0 * (to - from) / from)
}

/// A row per unit measured under both seeds (MVAU units only: the other
/// blocks hold no values), with the measured and estimated LUTs of each
/// and how much each moved.
pub fn reseed_table(
    original: &[RunRecord],
    reseeded: &[RunRecord],
    constants: &Constants,
) -> Table {
    let by_unit: BTreeMap<(usize, usize), &RunRecord> = original
        .iter()
        .map(|r| ((r.config.id, r.unit), r))
        .collect();
    let mut table = Table::new(&[
        ("config", Align::Left),
        ("LUT", Align::Right),
        ("estimate", Align::Right),
        ("error", Align::Right),
        ("LUT reseeded", Align::Right),
        ("estimate", Align::Right),
        ("error", Align::Right),
        ("measured moved", Align::Right),
        ("estimate moved", Align::Right),
    ]);
    for again in reseeded {
        let Some(first) = by_unit.get(&(again.config.id, again.unit)) else {
            continue;
        };
        let (first_plan, again_plan) = (config_plan(&first.config), config_plan(&again.config));
        let (first_unit, again_unit) =
            (&first_plan.units[first.unit], &again_plan.units[again.unit]);
        if Block::of(again_unit) != Block::Mvau {
            continue;
        }
        let (a, b) = (first.measured.lut as f64, again.measured.lut as f64);
        let (ea, eb) = (
            estimate_unit(first_unit, constants).0.lut,
            estimate_unit(again_unit, constants).0.lut,
        );
        table.row([
            first.config.name(),
            format!("{a:.0}"),
            format!("{ea:.0}"),
            percent(ea, a),
            format!("{b:.0}"),
            format!("{eb:.0}"),
            percent(eb, b),
            percent(b, a),
            percent(eb, ea),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseeding_changes_only_the_seed_and_is_an_involution() {
        let config = crate::calibrate::grid(&crate::calibrate::grid::ROUNDS)[3].clone();
        let other = reseeded(&config);
        assert_ne!(other.seed, config.seed);
        assert_eq!(reseeded(&other), config);
        assert_eq!(
            Config {
                seed: config.seed,
                ..other
            },
            config
        );
    }
}
