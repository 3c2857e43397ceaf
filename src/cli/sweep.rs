//! `a2qgen sweep`: test accuracy against resources as the accumulator
//! width shrinks, for the float model quantized at each width and/or a
//! fixed model with its accumulators narrowed (wrapping or saturating).

use super::CliError;
use super::infer::OverflowArg;
use super::quantize::{
    narrowest_input_type, parse_int_type, parse_scale, read_labels_for, read_matrix,
};
use crate::model::{ACCUMULATOR_BITS, IntType, Model, load_model};
use crate::output::{Outputs, Slot, check_name};
use crate::quantize::{FloatModel, NormConstraint, QuantizeMethod, QuantizeSettings};
use crate::reference::ReferenceError;
use crate::sweep::{
    LabelledSet, Outcome, PlotError, Pricing, Series, SweepError, SweepRow, csv, fixed_point,
    markdown, quantized_point, svg,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Accumulator widths P to measure, e.g. 32,24,20,16,14,12,10.
    #[arg(long, value_name = "P,...", value_delimiter = ',', required = true)]
    acc_bits: Vec<u32>,
    /// Integer test inputs [n, input length].
    #[arg(long, value_name = "X.npy")]
    test_inputs: PathBuf,
    /// Class labels [n] of --test-inputs.
    #[arg(long, value_name = "Y.npy")]
    test_labels: PathBuf,
    /// Directory of the float model to quantize at every P (as `a2qgen
    /// quantize --float`): the quantized series.
    #[arg(long, value_name = "DIR", requires_all = ["calibration", "input_scale"])]
    float: Option<PathBuf>,
    /// Integer calibration inputs [n, input length] for the quantizer.
    #[arg(long, value_name = "X.npy", requires = "float")]
    calibration: Option<PathBuf>,
    /// Float input = SCALE * integer input (e.g. 1/16).
    #[arg(long, value_name = "SCALE", value_parser = parse_scale, requires = "float")]
    input_scale: Option<f64>,
    /// Integer input type, e.g. uint5 [default: the narrowest type holding
    /// the calibration inputs].
    #[arg(long, value_name = "TYPE", value_parser = parse_int_type, requires = "float")]
    input_type: Option<IntType>,
    /// Signed weight bits of every layer.
    #[arg(long, value_name = "W", default_value_t = 4)]
    weight_bits: u32,
    /// Unsigned output bits of every hidden layer.
    #[arg(long, value_name = "B", default_value_t = 4)]
    act_bits: u32,
    /// Quantize with A2Q+ (zero-centred weights) instead of A2Q.
    #[arg(long)]
    zero_center: bool,
    /// How the quantized series rounds each channel: `a2q`, or AXE's
    /// `axe-optq` / `axe-gpfq` (see `quantize --method`).
    #[arg(long, value_name = "METHOD", default_value_t = QuantizeMethod::A2q)]
    method: QuantizeMethod,
    /// A quantized model to narrow to every P instead of (or beside)
    /// quantizing: every accumulator at P with allow_overflow: the fixed
    /// series, showing what overflow does without accumulator-aware weights.
    #[arg(long, value_name = "MODEL.toml")]
    fixed_model: Option<PathBuf>,
    /// Overflow mode(s) of the narrowed fixed model: one series each.
    /// `saturate` needs every layer's hardware.simd (the quantizer sets it).
    #[arg(
        long,
        value_enum,
        value_name = "MODE,...",
        value_delimiter = ',',
        default_value = "wrap",
        requires = "fixed_model"
    )]
    overflow: Vec<OverflowArg>,
    /// Also synthesize every point and its 32-bit variant with Yosys.
    #[arg(long)]
    synth: bool,
    /// Seconds after which one Yosys run is stopped (with --synth; at most a week).
    #[arg(long, value_name = "S", default_value_t = 600, requires = "synth")]
    synth_timeout: u64,
    /// Name of the sweep [default: the fixed model's name, or the float
    /// model's directory name (its parent's when it is called `float`)].
    #[arg(long)]
    name: Option<String>,
    /// Output directory [default: sim/sweep/<name>/].
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
}

/// The quantized series' inputs.
struct FloatSource {
    model: FloatModel,
    calibration: Array2<i64>,
    settings: QuantizeSettings,
}

