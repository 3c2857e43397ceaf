//! Mixed-precision search of per-layer accumulator widths: the float model
//! quantized (accumulator-aware, so every width is proven) at per-layer
//! widths chosen to minimize the estimated LUTs or FFs while the accuracy
//! on a judged split stays within a budget of the float model's.
//!
//! The search, every step of which is recorded:
//!
//! 1. every candidate width is tried uniformly (all layers at it): the
//!    best uniform width within the budget is the baseline;
//! 2. from all layers at the widest candidate, in rounds: each layer that
//!    can step down to its next narrower candidate is tried alone, the
//!    others held (a *probe*). Its sensitivity is the measured accuracy of
//!    the probe, ties broken by the second-order estimate: the increase of
//!    the layer's relative pre-activation error on the calibration inputs
//!    (the layer's quadratic loss, Hessian `E[x x^T]`);
//! 3. the layers whose probe is within the budget, least sensitive first,
//!    are stepped down together: a bisection finds the largest count `k`
//!    of them whose joint step stays within the budget;
//! 4. rounds repeat until no layer can step down within the budget. The
//!    winner is the cheapest configuration within the budget among all
//!    measured, uniform ones included.
//!
//! Accuracy is measured by the bit-exact reference; resources are the
//! analytical estimate of the generated design (`crate::estimate`).

mod evaluate;
pub mod order;
mod report;

pub use evaluate::{Evaluation, Evaluator, Point};
pub use report::{Splits, csv, markdown, step_label};

use crate::estimate::Resources;
use crate::model::Model;
use crate::quantize::{Accuracy, FloatModel, QuantizeError, QuantizeSettings};
use crate::sweep::{LabelledSet, SweepError};
use ndarray::ArrayView2;
use order::{Sensitivity, largest_within, least_sensitive_first, pareto_front};
use std::fmt;

/// What the search minimizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    Lut,
    Ff,
}

impl Objective {
    pub fn of(self, resources: &Resources) -> f64 {
        match self {
            Objective::Lut => resources.lut,
            Objective::Ff => resources.ff,
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Objective::Lut => "LUT",
            Objective::Ff => "FF",
        })
    }
}

/// How to search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSettings {
    /// The quantizer's settings; the search sets their accumulator widths.
    pub template: QuantizeSettings,
    /// The candidate widths, widest first, each once.
    pub widths: Vec<u32>,
    /// Percentage points of accuracy the quantized model may lose against
    /// the float model on the judged split.
    pub budget: f64,
    pub objective: Objective,
}

/// The data the search runs on.
#[derive(Clone, Copy, Debug)]
pub struct SearchData<'a> {
    pub float: &'a FloatModel,
    /// Integer inputs the quantizer calibrates on.
    pub calibration: ArrayView2<'a, i64>,
    /// The labelled split the budget is judged on.
    pub judged: LabelledSet<'a>,
    /// A split only reported, when the judged one is not the test split.
    pub reported: Option<LabelledSet<'a>>,
}

/// Why a step was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Every layer at one width.
    Uniform,
    /// One layer stepped down alone, the others held.
    Probe { layer: usize },
    /// The `k` least sensitive of `of` layers stepped down together.
    Joint { k: usize, of: usize },
}

/// One measured configuration and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The round (from 1); 0 for the uniform baseline.
    pub round: usize,
    pub kind: StepKind,
    pub evaluation: Evaluation,
}

impl Step {
    pub fn point(&self) -> Option<&Point> {
        match &self.evaluation {
            Evaluation::Measured(point) => Some(point),
            Evaluation::BelowUsable { .. } => None,
        }
    }
}

/// One round: the layers in the order they step down, and how many did.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub number: usize,
    /// The layers whose probe stayed within the budget, least sensitive
    /// first, with their sensitivities.
    pub order: Vec<Sensitivity>,
    /// How many of them stepped down.
    pub stepped: usize,
}

