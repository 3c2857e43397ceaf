//! What the study reports, made from its CSV files alone (so the committed
//! table is checked against the committed results): the headline (the
//! best A2Q / A2Q+ design within one point of the baseline's accuracy
//! against the baseline with 32-bit accumulators), every design with
//! Yosys's counts beside the estimate, the estimator's error band, and the
//! kept-hierarchy breakdown per part.

use super::{Accumulators, PartRow, Status, StudyRow, Variant, Weights};
use crate::calibrate::fit::relative_error;
use crate::table::{Align, Table};
use std::fmt::Write as _;

/// Accuracy points the headline design may lose against the baseline.
pub const ACCURACY_BUDGET: f64 = 1.0;
/// The LUT reduction the study aims for.
pub const LUT_GOAL: f64 = 3.0;

/// The baseline's model name in `accuracy.csv`.
pub const BASELINE: &str = "baseline";

/// The headline comparison.
#[derive(Clone, Debug)]
pub struct Headline<'a> {
    /// The baseline with ROMs and 32-bit accumulators.
    pub reference: &'a StudyRow,
    /// The baseline's test accuracy under `infer` (percent).
    pub baseline_accuracy: f64,
    /// The measured A2Q / A2Q+ design with the fewest LUTs within the
    /// budget, if any.
    pub best: Option<&'a StudyRow>,
}

impl Headline<'_> {
    pub fn lut_ratio(&self) -> Option<f64> {
        let best = self.best?.yosys?;
        Some(self.reference.yosys?.lut as f64 / best.lut as f64)
    }

    pub fn ff_ratio(&self) -> Option<f64> {
        let best = self.best?.yosys?;
        Some(self.reference.yosys?.ff as f64 / best.ff as f64)
    }
}

fn find<'a>(rows: &'a [StudyRow], model: &str, variant: Variant) -> Option<&'a StudyRow> {
    rows.iter()
        .find(|r| r.model == model && r.variant == variant)
}

/// The headline, once the baseline with ROMs and 32-bit accumulators is
/// measured.
pub fn headline(rows: &[StudyRow]) -> Option<Headline<'_>> {
    let reference = find(
        rows,
        BASELINE,
        Variant::new(Weights::Rom, Accumulators::Wide32),
    )
    .filter(|r| r.status == Status::Measured)?;
    let baseline_accuracy = reference.infer_percent()?;
    let floor = baseline_accuracy - ACCURACY_BUDGET;
    let best = rows
        .iter()
        .filter(|r| r.method != BASELINE && r.variant.accumulators == Accumulators::Proven)
        .filter(|r| r.status == Status::Measured)
        .filter(|r| r.infer_percent().is_some_and(|a| a >= floor - 1e-9))
        .min_by_key(|r| (r.yosys.map_or(u64::MAX, |m| m.lut), r.model.clone()));
    Some(Headline {
        reference,
        baseline_accuracy,
        best,
    })
}

/// The designs broken down per part: the baseline with ROMs and 32-bit
/// accumulators and the headline design.
pub fn breakdown_designs(rows: &[StudyRow]) -> Vec<&StudyRow> {
    let Some(h) = headline(rows) else {
        return Vec::new();
    };
    std::iter::once(h.reference).chain(h.best).collect()
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.2}%"))
}

fn error_cell(estimated: f64, measured: u64) -> String {
    format!("{:+.1}%", relative_error(estimated, measured as f64))
}

/// A design's short name: `a2qplus_p10 (rom, proven)`.
pub fn design_name(row: &StudyRow) -> String {
    format!("{} ({})", row.model, row.variant)
}

