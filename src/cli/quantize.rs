//! `a2qgen quantize`: post-training accumulator-aware quantization of a
//! float MLP into a model whose accumulator widths are proven.

use super::CliError;
use crate::bounds::analyze;
use crate::model::{ACCUMULATOR_BITS, IntType, Tile, stage_model};
use crate::npyio::read_int_array;
use crate::output::Outputs;
use crate::quantize::{
    AccumulatorWidths, Comparison, FloatModel, LayerReport, NormConstraint, QuantizeError,
    QuantizeMethod, QuantizeSettings, Quantized, ScaleSearch, compare_on, quantize,
};
use crate::table::{Align, Table};
use clap::{Args, ValueEnum};
use ndarray::{Array1, Array2, Ix1, Ix2};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct QuantizeArgs {
    #[command(flatten)]
    quantizer: QuantizerFlags,
    /// Accumulator width P of every layer.
    #[arg(long, value_name = "P")]
    acc_bits: u32,
    /// Widths overriding --acc-bits for some layers.
    #[arg(long, value_name = "LAYER=P,...", value_delimiter = ',', value_parser = parse_layer_bits)]
    acc_bits_per_layer: Vec<(String, u32)>,
    /// Multi-stage accumulation: tiles of T inputs, each summed in an
    /// inner accumulator of --inner-bits, the tiles and the bias in the
    /// --acc-bits one. T must divide every layer's input count.
    #[arg(long, value_name = "T", requires = "inner_bits", value_parser = parse_tile_size)]
    tile: Option<usize>,
    /// The inner accumulator width P_I of every tile (at most --acc-bits).
    #[arg(long, value_name = "P_I", requires = "tile")]
    inner_bits: Option<u32>,
    /// Integer test inputs [n, input length]: prints the quantized model's
    /// accuracy (bit-exact reference) beside the float model's.
    #[arg(long, value_name = "X.npy", requires = "test_labels")]
    test_inputs: Option<PathBuf>,
    /// Class labels [n] of --test-inputs.
    #[arg(long, value_name = "Y.npy", requires = "test_inputs")]
    test_labels: Option<PathBuf>,
    /// The model TOML to write; its arrays go to the directory of the same
    /// stem beside it.
    #[arg(short, long, value_name = "OUT.toml")]
    output: PathBuf,
}

