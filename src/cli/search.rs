//! `a2qgen search`: per-layer accumulator widths that minimize the
//! estimated LUTs or FFs within an accuracy budget, the winner written as
//! a proven model (see `crate::search` for the algorithm).

use super::CliError;
use super::quantize::{
    QuantizerFlags, output_location, quantize_error, read_labels_for, read_matrix,
};
use crate::model::{ACCUMULATOR_BITS, IntType, stage_model};
use crate::output::{Outputs, Slot};
use crate::quantize::{AccumulatorWidths, QuantizeError};
use crate::search::{
    Objective, SearchData, SearchError, SearchResult, SearchSettings, Splits, csv, describe_widths,
    markdown, search,
};
use crate::sweep::LabelledSet;
use clap::{Args, ValueEnum};
use ndarray::{Array1, Array2, s};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    quantizer: QuantizerFlags,
    /// Integer test inputs [n, input length].
    #[arg(long, value_name = "X.npy")]
    test_inputs: PathBuf,
    /// Class labels [n] of --test-inputs.
    #[arg(long, value_name = "Y.npy")]
    test_labels: PathBuf,
    /// Class labels [n] of --calibration: the last --holdout share of the
    /// calibration inputs becomes a validation split the budget is judged
    /// on, and only the rest calibrates; the test split is then reported
    /// beside it. Without them the budget is judged on the test split.
    #[arg(long, value_name = "Y.npy")]
    calibration_labels: Option<PathBuf>,
    /// Share of the calibration inputs held out as the validation split
    /// (with --calibration-labels).
    #[arg(long, value_name = "F", default_value_t = 0.25, value_parser = parse_holdout, requires = "calibration_labels")]
    holdout: f64,
    /// Accuracy points the quantized model may lose against the float
    /// model on the judged split (e.g. 1.0: at most one point below).
    #[arg(long, value_name = "POINTS", value_parser = parse_budget)]
    budget: f64,
    /// The estimated resource to minimize.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Lut)]
    objective: ObjectiveArg,
    /// The narrowest candidate width.
    #[arg(long, value_name = "P", default_value_t = 2, conflicts_with = "widths")]
    min_bits: u32,
    /// The widest candidate width, where the search starts.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 16,
        conflicts_with = "widths"
    )]
    max_bits: u32,
    /// The candidate widths instead of --min-bits..=--max-bits, e.g.
    /// 16,14,12,11,10.
    #[arg(long, value_name = "P,...", value_delimiter = ',')]
    widths: Vec<u32>,
    /// The winner's model TOML; its arrays go to the directory of the same
    /// stem beside it.
    #[arg(short, long, value_name = "OUT.toml")]
    output: PathBuf,
    /// A folder for search.md (the report printed) and search.csv (every
    /// step, every figure).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ObjectiveArg {
    Lut,
    Ff,
}

/// The labelled splits: the one the budget is judged on, and the test
/// split when that is not it.
struct LabelledSplits {
    calibration: Array2<i64>,
    judged: (Array2<i64>, Array1<i64>),
    reported: Option<(Array2<i64>, Array1<i64>)>,
}

