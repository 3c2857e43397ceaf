//! The study's two CSV files, written and read back: `results.csv`, one row
//! per design (model x variant) with its accuracy, Yosys's counts and the
//! estimate, which is also the cache of Yosys runs keyed by the hash of the
//! generated Verilog; and `parts.csv`, the kept-hierarchy breakdown of the
//! designs the study breaks down, keyed the same way.

use super::{StudyError, Variant};
use crate::estimate::Resources;
use crate::synth::Measured;
use std::fmt::Write as _;

/// What became of a design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Yosys synthesized it.
    Measured,
    /// The tool refuses the variant (the note says why).
    NotBuilt,
    /// Built, not synthesized yet (an interrupted or partial run).
    Pending,
    /// Yosys failed or ran out of time (the note says which).
    Failed,
}

impl Status {
    pub fn key(self) -> &'static str {
        match self {
            Status::Measured => "measured",
            Status::NotBuilt => "not built",
            Status::Pending => "pending",
            Status::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Status::Measured,
            Status::NotBuilt,
            Status::Pending,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.key() == text)
    }
}

/// One design of the study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRow {
    pub model: String,
    pub method: String,
    pub target_bits: Option<u32>,
    pub variant: Variant,
    /// Declared widths per dense layer, `13/12/12` (empty when not built).
    pub acc_bits: String,
    /// PyTorch's test accuracy as `train.py` recorded it (a fraction).
    pub torch_accuracy: String,
    /// Test images `infer` classifies right (none when not built).
    pub infer_correct: Option<usize>,
    pub test_images: usize,
    pub status: Status,
    /// [`super::design_hash`] of the Verilog (empty when not built).
    pub hash: String,
    pub yosys: Option<Measured>,
    pub yosys_seconds: Option<f64>,
    pub estimate: Option<Resources>,
    pub note: String,
}

impl StudyRow {
    /// `infer`'s accuracy in percent.
    pub fn infer_percent(&self) -> Option<f64> {
        self.infer_correct
            .map(|c| 100.0 * c as f64 / self.test_images as f64)
    }

    /// PyTorch's accuracy in percent.
    pub fn torch_percent(&self) -> Option<f64> {
        self.torch_accuracy.parse::<f64>().ok().map(|a| 100.0 * a)
    }
}

const COLUMNS: [&str; 24] = [
    "model",
    "method",
    "target_bits",
    "weights",
    "accumulators",
    "acc_bits",
    "torch_accuracy",
    "infer_correct",
    "test_images",
    "status",
    "verilog_hash",
    "lut",
    "lutram",
    "ff",
    "carry4",
    "dsp",
    "bram18",
    "yosys_seconds",
    "est_lut",
    "est_ff",
    "est_carry4",
    "est_dsp",
    "est_bram18",
    "note",
];

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\"").replace('\n', " "))
    } else {
        text.to_string()
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// The text of `results.csv`.
pub fn results_csv(rows: &[StudyRow]) -> String {
    let mut text = COLUMNS.join(",");
    text.push('\n');
    for r in rows {
        let y = r.yosys;
        let e = r.estimate;
        let cells = [
            r.model.clone(),
            r.method.clone(),
            optional(r.target_bits),
            r.variant.weights_key().to_string(),
            r.variant.accumulators_key().to_string(),
            r.acc_bits.clone(),
            r.torch_accuracy.clone(),
            optional(r.infer_correct),
            r.test_images.to_string(),
            r.status.key().to_string(),
            r.hash.clone(),
            optional(y.map(|m| m.lut)),
            optional(y.map(|m| m.lutram)),
            optional(y.map(|m| m.ff)),
            optional(y.map(|m| m.carry4)),
            optional(y.map(|m| m.dsp)),
            optional(y.map(|m| m.bram18)),
            optional(r.yosys_seconds.map(|s| format!("{s:.1}"))),
            optional(e.map(|e| format!("{:.1}", e.lut))),
            optional(e.map(|e| format!("{:.1}", e.ff))),
            optional(e.map(|e| format!("{:.1}", e.carry4))),
            optional(e.map(|e| format!("{:.1}", e.dsp))),
            optional(e.map(|e| format!("{:.1}", e.bram18))),
            field(&r.note),
        ];
        let _ = writeln!(text, "{}", cells.join(","));
    }
    text
}

/// Splits one CSV line, honouring double quotes.
fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if current.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut current)),
            (c, _) => current.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quote".into());
    }
    fields.push(current);
    Ok(fields)
}