/// Everything the search measured and what it chose.
#[derive(Clone, Debug)]
pub struct SearchResult {
    /// The dense layers, in order.
    pub layers: Vec<String>,
    pub objective: Objective,
    pub budget: f64,
    /// The float model on the judged split and on the reported one.
    pub float_judged: Accuracy,
    pub float_reported: Option<Accuracy>,
    pub steps: Vec<Step>,
    pub rounds: Vec<Round>,
    pub winner: Point,
    /// The cheapest uniform configuration within the budget.
    pub best_uniform: Option<Point>,
    /// The measured points no other beats on judged accuracy and cost,
    /// by rising cost.
    pub pareto: Vec<Point>,
    /// The winner, quantized: every width proven.
    pub model: Model,
}

impl SearchResult {
    /// The least judged accuracy within the budget, in percent.
    pub fn floor(&self) -> f64 {
        self.float_judged.percent() - self.budget
    }
}

/// Why the search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Measure(#[from] SweepError),
    #[error("widths {widths}: {source}")]
    Quantize {
        widths: String,
        source: QuantizeError,
    },
    /// Even the widest configuration loses more than the budget: a failed
    /// verdict, not bad input.
    #[error(
        "no configuration is within the budget: the float model scores {float} on the judged split, the floor is {floor:.2}%, and the best measured ({widths}) scores {best}"
    )]
    BudgetUnmet {
        float: Accuracy,
        floor: f64,
        widths: String,
        best: Accuracy,
    },
}

impl SearchSettings {
    fn validate(&self) -> Result<(), SearchError> {
        let fail = |m: String| Err(SearchError::Settings(m));
        if !(self.budget.is_finite() && (0.0..=100.0).contains(&self.budget)) {
            return fail(format!(
                "budget {} is not a number of points in 0..=100",
                self.budget
            ));
        }
        if self.widths.is_empty() {
            return fail("no candidate widths".into());
        }
        if self.widths.windows(2).any(|w| w[0] <= w[1]) {
            return fail("candidate widths must fall, each once".into());
        }
        Ok(())
    }
}

/// Runs the search; see the module documentation.
pub fn search(data: SearchData, settings: &SearchSettings) -> Result<SearchResult, SearchError> {
    settings.validate()?;
    let mut evaluator = Evaluator::new(data, &settings.template);
    let float_judged = evaluator.float_accuracy(data.judged);
    let float_reported = data.reported.map(|set| evaluator.float_accuracy(set));
    let floor = float_judged.percent() - settings.budget;
    let layers = evaluator.layer_names();
    let mut steps = Vec::new();
    for &width in &settings.widths {
        let evaluation = evaluator.evaluate(&vec![width; layers.len()])?;
        steps.push(Step {
            round: 0,
            kind: StepKind::Uniform,
            evaluation,
        });
    }
    let rounds = descend(&mut evaluator, settings, floor, &mut steps)?;
    let within = |p: &&Point| p.judged.percent() >= floor - 1e-9;
    let cheapest = |points: Vec<&Point>| -> Option<Point> {
        points
            .into_iter()
            .filter(within)
            .min_by(|a, b| cheaper(a, b, settings.objective))
            .cloned()
    };
    let measured: Vec<&Point> = steps.iter().filter_map(Step::point).collect();
    let Some(winner) = cheapest(measured.clone()) else {
        return Err(budget_unmet(&measured, float_judged, floor));
    };
    let best_uniform = cheapest(
        steps
            .iter()
            .filter(|s| s.kind == StepKind::Uniform)
            .filter_map(Step::point)
            .collect(),
    );
    let pareto = front(&measured, settings.objective);
    let model = evaluator.quantize(&winner.widths)?.model;
    Ok(SearchResult {
        layers,
        objective: settings.objective,
        budget: settings.budget,
        float_judged,
        float_reported,
        steps,
        rounds,
        winner,
        best_uniform,
        pareto,
        model,
    })
}

