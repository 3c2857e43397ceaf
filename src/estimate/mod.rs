//! Analytical resource estimates for xc7 from an [`arch::Plan`] alone:
//! LUTs, flip-flops, CARRY4, DSP48E1 and RAMB18 per unit, for the declared
//! accumulator widths and for the same design with 32-bit accumulators.
//!
//! Each unit's structural features (`features`) are weighted by constants
//! fitted against Yosys (`calibration/constants.toml`, compiled in); DSP
//! and block RAM counts follow Yosys's mapping rules exactly (`memory`,
//! [`features::product_uses_dsp`]). The model is described in
//! `docs/design.md#7-resource-estimates`, its measured error in
//! `docs/estimator.md#calibration`.
//!
//! [`arch::Plan`]: crate::arch::Plan

pub mod constants;
pub mod features;
pub mod memory;
pub mod report;

pub use constants::Constants;
pub use features::{Block, Component, Resource, UnitFeatures, unit_features};

use crate::arch::{ArchError, Plan, PlanOptions, Unit, build_plan};
use crate::bounds::analyze;
use crate::model::Model;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::{Add, AddAssign};

/// Accumulators narrower than this are widened for the comparison.
pub const WIDE_ACCUMULATOR_BITS: u32 = 32;

/// xc7 resources (estimates are fractional; reports round them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Resources {
    pub lut: f64,
    pub ff: f64,
    pub carry4: f64,
    pub dsp: f64,
    pub bram18: f64,
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            lut: self.lut + o.lut,
            ff: self.ff + o.ff,
            carry4: self.carry4 + o.carry4,
            dsp: self.dsp + o.dsp,
            bram18: self.bram18 + o.bram18,
        }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        *self = *self + o;
    }
}

impl Resources {
    fn set(&mut self, resource: Resource, value: f64) {
        match resource {
            Resource::Lut => self.lut = value,
            Resource::Ff => self.ff = value,
            Resource::Carry4 => self.carry4 = value,
        }
    }

    pub fn get(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Lut => self.lut,
            Resource::Ff => self.ff,
            Resource::Carry4 => self.carry4,
        }
    }
}

/// How far an estimate may be off: the 90th percentile of the absolute
/// relative error of the calibration's held-out units of the same block
/// kind (all its units when fewer than 20 are held out), in percent (`a2qgen calibrate` measures it; see
/// `docs/estimator.md#error-bands`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Band {
    pub lut_percent: f64,
    pub ff_percent: f64,
}

impl Band {
    /// The band of a sum of estimates: each part's band weighted by its
    /// share, as if their errors all had the same sign (the errors of one
    /// design's units are correlated, so they do not average out).
    pub fn of_sum<'a>(parts: impl IntoIterator<Item = (&'a Resources, Band)>) -> Option<Band> {
        let (mut lut, mut ff, mut lut_error, mut ff_error) = (0.0, 0.0, 0.0, 0.0);
        let mut any = false;
        for (resources, band) in parts {
            any = true;
            lut += resources.lut;
            ff += resources.ff;
            lut_error += resources.lut * band.lut_percent;
            ff_error += resources.ff * band.ff_percent;
        }
        any.then(|| Band {
            lut_percent: if lut > 0.0 { lut_error / lut } else { 0.0 },
            ff_percent: if ff > 0.0 { ff_error / ff } else { 0.0 },
        })
    }
}

/// The estimate of one unit of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitEstimate {
    /// Index in `plan.units`.
    pub index: usize,
    pub name: String,
    pub block: Block,
    /// The layer the unit belongs to (FIFOs and converters: the layer
    /// that feeds them).
    pub layer: String,
    /// Width of the unit's output stream in bits.
    pub output_bits: usize,
    pub total: Resources,
    pub components: BTreeMap<Component, Resources>,
    /// The error band of the unit's block kind; `None` when the unit is
    /// counted at unit costs the calibration does not cover (window and
    /// pool units).
    pub band: Option<Band>,
}

/// The estimate of a whole plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanEstimate {
    pub model: String,
    pub units: Vec<UnitEstimate>,
    pub total: Resources,
    /// The band of the total over the units that have one.
    pub band: Option<Band>,
}

impl PlanEstimate {
    pub fn unit(&self, index: usize) -> &UnitEstimate {
        &self.units[index]
    }
}