/// The lines of a CSV after its header, which must be `columns`.
fn records(text: &str, file: &str, columns: &[&str]) -> Result<Vec<Vec<String>>, StudyError> {
    let error = |line: usize, message: String| StudyError::Csv {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header != columns.join(",") {
        return Err(error(
            1,
            format!("the header is not `{}`", columns.join(",")),
        ));
    }
    lines
        .enumerate()
        .map(|(index, line)| {
            let fields = split_line(line).map_err(|m| error(index + 2, m))?;
            if fields.len() != columns.len() {
                return Err(error(
                    index + 2,
                    format!("{} fields, expected {}", fields.len(), columns.len()),
                ));
            }
            Ok(fields)
        })
        .collect()
}

/// Reads `results.csv` (`file` names it in errors).
pub fn parse_results(text: &str, file: &str) -> Result<Vec<StudyRow>, StudyError> {
    records(text, file, &COLUMNS)?
        .into_iter()
        .enumerate()
        .map(|(index, f)| {
            row(&f).map_err(|message| StudyError::Csv {
                file: file.to_string(),
                line: index + 2,
                message,
            })
        })
        .collect()
}

fn row(f: &[String]) -> Result<StudyRow, String> {
    fn number<T: std::str::FromStr>(text: &str, column: &str) -> Result<Option<T>, String> {
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| format!("`{column}`: `{text}` is not a number"))
    }
    let n = |i: usize| number::<u64>(&f[i], COLUMNS[i]);
    let x = |i: usize| number::<f64>(&f[i], COLUMNS[i]);
    let variant = Variant::from_keys(&f[3], &f[4])
        .ok_or_else(|| format!("unknown variant `{}`, `{}`", f[3], f[4]))?;
    let status = Status::parse(&f[9]).ok_or_else(|| format!("unknown status `{}`", f[9]))?;
    let yosys = match (n(11)?, n(12)?, n(13)?, n(14)?, n(15)?, n(16)?) {
        (Some(lut), Some(lutram), Some(ff), Some(carry4), Some(dsp), Some(bram18)) => {
            Some(Measured {
                lut,
                lutram,
                ff,
                carry4,
                dsp,
                bram18,
                ..Measured::default()
            })
        }
        (None, None, None, None, None, None) => None,
        _ => return Err("some Yosys counts are missing".into()),
    };
    let estimate = match (x(18)?, x(19)?, x(20)?, x(21)?, x(22)?) {
        (Some(lut), Some(ff), Some(carry4), Some(dsp), Some(bram18)) => Some(Resources {
            lut,
            ff,
            carry4,
            dsp,
            bram18,
        }),
        (None, None, None, None, None) => None,
        _ => return Err("some estimates are missing".into()),
    };
    if status == Status::Measured && yosys.is_none() {
        return Err("a measured design without Yosys counts".into());
    }
    Ok(StudyRow {
        model: f[0].clone(),
        method: f[1].clone(),
        target_bits: n(2)?.map(|b| b as u32),
        variant,
        acc_bits: f[5].clone(),
        torch_accuracy: f[6].clone(),
        infer_correct: n(7)?.map(|c| c as usize),
        test_images: n(8)?.ok_or("`test_images` is missing")? as usize,
        status,
        hash: f[10].clone(),
        yosys,
        yosys_seconds: x(17)?,
        estimate,
        note: f[23].clone(),
    })
}

/// One part of one layer of a design synthesized with its hierarchy kept.
#[derive(Clone, Debug, PartialEq)]
pub struct PartRow {
    pub hash: String,
    pub model: String,
    pub variant: Variant,
    /// A layer's name, or `-` for what is outside every layer.
    pub layer: String,
    pub part: String,
    pub measured: Measured,
}

const PART_COLUMNS: [&str; 11] = [
    "verilog_hash",
    "model",
    "weights",
    "accumulators",
    "layer",
    "part",
    "lut",
    "lutram",
    "ff",
    "carry4",
    "dsp",
];

/// The text of `parts.csv`.
pub fn parts_csv(rows: &[PartRow]) -> String {
    let mut text = PART_COLUMNS.join(",");
    text.push('\n');
    for r in rows {
        let m = r.measured;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.hash,
            r.model,
            r.variant.weights_key(),
            r.variant.accumulators_key(),
            field(&r.layer),
            field(&r.part),
            m.lut,
            m.lutram,
            m.ff,
            m.carry4,
            m.dsp
        );
    }
    text
}

/// Reads `parts.csv`.
pub fn parse_parts(text: &str, file: &str) -> Result<Vec<PartRow>, StudyError> {
    records(text, file, &PART_COLUMNS)?
        .into_iter()
        .enumerate()
        .map(|(index, f)| {
            let error = |message: String| StudyError::Csv {
                file: file.to_string(),
                line: index + 2,
                message,
            };
            let n = |i: usize| {
                f[i].parse::<u64>().map_err(|_| {
                    error(format!("`{}`: `{}` is not a number", PART_COLUMNS[i], f[i]))
                })
            };
            Ok(PartRow {
                hash: f[0].clone(),
                model: f[1].clone(),
                variant: Variant::from_keys(&f[2], &f[3])
                    .ok_or_else(|| error(format!("unknown variant `{}`, `{}`", f[2], f[3])))?,
                layer: f[4].clone(),
                part: f[5].clone(),
                measured: Measured {
                    lut: n(6)?,
                    lutram: n(7)?,
                    ff: n(8)?,
                    carry4: n(9)?,
                    dsp: n(10)?,
                    ..Measured::default()
                },
            })
        })
        .collect()
}