/// The float model, its calibration inputs and every quantizer setting
/// but the accumulator widths: shared by `quantize` and `search`.
#[derive(Args, Debug)]
pub(super) struct QuantizerFlags {
    /// Directory of the float model: fc0_weight.npy ([out, in]) and
    /// fc0_bias.npy, fc1_..., float32 or float64, read until an index is
    /// missing; ReLU between layers. With an architecture.toml, a CNN of
    /// the conv, maxpool and dense layers it lists (docs/conv.md).
    #[arg(long, value_name = "DIR")]
    pub float: PathBuf,
    /// Integer model inputs [n, input length] to calibrate the hidden
    /// layers' output scales on.
    #[arg(long, value_name = "X.npy")]
    pub calibration: PathBuf,
    /// Float value of one integer input step: float input = SCALE *
    /// integer input (e.g. 1/16 for pixels 0..16 trained as pixels / 16).
    #[arg(long, value_name = "SCALE", value_parser = parse_scale)]
    input_scale: f64,
    /// Integer input type, e.g. uint5 [default: the narrowest type holding
    /// the calibration inputs].
    #[arg(long, value_name = "TYPE", value_parser = parse_int_type)]
    input_type: Option<IntType>,
    /// Signed weight bits of every layer.
    #[arg(long, value_name = "W", default_value_t = 4)]
    weight_bits: u32,
    /// Unsigned output bits of every hidden layer.
    #[arg(long, value_name = "B", default_value_t = 4)]
    act_bits: u32,
    /// Zero-centre each channel's weights and project onto the A2Q+ bound
    /// (about twice A2Q's L1 budget); the removed mean is folded into the
    /// bias at the calibration mean of the inputs.
    #[arg(long)]
    zero_center: bool,
    /// Where the scale of a channel the norm budget limits comes from:
    /// `projected` is A2Q's norm(w) / budget with rounding toward zero;
    /// `calibrated` tries it and a grid around it and keeps the one whose
    /// integer weights and bias best reproduce the float pre-activations
    /// on the calibration inputs.
    #[arg(long, value_enum, default_value_t = ScaleChoice::Calibrated)]
    scale_search: ScaleChoice,
    /// How each channel's weights become integers: `a2q` rounds at one
    /// scale per channel (toward zero where the budget binds);
    /// `axe-optq` and `axe-gpfq` are AXE's greedy, error-correcting
    /// quantizers (OPTQ through the damped input Hessian, GPFQ through the
    /// running output error) with the accumulator budget enforced as each
    /// weight is fixed.
    #[arg(long, value_name = "METHOD", default_value_t = QuantizeMethod::A2q)]
    method: QuantizeMethod,
    /// Percentile of the calibration activations that maps to the top
    /// output level of each hidden layer (100 = the maximum).
    #[arg(long, value_name = "PCT", default_value_t = 99.9)]
    percentile: f64,
    /// Per layer, PE is the largest power of two up to this dividing the
    /// output count.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_pe: usize,
    /// Per layer, SIMD is the largest power of two up to this dividing the
    /// input count.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_simd: usize,
    /// Model name [default: the output file's stem].
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScaleChoice {
    Calibrated,
    Projected,
}

pub fn run(args: &QuantizeArgs) -> Result<(), CliError> {
    let (_, stem) = output_location(&args.output)?;
    let mut outputs = Outputs::new();
    args.quantizer.protect(&mut outputs);
    for path in [&args.test_inputs, &args.test_labels].into_iter().flatten() {
        outputs.protect(path);
    }
    let slot = outputs.model("-o", &args.output)?;
    let (float, calibration) = args.quantizer.read()?;
    let test_set = read_test_set(args)?;
    let widths = AccumulatorWidths {
        default_bits: args.acc_bits,
        per_layer: args.acc_bits_per_layer.iter().cloned().collect(),
    };
    let mut settings = args.quantizer.settings(stem, &calibration, widths);
    settings.tile = args
        .tile
        .zip(args.inner_bits)
        .map(|(size, inner_bits)| Tile { size, inner_bits });
    check_tiles(args, &float, &settings.accumulator)?;
    let mut quantized = quantize(&float, calibration.view(), &settings).map_err(quantize_error)?;
    // Scored before anything is written: a test set that does not fit the
    // model leaves no output behind.
    let comparison = match &test_set {
        Some(test) => Some(
            compare_on(
                &float,
                &quantized.model,
                settings.input_scale,
                test.inputs.view(),
                test.labels.view(),
            )
            .map_err(|e| CliError::input(format!("{}: {e}", test.inputs_path.display())))?,
        ),
        None => None,
    };
    let model = &mut quantized.model;
    model.description = Some(format!(
        "{} (float model `{}`)",
        model.description.take().unwrap_or_default(),
        args.quantizer.float.display()
    ));
    let (staging, stem) = outputs.model_location(slot);
    stage_model(model, &staging, &stem)
        .map_err(|e| CliError::input(format!("-o {}: {e}", args.output.display())))?;
    outputs.commit()?;
    print!("{}", render(&quantized, &args.output));
    if let (Some(comparison), Some(test)) = (comparison, &test_set) {
        println!("\n{}", render_comparison(&comparison, &test.inputs_path));
    }
    Ok(())
}

/// Integer test inputs `[n, input length]` and their labels `[n]`.
struct TestSet {
    inputs_path: PathBuf,
    inputs: Array2<i64>,
    labels: Array1<i64>,
}

/// The labelled test set, when given; read before quantizing so a bad
/// file fails fast.
fn read_test_set(args: &QuantizeArgs) -> Result<Option<TestSet>, CliError> {
    let (Some(inputs_path), Some(labels_path)) = (&args.test_inputs, &args.test_labels) else {
        return Ok(None);
    };
    let inputs = read_matrix(inputs_path, "[samples, input length]")?;
    let labels = read_labels_for(labels_path, &inputs, inputs_path)?;
    Ok(Some(TestSet {
        inputs_path: inputs_path.clone(),
        inputs,
        labels,
    }))
}

/// Class labels: a 1-D integer `.npy`.
pub(super) fn read_labels(path: &Path) -> Result<Array1<i64>, CliError> {
    let array = read_int_array(path).map_err(CliError::input)?;
    let shape = array.shape().to_vec();
    array.into_dimensionality::<Ix1>().map_err(|_| {
        CliError::input(format!(
            "{}: has shape {shape:?}, expected [samples]",
            path.display()
        ))
    })
}

/// Class labels, one per input vector: a count that differs is the labels
/// file's fault.
pub(super) fn read_labels_for(
    path: &Path,
    inputs: &Array2<i64>,
    inputs_path: &Path,
) -> Result<Array1<i64>, CliError> {
    let labels = read_labels(path)?;
    if labels.len() != inputs.nrows() {
        return Err(CliError::input(format!(
            "{}: {} labels for the {} input vectors of {}",
            path.display(),
            labels.len(),
            inputs.nrows(),
            inputs_path.display()
        )));
    }
    Ok(labels)
}

fn render_comparison(comparison: &Comparison, inputs: &Path) -> String {
    format!(
        "test accuracy on {}: integer {}, float {}; the bit-exact reference saw {} overflow events",
        inputs.display(),
        comparison.integer,
        comparison.float,
        comparison.overflow_events
    )
}

/// `OUT.toml` as its directory and stem (the model's default name).
pub(super) fn output_location(path: &Path) -> Result<(&Path, &str), CliError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|_| path.extension().is_some_and(|e| e == "toml"));
    let Some(stem) = stem else {
        return Err(CliError::input(format!(
            "-o {}: expected a .toml file name",
            path.display()
        )));
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    Ok((dir.unwrap_or(Path::new(".")), stem))
}