pub fn run(args: &SearchArgs) -> Result<(), CliError> {
    let widths = candidate_widths(args)?;
    let (_, stem) = output_location(&args.output)?;
    let mut outputs = Outputs::new();
    args.quantizer.protect(&mut outputs);
    for path in [Some(&args.test_inputs), Some(&args.test_labels)]
        .into_iter()
        .chain([args.calibration_labels.as_ref()])
        .flatten()
    {
        outputs.protect(path);
    }
    let model_slot = outputs.model("-o", &args.output)?;
    let report_slot = outputs.optional_dir("--report", args.report.as_deref())?;
    let (float, calibration) = args.quantizer.read()?;
    let template =
        args.quantizer
            .settings(stem, &calibration, AccumulatorWidths::uniform(widths[0]));
    let splits = read_splits(args, calibration, float.input_length(), template.input)?;
    let settings = SearchSettings {
        template,
        widths,
        budget: args.budget,
        objective: match args.objective {
            ObjectiveArg::Lut => Objective::Lut,
            ObjectiveArg::Ff => Objective::Ff,
        },
    };
    let data = SearchData {
        float: &float,
        calibration: splits.calibration.view(),
        judged: labelled(&splits.judged)?,
        reported: splits.reported.as_ref().map(labelled).transpose()?,
    };
    let mut result = search(data, &settings).map_err(|e| search_error(e, args))?;
    let names = split_names(args);
    let report = format!(
        "{}\n\n{}",
        headline(args, &result),
        markdown(&result, names)
    );
    result.model.description = Some(format!(
        "{} (float model `{}`; mixed-precision search within {} point(s) on the {} split)",
        result.model.description.take().unwrap_or_default(),
        args.quantizer.float.display(),
        args.budget,
        names.judged
    ));
    let (staging, stem) = outputs.model_location(model_slot);
    stage_model(&result.model, &staging, &stem)
        .map_err(|e| CliError::input(format!("-o {}: {e}", args.output.display())))?;
    if let Some(slot) = report_slot {
        stage_report(&outputs, slot, &report, &result)?;
    }
    outputs.commit()?;
    println!("{report}");
    println!(
        "wrote {} (widths {}, every one proven: `a2qgen check` re-proves it)",
        args.output.display(),
        describe_widths(&result.winner.widths)
    );
    Ok(())
}

/// The candidate widths, widest first: `--widths`, or `--max-bits` down
/// to `--min-bits`.
fn candidate_widths(args: &SearchArgs) -> Result<Vec<u32>, CliError> {
    let in_range = |flag: &str, p: u32| {
        if ACCUMULATOR_BITS.contains(&p) {
            Ok(())
        } else {
            Err(CliError::input(format!(
                "{flag} {p}: not in {}..={}",
                ACCUMULATOR_BITS.start(),
                ACCUMULATOR_BITS.end()
            )))
        }
    };
    if args.widths.is_empty() {
        in_range("--min-bits", args.min_bits)?;
        in_range("--max-bits", args.max_bits)?;
        if args.min_bits > args.max_bits {
            return Err(CliError::input(format!(
                "--min-bits {} is above --max-bits {}",
                args.min_bits, args.max_bits
            )));
        }
        return Ok((args.min_bits..=args.max_bits).rev().collect());
    }
    let mut widths = args.widths.clone();
    for &p in &widths {
        in_range("--widths", p)?;
    }
    widths.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(twice) = widths.windows(2).find(|w| w[0] == w[1]) {
        return Err(CliError::input(format!(
            "--widths {}: given twice",
            twice[0]
        )));
    }
    Ok(widths)
}

/// The calibration rows that calibrate, the judged split and the reported
/// one; every input row checked against the model's input.
fn read_splits(
    args: &SearchArgs,
    calibration: Array2<i64>,
    input_length: usize,
    input: IntType,
) -> Result<LabelledSplits, CliError> {
    let test_inputs = read_matrix(&args.test_inputs, "[samples, input length]")?;
    let test_labels = read_labels_for(&args.test_labels, &test_inputs, &args.test_inputs)?;
    check_inputs(&args.test_inputs, &test_inputs, input_length, input)?;
    let test = (test_inputs, test_labels);
    let Some(labels_path) = &args.calibration_labels else {
        return Ok(LabelledSplits {
            calibration,
            judged: test,
            reported: None,
        });
    };
    let calibration_path = &args.quantizer.calibration;
    let labels = read_labels_for(labels_path, &calibration, calibration_path)?;
    check_inputs(calibration_path, &calibration, input_length, input)?;
    let rows = calibration.nrows();
    let held = ((rows as f64) * args.holdout).ceil() as usize;
    if held == 0 || held >= rows {
        return Err(CliError::input(format!(
            "--holdout {}: holds out {held} of the {rows} calibration inputs of {}; each split needs at least one",
            args.holdout,
            calibration_path.display()
        )));
    }
    let kept = rows - held;
    Ok(LabelledSplits {
        calibration: calibration.slice(s![..kept, ..]).to_owned(),
        judged: (
            calibration.slice(s![kept.., ..]).to_owned(),
            labels.slice(s![kept..]).to_owned(),
        ),
        reported: Some(test),
    })
}