/// The estimate of one unit with `constants`.
pub fn estimate_unit(
    unit: &Unit,
    constants: &Constants,
) -> (Resources, BTreeMap<Component, Resources>) {
    let block = Block::of(unit);
    let features = unit_features(unit);
    let mut components: BTreeMap<Component, Resources> = BTreeMap::new();
    for resource in Resource::ALL {
        for feature in features.of(resource) {
            let coefficient = if features::UNIT_COST_FEATURES.contains(&feature.name) {
                1.0
            } else {
                constants.coefficient(block, resource, feature.name)
            };
            let value = coefficient * feature.value;
            let part = components.entry(feature.component).or_default();
            part.set(resource, part.get(resource) + value);
        }
    }
    let mut total = components
        .values()
        .fold(Resources::default(), |a, &b| a + b);
    total.dsp = features.dsp;
    total.bram18 = features.bram18;
    // DSPs and block RAMs are exact counts, booked with the multipliers
    // and with the weight ROM (which also takes a block-RAM replay buffer).
    if features.dsp > 0.0 {
        components.entry(Component::Multipliers).or_default().dsp = features.dsp;
    }
    if features.bram18 > 0.0 {
        components.entry(Component::WeightRom).or_default().bram18 = features.bram18;
    }
    (total, components)
}

/// Estimates every unit of `plan` with the bundled constants.
pub fn estimate_plan(plan: &Plan) -> PlanEstimate {
    estimate_plan_with(plan, Constants::bundled())
}

/// Estimates every unit of `plan` with `constants`.
pub fn estimate_plan_with(plan: &Plan, constants: &Constants) -> PlanEstimate {
    let mut layer = String::new();
    let units: Vec<UnitEstimate> = plan
        .units
        .iter()
        .enumerate()
        .map(|(index, unit)| {
            if matches!(unit, Unit::Mvau(_) | Unit::Hadamard(_)) {
                layer = unit.name().to_string();
            }
            let (total, components) = estimate_unit(unit, constants);
            UnitEstimate {
                index,
                name: unit.name().to_string(),
                block: Block::of(unit),
                layer: layer.clone(),
                output_bits: unit.output_shape().bits(),
                total,
                components,
                band: calibrated_band(unit, constants),
            }
        })
        .collect();
    let total = units.iter().fold(Resources::default(), |a, u| a + u.total);
    let band = Band::of_sum(units.iter().filter_map(|u| Some((&u.total, u.band?))));
    PlanEstimate {
        model: plan.model.clone(),
        units,
        total,
        band,
    }
}

/// The band of `unit`'s block kind, unless the unit is one the
/// calibration grid does not synthesize (the window and pool units,
/// counted at unit costs and never calibrated).
fn calibrated_band(unit: &Unit, constants: &Constants) -> Option<Band> {
    match unit {
        Unit::SlidingWindow(_) | Unit::MaxPool(_) => None,
        _ => constants.band(Block::of(unit)),
    }
}

/// `model` with every accumulator, and every tile's inner accumulator,
/// at least [`WIDE_ACCUMULATOR_BITS`] wide (wider ones are kept).
pub fn widened_model(model: &Model) -> Model {
    let mut wide = model.clone();
    for layer in &mut wide.layers {
        if let Some(dense) = layer.accumulating_mut() {
            let acc = &mut dense.accumulator;
            acc.bits = acc.bits.max(WIDE_ACCUMULATOR_BITS);
            if let Some(tile) = &mut acc.tile {
                tile.inner_bits = tile.inner_bits.max(WIDE_ACCUMULATOR_BITS);
            }
        }
    }
    wide
}

/// The plans of a model as declared and with 32-bit accumulators.
pub fn declared_and_wide_plans(
    model: &Model,
    options: PlanOptions,
) -> Result<(Plan, Plan), ArchError> {
    let declared = build_plan(model, &analyze(model), options)?;
    let wide_model = widened_model(model);
    let wide = build_plan(&wide_model, &analyze(&wide_model), options)?;
    Ok((declared, wide))
}

/// Estimates for the declared widths and for 32-bit accumulators.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub declared: PlanEstimate,
    pub wide: PlanEstimate,
}