/// A 2-D integer `.npy`; `expected` names its axes for the error.
pub(super) fn read_matrix(path: &Path, expected: &str) -> Result<Array2<i64>, CliError> {
    let array = read_int_array(path).map_err(CliError::input)?;
    let shape = array.shape().to_vec();
    array.into_dimensionality::<Ix2>().map_err(|_| {
        CliError::input(format!(
            "{}: has shape {shape:?}, expected {expected}",
            path.display()
        ))
    })
}

impl QuantizerFlags {
    /// The quantizer's settings with `accumulator` widths; the input type
    /// defaults to the narrowest holding `calibration`, the name to `stem`.
    pub fn settings(
        &self,
        stem: &str,
        calibration: &Array2<i64>,
        accumulator: AccumulatorWidths,
    ) -> QuantizeSettings {
        let input = self
            .input_type
            .unwrap_or_else(|| narrowest_input_type(calibration));
        QuantizeSettings {
            name: self.name.clone().unwrap_or_else(|| stem.to_string()),
            input,
            input_scale: self.input_scale,
            weight_bits: self.weight_bits,
            activation_bits: self.act_bits,
            accumulator,
            constraint: if self.zero_center {
                NormConstraint::A2qPlus
            } else {
                NormConstraint::A2q
            },
            scale_search: match self.scale_search {
                ScaleChoice::Calibrated => ScaleSearch::Calibrated,
                ScaleChoice::Projected => ScaleSearch::Projected,
            },
            percentile: self.percentile,
            max_pe: self.max_pe,
            max_simd: self.max_simd,
            method: self.method,
            tile: None,
        }
    }

    /// No output may replace the float model or the calibration inputs.
    pub fn protect(&self, outputs: &mut Outputs) {
        outputs.protect(&self.float);
        outputs.protect(&self.calibration);
    }

    /// The float model and the calibration inputs.
    pub fn read(&self) -> Result<(FloatModel, Array2<i64>), CliError> {
        let float = FloatModel::load(&self.float).map_err(CliError::input)?;
        let calibration = read_matrix(&self.calibration, "[samples, input length]")?;
        Ok((float, calibration))
    }
}

/// `--tile` must divide every layer's inputs and `--inner-bits` fit
/// within the layer's accumulator: said here in the flags' terms.
fn check_tiles(
    args: &QuantizeArgs,
    float: &FloatModel,
    widths: &AccumulatorWidths,
) -> Result<(), CliError> {
    let (Some(size), Some(inner_bits)) = (args.tile, args.inner_bits) else {
        return Ok(());
    };
    if !ACCUMULATOR_BITS.contains(&inner_bits) {
        return Err(CliError::input(format!(
            "--inner-bits {inner_bits}: not in {}..={}",
            ACCUMULATOR_BITS.start(),
            ACCUMULATOR_BITS.end()
        )));
    }
    for (index, layer) in float.layers.iter().enumerate() {
        let inputs = layer.in_features();
        if !inputs.is_multiple_of(size) {
            return Err(CliError::input(format!(
                "--tile {size}: does not divide the {inputs} inputs of layer {index} (`{}`) of {}",
                layer.name,
                args.quantizer.float.display()
            )));
        }
        let bits = widths.bits_of(&layer.name);
        if inner_bits > bits {
            return Err(CliError::input(format!(
                "--inner-bits {inner_bits}: wider than the {bits}-bit accumulator (--acc-bits) of layer {index} (`{}`) it feeds",
                layer.name
            )));
        }
    }
    Ok(())
}

/// A tile of at least one input.
fn parse_tile_size(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(size) if size >= 1 => Ok(size),
        _ => Err(format!("`{text}` is not a tile size of at least 1 input")),
    }
}

/// The narrowest integer type holding every calibration input.
pub(super) fn narrowest_input_type(calibration: &Array2<i64>) -> IntType {
    let lo = calibration.iter().copied().min().unwrap_or(0);
    let hi = calibration.iter().copied().max().unwrap_or(0);
    IntType::containing(i128::from(lo), i128::from(hi))
}

/// A width the quantizer fails to prove is a failed verdict; the rest is
/// bad input.
pub(super) fn quantize_error(error: QuantizeError) -> CliError {
    match error {
        QuantizeError::Unproven { .. } => CliError::verdict(error),
        _ => CliError::input(error),
    }
}