/// The headline paragraph.
pub fn headline_text(rows: &[StudyRow]) -> String {
    let Some(h) = headline(rows) else {
        return "Headline: the baseline with ROMs and 32-bit accumulators is not measured yet.\n"
            .into();
    };
    let r = h.reference.yosys.expect("a measured reference");
    let mut text = format!(
        "Headline: the baseline (`infer` test accuracy {:.2}%) with ROMs and 32-bit \
         accumulators takes {} LUT and {} FF (Yosys). ",
        h.baseline_accuracy, r.lut, r.ff
    );
    match h.best {
        Some(best) => {
            let b = best.yosys.expect("a measured design");
            let lut_ratio = h.lut_ratio().expect("both measured");
            let _ = write!(
                text,
                "The A2Q / A2Q+ design with the fewest LUTs within {ACCURACY_BUDGET} point of it is \
                 {} at {:.2}%, widths {}: {} LUT and {} FF, {:.2}x fewer LUTs and {:.2}x fewer FFs. \
                 The goal of {LUT_GOAL}x fewer LUTs is {}.",
                design_name(best),
                best.infer_percent().expect("scored"),
                best.acc_bits,
                b.lut,
                b.ff,
                lut_ratio,
                h.ff_ratio().expect("both measured"),
                if lut_ratio >= LUT_GOAL {
                    "reached"
                } else {
                    "not reached"
                },
            );
        }
        None => {
            let _ = write!(
                text,
                "No measured A2Q / A2Q+ design is within {ACCURACY_BUDGET} point of it yet."
            );
        }
    }
    text.push('\n');
    text
}

/// Every design: accuracy, Yosys beside the estimate.
pub fn designs_table(rows: &[StudyRow]) -> Table {
    let mut table = Table::new(&[
        ("model", Align::Left),
        ("P", Align::Right),
        ("design", Align::Left),
        ("widths", Align::Left),
        ("PyTorch", Align::Right),
        ("infer", Align::Right),
        ("LUT", Align::Right),
        ("LUT est", Align::Right),
        ("LUT err", Align::Right),
        ("FF", Align::Right),
        ("FF est", Align::Right),
        ("FF err", Align::Right),
        ("CARRY4", Align::Right),
        ("DSP", Align::Right),
        ("BRAM18", Align::Right),
    ]);
    for r in rows {
        let target = r.target_bits.map_or_else(|| "-".into(), |b| b.to_string());
        let measured = |f: &dyn Fn(&crate::synth::Measured) -> String| match (r.status, &r.yosys) {
            (Status::Measured, Some(m)) => f(m),
            (status, _) => status.key().to_string(),
        };
        let est = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.0}"));
        let err = |e: Option<f64>, m: Option<u64>| match (e, m) {
            (Some(e), Some(m)) => error_cell(e, m),
            _ => "-".into(),
        };
        let y = r.yosys.filter(|_| r.status == Status::Measured);
        table.row([
            r.model.clone(),
            target,
            r.variant.to_string(),
            if r.acc_bits.is_empty() {
                "-".into()
            } else {
                r.acc_bits.clone()
            },
            percent(r.torch_percent()),
            percent(r.infer_percent()),
            measured(&|m| m.lut.to_string()),
            est(r.estimate.map(|e| e.lut)),
            err(r.estimate.map(|e| e.lut), y.map(|m| m.lut)),
            measured(&|m| m.ff.to_string()),
            est(r.estimate.map(|e| e.ff)),
            err(r.estimate.map(|e| e.ff), y.map(|m| m.ff)),
            measured(&|m| m.carry4.to_string()),
            measured(&|m| m.dsp.to_string()),
            measured(&|m| m.bram18.to_string()),
        ]);
    }
    table
}

/// The estimator's error on every measured design: range and mean
/// absolute error, LUT and FF.
pub fn estimator_band(rows: &[StudyRow]) -> String {
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.status == Status::Measured)
        .filter_map(|r| {
            let (m, e) = (r.yosys?, r.estimate?);
            Some((
                relative_error(e.lut, m.lut as f64),
                relative_error(e.ff, m.ff as f64),
            ))
        })
        .collect();
    if pairs.is_empty() {
        return "Estimator against Yosys: no measured design yet.\n".into();
    }
    let band = |values: Vec<f64>| {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = values.iter().map(|v| v.abs()).sum::<f64>() / values.len() as f64;
        format!("{lo:+.1}% to {hi:+.1}% (mean |error| {mean:.1}%)")
    };
    format!(
        "Estimator against Yosys on the {} measured designs: LUT {}, FF {}.\n",
        pairs.len(),
        band(pairs.iter().map(|p| p.0).collect()),
        band(pairs.iter().map(|p| p.1).collect()),
    )
}

