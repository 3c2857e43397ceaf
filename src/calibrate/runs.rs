//! Synthesizing the calibration grid and recording every run in a CSV file
//! (`calibration/yosys_runs.csv`): one row per synthesized unit with the
//! config it came from and the counts Yosys measured. Rows are appended as
//! runs finish, so an interrupted calibration resumes where it stopped.

use super::grid::{Config, ConfigKind, WeightValues};
use crate::arch::{ActivationPlan, Plan, PlanOptions, ThresholdStyle, Unit, build_plan};
use crate::bounds::analyze;
use crate::model::{MultiplierStyle, OverflowMode};
use crate::rtl::emit::generate;
use crate::synth::{Measured, SynthError, SynthJob, run_jobs, unit_module, write_design};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// One synthesized unit of one config.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub config: Config,
    /// Index of the unit in the config's plan, and its kind.
    pub unit: usize,
    pub unit_kind: String,
    pub measured: Measured,
    pub seconds: f64,
}

const COLUMNS: [&str; 33] = [
    "id",
    "kind",
    "input_bits",
    "input_signed",
    "weight_bits",
    "pe",
    "simd",
    "nf",
    "sf",
    "acc_bits",
    "tile_chunks",
    "inner_bits",
    "overflow",
    "out_bits",
    "multiplier",
    "bias",
    "next_simd",
    "block",
    "shift",
    "clamp_bits",
    "seed",
    "weights",
    "accumulators",
    "unit",
    "unit_kind",
    "lut",
    "lutram",
    "ff",
    "carry4",
    "dsp",
    "bram18",
    "inv",
    "muxf",
];

/// Columns after `seconds`: the weights' storage and the comparator
/// bank's style as built. Rows written before they existed end at
/// `seconds` and were ROMs with parallel banks.
const STYLE_COLUMNS: [&str; 2] = ["storage", "thresholds"];

/// The CSV header line (`seconds` is Yosys's wall time).
pub fn csv_header() -> String {
    format!("{},seconds,{}", COLUMNS.join(","), STYLE_COLUMNS.join(","))
}

fn threshold_style_name(style: Option<ThresholdStyle>) -> &'static str {
    match style {
        None => "-",
        Some(ThresholdStyle::Parallel) => "parallel",
        Some(ThresholdStyle::Search) => "search",
    }
}

fn parse_threshold_style(text: &str) -> Result<Option<ThresholdStyle>, String> {
    match text {
        "-" => Ok(None),
        "parallel" => Ok(Some(ThresholdStyle::Parallel)),
        "search" => Ok(Some(ThresholdStyle::Search)),
        other => Err(format!("column `thresholds`: `{other}`")),
    }
}

/// The comparator bank's style of the first MVAU of `plan` (the unit
/// whose style matters; the second layer of a pipeline config has none).
fn built_threshold_style(plan: &Plan) -> Option<ThresholdStyle> {
    plan.mvaus().next().and_then(|m| match m.activation {
        ActivationPlan::Thresholds { style, .. } => Some(style),
        ActivationPlan::None => None,
    })
}

impl RunRecord {
    pub fn to_csv(&self) -> String {
        let c = &self.config;
        let m = &self.measured;
        let fields: Vec<String> = vec![
            c.id.to_string(),
            c.kind.name().into(),
            c.input_bits.to_string(),
            c.input_signed.to_string(),
            c.weight_bits.to_string(),
            c.pe.to_string(),
            c.simd.to_string(),
            c.nf.to_string(),
            c.sf.to_string(),
            c.acc_bits.to_string(),
            c.tile_chunks.to_string(),
            c.inner_bits.to_string(),
            c.overflow.to_string(),
            c.out_bits.to_string(),
            c.multiplier.to_string(),
            c.bias.to_string(),
            c.next_simd.to_string(),
            c.block.to_string(),
            c.shift.to_string(),
            c.clamp_bits.to_string(),
            c.seed.to_string(),
            c.weights.name().into(),
            if c.wide { "32" } else { "declared" }.into(),
            self.unit.to_string(),
            self.unit_kind.clone(),
            m.lut.to_string(),
            m.lutram.to_string(),
            m.ff.to_string(),
            m.carry4.to_string(),
            m.dsp.to_string(),
            m.bram18.to_string(),
            m.inv.to_string(),
            m.muxf.to_string(),
            format!("{:.2}", self.seconds),
            if c.hardwired { "hardwired" } else { "rom" }.into(),
            threshold_style_name(c.thresholds).into(),
        ];
        fields.join(",")
    }

