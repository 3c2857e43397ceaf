//! `a2qgen infer`: run input vectors through the bit-exact reference, report
//! overflow events per layer and the accuracy against labels, and write the
//! outputs (or every layer's values).

use super::CliError;
use crate::model::{Model, OverflowMode, load_model};
use crate::npyio::{read_int_array, write_int_array};
use crate::output::Outputs;
use crate::reference::{
    AccumulatorMode, LayerTrace, Overrides, Reference, ReferenceError, RunResult, as_batch,
    model_predictions, override_target,
};
use crate::table::{Align, Table};
use clap::{Args, ValueEnum};
use ndarray::{Array1, Array2, Ix1};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct InferArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Input vectors: an integer .npy of shape [batch, input length], or one
    /// vector [input length].
    #[arg(long, value_name = "X.npy")]
    inputs: PathBuf,
    /// Class labels, an integer .npy of shape [batch]: prints the accuracy of
    /// the predictions (argmax of the last layer, of the float values it
    /// stands for when the model has `[output] scale`; ties to the lowest
    /// index).
    #[arg(long, value_name = "Y.npy")]
    labels: Option<PathBuf>,
    /// Writes the last layer's raw outputs, [batch, outputs], as .npy.
    #[arg(long, value_name = "OUT.npy")]
    out: Option<PathBuf>,
    /// With --out: writes the predicted classes, [batch], instead.
    #[arg(long, requires = "out")]
    predictions: bool,
    /// With --out: writes the float outputs the integers stand for, as
    /// float32: `scale[c] * out[c]` with the model's `[output] scale` (an
    /// imported model carries it).
    #[arg(long, requires = "out", conflicts_with = "predictions")]
    dequantize: bool,
    /// Writes DIR/<layer>_acc.npy (dense accumulators) and DIR/<layer>_out.npy
    /// for every layer. DIR must not exist, be empty, or hold an earlier
    /// output of the tool.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Accumulator width for this run: LAYER=P for a layer's (outer)
    /// accumulator, LAYER.inner=P for a tiled layer's inner one. Repeatable.
    #[arg(long = "acc-bits", value_name = "LAYER=P", value_parser = parse_acc_bits)]
    acc_bits: Vec<AccBits>,
    /// Overflow mode of every accumulator (default: each layer's declared mode).
    #[arg(long, value_enum, value_name = "MODE")]
    overflow: Option<OverflowArg>,
    /// Unbounded accumulators: the mathematical result, no overflow.
    #[arg(long, conflicts_with_all = ["acc_bits", "overflow"])]
    exact: bool,
}