/// Every row has the model's input length and every value its type.
fn check_inputs(
    path: &Path,
    inputs: &Array2<i64>,
    input_length: usize,
    input: IntType,
) -> Result<(), CliError> {
    if inputs.ncols() != input_length {
        return Err(CliError::input(format!(
            "{}: {} values per sample, the float model takes {input_length}",
            path.display(),
            inputs.ncols()
        )));
    }
    match inputs
        .indexed_iter()
        .find(|(_, v)| !input.contains(i128::from(**v)))
    {
        Some(((sample, element), value)) => Err(CliError::input(format!(
            "{}: sample {sample} element {element} = {value} does not fit the input type {input}",
            path.display()
        ))),
        None => Ok(()),
    }
}

fn split_names(args: &SearchArgs) -> Splits<'static> {
    match args.calibration_labels {
        Some(_) => Splits {
            judged: "validation",
            reported: Some("test"),
        },
        None => Splits {
            judged: "test",
            reported: None,
        },
    }
}

fn labelled((inputs, labels): &(Array2<i64>, Array1<i64>)) -> Result<LabelledSet<'_>, CliError> {
    LabelledSet::new(inputs.view(), labels.view()).map_err(CliError::input)
}

/// What was searched, on which split, by which command.
fn headline(args: &SearchArgs, result: &SearchResult) -> String {
    let command: Vec<String> = std::env::args().skip(1).collect();
    let split = match &args.calibration_labels {
        Some(labels) => format!(
            "the budget is judged on a validation split: the last {} of the calibration inputs of {} (labels {}), which the quantizer does not calibrate on; the test split ({}) is only reported",
            result.float_judged.total,
            args.quantizer.calibration.display(),
            labels.display(),
            args.test_inputs.display()
        ),
        None => format!(
            "the budget is judged on the test split ({}): its accuracies choose the winner, so they are not an independent estimate (give --calibration-labels to judge on a validation split)",
            args.test_inputs.display()
        ),
    };
    format!(
        "search {}: {} steps over {} rounds; {split}\ncommand: a2qgen {}",
        result.model.name,
        result.steps.len(),
        result.rounds.len(),
        command.join(" ")
    )
}

/// `search.md` and `search.csv`.
fn stage_report(
    outputs: &Outputs,
    slot: Slot,
    report: &str,
    result: &SearchResult,
) -> Result<(), CliError> {
    let dir = outputs.path(slot);
    for (file, contents) in [
        ("search.md", format!("{report}\n")),
        ("search.csv", csv(result)),
    ] {
        std::fs::write(dir.join(file), contents).map_err(|e| {
            CliError::input(format!(
                "--report {}: cannot stage {file}: {e}",
                outputs.target(slot).display()
            ))
        })?;
    }
    Ok(())
}

/// A budget nothing meets and an unproven width are failed verdicts; the
/// rest is bad input, named by the file at fault where there is one.
fn search_error(error: SearchError, args: &SearchArgs) -> CliError {
    match error {
        SearchError::BudgetUnmet { .. } => CliError::verdict(error),
        SearchError::Quantize {
            source: source @ QuantizeError::Calibration(_),
            ..
        } => CliError::input(format!(
            "{}: {source}",
            args.quantizer.calibration.display()
        )),
        SearchError::Quantize { widths, source } => {
            let error = quantize_error(source);
            CliError {
                message: format!("widths {widths}: {}", error.message),
                ..error
            }
        }
        _ => CliError::input(error),
    }
}

/// Points of accuracy: a finite number in 0..=100.
fn parse_budget(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not a number of points in 0..=100")),
    }
}

/// A share strictly between 0 and 1.
fn parse_holdout(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!("`{text}` is not a share strictly between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_holdouts_are_bounded() {
        assert_eq!(parse_budget("1.0"), Ok(1.0));
        assert_eq!(parse_budget("0"), Ok(0.0));
        for bad in ["-1", "NaN", "inf", "100.5", "x"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_holdout("0.25"), Ok(0.25));
        for bad in ["0", "1", "-0.1", "NaN"] {
            assert!(parse_holdout(bad).is_err(), "{bad}");
        }
    }
}
