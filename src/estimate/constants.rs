//! The estimator's fitted constants: per block type and resource, one
//! coefficient per structural feature. `calibration/constants.toml` is
//! written by `a2qgen calibrate` and compiled into the binary, so the
//! estimator reads no file at run time.

use super::features::{Block, Resource};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;

/// The constants the binary was built with.
const BUNDLED: &str = include_str!("../../calibration/constants.toml");

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
    fn the_bundled_constants_parse() {
        assert!(Constants::parse(BUNDLED).is_ok());
    }
}
