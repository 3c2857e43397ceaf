//! Fitting the estimator's constants to the recorded Yosys runs: for each
//! block type and resource, the non-negative coefficients of the unit's
//! structural features that minimise the mean absolute relative error of
//! the measured counts (iteratively reweighted least squares). Every 5th
//! config is held out of the fit and only used to report the error.

use super::grid::{Config, WeightValues};
use super::runs::{RunRecord, config_plan, unit_kind};
use crate::arch::Plan;
use crate::estimate::constants::Coefficients;
use crate::estimate::{Band, Block, Constants, Resource, Resources, estimate_unit, unit_features};
use crate::table::{Align, Table};
use std::collections::{BTreeMap, BTreeSet};

/// Rows with fewer measured units than this weigh as if they had this
/// many, so tiny units do not dominate the relative error.
const SMALLEST_WEIGHTED_COUNT: f64 = 10.0;
/// Reweighting passes of [`least_relative_deviations`], and the error
/// below which a row weighs no more (so exact rows do not take over).
const REWEIGHTING_PASSES: usize = 30;
const SMALLEST_REWEIGHTED_ERROR: f64 = 0.01;
/// Ridge term, relative to each normal-equation diagonal, keeping
/// collinear feature sets solvable.
const RIDGE: f64 = 1e-9;

/// One unit's measured and estimated resources.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub config: usize,
    pub unit: usize,
    pub block: Block,
    /// How the config's weights were drawn.
    pub weights: WeightValues,
    /// Synthesized with every accumulator at 32 bits.
    pub wide: bool,
    pub held_out: bool,
    pub measured: Resources,
    pub estimated: Resources,
}

impl Evaluation {
    /// Signed relative error of the estimate in percent.
    pub fn error(&self, pick: fn(&Resources) -> f64) -> f64 {
        relative_error(pick(&self.estimated), pick(&self.measured))
    }
}

/// `100 * (estimate - measured) / measured` (0 when both are 0).
pub fn relative_error(estimated: f64, measured: f64) -> f64 {
    if measured == 0.0 {
        if estimated.abs() < 0.5 { 0.0 } else { 100.0 }
    } else {
        100.0 * (estimated - measured) / measured
    }
}

/// The fitted constants and how they do on every run.
pub struct Fitted {
    pub constants: Constants,
    pub evaluations: Vec<Evaluation>,
}

/// A record with the plan of its config.
struct Sample<'a> {
    record: &'a RunRecord,
    plan: &'a Plan,
}

impl Sample<'_> {
    fn unit(&self) -> &crate::arch::Unit {
        &self.plan.units[self.record.unit]
    }

    fn measured(&self, resource: Resource) -> f64 {
        let m = &self.record.measured;
        match resource {
            Resource::Lut => m.lut as f64,
            Resource::Ff => m.ff as f64,
            Resource::Carry4 => m.carry4 as f64,
        }
    }
}

/// A record whose unit is no longer of the kind it was when measured: the
/// plan of its config changed since, and the run must be redone.
fn stale(record: &RunRecord, plan: &Plan) -> Option<String> {
    let now = plan.units.get(record.unit).map(unit_kind);
    (now != Some(record.unit_kind.as_str())).then(|| {
        format!(
            "{} unit {} was a {} when measured and is {} in today's plan: delete its row and rerun `a2qgen calibrate`",
            record.config.name(),
            record.unit,
            record.unit_kind,
            now.unwrap_or("missing")
        )
    })
}

/// Fits the constants to `records` and evaluates every record.
pub fn fit_constants(records: &[RunRecord]) -> Result<Fitted, String> {
    let plans: BTreeMap<usize, Plan> = records
        .iter()
        .map(|r| (r.config.id, &r.config))
        .collect::<BTreeMap<usize, &Config>>()
        .into_iter()
        .map(|(id, config)| (id, config_plan(config)))
        .collect();
    let samples: Vec<Sample> = records
        .iter()
        .map(|record| Sample {
            record,
            plan: &plans[&record.config.id],
        })
        .collect();
    if let Some(problem) = samples.iter().find_map(|s| stale(s.record, s.plan)) {
        return Err(problem);
    }
    let mut constants = Constants::default();
    for block in Block::ALL {
        let training: Vec<&Sample> = samples
            .iter()
            .filter(|s| Block::of(s.unit()) == block && !s.record.config.held_out())
            .collect();
        if training.is_empty() {
            continue;
        }
        for resource in Resource::ALL {
            let shared = |feature: &str| {
                shares_rom_coefficient(block, feature)
                    .then(|| constants.coefficient(Block::Mvau, resource, feature))
            };
            let coefficients = fit_resource(&training, resource, shared);
            constants.set(block, resource, coefficients);
        }
    }
    let evaluations: Vec<Evaluation> = samples.iter().map(|s| evaluate(s, &constants)).collect();
    for block in Block::ALL {
        let measured = band_sample(&evaluations, block);
        if !measured.is_empty() {
            constants.set_band(block, band_of(&measured), measured.len());
        }
    }
    let mut fitted = Fitted {
        constants,
        evaluations,
    };
    fitted.constants.notes = fitted.notes(records.len());
    Ok(fitted)
}