/// One `--acc-bits` value.
#[derive(Clone, Debug)]
struct AccBits {
    layer: String,
    inner: bool,
    bits: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum OverflowArg {
    Wrap,
    Saturate,
}

impl From<OverflowArg> for OverflowMode {
    fn from(arg: OverflowArg) -> Self {
        match arg {
            OverflowArg::Wrap => OverflowMode::Wrap,
            OverflowArg::Saturate => OverflowMode::Saturate,
        }
    }
}

fn parse_acc_bits(text: &str) -> Result<AccBits, String> {
    let usage = || format!("`{text}`: expected LAYER=P or LAYER.inner=P, e.g. fc0=12");
    let (target, bits) = text.split_once('=').ok_or_else(usage)?;
    let bits = bits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: P must be a whole number of bits"))?;
    let (layer, inner) = match target.strip_suffix(".inner") {
        Some(layer) => (layer, true),
        None => (target, false),
    };
    if layer.is_empty() {
        return Err(usage());
    }
    Ok(AccBits {
        layer: layer.to_string(),
        inner,
        bits,
    })
}

pub fn run(args: &InferArgs) -> Result<(), CliError> {
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    outputs.protect(&args.inputs);
    if let Some(labels) = &args.labels {
        outputs.protect(labels);
    }
    let out = outputs.optional_file("--out", args.out.as_deref())?;
    let dump = outputs.optional_dir("--dump", args.dump.as_deref())?;
    let model = load_model(&args.model)?;
    let output_scale = if args.dequantize {
        Some(output_scale(&model)?)
    } else {
        None
    };
    let mode = accumulator_mode(args)?;
    let reference = Reference::new(&model, &mode).map_err(configuration_error)?;
    let inputs = read_inputs(&args.inputs, model.input_length)?;
    let labels = args
        .labels
        .as_deref()
        .map(|path| read_labels(path, inputs.nrows()).map(|labels| (path, labels)))
        .transpose()?;
    let (result, trace) = run_reference(&reference, &inputs, args.dump.is_some())
        .map_err(|e| CliError::input(format!("{}: {e}", args.inputs.display())))?;
    let mut written = Vec::new();
    if let Some(slot) = out {
        let what = match &output_scale {
            Some(scale) => write_dequantized(&outputs.path(slot), &result, scale)?,
            None => write_outputs(&outputs.path(slot), &model, &result, args.predictions)?,
        };
        written.push(format!("{what} to {}", outputs.target(slot).display()));
    }
    if let (Some(slot), Some(layers)) = (dump, &trace) {
        let files = write_dump(&outputs.path(slot), layers)?;
        written.push(format!(
            "{files} arrays to {}/",
            outputs.target(slot).display()
        ));
    }
    outputs.commit()?;
    let accuracy = labels.map(|(path, labels)| Accuracy::of(&model, &result, &labels, path));
    print!(
        "{}",
        render(&Summary {
            reference: &reference,
            mode: &mode,
            inputs: &args.inputs,
            vectors: inputs.nrows(),
            result: &result,
            accuracy: accuracy.as_ref(),
            written: &written,
        })
    );
    Ok(())
}

/// The run's result, and every layer's values when `traced`.
fn run_reference(
    reference: &Reference,
    inputs: &Array2<i64>,
    traced: bool,
) -> Result<(RunResult, Option<Vec<LayerTrace>>), ReferenceError> {
    if traced {
        let traced = reference.run_with_trace(inputs.view())?;
        Ok((traced.result, Some(traced.layers)))
    } else {
        Ok((reference.run(inputs.view())?, None))
    }
}

fn accumulator_mode(args: &InferArgs) -> Result<AccumulatorMode, CliError> {
    if args.exact {
        return Ok(AccumulatorMode::Exact);
    }
    let mut overrides = Overrides {
        overflow: args.overflow.map(Into::into),
        ..Overrides::default()
    };
    for AccBits { layer, inner, bits } in &args.acc_bits {
        let widths = if *inner {
            &mut overrides.inner_bits
        } else {
            &mut overrides.acc_bits
        };
        if widths.insert(layer.clone(), *bits).is_some() {
            return Err(CliError::input(format!(
                "--acc-bits {}: given more than once",
                override_target(layer, *inner)
            )));
        }
    }
    Ok(AccumulatorMode::Declared(overrides))
}

/// Errors of [`Reference::new`], phrased for the command line.
fn configuration_error(error: ReferenceError) -> CliError {
    match error {
        ReferenceError::Override {
            layer,
            inner,
            problem,
        } => CliError::input(format!(
            "--acc-bits {}: {problem}",
            override_target(&layer, inner)
        )),
        other => CliError::input(other),
    }
}

fn read_inputs(path: &Path, input_length: usize) -> Result<Array2<i64>, CliError> {
    let array = read_int_array(path).map_err(CliError::input)?;
    as_batch(array, input_length).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn read_labels(path: &Path, batch: usize) -> Result<Array1<i64>, CliError> {
    let array = read_int_array(path).map_err(CliError::input)?;
    let found = array.shape().to_vec();
    array
        .into_dimensionality::<Ix1>()
        .ok()
        .filter(|labels| labels.len() == batch)
        .ok_or_else(|| {
            CliError::input(format!(
                "{}: labels have shape {found:?}, expected [{batch}] (one per input vector)",
                path.display()
            ))
        })
}

struct Accuracy<'a> {
    correct: usize,
    total: usize,
    labels: &'a Path,
    dequantized: bool,
}

impl<'a> Accuracy<'a> {
    fn of(model: &Model, result: &RunResult, labels: &Array1<i64>, path: &'a Path) -> Self {
        let predicted = model_predictions(model, result.outputs.view());
        let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        Accuracy {
            correct,
            total: labels.len(),
            labels: path,
            dequantized: model.output_scale.is_some(),
        }
    }

    fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.correct as f64 / self.total as f64
        }
    }
}

/// Stages `--out`; returns what was written, for the summary.
/// The model's `[output] scale`, which `--dequantize` needs.
fn output_scale(model: &Model) -> Result<Vec<f32>, CliError> {
    let scale = model.output_scale.as_ref().ok_or_else(|| {
        CliError::input(format!(
            "{}: field `output.scale`: missing; --dequantize needs the real value of one output step per element (an imported model carries it)",
            model.source.display()
        ))
    })?;
    // The float graph a model is imported from computes in float32.
    Ok(scale.iter().map(|&s| s as f32).collect())
}

/// Writes `scale[c] * out[c]` as float32, [batch, outputs].
fn write_dequantized(path: &Path, result: &RunResult, scale: &[f32]) -> Result<String, CliError> {
    let floats = Array2::from_shape_fn(result.outputs.dim(), |(row, c)| {
        result.outputs[[row, c]] as f32 * scale[c]
    });
    crate::npyio::write_f32_array(path, &floats)
        .map(|()| format!("float outputs {:?}", floats.shape()))
        .map_err(|e| CliError::input(format!("--out: cannot stage the outputs: {e}")))
}