pub fn run(args: &SweepArgs) -> Result<(), CliError> {
    check_widths(&args.acc_bits)?;
    super::limits::check_timeout("--synth-timeout", args.synth_timeout)?;
    if args.float.is_none() && args.fixed_model.is_none() {
        return Err(CliError::input(
            "nothing to sweep: give --float (with --calibration and --input-scale), --fixed-model, or both",
        ));
    }
    if args.synth {
        super::synth::require_yosys()?;
    }
    let fixed = args.fixed_model.as_deref().map(load_model).transpose()?;
    let name = sweep_name(args, fixed.as_ref())?;
    check_name("--name", &name)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| Path::new("sim/sweep").join(&name));
    let mut outputs = protected_inputs(args);
    let slot = outputs.dir("-o", &output)?;
    let pricing = pricing(args, &output, &mut outputs)?;
    let float = read_float_source(args, &name)?;
    let inputs = read_matrix(&args.test_inputs, "[samples, input length]")?;
    let labels = read_labels_for(&args.test_labels, &inputs, &args.test_inputs)?;
    let test = labelled_set(args, &inputs, &labels)?;
    let rows = sweep(args, float.as_ref(), fixed.as_ref(), test, &pricing)?;
    let table = markdown(&rows);
    stage_outputs(&outputs, slot, &name, &rows, &table, args)?;
    outputs.commit()?;
    println!("{}", headline(&name, args, rows.len()));
    println!("wrote {}\n", output.display());
    print!("{table}");
    check_quantized_rows(&rows)
}

/// Widths must be valid accumulator widths, each once.
fn check_widths(widths: &[u32]) -> Result<(), CliError> {
    if let Some(bad) = widths.iter().find(|p| !ACCUMULATOR_BITS.contains(p)) {
        return Err(CliError::input(format!(
            "--acc-bits {bad}: not in {}..={}",
            ACCUMULATOR_BITS.start(),
            ACCUMULATOR_BITS.end()
        )));
    }
    if let Some(twice) = widths
        .iter()
        .enumerate()
        .find(|(i, p)| widths[..*i].contains(p))
    {
        return Err(CliError::input(format!(
            "--acc-bits {}: given twice",
            twice.1
        )));
    }
    Ok(())
}

/// `--name`, else the fixed model's name when there is no float model,
/// else the float model's directory name (its parent's when it is called
/// `float`, as in `examples/digits/float`).
fn sweep_name(args: &SweepArgs, fixed: Option<&Model>) -> Result<String, CliError> {
    if let Some(name) = &args.name {
        return Ok(name.clone());
    }
    let from_float = args.float.as_deref().and_then(|dir| {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let named = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
        match named(&dir) {
            Some(n) if n == "float" => dir.parent().and_then(named),
            other => other,
        }
    });
    from_float
        .or_else(|| fixed.map(|m| m.name.clone()))
        .ok_or_else(|| CliError::input("cannot name the sweep: give --name"))
}

fn read_float_source(args: &SweepArgs, name: &str) -> Result<Option<FloatSource>, CliError> {
    let (Some(dir), Some(calibration), Some(input_scale)) =
        (&args.float, &args.calibration, args.input_scale)
    else {
        return Ok(None);
    };
    let model = FloatModel::load(dir).map_err(CliError::input)?;
    let calibration = read_matrix(calibration, "[samples, input length]")?;
    let input = args
        .input_type
        .unwrap_or_else(|| narrowest_input_type(&calibration));
    // The width is set per point; the template's is a placeholder.
    let mut settings = QuantizeSettings::new(name, input, input_scale, 32);
    settings.weight_bits = args.weight_bits;
    settings.activation_bits = args.act_bits;
    settings.method = args.method;
    if args.zero_center {
        settings.constraint = NormConstraint::A2qPlus;
    }
    Ok(Some(FloatSource {
        model,
        calibration,
        settings,
    }))
}

fn labelled_set<'a>(
    args: &SweepArgs,
    inputs: &'a Array2<i64>,
    labels: &'a Array1<i64>,
) -> Result<LabelledSet<'a>, CliError> {
    LabelledSet::new(inputs.view(), labels.view())
        .map_err(|e| CliError::input(format!("{}: {e}", args.test_inputs.display())))
}

/// Every file the sweep reads, so that no output replaces one.
fn protected_inputs(args: &SweepArgs) -> Outputs {
    let mut outputs = Outputs::new();
    outputs.protect(&args.test_inputs);
    outputs.protect(&args.test_labels);
    for path in [&args.float, &args.calibration].into_iter().flatten() {
        outputs.protect(path);
    }
    if let Some(model) = &args.fixed_model {
        outputs.protect_model(model);
    }
    outputs
}

/// Yosys works beside the sweep's output, in the work folder
/// `<output>.synth/`, so that its run directories are not part of the
/// staged result.
fn pricing(args: &SweepArgs, output: &Path, outputs: &mut Outputs) -> Result<Pricing, CliError> {
    if !args.synth {
        return Ok(Pricing::Estimate);
    }
    let mut dir = output.as_os_str().to_owned();
    dir.push(".synth");
    Ok(Pricing::Synthesize {
        dir: outputs.work_dir("--synth", Path::new(&dir))?,
        timeout: Duration::from_secs(args.synth_timeout),
    })
}