/// The share of estimates a band covers.
pub const BAND_QUANTILE: f64 = 0.9;

/// Held-out units of fewer than this many make a band of the fitted ones
/// too (a quantile of two or four errors says little).
const FEWEST_HELD_OUT_FOR_A_BAND: usize = 20;

/// The units a block's band is measured on: the held-out ones when there
/// are enough, else all of them.
fn band_sample(evaluations: &[Evaluation], block: Block) -> Vec<&Evaluation> {
    let all: Vec<&Evaluation> = evaluations.iter().filter(|e| e.block == block).collect();
    let held_out: Vec<&Evaluation> = all.iter().copied().filter(|e| e.held_out).collect();
    if held_out.len() >= FEWEST_HELD_OUT_FOR_A_BAND {
        held_out
    } else {
        all
    }
}

/// The [`BAND_QUANTILE`] of the absolute LUT and FF errors of `evaluations`.
fn band_of(evaluations: &[&Evaluation]) -> Band {
    let quantile = |pick: fn(&Resources) -> f64| {
        let errors: Vec<f64> = evaluations.iter().map(|e| e.error(pick).abs()).collect();
        upper_quantile(errors, BAND_QUANTILE)
    };
    Band {
        lut_percent: quantile(|r| r.lut),
        ff_percent: quantile(|r| r.ff),
    }
}

/// The least value at or above a `q` share of `values` (nearest rank).
pub fn upper_quantile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn evaluate(sample: &Sample, constants: &Constants) -> Evaluation {
    let m = &sample.record.measured;
    Evaluation {
        config: sample.record.config.id,
        unit: sample.record.unit,
        block: Block::of(sample.unit()),
        weights: sample.record.config.weights,
        wide: sample.record.config.wide,
        held_out: sample.record.config.held_out(),
        measured: Resources {
            lut: m.lut as f64,
            ff: m.ff as f64,
            carry4: m.carry4 as f64,
            dsp: m.dsp as f64,
            bram18: m.bram18 as f64,
        },
        estimated: estimate_unit(sample.unit(), constants).0,
    }
}

/// Whether `block` takes `feature`'s coefficient from the ROM MVAU's fit
/// instead of fitting its own: a hardwired MVAU's accumulator, comparators,
/// output and control are the ROM layer's RTL, and its own grid layers are
/// too few to separate them from its dot products (fitted alone, the
/// accumulator took nearly twice the LUTs per bit that Yosys measures).
fn shares_rom_coefficient(block: Block, feature: &str) -> bool {
    block == Block::HardwiredMvau && !feature.starts_with("hardwired_") && feature != "unit"
}

