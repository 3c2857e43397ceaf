//! The search as Markdown (the winner beside the best uniform width, the
//! rounds, every step, the Pareto front) and as CSV (one row per step).

use super::{Evaluation, Point, SearchResult, Step, StepKind, describe_widths};
use crate::quantize::Accuracy;
use crate::table::{Align, Table};
use std::fmt::Write as _;

/// What the splits are called: the judged one (`validation` or `test`)
/// and the reported one, if any.
#[derive(Clone, Copy, Debug)]
pub struct Splits<'a> {
    pub judged: &'a str,
    pub reported: Option<&'a str>,
}

fn percent(accuracy: Option<Accuracy>) -> String {
    accuracy.map_or_else(String::new, |a| a.to_string())
}

/// The headline, the winner beside the best uniform width, the rounds,
/// the steps and the front.
pub fn markdown(result: &SearchResult, splits: Splits) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Float model: {} on the {} split{}. Budget: {} point(s), so at least {:.2}% on the {} split. Objective: estimated {}.\n",
        result.float_judged,
        splits.judged,
        match (result.float_reported, splits.reported) {
            (Some(a), Some(name)) => format!(", {a} on the {name} split"),
            _ => String::new(),
        },
        result.budget,
        result.floor(),
        splits.judged,
        result.objective
    );
    let _ = writeln!(
        text,
        "### Winner and best uniform width\n\n{}",
        comparison(result, splits)
    );
    let _ = writeln!(text, "### Rounds\n\n{}", rounds(result));
    let _ = writeln!(text, "### Every step\n\n{}", steps_table(result, splits));
    let _ = write!(
        text,
        "### Pareto front ({} accuracy vs estimated {})\n\n{}",
        splits.judged,
        result.objective,
        points_table(
            result,
            splits,
            result
                .pareto
                .iter()
                .map(|p| (front_label(result, p), p))
                .collect()
        )
    );
    text
}

/// `winner`, `uniform` or `mixed`.
fn front_label(result: &SearchResult, point: &Point) -> String {
    let label = if point.widths == result.winner.widths {
        "winner"
    } else if point.widths.windows(2).all(|w| w[0] == w[1]) {
        "uniform"
    } else {
        "mixed"
    };
    label.to_string()
}

/// The layer widths' column header, e.g. `P (fc0/fc1/fc2)`.
fn widths_header(result: &SearchResult) -> String {
    format!("P ({})", result.layers.join("/"))
}

fn point_columns(result: &SearchResult, splits: Splits, first: &str) -> Vec<(String, Align)> {
    let mut columns = vec![
        (first.to_string(), Align::Left),
        (widths_header(result), Align::Right),
        (format!("{} accuracy", splits.judged), Align::Right),
    ];
    if let Some(name) = splits.reported {
        columns.push((format!("{name} accuracy"), Align::Right));
    }
    columns.extend([
        ("est. LUT".to_string(), Align::Right),
        ("est. FF".to_string(), Align::Right),
        (format!("min P ({})", result.layers.join("/")), Align::Right),
    ]);
    columns
}

fn point_cells(point: &Point, splits: Splits) -> Vec<String> {
    let mut cells = vec![describe_widths(&point.widths), point.judged.to_string()];
    if splits.reported.is_some() {
        cells.push(percent(point.reported));
    }
    cells.extend([
        format!("{:.0}", point.resources.lut),
        format!("{:.0}", point.resources.ff),
        describe_widths(&point.min_bits),
    ]);
    cells
}

fn points_table(result: &SearchResult, splits: Splits, rows: Vec<(String, &Point)>) -> Table {
    let columns = point_columns(result, splits, "configuration");
    let borrowed: Vec<(&str, Align)> = columns.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut table = Table::new(&borrowed);
    for (label, point) in rows {
        let mut cells = vec![label];
        cells.extend(point_cells(point, splits));
        table.row(cells);
    }
    table
}

/// The winner beside the best uniform width within the budget.
fn comparison(result: &SearchResult, splits: Splits) -> String {
    let mut rows = vec![("search winner".to_string(), &result.winner)];
    if let Some(uniform) = &result.best_uniform {
        rows.push((format!("best uniform P = {}", uniform.widths[0]), uniform));
    }
    let mut text = points_table(result, splits, rows).to_string();
    match &result.best_uniform {
        Some(uniform) => {
            let objective = |p: &Point| result.objective.of(&p.resources);
            let saved = objective(uniform) - objective(&result.winner);
            let _ = writeln!(
                text,
                "\nThe winner saves {saved:.0} estimated {} ({:.1}%) against the best uniform width.",
                result.objective,
                100.0 * saved / objective(uniform).max(1.0)
            );
        }
        None => {
            let _ = writeln!(text, "\nNo uniform width is within the budget.");
        }
    }
    text
}