/// The reasons variants were not built (each once) and the failures.
fn notes(rows: &[StudyRow]) -> String {
    let mut seen: Vec<(Status, String)> = Vec::new();
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        // One line per reason, with the layer-specific part kept.
        let key = (r.status, r.note.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    let mut text = String::new();
    for (status, note) in seen {
        let designs: Vec<String> = rows
            .iter()
            .filter(|r| r.status == status && r.note == note)
            .map(design_name)
            .collect();
        let _ = writeln!(
            text,
            "- {} ({} designs, e.g. {}): {note}",
            status.key(),
            designs.len(),
            designs[0]
        );
    }
    text
}

/// The kept-hierarchy breakdown of `designs`: one row per layer and part,
/// LUT and FF of each design side by side.
pub fn breakdown_table(designs: &[&StudyRow], parts: &[PartRow]) -> Option<Table> {
    let of = |row: &StudyRow| -> Vec<&PartRow> {
        parts
            .iter()
            .filter(|p| p.hash == row.hash && p.model == row.model && p.variant == row.variant)
            .collect()
    };
    let measured: Vec<(&StudyRow, Vec<&PartRow>)> = designs
        .iter()
        .map(|d| (*d, of(d)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if measured.is_empty() {
        return None;
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    for (_, rows) in &measured {
        for p in rows {
            let key = (p.layer.clone(), p.part.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let mut columns: Vec<(String, Align)> =
        vec![("layer".into(), Align::Left), ("part".into(), Align::Left)];
    for (d, _) in &measured {
        columns.push((format!("{} LUT", design_name(d)), Align::Right));
        columns.push((format!("{} FF", design_name(d)), Align::Right));
    }
    let headers: Vec<(&str, Align)> = columns.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let mut table = Table::new(&headers);
    let mut add = |layer: &str, part: &str, pick: &dyn Fn(&PartRow) -> bool| {
        let mut cells = vec![layer.to_string(), part.to_string()];
        for (_, rows) in &measured {
            let sum = rows
                .iter()
                .filter(|p| pick(p))
                .fold((0, 0), |(l, f), p| (l + p.measured.lut, f + p.measured.ff));
            cells.push(sum.0.to_string());
            cells.push(sum.1.to_string());
        }
        table.row(cells);
    };
    for (layer, part) in &keys {
        add(layer, part, &|p| p.layer == *layer && p.part == *part);
    }
    let mut parts_only: Vec<&String> = Vec::new();
    for (_, part) in &keys {
        if !parts_only.contains(&part) {
            parts_only.push(part);
        }
    }
    for part in parts_only {
        add("all", part, &|p| p.part == *part);
    }
    add("total", "", &|_| true);
    Some(table)
}

/// The whole `table.md`.
pub fn markdown(rows: &[StudyRow], parts: &[PartRow]) -> String {
    let mut text = String::from(
        "# Accumulator-width study: results\n\n\
         Written by `make study` from `docs/study/results.csv` and `docs/study/parts.csv` \
         alone (see [the study](../study.md)). Yosys 0.23 `synth_xilinx -family xc7 -flatten \
         -noiopad`; LUT counts LUT1-6 plus LUTRAM; `infer` is the bit-exact reference on the \
         540 test images; PyTorch is the trained model's own accuracy. `err` is the estimate's \
         error against Yosys.\n\n",
    );
    text.push_str(&headline_text(rows));
    text.push('\n');
    text.push_str(&estimator_band(rows));
    text.push('\n');
    let _ = write!(text, "{}", designs_table(rows));
    let notes = notes(rows);
    if !notes.is_empty() {
        text.push_str("\nDesigns without Yosys counts:\n\n");
        text.push_str(&notes);
    }
    let designs = breakdown_designs(rows);
    if let Some(table) = breakdown_table(&designs, parts) {
        let _ = write!(
            text,
            "\n## Where the LUTs go\n\n\
             Per part with the hierarchy kept (`synth_xilinx -family xc7 -noiopad`, no `-flatten`): \
             ABC cannot merge logic across module boundaries, so the totals differ from the \
             flattened counts above. The dot product holds the products and the adder tree; \
             control holds each layer's counters, tags, input buffer and output packer; `-` \
             rows are outside every layer (FIFOs, width converters, stream stages and the top).\n\n{table}"
        );
    }
    text
}