/// `1/16`, `0.0625` or `6.25e-2`.
pub(super) fn parse_scale(text: &str) -> Result<f64, String> {
    let value = match text.split_once('/') {
        Some((num, den)) => parse_number(num)? / parse_number(den)?,
        None => parse_number(text)?,
    };
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("`{text}` is not a positive finite scale"))
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// `uint5`, `int8`: the spelling `info` and `check` print.
pub(super) fn parse_int_type(text: &str) -> Result<IntType, String> {
    let (signed, bits) = match text.strip_prefix("uint") {
        Some(bits) => (false, bits),
        None => (true, text.strip_prefix("int").unwrap_or("")),
    };
    match bits.parse::<u32>() {
        Ok(bits) if bits >= 1 => Ok(IntType { bits, signed }),
        _ => Err(format!(
            "`{text}` is not an integer type like uint5 or int8"
        )),
    }
}

/// `fc0=14`.
pub(super) fn parse_layer_bits(text: &str) -> Result<(String, u32), String> {
    let (layer, bits) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not LAYER=P"))?;
    let bits = bits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: `{bits}` is not a width"))?;
    Ok((layer.trim().to_string(), bits))
}

/// The per-layer table, the proof line and where the model went.
pub fn render(quantized: &Quantized, written: &Path) -> String {
    let model = &quantized.model;
    let bounds = analyze(model);
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("layer", Align::Left),
        ("shape", Align::Left),
        ("weights", Align::Left),
        ("input", Align::Left),
        ("P", Align::Right),
        ("min P", Align::Right),
        ("norm", Align::Left),
        ("max / budget", Align::Right),
        ("projected", Align::Right),
        ("toward 0", Align::Right),
        ("repaired", Align::Right),
        ("bias clamped", Align::Right),
        ("zero w", Align::Right),
        ("output step", Align::Right),
    ]);
    // Reports are per accumulating layer; max pools have none.
    let accumulating = bounds
        .layers
        .iter()
        .filter_map(|l| l.dense.as_ref().map(|d| (l.index, d)));
    for (report, (index, dense)) in quantized.layers.iter().zip(accumulating) {
        table.row(report_row(index, report, dense.min_bits));
    }
    format!(
        "model {}: {}\nevery accumulator width is proven (`a2qgen check` re-proves it)\nwrote {}\n\n{table}",
        model.name,
        model.description.as_deref().unwrap_or(""),
        written.display()
    )
}

fn report_row(index: usize, report: &LayerReport, min_bits: u32) -> Vec<String> {
    let channels = report.out_features;
    vec![
        index.to_string(),
        report.name.clone(),
        format!("{} -> {}", report.in_features, report.out_features),
        format!("int{}", report.weight_bits),
        report.input.to_string(),
        report.accumulator_bits.to_string(),
        min_bits.to_string(),
        match report.method {
            QuantizeMethod::A2q => report.constraint.to_string(),
            // AXE bounds the plain L1 norm, zero-centred weights or not.
            method => format!("{} L1", method.label()),
        },
        format!(
            "{} / {}",
            two_decimals(report.max_norm),
            two_decimals(report.norm_budget)
        ),
        format!("{}/{channels}", report.projected_channels),
        format!("{}/{channels}", report.toward_zero_channels),
        format!("{}/{channels}", report.repaired_channels),
        format!("{}/{channels}", report.clamped_biases),
        format!("{:.1}%", 100.0 * report.zero_weight_fraction),
        report
            .output_scale
            .map_or("raw acc".to_string(), |s| format!("{s:.4}")),
    ]
}

/// At most two decimals, no trailing zeros.
fn two_decimals(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_types_and_overrides_parse() {
        assert_eq!(parse_scale("1/16"), Ok(0.0625));
        assert_eq!(parse_scale("0.0625"), Ok(0.0625));
        assert!(parse_scale("0").is_err());
        assert!(parse_scale("1/0").is_err());
        assert_eq!(parse_int_type("uint5"), Ok(IntType::unsigned(5)));
        assert_eq!(parse_int_type("int8"), Ok(IntType::signed(8)));
        assert!(parse_int_type("u5").is_err());
        assert!(parse_int_type("int0").is_err());
        assert_eq!(parse_layer_bits("fc0=14"), Ok(("fc0".into(), 14)));
        assert_eq!(parse_tile_size("16"), Ok(16));
        assert!(parse_tile_size("0").is_err());
        assert!(parse_tile_size("-4").is_err());
        assert!(parse_layer_bits("fc0").is_err());
    }

    #[test]
    fn output_must_be_a_toml_file() {
        assert_eq!(
            output_location(Path::new("out/m.toml")).unwrap(),
            (Path::new("out"), "m")
        );
        assert_eq!(
            output_location(Path::new("m.toml")).unwrap(),
            (Path::new("."), "m")
        );
        assert!(output_location(Path::new("out/m")).is_err());
    }
}
