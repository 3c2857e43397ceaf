//! Unit tests of the random model generator: every draw is valid, loads
//! back and is proven unless it allows overflow; draws are deterministic;
//! 2000 draws cover every feature; sizes and widths stay within the format.

use super::*;
use crate::arch::{PlanOptions, build_plan};
use crate::bounds::WidthVerdict;
use crate::fuzz::coverage::{Coverage, Feature, features};
use crate::model::{load_model, write_model};

fn plan_of(model: &Model) -> crate::arch::Plan {
    build_plan(model, &analyze(model), PlanOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", model.name))
}

#[test]
fn every_drawn_model_is_valid_loads_and_is_proven_unless_it_allows_overflow() {
    let config = GenConfig::default();
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..150 {
        let model = draw_model(&config, seed);
        let path = write_model(&model, dir.path(), &model.name)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let loaded = load_model(&path).unwrap();
        assert_eq!(loaded.layers, model.layers, "seed {seed}");
        for layer in analyze(&loaded).layers {
            if let Some(d) = layer.dense {
                let allowed = d.allow_overflow;
                assert!(
                    d.verdict() == WidthVerdict::Proven
                        || (allowed && d.verdict() == WidthVerdict::OverflowAllowed),
                    "seed {seed}: layer {} is {:?}",
                    layer.index,
                    d.verdict()
                );
            }
        }
        plan_of(&loaded);
    }
}

#[test]
fn draws_are_deterministic_for_a_seed() {
    let config = GenConfig::default();
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(draw_model(&config, seed), draw_model(&config, seed));
    }
    assert_ne!(draw_model(&config, 1), draw_model(&config, 2));
}

#[test]
fn two_thousand_draws_cover_every_feature() {
    let config = GenConfig::default();
    let mut coverage = Coverage::default();
    for seed in 0..2000 {
        let model = draw_model(&config, seed);
        coverage.add(&features(&model, Some(&plan_of(&model))));
    }
    let rare = coverage.rare(20);
    assert!(rare.is_empty(), "rarely drawn: {rare:?}\n{coverage}");
    assert_eq!(Feature::all().len(), 50);
}

#[test]
fn sizes_and_widths_stay_within_the_format() {
    let config = GenConfig::default();
    for seed in 0..300 {
        let model = draw_model(&config, seed);
        assert!((1..=16).contains(&model.input.bits));
        assert!((1..=5).contains(&model.layers.len()));
        assert!((1..=256).contains(&model.input_length));
        for (_, _, d) in model.dense_layers() {
            assert!((1..=16).contains(&d.weight_bits));
            assert!((1..=256).contains(&d.out_features));
            assert!((2..=64).contains(&d.accumulator.bits));
            let pe = d.hardware.pe.unwrap();
            let simd = d.hardware.simd.unwrap();
            assert!(d.out_features.is_multiple_of(pe) && d.in_features.is_multiple_of(simd));
        }
    }
}

#[test]
fn primes_and_divisors() {
    assert!(is_prime(2) && is_prime(251) && !is_prime(1) && !is_prime(249));
    assert_eq!(divisors(12), vec![1, 2, 3, 4, 6, 12]);
    assert!(PRIMES.iter().all(|&p| is_prime(p)));
    assert_eq!(PRIMES.len(), (2..=256).filter(|&n| is_prime(n)).count());
}
