//! The estimator's fitted constants: per block type and resource, one
//! coefficient per structural feature. `calibration/constants.toml` is
//! written by `a2qgen calibrate` and compiled into the binary, so the
//! estimator reads no file at run time.

use super::Band;
use super::features::{Block, Resource};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;

/// The constants the binary was built with.
const BUNDLED: &str = include_str!("../../calibration/constants.toml");

/// The table of a block that holds its error band rather than coefficients.
const BAND_TABLE: &str = "band";

/// feature name -> coefficient.
pub type Coefficients = BTreeMap<String, f64>;

/// block -> resource -> coefficients.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constants {
    tables: BTreeMap<String, BTreeMap<String, Coefficients>>,
    /// Lines written as comments at the top of the file (how it was fitted).
    pub notes: Vec<String>,
}

impl Constants {
    /// The constants compiled into the binary.
    pub fn bundled() -> &'static Constants {
        static CONSTANTS: OnceLock<Constants> = OnceLock::new();
        CONSTANTS
            .get_or_init(|| Constants::parse(BUNDLED).expect("calibration/constants.toml is valid"))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let tables: BTreeMap<String, BTreeMap<String, Coefficients>> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Constants {
            tables,
            notes: Vec::new(),
        })
    }

    /// The coefficient of `feature`; 0 when the fit did not use it.
    pub fn coefficient(&self, block: Block, resource: Resource, feature: &str) -> f64 {
        self.tables
            .get(block.name())
            .and_then(|t| t.get(resource.name()))
            .and_then(|c| c.get(feature))
            .copied()
            .unwrap_or(0.0)
    }

    /// The error band of `block`'s estimates, when the calibration
    /// recorded one (`[<block>.band]`).
    pub fn band(&self, block: Block) -> Option<Band> {
        let table = self.tables.get(block.name())?.get(BAND_TABLE)?;
        Some(Band {
            lut_percent: *table.get("lut_p90_percent")?,
            ff_percent: *table.get("ff_p90_percent")?,
        })
    }

    /// Records `block`'s error band and how many measured units it rests on.
    pub fn set_band(&mut self, block: Block, band: Band, units: usize) {
        let table = Coefficients::from([
            ("lut_p90_percent".to_string(), band.lut_percent),
            ("ff_p90_percent".to_string(), band.ff_percent),
            ("units".to_string(), units as f64),
        ]);
        self.tables
            .entry(block.name().to_string())
            .or_default()
            .insert(BAND_TABLE.to_string(), table);
    }

    pub fn set(&mut self, block: Block, resource: Resource, coefficients: Coefficients) {
        self.tables
            .entry(block.name().to_string())
            .or_default()
            .insert(resource.name().to_string(), coefficients);
    }

    /// The TOML text, notes first as comments.
    pub fn to_toml(&self) -> String {
        let mut text = String::new();
        for note in &self.notes {
            let _ = writeln!(text, "# {note}");
        }
        for (block, resources) in &self.tables {
            for (resource, coefficients) in resources {
                let _ = writeln!(text, "\n[{block}.{resource}]");
                for (feature, value) in coefficients {
                    let _ = writeln!(text, "{feature} = {value:.6}");
                }
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml() {
        let mut constants = Constants::default();
        let coefficients: Coefficients = [("unit".to_string(), 12.5)].into_iter().collect();
        constants.set(Block::Fifo, Resource::Lut, coefficients);
        constants.notes.push("fitted".into());
        let parsed = Constants::parse(&constants.to_toml()).unwrap();
        assert_eq!(parsed.coefficient(Block::Fifo, Resource::Lut, "unit"), 12.5);
        assert_eq!(parsed.coefficient(Block::Fifo, Resource::Ff, "unit"), 0.0);
    }

    #[test]
    fn bands_round_trip_and_are_not_coefficients() {
        let mut constants = Constants::default();
        let band = Band {
            lut_percent: 9.5,
            ff_percent: 3.25,
        };
        constants.set_band(Block::Mvau, band, 94);
        let parsed = Constants::parse(&constants.to_toml()).unwrap();
        assert_eq!(parsed.band(Block::Mvau), Some(band));
        assert_eq!(parsed.band(Block::Fifo), None);
        assert_eq!(
            parsed.coefficient(Block::Mvau, Resource::Lut, "lut_p90_percent"),
            0.0
        );
    }

    #[test]
    fn the_bundled_constants_parse_and_carry_a_band_per_block() {
        let constants = Constants::parse(BUNDLED).unwrap();
        for block in Block::ALL {
            let band = constants.band(block).expect("a band per block");
            assert!(
                band.lut_percent > 0.0 && band.ff_percent >= 0.0,
                "{block:?}"
            );
        }
    }
}
