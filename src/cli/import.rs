//! `a2qgen import`: a QONNX graph (Brevitas's export) to the integer model,
//! with each layer's proven accumulator width and what float32 rounding
//! decides in its activations.

use super::CliError;
use super::quantize::{output_location, parse_layer_bits};
use crate::import::{ImportError, ImportOptions, Imported, import};
use crate::model::stage_model;
use crate::output::Outputs;
use crate::table::{Align, Table};
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The QONNX model (`.onnx`; tensors may be in an external data file
    /// beside it).
    model: PathBuf,
    /// The model to write (TOML; arrays in a folder beside it named after it).
    #[arg(short, long, value_name = "OUT.toml")]
    output: PathBuf,
    /// Every layer's accumulator width, proven as `check` does (exit 1 when
    /// the exported integers need more) [default: each layer's proven minimum].
    #[arg(long, value_name = "P")]
    acc_bits: Option<u32>,
    /// Widths for some layers (fc0, fc1, ... in graph order), over --acc-bits.
    #[arg(long, value_name = "LAYER=P,...", value_delimiter = ',', value_parser = parse_layer_bits)]
    acc_bits_per_layer: Vec<(String, u32)>,
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
    name: Option<String>,
}

/// Accumulator values whose output float32 rounding decides, listed per layer.
const AMBIGUOUS_SHOWN: usize = 5;

pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let (_, stem) = output_location(&args.output)?;
    if args.max_pe == 0 || args.max_simd == 0 {
        return Err(CliError::input(
            "--max-pe and --max-simd must be at least 1",
        ));
    }
    let mut outputs = Outputs::new();
    outputs.protect(&args.model);
    outputs.protect(&data_file(&args.model));
    let slot = outputs.model("-o", &args.output)?;
    let options = ImportOptions {
        name: args.name.clone().unwrap_or_else(|| stem.to_string()),
        acc_bits: args.acc_bits,
        acc_bits_per_layer: args.acc_bits_per_layer.clone(),
        max_pe: args.max_pe,
        max_simd: args.max_simd,
    };
    let imported = import(&args.model, &options).map_err(|e| match e {
        ImportError::Input(m) => CliError::input(m),
        ImportError::Unproven(m) => CliError::verdict(format!(
            "{m}\nerror: the export's integers overflow the declared width; widen it (--acc-bits) or re-train for it"
        )),
    })?;
    let (staging, stem) = outputs.model_location(slot);
    stage_model(&imported.model, &staging, &stem)
        .map_err(|e| CliError::input(format!("-o {}: {e}", args.output.display())))?;
    outputs.commit()?;
    print!("{}", render(&imported, &args.model, &args.output));
    Ok(())
}

/// `MODEL.onnx.data`, where the dynamo exporter puts the tensors.
fn data_file(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".data");
    PathBuf::from(name)
}

/// The per-layer table, the float32 decisions and where the model went.
fn render(imported: &Imported, source: &Path, written: &Path) -> String {
    let model = &imported.model;
    let mut text = format!(
        "imported {} -> {}: input {} x {} at scale {}, {} dense layer(s)\n\n",
        source.display(),
        written.display(),
        model.input_length,
        model.input,
        model.input_scale.unwrap_or(1.0),
        model.layers.len()
    );
    let mut table = Table::new(&[
        ("layer", Align::Left),
        ("graph nodes", Align::Left),
        ("shape", Align::Left),
        ("weights", Align::Left),
        ("output", Align::Left),
        ("bias", Align::Left),
        ("range", Align::Left),
        ("min", Align::Right),
        ("declared", Align::Right),
        ("float32 decides", Align::Right),
    ]);
    for (report, (_, _, dense)) in imported.layers.iter().zip(model.dense_layers()) {
        let output = match &dense.activation {
            crate::model::Activation::Thresholds { output, .. } => format!("{output} (thresholds)"),
            crate::model::Activation::None => "accumulator".to_string(),
        };
        let bias = match (report.integer_bias, report.folded_bias) {
            (0, 0) => "none".to_string(),
            (n, 0) => format!("integer ({n} ch)"),
            (0, m) => format!("in thresholds ({m} ch)"),
            (n, m) => format!("integer {n} ch, in thresholds {m} ch"),
        };
        table.row(vec![
            report.name.clone(),
            report.nodes.join(", "),
            format!("{} -> {}", dense.in_features, dense.out_features),
            dense.weight_type().to_string(),
            output,
            bias,
            format!("[{}, {}]", report.range.lo, report.range.hi),
            report.min_bits.to_string(),
            report.declared_bits.to_string(),
            report.ambiguous.len().to_string(),
        ]);
    }
    let _ = write!(text, "{table}");
    for report in &imported.layers {
        if report.ambiguous.is_empty() {
            continue;
        }
        let _ = writeln!(
            text,
            "\n{}: {} accumulator value(s) where float32 rounding decides the output; the thresholds take the graph's side:",
            report.name,
            report.ambiguous.len()
        );
        for (channel, a) in report.ambiguous.iter().take(AMBIGUOUS_SHOWN) {
            let why = if a.tie {
                "a tie in float32"
            } else {
                "float32 rounding"
            };
            let _ = writeln!(
                text,
                "  channel {channel}, accumulator {}: {why} (quotient {}) gives level {}, exact arithmetic {}",
                a.accumulator, a.float32_quotient, a.graph_level, a.exact_level
            );
        }
        if report.ambiguous.len() > AMBIGUOUS_SHOWN {
            let _ = writeln!(
                text,
                "  ... and {} more",
                report.ambiguous.len() - AMBIGUOUS_SHOWN
            );
        }
    }
    let _ = writeln!(
        text,
        "\nevery threshold verified against the graph's float32 arithmetic on every accumulator value of its proven range; widths proven as `check` proves them"
    );
    text
}
