//! The parts of a layer as the RTL generator writes them, one module each
//! (`<layer>_lanes_<i>_rom`, `_dot`, `_acc`, `_thresholds_<k>`, the
//! Hadamard unit's `_stages_<k>` and `_requantizer`), the estimator
//! components each part holds, and a hierarchical synthesis's resources
//! summed per part.

use super::stat::{CellCounts, Measured};
use crate::estimate::Component;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One part of a layer module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    WeightRom,
    /// Multipliers and adder tree.
    DotProduct,
    Accumulator,
    /// Comparators, the thresholds they read and the count of their hits.
    Thresholds,
    /// The accumulator passed on as the output (a layer without
    /// activation).
    Output,
    /// Counters, tags, the input replay buffer, the output packer.
    Control,
    Butterflies,
    Requantizer,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::WeightRom => "weight ROM",
            Part::DotProduct => "dot product",
            Part::Accumulator => "accumulator",
            Part::Thresholds => "thresholds",
            Part::Output => "output",
            Part::Control => "control",
            Part::Butterflies => "butterflies",
            Part::Requantizer => "requantizer",
        }
    }

    /// The part module `module` of the layer module `layer` belongs to, or
    /// `None` when it is not inside the layer.
    pub fn of_module(layer: &str, module: &str) -> Option<Part> {
        let inner = module.strip_prefix(layer)?;
        if inner.is_empty() {
            return Some(Part::Control);
        }
        let inner = inner.strip_prefix('_')?;
        // The role is the last name that is not an index.
        let role = inner
            .rsplit('_')
            .find(|word| !word.chars().all(|c| c.is_ascii_digit()))?;
        Some(match role {
            "rom" => Part::WeightRom,
            "dot" => Part::DotProduct,
            "acc" => Part::Accumulator,
            "thresholds" => Part::Thresholds,
            "passthrough" => Part::Output,
            "stages" => Part::Butterflies,
            "requantizer" => Part::Requantizer,
            _ => Part::Control,
        })
    }

    /// The part an estimator component is built in. The `Output`
    /// component is the count of threshold hits and its register when the
    /// layer has thresholds, else the passed-on accumulator.
    pub fn of_component(component: Component, thresholds: bool) -> Part {
        match component {
            Component::WeightRom => Part::WeightRom,
            Component::Multipliers | Component::AdderTree => Part::DotProduct,
            Component::Accumulator => Part::Accumulator,
            Component::Comparators | Component::ThresholdSelect => Part::Thresholds,
            Component::Output if thresholds => Part::Thresholds,
            Component::Output => Part::Output,
            Component::Butterflies => Part::Butterflies,
            Component::Requantizer => Part::Requantizer,
            Component::Control | Component::Fifo | Component::Converter => Part::Control,
        }
    }
}

/// The resources of every part of layer `layer` in a hierarchical
/// synthesis's modules (the generator writes one module per instance, so
/// each module counts once).
pub fn part_counts(layer: &str, modules: &[(String, CellCounts)]) -> BTreeMap<Part, Measured> {
    let mut parts = BTreeMap::new();
    for (module, cells) in modules {
        if let Some(part) = Part::of_module(layer, module) {
            let sum: &mut Measured = parts.entry(part).or_default();
            *sum = *sum + Measured::from_cells(cells);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_map_to_their_parts() {
        let of = |m: &str| Part::of_module("mlp3_fc0", m);
        assert_eq!(of("mlp3_fc0"), Some(Part::Control));
        assert_eq!(of("mlp3_fc0_control"), Some(Part::Control));
        assert_eq!(of("mlp3_fc0_lanes_3"), Some(Part::Control));
        assert_eq!(of("mlp3_fc0_lanes_3_rom"), Some(Part::WeightRom));
        assert_eq!(of("mlp3_fc0_lanes_12_dot"), Some(Part::DotProduct));
        assert_eq!(of("mlp3_fc0_lanes_0_acc"), Some(Part::Accumulator));
        assert_eq!(of("mlp3_fc0_lanes_0_thresholds_0"), Some(Part::Thresholds));
        assert_eq!(of("mlp3_fc0_lanes_1_passthrough_0"), Some(Part::Output));
        assert_eq!(of("mlp3_fc0_packer"), Some(Part::Control));
        // Another layer whose name starts the same is not this one.
        assert_eq!(of("mlp3_fc01_lanes_0_dot"), None);
        assert_eq!(of("mlp3_fc1_lanes_0_dot"), None);
        let rot = |m: &str| Part::of_module("h_rot", m);
        assert_eq!(rot("h_rot_stages_2"), Some(Part::Butterflies));
        assert_eq!(rot("h_rot_requantizer"), Some(Part::Requantizer));
    }

    #[test]
    fn parts_sum_their_modules() {
        let cells = |lut6: u64| CellCounts::from([("LUT6".to_string(), lut6)]);
        let modules = vec![
            ("l_lanes_0_dot".to_string(), cells(10)),
            ("l_lanes_1_dot".to_string(), cells(12)),
            ("l_control".to_string(), cells(3)),
            ("other".to_string(), cells(100)),
        ];
        let parts = part_counts("l", &modules);
        assert_eq!(parts[&Part::DotProduct].lut, 22);
        assert_eq!(parts[&Part::Control].lut, 3);
        assert_eq!(parts.len(), 2);
    }
}