    pub fn from_csv(line: &str) -> Result<Self, String> {
        let f: Vec<&str> = line.trim().split(',').collect();
        let (legacy, current) = (COLUMNS.len() + 1, COLUMNS.len() + 1 + STYLE_COLUMNS.len());
        if f.len() != legacy && f.len() != current {
            return Err(format!("expected {current} fields, found {}", f.len()));
        }
        let (hardwired, thresholds) = if f.len() == legacy {
            (false, Some(ThresholdStyle::Parallel))
        } else {
            let hardwired = match f[legacy] {
                "rom" => false,
                "hardwired" => true,
                other => return Err(format!("column `storage`: `{other}`")),
            };
            (hardwired, parse_threshold_style(f[legacy + 1])?)
        };
        let num = |i: usize| -> Result<u64, String> {
            f[i].parse()
                .map_err(|_| format!("column `{}`: `{}` is not a number", COLUMNS[i], f[i]))
        };
        let flag = |i: usize| f[i] == "true";
        let config = Config {
            id: num(0)? as usize,
            kind: ConfigKind::parse(f[1]).ok_or_else(|| format!("unknown kind `{}`", f[1]))?,
            input_bits: num(2)? as u32,
            input_signed: flag(3),
            weight_bits: num(4)? as u32,
            pe: num(5)? as usize,
            simd: num(6)? as usize,
            nf: num(7)? as usize,
            sf: num(8)? as usize,
            acc_bits: num(9)? as u32,
            tile_chunks: num(10)? as usize,
            inner_bits: num(11)? as u32,
            overflow: if f[12] == "saturate" {
                OverflowMode::Saturate
            } else {
                OverflowMode::Wrap
            },
            out_bits: num(13)? as u32,
            multiplier: if f[14] == "dsp" {
                MultiplierStyle::Dsp
            } else {
                MultiplierStyle::Lut
            },
            bias: flag(15),
            next_simd: num(16)? as usize,
            block: num(17)? as usize,
            shift: num(18)? as u32,
            clamp_bits: num(19)? as u32,
            seed: num(20)?,
            weights: WeightValues::parse(f[21])
                .ok_or_else(|| format!("column `weights`: `{}`", f[21]))?,
            wide: match f[22] {
                "declared" => false,
                "32" => true,
                other => return Err(format!("column `accumulators`: `{other}`")),
            },
            hardwired,
            thresholds,
        };
        Ok(RunRecord {
            config,
            unit: num(23)? as usize,
            unit_kind: f[24].to_string(),
            measured: Measured {
                lut: num(25)?,
                lutram: num(26)?,
                ff: num(27)?,
                carry4: num(28)?,
                dsp: num(29)?,
                bram18: num(30)?,
                inv: num(31)?,
                muxf: num(32)?,
            },
            seconds: f[33]
                .parse()
                .map_err(|_| format!("column `seconds`: `{}`", f[33]))?,
        })
    }
}

/// Reads every record of a runs file.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_runs(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a runs file (header first).
pub fn parse_runs(text: &str) -> Result<Vec<RunRecord>, String> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| RunRecord::from_csv(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// The plan of a config (every config builds one; see the grid's tests),
/// with the comparator banks its recorded runs measured, or as `arch`
/// chooses them for a config not yet run.
pub fn config_plan(config: &Config) -> Plan {
    let model = config.model();
    let options = PlanOptions {
        thresholds: config.thresholds,
        ..PlanOptions::default()
    };
    build_plan(&model, &analyze(&model), options).expect("calibration configs build a plan")
}

/// Units of a config's plan that the calibration synthesizes.
pub fn calibrated_units(config: &Config, plan: &Plan) -> Vec<usize> {
    match config.kind {
        ConfigKind::Mvau | ConfigKind::Hadamard => vec![0],
        ConfigKind::Pipeline => plan
            .units
            .iter()
            .enumerate()
            .filter(|(i, u)| *i == 0 || matches!(u, Unit::Fifo(_) | Unit::Converter(_)))
            .map(|(i, _)| i)
            .collect(),
    }
}

pub fn unit_kind(unit: &Unit) -> &'static str {
    match unit {
        Unit::Mvau(_) => "mvau",
        Unit::Hadamard(_) => "hadamard",
        Unit::Fifo(_) => "fifo",
        Unit::Converter(_) => "converter",
        Unit::SlidingWindow(_) => "window",
        Unit::MaxPool(_) => "maxpool",
    }
}

/// What a calibration needs to know to run.
pub struct CalibrationRun<'a> {
    pub configs: &'a [Config],
    pub work_dir: &'a Path,
    pub csv: &'a Path,
    pub timeout: Duration,
    pub threads: usize,
    pub progress: bool,
}