/// The coefficients of one resource on the features; a feature that
/// `shared` gives a coefficient keeps it, and the others are fitted to
/// what it leaves.
fn fit_resource(
    training: &[&Sample],
    resource: Resource,
    shared: impl Fn(&str) -> Option<f64>,
) -> Coefficients {
    let rows: Vec<BTreeMap<&'static str, f64>> = training
        .iter()
        .map(|s| {
            let mut sums = BTreeMap::new();
            for f in unit_features(s.unit()).of(resource) {
                *sums.entry(f.name).or_insert(0.0) += f.value;
            }
            sums
        })
        .collect();
    let all_names: BTreeSet<&'static str> = rows
        .iter()
        .flat_map(|r| r.iter().filter(|(_, v)| **v != 0.0).map(|(n, _)| *n))
        .collect();
    let fixed: BTreeMap<&'static str, f64> = all_names
        .iter()
        .filter_map(|&n| shared(n).map(|c| (n, c)))
        .collect();
    let names: Vec<&'static str> = all_names
        .into_iter()
        .filter(|n| !fixed.contains_key(n))
        .collect();
    let features: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| names.iter().map(|n| *r.get(n).unwrap_or(&0.0)).collect())
        .collect();
    let measured: Vec<f64> = training.iter().map(|s| s.measured(resource)).collect();
    let fixed_part = |r: &BTreeMap<&'static str, f64>| -> f64 {
        fixed
            .iter()
            .map(|(n, c)| c * r.get(n).unwrap_or(&0.0))
            .sum()
    };
    let left: Vec<f64> = rows
        .iter()
        .zip(&measured)
        .map(|(r, m)| m - fixed_part(r))
        .collect();
    let solution = least_relative_deviations_of(&features, &left, &measured);
    names
        .iter()
        .zip(solution)
        .map(|(n, c)| (n.to_string(), c))
        .chain(fixed.iter().map(|(n, c)| (n.to_string(), *c)))
        .collect()
}

/// Non-negative coefficients `b` minimising the mean absolute relative
/// error `|x b - y| / y` (the statistic the calibration reports), by
/// iteratively reweighted least squares: each pass weighs a row by the
/// inverse square root of its last absolute error, so a few structural
/// outliers do not pull every other estimate off.
pub fn least_relative_deviations(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    least_relative_deviations_of(x, y, y)
}

/// [`least_relative_deviations`] of `x b = y` with errors relative to
/// `total` rather than to `y` (`y` being what fixed terms leave of it).
fn least_relative_deviations_of(x: &[Vec<f64>], y: &[f64], total: &[f64]) -> Vec<f64> {
    let relative: Vec<f64> = total
        .iter()
        .map(|v| 1.0 / v.max(SMALLEST_WEIGHTED_COUNT))
        .collect();
    let mut weights = relative.clone();
    let mut solution = Vec::new();
    for _ in 0..REWEIGHTING_PASSES {
        let scaled: Vec<Vec<f64>> = x
            .iter()
            .zip(&weights)
            .map(|(row, w)| row.iter().map(|v| v * w).collect())
            .collect();
        let target: Vec<f64> = y.iter().zip(&weights).map(|(v, w)| v * w).collect();
        solution = non_negative_least_squares(&scaled, &target);
        for ((w, row), (v, r)) in weights.iter_mut().zip(x).zip(y.iter().zip(&relative)) {
            let estimate: f64 = row.iter().zip(&solution).map(|(a, b)| a * b).sum();
            let error = ((estimate - v) * r).abs().max(SMALLEST_REWEIGHTED_ERROR);
            *w = r / error.sqrt();
        }
    }
    solution
}

/// `argmin |X b - y|` subject to `b >= 0`: least squares on the free
/// columns, dropping the most negative coefficient until none is negative.
pub fn non_negative_least_squares(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let columns = x.first().map_or(0, Vec::len);
    let mut free: Vec<usize> = (0..columns).collect();
    loop {
        let sub: Vec<Vec<f64>> = x
            .iter()
            .map(|row| free.iter().map(|&c| row[c]).collect())
            .collect();
        let b = least_squares(&sub, y);
        let worst = b
            .iter()
            .enumerate()
            .filter(|(_, v)| **v < 0.0)
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        match worst {
            Some(i) => {
                free.remove(i);
            }
            None => {
                let mut full = vec![0.0; columns];
                for (&c, v) in free.iter().zip(b) {
                    full[c] = v;
                }
                return full;
            }
        }
    }
}

