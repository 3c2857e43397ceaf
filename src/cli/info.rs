//! `a2qgen info`: a per-layer summary of a model.

use super::CliError;
use crate::model::{
    Accumulator, Activation, Dense, Hadamard, LayerKind, Model, WeightsHint, Window, load_model,
};
use crate::table::{Align, Table};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The model description (TOML).
    model: PathBuf,
}

pub fn run(args: &InfoArgs) -> Result<(), CliError> {
    let model = load_model(&args.model)?;
    print!("{}", render(&model));
    Ok(())
}

/// The full `info` report.
pub fn render(model: &Model) -> String {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("layer", Align::Left),
        ("kind", Align::Left),
        ("shape", Align::Left),
        ("weights", Align::Left),
        ("output", Align::Left),
        ("accumulator", Align::Left),
        ("PE x SIMD", Align::Left),
        ("MACs", Align::Right),
        ("params", Align::Right),
        ("zero w", Align::Right),
    ]);
    let (mut macs, mut params, mut weights, mut zeros) = (0usize, 0usize, 0usize, 0usize);
    for (index, layer) in model.layers.iter().enumerate() {
        let length = model.input_length_of(index);
        match &layer.kind {
            LayerKind::Dense(d) => {
                let layer_params = dense_parameters(d);
                let layer_zeros = d.weights.iter().filter(|&&w| w == 0).count();
                macs += d.weights.len();
                params += layer_params;
                weights += d.weights.len();
                zeros += layer_zeros;
                table.row([
                    index.to_string(),
                    layer.name.clone(),
                    "dense".into(),
                    format!("{} -> {}", d.in_features, d.out_features),
                    d.weight_type().to_string(),
                    dense_output(d),
                    accumulator(&d.accumulator),
                    folding(d),
                    d.weights.len().to_string(),
                    layer_params.to_string(),
                    percent(layer_zeros, d.weights.len()),
                ]);
            }
            LayerKind::Conv(c) => {
                let d = &c.dense;
                let pixels = c.window.out_height() * c.window.out_width();
                let layer_params = dense_parameters(d);
                let layer_zeros = d.weights.iter().filter(|&&w| w == 0).count();
                macs += d.weights.len() * pixels;
                params += layer_params;
                weights += d.weights.len();
                zeros += layer_zeros;
                table.row([
                    index.to_string(),
                    layer.name.clone(),
                    "conv".into(),
                    window_shape(&c.window, c.output_map().channels),
                    d.weight_type().to_string(),
                    dense_output(d),
                    accumulator(&d.accumulator),
                    folding(d),
                    (d.weights.len() * pixels).to_string(),
                    layer_params.to_string(),
                    percent(layer_zeros, d.weights.len()),
                ]);
            }
            LayerKind::MaxPool(p) => table.row([
                index.to_string(),
                layer.name.clone(),
                "maxpool".into(),
                window_shape(&p.window, p.window.input.channels),
                "-".into(),
                "input".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "0".into(),
                "-".into(),
            ]),
            LayerKind::Hadamard(h) => table.row([
                index.to_string(),
                layer.name.clone(),
                "hadamard".into(),
                format!("{length} (blocks of {})", h.block),
                "-".into(),
                hadamard_output(h),
                "-".into(),
                "-".into(),
                "-".into(),
                "0".into(),
                "-".into(),
            ]),
        }
    }
    table.row([
        String::new(),
        "total".into(),
        String::new(),
        format!(
            "{} -> {}",
            model.input_length,
            model.output_length(model.layers.len() - 1)
        ),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        macs.to_string(),
        params.to_string(),
        percent(zeros, weights),
    ]);
    let description = model
        .description
        .as_ref()
        .map_or(String::new(), |d| format!("{d}\n"));
    let input = match model.input_shape {
        Some(map) => format!("{map} (HxWxC) = {}", model.input_length),
        None => model.input_length.to_string(),
    };
    format!(
        "model {}: input {input} x {}, {} layers\n{description}\n{table}",
        model.name,
        model.input,
        model.layers.len()
    )
}

/// `HxWxC -> HxWxC (kh x kw, stride sh x sw, pad t,l,b,r)`.
fn window_shape(window: &Window, out_channels: usize) -> String {
    let [kh, kw] = window.kernel;
    let [sh, sw] = window.stride;
    let pad = if window.has_padding() {
        let [t, l, b, r] = window.padding;
        format!(", pad {t},{l},{b},{r}")
    } else {
        String::new()
    };
    format!(
        "{} -> {} ({kh}x{kw}, stride {sh}x{sw}{pad})",
        window.input,
        window.output(out_channels)
    )
}

fn dense_parameters(d: &Dense) -> usize {
    let thresholds = match &d.activation {
        Activation::None => 0,
        Activation::Thresholds { thresholds, .. } => thresholds.len(),
    };
    d.weights.len() + d.bias.as_ref().map_or(0, |b| b.len()) + thresholds
}

fn dense_output(d: &Dense) -> String {
    match &d.activation {
        Activation::None => "accumulator".into(),
        Activation::Thresholds { output, .. } => format!("{output} (thresholds)"),
    }
}

fn hadamard_output(h: &Hadamard) -> String {
    let shift = h.shift.map_or(String::new(), |s| format!(">>{s} "));
    match h.out_bits {
        Some(bits) => format!("{shift}int{bits}"),
        None => format!("{shift}+{} bits", h.stages()),
    }
}

fn accumulator(a: &Accumulator) -> String {
    let mut text = format!("{}b {}", a.bits, a.overflow);
    if let Some(tile) = a.tile {
        text = format!("{}b tiles of {} into {text}", tile.inner_bits, tile.size);
    }
    if a.allow_overflow {
        text.push_str(" (overflow allowed)");
    }
    text
}

fn folding(d: &Dense) -> String {
    let show = |v: Option<usize>| v.map_or("auto".to_string(), |v| v.to_string());
    let mut text = format!(
        "{} x {} {}",
        show(d.hardware.pe),
        show(d.hardware.simd),
        d.hardware.multiplier
    );
    // ROM weights are the default and say nothing; `auto` is decided in
    // the plan (`gen --plan` shows the choice and its estimates).
    if d.hardware.weights != WeightsHint::Rom {
        text.push_str(&format!(" {}", d.hardware.weights));
    }
    text
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}