/// Synthesizes every unit of every config not yet in the CSV, appending a
/// row per finished run. Returns the failures.
pub fn synthesize_grid(run: &CalibrationRun) -> Result<Vec<SynthError>, String> {
    let done: BTreeSet<(usize, usize)> = if run.csv.exists() {
        read_runs(run.csv)?
            .iter()
            .map(|r| (r.config.id, r.unit))
            .collect()
    } else {
        std::fs::write(run.csv, format!("{}\n", csv_header()))
            .map_err(|e| format!("{}: {e}", run.csv.display()))?;
        BTreeSet::new()
    };
    let mut jobs = Vec::new();
    let mut pending = Vec::new();
    for config in run.configs {
        let plan = config_plan(config);
        let units: Vec<usize> = calibrated_units(config, &plan)
            .into_iter()
            .filter(|u| !done.contains(&(config.id, *u)))
            .collect();
        if units.is_empty() {
            continue;
        }
        let design = generate(&config.model(), &plan);
        let dir = run.work_dir.join(config.name());
        let written = write_design(&design, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for unit in units {
            jobs.push(SynthJob {
                label: format!(
                    "{} unit {unit} ({})",
                    config.name(),
                    plan.units[unit].name()
                ),
                dir: dir.clone(),
                files: written.files.clone(),
                top: unit_module(&plan, unit),
                hierarchy: false,
            });
            let measured = Config {
                thresholds: built_threshold_style(&plan),
                ..config.clone()
            };
            pending.push((measured, unit, unit_kind(&plan.units[unit])));
        }
    }
    let csv = std::sync::Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(run.csv)
            .map_err(|e| format!("{}: {e}", run.csv.display()))?,
    );
    let results = run_jobs(
        &jobs,
        run.timeout,
        run.threads,
        run.progress,
        |index, result| {
            if let Ok(done) = result {
                let (config, unit, kind) = &pending[index];
                let record = RunRecord {
                    config: config.clone(),
                    unit: *unit,
                    unit_kind: kind.to_string(),
                    measured: done.measured,
                    seconds: done.seconds,
                };
                let mut file = csv.lock().expect("csv lock");
                let _ = writeln!(file, "{}", record.to_csv());
            }
        },
    );
    Ok(results.into_iter().filter_map(Result::err).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::grid::{ROUNDS, WeightValues, grid};

    #[test]
    fn a_record_round_trips_through_its_csv_row() {
        let configs = grid(&ROUNDS);
        let wide_small = configs
            .iter()
            .find(|c| c.wide && c.weights == WeightValues::Small)
            .expect("a 32-bit copy of a small-weight config");
        let record = RunRecord {
            config: wide_small.clone(),
            unit: 0,
            unit_kind: "mvau".into(),
            measured: Measured {
                lut: 120,
                lutram: 4,
                ff: 80,
                carry4: 9,
                dsp: 0,
                bram18: 0,
                inv: 2,
                muxf: 7,
            },
            seconds: 3.25,
        };
        let row = record.to_csv();
        assert!(row.contains(",small,32,0,mvau,"), "{row}");
        assert_eq!(RunRecord::from_csv(&row).unwrap(), record);
        let declared = row.replace(",small,32,", ",uniform,declared,");
        let parsed = RunRecord::from_csv(&declared).unwrap();
        assert!(!parsed.config.wide && parsed.config.weights == WeightValues::Uniform);
        let unknown = row.replace(",small,32,", ",small,64,");
        assert!(
            RunRecord::from_csv(&unknown)
                .unwrap_err()
                .contains("accumulators")
        );
    }

    #[test]
    fn storage_and_threshold_style_round_trip_and_old_rows_read_as_rom_and_parallel() {
        let configs = grid(&ROUNDS);
        let hardwired = configs
            .iter()
            .find(|c| c.hardwired)
            .expect("a hardwired config");
        let record = RunRecord {
            config: Config {
                thresholds: Some(ThresholdStyle::Search),
                ..hardwired.clone()
            },
            unit: 0,
            unit_kind: "mvau".into(),
            measured: Measured::default(),
            seconds: 1.5,
        };
        let row = record.to_csv();
        assert!(row.ends_with(",1.50,hardwired,search"), "{row}");
        assert_eq!(RunRecord::from_csv(&row).unwrap(), record);
        let old = row.trim_end_matches(",hardwired,search");
        let parsed = RunRecord::from_csv(old).unwrap();
        assert!(!parsed.config.hardwired);
        assert_eq!(parsed.config.thresholds, Some(ThresholdStyle::Parallel));
        let bad = row.replace(",hardwired,search", ",hardwired,binary");
        assert!(
            RunRecord::from_csv(&bad)
                .unwrap_err()
                .contains("thresholds")
        );
    }
}