/// One line per round: the order and how many stepped down.
fn rounds(result: &SearchResult) -> String {
    let mut text = String::new();
    for round in &result.rounds {
        let order: Vec<String> = round
            .order
            .iter()
            .map(|s| {
                format!(
                    "{} ({} correct, error {})",
                    result.layers[s.layer],
                    s.correct,
                    signed_error(s.error_increase)
                )
            })
            .collect();
        let _ = writeln!(
            text,
            "- round {}: least sensitive first {}; {} of {} stepped down",
            round.number,
            order.join(", "),
            round.stepped,
            round.order.len()
        );
    }
    if result.rounds.is_empty() {
        text.push_str("- no layer could step down within the budget\n");
    }
    text
}

/// `+4.12e-3`, or `0` for no change.
fn signed_error(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else {
        format!("{value:+.2e}")
    }
}

/// What a step did, e.g. `probe fc1` or `joint 2 of 3`.
pub fn step_label(step: &Step, layers: &[String]) -> String {
    match step.kind {
        StepKind::Uniform => "uniform".to_string(),
        StepKind::Probe { layer } => format!("probe {}", layers[layer]),
        StepKind::Joint { k, of } => format!("joint {k} of {of}"),
    }
}

fn steps_table(result: &SearchResult, splits: Splits) -> Table {
    let mut columns: Vec<(String, Align)> = vec![
        ("#".to_string(), Align::Right),
        ("round".to_string(), Align::Right),
    ];
    columns.extend(point_columns(result, splits, "step"));
    columns.push(("within".to_string(), Align::Left));
    let borrowed: Vec<(&str, Align)> = columns.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut table = Table::new(&borrowed);
    let floor = result.floor();
    for (index, step) in result.steps.iter().enumerate() {
        let mut cells = vec![
            (index + 1).to_string(),
            step.round.to_string(),
            step_label(step, &result.layers),
        ];
        match &step.evaluation {
            Evaluation::Measured(point) => {
                cells.extend(point_cells(point, splits));
                let within = point.judged.percent() >= floor - 1e-9;
                cells.push(if within { "yes" } else { "no" }.to_string());
            }
            Evaluation::BelowUsable {
                widths,
                layer,
                least_bits,
            } => {
                cells.push(describe_widths(widths));
                let blanks = columns.len() - cells.len() - 1;
                cells.extend(std::iter::repeat_n(String::new(), blanks));
                cells.push(format!("unusable: {layer} needs {least_bits}+"));
            }
        }
        table.row(cells);
    }
    table
}

/// One CSV row per step, every figure.
pub fn csv(result: &SearchResult) -> String {
    let mut columns: Vec<String> = ["step", "round", "kind"].map(String::from).to_vec();
    columns.extend(result.layers.iter().map(|l| format!("p_{l}")));
    columns.extend(
        [
            "status",
            "judged_correct",
            "judged_total",
            "reported_correct",
            "reported_total",
            "lut",
            "ff",
            "carry4",
            "dsp",
            "bram18",
            "within_budget",
        ]
        .map(String::from),
    );
    columns.extend(result.layers.iter().map(|l| format!("error_{l}")));
    let mut text = columns.join(",");
    text.push('\n');
    let floor = result.floor();
    for (index, step) in result.steps.iter().enumerate() {
        let mut cells = vec![
            (index + 1).to_string(),
            step.round.to_string(),
            step_label(step, &result.layers).replace(' ', "_"),
        ];
        cells.extend(step.evaluation.widths().iter().map(u32::to_string));
        match &step.evaluation {
            Evaluation::Measured(p) => {
                let (reported_correct, reported_total) =
                    p.reported.map_or((String::new(), String::new()), |a| {
                        (a.correct.to_string(), a.total.to_string())
                    });
                cells.extend([
                    "measured".to_string(),
                    p.judged.correct.to_string(),
                    p.judged.total.to_string(),
                    reported_correct,
                    reported_total,
                    format!("{:.1}", p.resources.lut),
                    format!("{:.1}", p.resources.ff),
                    format!("{:.1}", p.resources.carry4),
                    format!("{:.1}", p.resources.dsp),
                    format!("{:.1}", p.resources.bram18),
                    (p.judged.percent() >= floor - 1e-9).to_string(),
                ]);
                cells.extend(p.relative_errors.iter().map(|e| format!("{e:.6e}")));
            }
            Evaluation::BelowUsable { .. } => {
                cells.push("below_usable".to_string());
                cells.extend(std::iter::repeat_n(String::new(), 9));
                cells.push("false".to_string());
                cells.extend(std::iter::repeat_n(String::new(), result.layers.len()));
            }
        }
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}