/// The rounds from every layer at the widest candidate.
fn descend(
    evaluator: &mut Evaluator,
    settings: &SearchSettings,
    floor: f64,
    steps: &mut Vec<Step>,
) -> Result<Vec<Round>, SearchError> {
    let widest = settings.widths[0];
    let mut current = vec![widest; evaluator.layer_names().len()];
    // Measured among the uniform steps already.
    let Evaluation::Measured(mut held) = evaluator.evaluate(&current)? else {
        return Ok(Vec::new());
    };
    let within = |p: &Point| p.judged.percent() >= floor - 1e-9;
    if !within(&held) {
        return Ok(Vec::new());
    }
    let mut rounds = Vec::new();
    for number in 1.. {
        let mut order = Vec::new();
        for layer in 0..current.len() {
            let Some(narrower) = next_narrower(&settings.widths, current[layer]) else {
                continue;
            };
            let mut probe = current.clone();
            probe[layer] = narrower;
            let evaluation = evaluator.evaluate(&probe)?;
            if let Evaluation::Measured(point) = &evaluation
                && within(point)
            {
                order.push(Sensitivity {
                    layer,
                    correct: point.judged.correct,
                    error_increase: point.relative_errors[layer] - held.relative_errors[layer],
                });
            }
            steps.push(Step {
                round: number,
                kind: StepKind::Probe { layer },
                evaluation,
            });
        }
        if order.is_empty() {
            break;
        }
        let ranked = least_sensitive_first(&order);
        let order: Vec<Sensitivity> = ranked
            .iter()
            .map(|&l| *order.iter().find(|s| s.layer == l).expect("ranked from it"))
            .collect();
        let stepped_down = |k: usize| -> Vec<u32> {
            let mut widths = current.clone();
            for &layer in &ranked[..k] {
                widths[layer] = next_narrower(&settings.widths, widths[layer]).expect("probed");
            }
            widths
        };
        let of = ranked.len();
        let k = largest_within(1, of, |k| {
            let evaluation = evaluator.evaluate(&stepped_down(k))?;
            let fits = matches!(&evaluation, Evaluation::Measured(p) if within(p));
            steps.push(Step {
                round: number,
                kind: StepKind::Joint { k, of },
                evaluation,
            });
            Ok::<bool, SearchError>(fits)
        })?;
        current = stepped_down(k);
        rounds.push(Round {
            number,
            order,
            stepped: k,
        });
        // Measured within the budget by the probe or the bisection.
        match evaluator.evaluate(&current)? {
            Evaluation::Measured(point) => held = point,
            Evaluation::BelowUsable { .. } => break,
        }
    }
    Ok(rounds)
}

/// The next candidate below `width`.
fn next_narrower(widths: &[u32], width: u32) -> Option<u32> {
    widths.iter().copied().find(|&w| w < width)
}

/// Cheaper on the objective, then more accurate, then fewer bits in all.
fn cheaper(a: &Point, b: &Point, objective: Objective) -> std::cmp::Ordering {
    objective
        .of(&a.resources)
        .total_cmp(&objective.of(&b.resources))
        .then_with(|| b.judged.correct.cmp(&a.judged.correct))
        .then_with(|| a.widths.iter().sum::<u32>().cmp(&b.widths.iter().sum()))
}

/// The distinct measured points on the accuracy-cost front.
fn front(measured: &[&Point], objective: Objective) -> Vec<Point> {
    let mut distinct: Vec<&Point> = Vec::new();
    for point in measured {
        if !distinct.iter().any(|d| d.widths == point.widths) {
            distinct.push(point);
        }
    }
    let costs: Vec<(usize, f64)> = distinct
        .iter()
        .map(|p| (p.judged.correct, objective.of(&p.resources)))
        .collect();
    pareto_front(&costs)
        .into_iter()
        .map(|i| distinct[i].clone())
        .collect()
}

fn budget_unmet(measured: &[&Point], float: Accuracy, floor: f64) -> SearchError {
    let best = measured
        .iter()
        .max_by_key(|p| p.judged.correct)
        .map(|p| (describe_widths(&p.widths), p.judged));
    let (widths, best) = best.unwrap_or_else(|| {
        (
            "none usable".to_string(),
            Accuracy {
                correct: 0,
                total: float.total,
            },
        )
    });
    SearchError::BudgetUnmet {
        float,
        floor,
        widths,
        best,
    }
}

/// `12/11/10`: one width per layer.
pub fn describe_widths(widths: &[u32]) -> String {
    let parts: Vec<String> = widths.iter().map(u32::to_string).collect();
    parts.join("/")
}

#[cfg(test)]
mod tests;