/// Estimates both variants of `model`.
pub fn compare(model: &Model, options: PlanOptions) -> Result<Comparison, ArchError> {
    let (declared, wide) = declared_and_wide_plans(model, options)?;
    Ok(Comparison {
        declared: estimate_plan(&declared),
        wide: estimate_plan(&wide),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LayerKind, load_model};
    use std::path::Path;

    fn example(name: &str) -> Model {
        load_model(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn widening_keeps_wider_accumulators() {
        let mut model = example("hadamard_tiled.toml");
        if let LayerKind::Dense(d) = &mut model.layers[2].kind {
            d.accumulator.bits = 40;
        }
        let wide = widened_model(&model);
        let fc0 = wide.layers[1].as_dense().unwrap();
        assert_eq!(fc0.accumulator.bits, 32);
        assert_eq!(fc0.accumulator.tile.unwrap().inner_bits, 32);
        assert_eq!(wide.layers[2].as_dense().unwrap().accumulator.bits, 40);
    }

    #[test]
    fn wide_accumulators_cost_more() {
        for name in ["mlp3.toml", "hadamard_tiled.toml"] {
            let c = compare(&example(name), PlanOptions::default()).unwrap();
            assert!(c.wide.total.lut > c.declared.total.lut, "{name}");
            assert!(c.wide.total.ff > c.declared.total.ff, "{name}");
            assert_eq!(c.wide.units.len(), c.declared.units.len());
        }
    }

    #[test]
    fn dsps_are_counted_exactly() {
        let c = compare(&example("mlp3.toml"), PlanOptions::default()).unwrap();
        // fc2: 2 PEs x 8 products of int8 x uint4 (13 bits): one DSP each.
        assert_eq!(c.declared.total.dsp, 16.0);
    }

    #[test]
    fn the_band_of_a_sum_weighs_each_part_by_its_share() {
        let small = Resources {
            lut: 100.0,
            ff: 10.0,
            ..Default::default()
        };
        let large = Resources {
            lut: 300.0,
            ff: 30.0,
            ..Default::default()
        };
        let band = |l, f| Band {
            lut_percent: l,
            ff_percent: f,
        };
        let sum = Band::of_sum([(&small, band(20.0, 4.0)), (&large, band(4.0, 8.0))]).unwrap();
        assert!((sum.lut_percent - 8.0).abs() < 1e-9);
        assert!((sum.ff_percent - 7.0).abs() < 1e-9);
        assert_eq!(Band::of_sum(std::iter::empty()), None);
    }

    #[test]
    fn every_unit_of_an_example_has_a_band() {
        let c = compare(&example("hadamard_tiled.toml"), PlanOptions::default()).unwrap();
        assert!(c.declared.units.iter().all(|u| u.band.is_some()));
        let total = c.declared.band.unwrap();
        assert!(total.lut_percent > 0.0 && total.lut_percent < 100.0);
    }

    #[test]
    fn window_and_pool_units_have_no_band_and_the_rest_keep_theirs() {
        let c = compare(&example("digits_cnn_p12.toml"), PlanOptions::default()).unwrap();
        let windowed = |u: &UnitEstimate| u.name.ends_with("_window") || u.name == "pool";
        assert_eq!(c.declared.units.iter().filter(|u| windowed(u)).count(), 3);
        for unit in &c.declared.units {
            assert_eq!(unit.band.is_none(), windowed(unit), "{}", unit.name);
        }
        assert!(c.declared.band.is_some());
    }

    #[test]
    fn hardwired_layers_have_no_rom_and_carry_their_own_band() {
        let mut model = example("mlp3.toml");
        let LayerKind::Dense(fc1) = &mut model.layers[1].kind else {
            panic!()
        };
        fc1.hardware = crate::model::HardwareHints {
            weights: crate::model::WeightsHint::Hardwired,
            ..Default::default()
        };
        let c = compare(&model, PlanOptions::default()).unwrap();
        let fc1 = c.declared.units.iter().find(|u| u.name == "fc1").unwrap();
        assert_eq!(fc1.block, Block::HardwiredMvau);
        assert!(!fc1.components.contains_key(&Component::WeightRom));
        assert!(!fc1.components.contains_key(&Component::Multipliers));
        assert!(fc1.components[&Component::AdderTree].lut > 0.0);
        assert_eq!(fc1.total.bram18, 0.0);
        let band = crate::estimate::constants::Constants::bundled().band(Block::HardwiredMvau);
        assert!(band.is_some());
        assert_eq!(fc1.band, band);
    }

    #[test]
    fn folded_hardwired_lanes_are_counted_and_auto_takes_the_smaller() {
        let mut model = example("mlp3.toml");
        let LayerKind::Dense(fc1) = &mut model.layers[1].kind else {
            panic!()
        };
        fc1.hardware.weights = crate::model::WeightsHint::Hardwired;
        let folded = compare(&model, PlanOptions::default()).unwrap();
        let unit = folded
            .declared
            .units
            .iter()
            .find(|u| u.name == "fc1")
            .unwrap();
        // PE 2 x SIMD 8, NF 4: lanes select among products by the address.
        assert!(unit.components[&Component::Multipliers].lut > 0.0);
        let hardwired_luts = unit.total.lut;
        let LayerKind::Dense(fc1) = &mut model.layers[1].kind else {
            panic!()
        };
        fc1.hardware.weights = crate::model::WeightsHint::Auto;
        let plan =
            crate::arch::build_plan(&model, &analyze(&model), PlanOptions::default()).unwrap();
        let fc1 = plan.mvaus().find(|m| m.name == "fc1").unwrap();
        let choice = fc1.storage_choice.expect("auto records its choice");
        assert_eq!(choice.hardwired_luts, hardwired_luts);
        assert_eq!(fc1.storage, choice.storage());
        assert!(
            (fc1.storage == crate::model::WeightStorage::Hardwired)
                == (choice.hardwired_luts < choice.rom_luts)
        );
    }
}