/// Ordinary least squares through the normal equations, columns scaled to
/// unit norm, a tiny ridge, Gaussian elimination with partial pivoting.
pub fn least_squares(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let n = x.first().map_or(0, Vec::len);
    if n == 0 {
        return Vec::new();
    }
    let scale: Vec<f64> = (0..n)
        .map(|c| {
            let norm = x.iter().map(|r| r[c] * r[c]).sum::<f64>().sqrt();
            if norm > 0.0 { norm } else { 1.0 }
        })
        .collect();
    let mut a = vec![vec![0.0; n + 1]; n];
    for (row, &target) in x.iter().zip(y) {
        for i in 0..n {
            let xi = row[i] / scale[i];
            for j in 0..n {
                a[i][j] += xi * row[j] / scale[j];
            }
            a[i][n] += xi * target;
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += RIDGE * (1.0 + row[i]);
    }
    gaussian_elimination(&mut a)
        .into_iter()
        .zip(&scale)
        .map(|(b, s)| b / s)
        .collect()
}

/// Solves the augmented system `a` (n x n+1) in place.
fn gaussian_elimination(a: &mut [Vec<f64>]) -> Vec<f64> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .expect("rows");
        a.swap(col, pivot);
        if a[col][col].abs() < 1e-300 {
            continue;
        }
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for row in lower.iter_mut() {
            let factor = row[col] / pivot_row[col];
            for (value, pivot) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= factor * pivot;
            }
        }
    }
    let mut b = vec![0.0; n];
    for i in (0..n).rev() {
        let tail: f64 = (i + 1..n).map(|k| a[i][k] * b[k]).sum();
        b[i] = if a[i][i].abs() < 1e-300 {
            0.0
        } else {
            (a[i][n] - tail) / a[i][i]
        };
    }
    b
}

/// Rows of the error table: block, how weights were drawn, 32-bit
/// accumulators.
type Group = (Block, WeightValues, bool);

fn group_name((block, weights, wide): Group) -> String {
    let mut name = block.name().to_string();
    match weights {
        WeightValues::Uniform => {}
        WeightValues::Small => name += ", small w",
        WeightValues::Peaked => name += ", peaked w",
    }
    if wide {
        name += ", 32-bit acc";
    }
    name
}

/// Error statistics of a set of evaluations for one resource.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorSummary {
    pub count: usize,
    pub mean_abs: f64,
    pub max_abs: f64,
    pub within_10: usize,
}

pub fn summarize(evaluations: &[&Evaluation], pick: fn(&Resources) -> f64) -> ErrorSummary {
    let errors: Vec<f64> = evaluations.iter().map(|e| e.error(pick).abs()).collect();
    ErrorSummary {
        count: errors.len(),
        mean_abs: errors.iter().sum::<f64>() / errors.len().max(1) as f64,
        max_abs: errors.iter().copied().fold(0.0, f64::max),
        within_10: errors.iter().filter(|e| **e <= 10.0).count(),
    }
}

fn exact(evaluations: &[&Evaluation], pick: fn(&Resources) -> f64) -> usize {
    evaluations
        .iter()
        .filter(|e| pick(&e.estimated).round() == pick(&e.measured))
        .count()
}

impl Fitted {
    fn selection(&self, group: Group, held_out: bool) -> Vec<&Evaluation> {
        self.evaluations
            .iter()
            .filter(|e| (e.block, e.weights, e.wide) == group && e.held_out == held_out)
            .collect()
    }

    /// One CSV row per measured unit: where it comes from, the measured
    /// and estimated LUT and FF counts, and their errors in percent.
    pub fn residuals_csv(&self) -> String {
        let mut csv = String::from(
            "config,unit,block,held_out,lut,lut_estimate,lut_error,ff,ff_estimate,ff_error\n",
        );
        for e in &self.evaluations {
            csv += &format!(
                "{},{},{},{},{},{:.1},{:.1},{},{:.1},{:.1}\n",
                e.config,
                e.unit,
                e.block.name(),
                e.held_out,
                e.measured.lut,
                e.estimated.lut,
                e.error(|r| r.lut),
                e.measured.ff,
                e.estimated.ff,
                e.error(|r| r.ff),
            );
        }
        csv
    }

    /// Held-out and training errors per block type.
    pub fn table(&self) -> Table {
        let mut table = Table::new(&[
            ("block", Align::Left),
            ("set", Align::Left),
            ("runs", Align::Right),
            ("LUT mean |err|", Align::Right),
            ("LUT max |err|", Align::Right),
            ("LUT within 10%", Align::Right),
            ("FF mean |err|", Align::Right),
            ("FF max |err|", Align::Right),
            ("CARRY4 mean |err|", Align::Right),
            ("DSP exact", Align::Right),
            ("BRAM18 exact", Align::Right),
        ]);
        let groups = Block::ALL.into_iter().flat_map(|block| {
            WeightValues::ALL
                .into_iter()
                .flat_map(move |weights| [(block, weights, false), (block, weights, true)])
        });
        for group in groups {
            for held_out in [true, false] {
                let set = self.selection(group, held_out);
                if set.is_empty() {
                    continue;
                }
                let name = group_name(group);
                let lut = summarize(&set, |r| r.lut);
                let ff = summarize(&set, |r| r.ff);
                let carry = summarize(&set, |r| r.carry4);
                table.row([
                    name,
                    if held_out { "held out" } else { "fit" }.to_string(),
                    set.len().to_string(),
                    format!("{:.1}%", lut.mean_abs),
                    format!("{:.1}%", lut.max_abs),
                    format!("{}/{}", lut.within_10, lut.count),
                    format!("{:.1}%", ff.mean_abs),
                    format!("{:.1}%", ff.max_abs),
                    format!("{:.1}%", carry.mean_abs),
                    format!("{}/{}", exact(&set, |r| r.dsp), set.len()),
                    format!("{}/{}", exact(&set, |r| r.bram18), set.len()),
                ]);
            }
        }
        table
    }