fn write_outputs(
    path: &Path,
    model: &Model,
    result: &RunResult,
    as_predictions: bool,
) -> Result<String, CliError> {
    let written = if as_predictions {
        let predicted = model_predictions(model, result.outputs.view());
        write_int_array(path, &predicted).map(|()| format!("predictions {:?}", predicted.shape()))
    } else {
        write_int_array(path, &result.outputs)
            .map(|()| format!("outputs {:?}", result.outputs.shape()))
    };
    written.map_err(|e| CliError::input(format!("--out: cannot stage the outputs: {e}")))
}

/// Stages the dump into `dir`: `<layer>_acc.npy` and `<layer>_out.npy`.
/// Returns the number of arrays.
fn write_dump(dir: &Path, layers: &[LayerTrace]) -> Result<usize, CliError> {
    let mut files = 0;
    for layer in layers {
        let arrays = [
            ("acc", layer.accumulators.as_ref()),
            ("out", Some(&layer.outputs)),
        ];
        for (suffix, array) in arrays {
            let Some(array) = array else { continue };
            let path = dir.join(format!("{}_{suffix}.npy", layer.name));
            write_int_array(&path, array)
                .map_err(|e| CliError::input(format!("--dump: cannot stage the dump: {e}")))?;
            files += 1;
        }
    }
    Ok(files)
}

/// Everything the summary shows.
struct Summary<'a> {
    reference: &'a Reference<'a>,
    mode: &'a AccumulatorMode,
    inputs: &'a Path,
    vectors: usize,
    result: &'a RunResult,
    accuracy: Option<&'a Accuracy<'a>>,
    written: &'a [String],
}

fn render(summary: &Summary) -> String {
    let model = summary.reference.model();
    let mut text = format!(
        "model {}: {} vectors of {} x {} from {}\naccumulators: {}\n\n",
        model.name,
        summary.vectors,
        model.input_length,
        model.input,
        summary.inputs.display(),
        describe_mode(summary.mode),
    );
    text.push_str(&layer_table(summary.reference, summary.result).to_string());
    let mut closing: Vec<String> = Vec::new();
    if let Some(accuracy) = summary.accuracy {
        let of = if accuracy.dequantized {
            ", predictions from the dequantized outputs"
        } else {
            ""
        };
        closing.push(format!(
            "accuracy: {} / {} = {:.2}% (labels {}{of})",
            accuracy.correct,
            accuracy.total,
            accuracy.percent(),
            accuracy.labels.display()
        ));
    }
    closing.extend(summary.written.iter().map(|w| format!("wrote {w}")));
    if !closing.is_empty() {
        let _ = write!(text, "\n{}\n", closing.join("\n"));
    }
    text
}

fn describe_mode(mode: &AccumulatorMode) -> String {
    let overrides = match mode {
        AccumulatorMode::Exact => return "exact (unbounded)".into(),
        AccumulatorMode::Declared(overrides) => overrides,
    };
    let mut changes: Vec<String> = Vec::new();
    for (layer, bits) in &overrides.acc_bits {
        changes.push(format!("{layer}={bits}"));
    }
    for (layer, bits) in &overrides.inner_bits {
        changes.push(format!("{layer}.inner={bits}"));
    }
    if let Some(overflow) = overrides.overflow {
        changes.push(format!("overflow {overflow}"));
    }
    if changes.is_empty() {
        "as declared".into()
    } else {
        format!("as declared, except {}", changes.join(", "))
    }
}

/// One row per layer: the accumulators in effect and the overflow events.
fn layer_table(reference: &Reference, result: &RunResult) -> Table {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("layer", Align::Left),
        ("kind", Align::Left),
        ("accumulator", Align::Left),
        ("SIMD", Align::Right),
        ("overflow events", Align::Right),
        ("inner events", Align::Right),
    ]);
    let model: &Model = reference.model();
    for (index, layer) in model.layers.iter().enumerate() {
        let events = result.overflow[index];
        let row = match (&layer.kind, reference.accumulation(index)) {
            (_, Some(acc)) => [
                acc.to_string(),
                acc.simd.to_string(),
                events.outer.to_string(),
                acc.tile.map_or("-".into(), |_| events.inner.to_string()),
            ],
            _ => ["-".into(), "-".into(), "-".into(), "-".into()],
        };
        let [accumulator, simd, outer, inner] = row;
        table.row([
            index.to_string(),
            layer.name.clone(),
            layer.kind_name().to_string(),
            accumulator,
            simd,
            outer,
            inner,
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_bits_values_parse() {
        let outer = parse_acc_bits("fc0=12").unwrap();
        assert_eq!(
            (outer.layer.as_str(), outer.inner, outer.bits),
            ("fc0", false, 12)
        );
        let inner = parse_acc_bits("fc0.inner=9").unwrap();
        assert_eq!(
            (inner.layer.as_str(), inner.inner, inner.bits),
            ("fc0", true, 9)
        );
        assert!(parse_acc_bits("fc0").unwrap_err().contains("LAYER=P"));
        assert!(parse_acc_bits("=8").unwrap_err().contains("LAYER=P"));
        assert!(
            parse_acc_bits("fc0=x")
                .unwrap_err()
                .contains("whole number")
        );
    }
}