/// Every point of every series, with a progress bar over them.
fn sweep(
    args: &SweepArgs,
    float: Option<&FloatSource>,
    fixed: Option<&Model>,
    test: LabelledSet,
    pricing: &Pricing,
) -> Result<Vec<SweepRow>, CliError> {
    let mut series: Vec<Series> = Vec::new();
    if float.is_some() {
        series.push(Series::Quantized);
    }
    if fixed.is_some() {
        series.extend(args.overflow.iter().map(|&m| Series::Fixed(m.into())));
    }
    let progress = progress_bar((series.len() * args.acc_bits.len()) as u64);
    let mut rows = Vec::with_capacity(series.len() * args.acc_bits.len());
    for &which in &series {
        for &acc_bits in &args.acc_bits {
            progress.set_message(format!("{which}, P = {acc_bits}"));
            let row = match (which, float, fixed) {
                (Series::Quantized, Some(f), _) => quantized_point(
                    &f.model,
                    f.calibration.view(),
                    &f.settings,
                    acc_bits,
                    test,
                    pricing,
                ),
                (Series::Fixed(mode), _, Some(model)) => {
                    fixed_point(model, acc_bits, mode, test, pricing)
                }
                _ => unreachable!("a series is listed only with its source"),
            };
            rows.push(row.map_err(|e| sweep_error(e, &args.test_inputs))?);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    Ok(rows)
}

fn progress_bar(points: u64) -> ProgressBar {
    let bar = ProgressBar::new(points);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} points  {msg}") {
        bar.set_style(style);
    }
    bar
}

/// A quantizer that fails its own proof is a failed verdict; everything
/// else a sweep runs into is bad input (a test set that does not fit, a
/// fixed model that cannot saturate). A test input that does not fit a model is the inputs file's fault, and
/// is reported on it rather than on the model built for the point.
fn sweep_error(error: SweepError, test_inputs: &Path) -> CliError {
    match error {
        SweepError::Quantize {
            source: crate::quantize::QuantizeError::Unproven { .. },
            ..
        } => CliError::verdict(error),
        SweepError::Reference {
            source: source @ (ReferenceError::InputShape { .. } | ReferenceError::InputValue { .. }),
            ..
        } => CliError::input(format!("{}: {source}", test_inputs.display())),
        _ => CliError::input(error),
    }
}

/// `sweep.csv`, `sweep.md` and `sweep.svg`, staged to be moved into place
/// together. With no point to plot (every width below the usable minimum)
/// there is no `sweep.svg`, and the table says why.
fn stage_outputs(
    outputs: &Outputs,
    slot: Slot,
    name: &str,
    rows: &[SweepRow],
    table: &str,
    args: &SweepArgs,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::input(format!("-o: cannot stage the sweep: {e}"));
    let staged = outputs.path(slot);
    let markdown = format!(
        "{}\n\n{table}\n{}",
        headline(name, args, rows.len()),
        COLUMN_NOTES
    );
    let mut files = vec![("sweep.csv", csv(rows)), ("sweep.md", markdown)];
    match svg(
        rows,
        &format!("{name}: accuracy vs LUTs as the accumulator narrows"),
    ) {
        Ok(svg) => files.push(("sweep.svg", svg)),
        Err(PlotError::NothingToPlot) => {}
        Err(e) => return Err(CliError::input(format!("sweep.svg: {e}"))),
    }
    for (file, contents) in files {
        std::fs::write(staged.join(file), contents).map_err(io)?;
    }
    Ok(())
}

/// What was swept, on what, by which command.
fn headline(name: &str, args: &SweepArgs, points: usize) -> String {
    let command: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "sweep {name}: {points} points, test set {} ({})\ncommand: a2qgen {}",
        args.test_inputs.display(),
        args.test_labels.display(),
        command.join(" ")
    )
}

const COLUMN_NOTES: &str = "\
Accuracy: the bit-exact integer reference at the point's widths on the test set. \
Overflow events: accumulator settles that left the register's range (wrapped or clamped), \
per dense layer. Min P: the least width each layer's exact accumulator range needs. \
LUT/FF/DSP: the analytical xc7 estimate of the generated design; `vs 32-bit acc`: \
the same design (same weights) with every accumulator at 32 bits.
";

/// Quantized points are proven, so an overflow event there is a bug:
/// reported after the outputs are written, so they can be inspected.
fn check_quantized_rows(rows: &[SweepRow]) -> Result<(), CliError> {
    let overflowing = rows.iter().find(|row| {
        row.series == Series::Quantized
            && matches!(&row.outcome, Outcome::Measured(m) if m.overflow_events() > 0)
    });
    match overflowing {
        Some(row) => Err(CliError::verdict(format!(
            "P = {}: the quantized model is proven but the reference saw overflow events",
            row.acc_bits
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_checked_once_each() {
        assert!(check_widths(&[32, 16, 12]).is_ok());
        assert!(check_widths(&[1]).is_err());
        assert!(check_widths(&[65]).is_err());
        let twice = check_widths(&[16, 12, 16]).unwrap_err();
        assert_eq!(twice.message, "--acc-bits 16: given twice");
    }
}