    fn notes(&self, runs: usize) -> Vec<String> {
        let held: Vec<&Evaluation> = self.evaluations.iter().filter(|e| e.held_out).collect();
        let lut = summarize(&held, |r| r.lut);
        let ff = summarize(&held, |r| r.ff);
        vec![
            "Estimator constants for xc7, fitted by `a2qgen calibrate` (least mean".into(),
            "absolute relative error, non-negative, per block type and resource) from".into(),
            format!(
                "calibration/yosys_runs.csv: {runs} Yosys 0.23 runs of synth_xilinx -family xc7."
            ),
            format!(
                "Held out (every 5th config, {} runs): LUT mean |error| {:.1}%, max {:.1}%;",
                lut.count, lut.mean_abs, lut.max_abs
            ),
            format!(
                "FF mean |error| {:.1}%, max {:.1}%.",
                ff.mean_abs, ff.max_abs
            ),
            "Regenerate with `make calibrate`; do not edit by hand.".into(),
        ]
    }

    /// The text `calibrate` prints.
    pub fn report(&self) -> String {
        format!(
            "estimator error against Yosys per unit (held out: every 5th config, not fitted):\n\n{}",
            self.table()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_law() {
        // y = 2 a + 3 b
        let x = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 1.0],
            vec![2.0, 1.0],
        ];
        let y = vec![2.0, 3.0, 5.0, 7.0];
        let b = least_squares(&x, &y);
        assert!(
            (b[0] - 2.0).abs() < 1e-6 && (b[1] - 3.0).abs() < 1e-6,
            "{b:?}"
        );
    }

    #[test]
    fn negative_coefficients_are_dropped() {
        // y = 2 a; b is noise that ordinary least squares would weigh
        // negatively.
        let x = vec![
            vec![1.0, 0.1],
            vec![2.0, 0.0],
            vec![3.0, 0.3],
            vec![4.0, 0.0],
        ];
        let y = vec![1.9, 4.0, 5.8, 8.0];
        let b = non_negative_least_squares(&x, &y);
        assert_eq!(b[1], 0.0);
        assert!((b[0] - 1.97).abs() < 0.05, "{b:?}");
    }

    #[test]
    fn an_outlier_does_not_pull_the_relative_deviation_fit() {
        // y = 3 a on every row but one, which is twice what it should be:
        // least squares would split the difference, the fit of the mean
        // absolute relative error keeps the other rows exact.
        let x: Vec<Vec<f64>> = (1..=8).map(|a| vec![f64::from(a) * 10.0]).collect();
        let mut y: Vec<f64> = x.iter().map(|r| 3.0 * r[0]).collect();
        y[7] *= 2.0;
        let b = least_relative_deviations(&x, &y);
        assert!((b[0] - 3.0).abs() < 0.05, "{b:?}");
        let squares = non_negative_least_squares(&x, &y);
        assert!(squares[0] > 3.5, "{squares:?}");
    }

    #[test]
    fn the_upper_quantile_is_a_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(upper_quantile(values.clone(), 0.9), 9.0);
        assert_eq!(upper_quantile(values.clone(), 1.0), 10.0);
        assert_eq!(upper_quantile(values, 0.0), 1.0);
        assert_eq!(upper_quantile(vec![5.0, 1.0, 3.0], 0.5), 3.0);
        assert_eq!(upper_quantile(Vec::new(), 0.9), 0.0);
    }

    #[test]
    fn relative_errors() {
        assert_eq!(relative_error(110.0, 100.0), 10.0);
        assert_eq!(relative_error(0.0, 0.0), 0.0);
    }
}
