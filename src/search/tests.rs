use super::*;
use crate::model::IntType;
use crate::npyio::read_int_array;
use ndarray::{Array1, Array2, Ix1, Ix2, s};
use std::path::Path;

fn array(path: &str) -> ndarray::ArrayD<i64> {
    read_int_array(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The digits MLP with a share of its data, so that a debug build
/// searches in seconds.
struct Digits {
    float: FloatModel,
    calibration: Array2<i64>,
    inputs: Array2<i64>,
    labels: Array1<i64>,
}

fn digits() -> Digits {
    let float =
        FloatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits/float"))
            .unwrap();
    let train = array("examples/digits/data/train_x.npy")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let test = array("examples/digits/data/test_x.npy")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let labels = array("examples/digits/data/test_y.npy")
        .into_dimensionality::<Ix1>()
        .unwrap();
    Digits {
        float,
        calibration: train.slice(s![..500, ..]).to_owned(),
        inputs: test.slice(s![..300, ..]).to_owned(),
        labels: labels.slice(s![..300]).to_owned(),
    }
}

fn settings(widths: &[u32], budget: f64, objective: Objective) -> SearchSettings {
    SearchSettings {
        template: QuantizeSettings::new("digits", IntType::unsigned(5), 1.0 / 16.0, 32),
        widths: widths.to_vec(),
        budget,
        objective,
    }
}

fn run(digits: &Digits, settings: &SearchSettings) -> Result<SearchResult, SearchError> {
    let data = SearchData {
        float: &digits.float,
        calibration: digits.calibration.view(),
        judged: LabelledSet::new(digits.inputs.view(), digits.labels.view()).unwrap(),
        reported: None,
    };
    search(data, settings)
}

#[test]
fn the_winner_is_within_budget_and_no_costlier_than_any_uniform_width_within_it() {
    let digits = digits();
    let widths = [13, 12, 11, 10];
    for objective in [Objective::Lut, Objective::Ff] {
        let result = run(&digits, &settings(&widths, 1.0, objective)).unwrap();
        let floor = result.floor();
        let cost = |p: &Point| objective.of(&p.resources);
        assert!(result.winner.judged.percent() >= floor - 1e-9);
        let uniform: Vec<&Step> = result
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Uniform)
            .collect();
        let uniform_widths: Vec<u32> = uniform.iter().map(|s| s.evaluation.widths()[0]).collect();
        assert_eq!(uniform_widths, widths);
        for point in uniform.iter().filter_map(|s| s.point()) {
            if point.judged.percent() >= floor - 1e-9 {
                assert!(
                    cost(&result.winner) <= cost(point),
                    "{objective}: {point:?}"
                );
            }
        }
        // Every measured point within the budget costs at least the winner.
        for point in result.steps.iter().filter_map(Step::point) {
            if point.judged.percent() >= floor - 1e-9 {
                assert!(cost(&result.winner) <= cost(point));
            }
        }
        for round in &result.rounds {
            assert!((1..=round.order.len()).contains(&round.stepped));
        }
        // The front rises in cost and strictly in accuracy.
        for pair in result.pareto.windows(2) {
            assert!(cost(&pair[0]) <= cost(&pair[1]));
            assert!(pair[0].judged.correct < pair[1].judged.correct);
        }
        assert!(
            result
                .pareto
                .iter()
                .any(|p| p.widths == result.winner.widths)
        );
        let declared: Vec<u32> = result
            .model
            .dense_layers()
            .map(|(_, _, d)| d.accumulator.bits)
            .collect();
        assert_eq!(declared, result.winner.widths);
        assert!(
            result
                .winner
                .min_bits
                .iter()
                .zip(&result.winner.widths)
                .all(|(min, declared)| min <= declared)
        );
    }
}

#[test]
fn a_budget_no_width_meets_fails_naming_the_best_measured() {
    let digits = digits();
    let error = run(&digits, &settings(&[9], 0.0, Objective::Lut)).unwrap_err();
    let SearchError::BudgetUnmet { widths, best, .. } = error else {
        panic!("{error}");
    };
    assert_eq!(widths, "9/9/9");
    assert!(best.correct < best.total);
}

#[test]
fn budgets_and_width_lists_are_checked() {
    let digits = digits();
    for (widths, budget) in [
        (vec![12, 11], f64::NAN),
        (vec![12, 11], -0.5),
        (vec![12, 11], 100.5),
        (vec![], 1.0),
        (vec![11, 12], 1.0),
        (vec![12, 12], 1.0),
    ] {
        let error = run(&digits, &settings(&widths, budget, Objective::Lut)).unwrap_err();
        assert!(
            matches!(error, SearchError::Settings(_)),
            "{widths:?} {budget}: {error}"
        );
    }
}

#[test]
fn the_next_narrower_candidate_skips_gaps() {
    let widths = [16, 12, 11, 8];
    assert_eq!(next_narrower(&widths, 16), Some(12));
    assert_eq!(next_narrower(&widths, 12), Some(11));
    assert_eq!(next_narrower(&widths, 8), None);
}
