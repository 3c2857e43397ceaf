//! `a2qgen check`: prove every accumulator width, or show the input that
//! overflows it.

use super::CliError;
use crate::bounds::{
    Counterexample, DenseBounds, LayerBounds, ModelBounds, NormSummary, Stage, WidthVerdict,
    analyze, layer_counterexample,
};
use crate::model::{LayerKind, Model, load_model, stage_model};
use crate::npyio;
use crate::output::{Outputs, Slot};
use crate::table::{Align, Table};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The model description (TOML).
    model: PathBuf,
    /// Write the full per-channel certificate as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write, per layer whose width is too small, the overflowing input
    /// vector as `<layer>.npy`.
    #[arg(long, value_name = "DIR")]
    counterexample: Option<PathBuf>,
    /// Write a copy of the model with every accumulator (and tile) at its
    /// minimum proven width; its arrays go beside it in `<stem>/`.
    #[arg(long, value_name = "OUT.toml")]
    tighten: Option<PathBuf>,
}

/// The JSON certificate: bounds of every layer with its verdict.
#[derive(Serialize)]
struct Certificate<'a> {
    model: &'a str,
    all_proven: bool,
    layers: Vec<LayerCertificate<'a>>,
}

#[derive(Serialize)]
struct LayerCertificate<'a> {
    verdict: Option<WidthVerdict>,
    counterexample: Option<Counterexample>,
    #[serde(flatten)]
    bounds: &'a LayerBounds,
}

/// The outputs `check` was asked for, claimed before anything is computed.
struct CheckOutputs {
    outputs: Outputs,
    json: Option<Slot>,
    counterexample: Option<Slot>,
    tighten: Option<Slot>,
}

fn claim_outputs(args: &CheckArgs) -> Result<CheckOutputs, CliError> {
    let mut outputs = Outputs::new();
    outputs.protect_model(&args.model);
    let json = outputs.optional_file("--json", args.json.as_deref())?;
    let counterexample =
        outputs.optional_dir("--counterexample", args.counterexample.as_deref())?;
    let tighten = args
        .tighten
        .as_deref()
        .map(|path| outputs.model("--tighten", path))
        .transpose()?;
    Ok(CheckOutputs {
        outputs,
        json,
        counterexample,
        tighten,
    })
}

/// Every output is staged; they are committed together, also when the
/// verdict fails (exit 1): the certificate, the counterexamples and the
/// tightened model are what that verdict documents.
pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let claimed = claim_outputs(args)?;
    let model = load_model(&args.model)?;
    let bounds = analyze(&model);
    let failures = overflowing_layers(&model, &bounds);
    let outputs = &claimed.outputs;
    if let Some(slot) = claimed.json {
        write_certificate(&outputs.path(slot), &bounds, &failures)?;
    }
    if let Some(slot) = claimed.counterexample {
        write_counterexamples(&outputs.path(slot), &failures)?;
    }
    if let Some(slot) = claimed.tighten {
        let (dir, stem) = outputs.model_location(slot);
        stage_model(&tightened(&model, &bounds), &dir, &stem).map_err(|e| {
            CliError::input(format!("--tighten {}: {e}", outputs.target(slot).display()))
        })?;
    }
    print!("{}", render(&model, &bounds));
    for (layer, cx) in &failures {
        let verdict = layer.dense.as_ref().map(DenseBounds::verdict);
        let prefix = if verdict == Some(WidthVerdict::OverflowAllowed) {
            "warning"
        } else {
            "error"
        };
        eprintln!("{prefix}: {}", describe_overflow(layer, cx));
    }
    let tightened_to = claimed
        .tighten
        .map(|slot| outputs.target(slot).to_path_buf());
    claimed.outputs.commit()?;
    if let Some(path) = tightened_to {
        eprintln!(
            "wrote {} with every accumulator at its minimum proven width",
            path.display()
        );
    }
    let refused = bounds.refused().count();
    if refused > 0 {
        return Err(CliError::verdict(format!(
            "{refused} layer(s) of `{}` can overflow; widen the accumulators, or set allow_overflow = true to accept it",
            model.name
        )));
    }
    Ok(())
}

/// Layers with a width below the proven minimum, with their counterexample.
fn overflowing_layers<'b>(
    model: &Model,
    bounds: &'b ModelBounds,
) -> Vec<(&'b LayerBounds, Counterexample)> {
    model
        .layers
        .iter()
        .zip(&bounds.layers)
        .filter_map(|(layer, b)| Some((b, layer_counterexample(layer, b)?)))
        .collect()
}

fn describe_overflow(layer: &LayerBounds, cx: &Counterexample) -> String {
    let stage = match cx.stage {
        Stage::Accumulator => "accumulator".to_string(),
        Stage::Tile(t) => format!("tile {t} inner accumulator"),
    };
    let allowed = match layer.dense.as_ref().map(DenseBounds::verdict) {
        Some(WidthVerdict::OverflowAllowed) => " (accepted: allow_overflow = true)",
        _ => "",
    };
    format!(
        "layer {} (`{}`): channel {}: {stage} range [{}, {}] needs {} bits, declared {}{allowed}\n  overflowing input {} reaches {}",
        layer.index,
        layer.name,
        cx.channel,
        cx.range.lo,
        cx.range.hi,
        cx.needed_bits,
        cx.declared_bits,
        abbreviate(&cx.input),
        cx.reached
    )
}

/// A vector for a one-line message: in full when short.
fn abbreviate(values: &[i64]) -> String {
    const SHOWN: usize = 16;
    let head: Vec<String> = values.iter().take(SHOWN).map(i64::to_string).collect();
    if values.len() > SHOWN {
        format!("[{}, ... ({} elements)]", head.join(", "), values.len())
    } else {
        format!("[{}]", head.join(", "))
    }
}

fn write_certificate(
    path: &Path,
    bounds: &ModelBounds,
    failures: &[(&LayerBounds, Counterexample)],
) -> Result<(), CliError> {
    let certificate = Certificate {
        model: &bounds.model,
        all_proven: bounds.all_proven(),
        layers: bounds
            .layers
            .iter()
            .map(|layer| LayerCertificate {
                verdict: layer.dense.as_ref().map(DenseBounds::verdict),
                counterexample: failures
                    .iter()
                    .find(|(l, _)| l.index == layer.index)
                    .map(|(_, cx)| cx.clone()),
                bounds: layer,
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&certificate).expect("certificates serialize");
    std::fs::write(path, text)
        .map_err(|e| CliError::input(format!("--json: cannot stage the certificate: {e}")))
}

fn write_counterexamples(
    dir: &Path,
    failures: &[(&LayerBounds, Counterexample)],
) -> Result<(), CliError> {
    for (layer, cx) in failures {
        let path = dir.join(format!("{}.npy", layer.name));
        npyio::write_int_array(&path, &ndarray::Array1::from(cx.input.clone())).map_err(|e| {
            CliError::input(format!(
                "--counterexample: cannot stage `{}.npy`: {e}",
                layer.name
            ))
        })?;
    }
    Ok(())
}

/// The model with every accumulator width set to its proven minimum.
pub fn tightened(model: &Model, bounds: &ModelBounds) -> Model {
    let mut tight = model.clone();
    for (layer, b) in tight.layers.iter_mut().zip(&bounds.layers) {
        let (Some(dense), Some(proof)) = (layer.accumulating_mut(), &b.dense) else {
            continue;
        };
        dense.accumulator.bits = proof.min_bits;
        if let (Some(tile), Some(inner)) = (dense.accumulator.tile.as_mut(), &proof.inner) {
            tile.inner_bits = inner.min_bits;
        }
    }
    tight
}

/// The per-layer table and the verdict line.
pub fn render(model: &Model, bounds: &ModelBounds) -> String {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("layer", Align::Left),
        ("input", Align::Left),
        ("declared", Align::Right),
        ("min", Align::Right),
        ("slack", Align::Right),
        ("worst ch", Align::Right),
        ("range", Align::Left),
        ("A2Q L1", Align::Left),
        ("A2Q+ centred L1", Align::Left),
        ("dtype bound", Align::Right),
        ("verdict", Align::Left),
    ]);
    for layer in &bounds.layers {
        let Some(dense) = &layer.dense else { continue };
        table.row(outer_row(layer, dense));
        if let Some(row) = inner_row(layer, dense) {
            table.row(row);
        }
    }
    let accumulating = model.accumulating_layers().count();
    let kinds = if model
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Conv(_)))
    {
        "dense and conv"
    } else {
        "dense"
    };
    let summary = if bounds.all_proven() {
        format!("every accumulator width of its {accumulating} {kinds} layer(s) is proven")
    } else {
        let refused = bounds.refused().count();
        format!("{refused} of {accumulating} {kinds} layer(s) can overflow and are refused")
    };
    format!("model {}: {summary}\n\n{table}", model.name)
}

fn outer_row(layer: &LayerBounds, dense: &DenseBounds) -> Vec<String> {
    vec![
        layer.index.to_string(),
        layer.name.clone(),
        dense.input_type.to_string(),
        dense.declared_bits.to_string(),
        dense.min_bits.to_string(),
        (i64::from(dense.declared_bits) - i64::from(dense.min_bits)).to_string(),
        dense.worst_channel.to_string(),
        format!("[{}, {}]", dense.range.lo, dense.range.hi),
        norm_cell(&dense.a2q, dense.channels.len()),
        norm_cell(&dense.a2q_plus, dense.channels.len()),
        dense.data_type_bits.to_string(),
        verdict_cell(dense.verdict(), dense.outer_proven()),
    ]
}

fn inner_row(layer: &LayerBounds, dense: &DenseBounds) -> Option<Vec<String>> {
    let inner = dense.inner.as_ref()?;
    let tile = &dense.channels[inner.worst_channel].tiles[inner.worst_tile];
    Some(vec![
        String::new(),
        format!("{} tiles of {}", layer.name, inner.tile_size),
        dense.input_type.to_string(),
        inner.declared_bits.to_string(),
        inner.min_bits.to_string(),
        (i64::from(inner.declared_bits) - i64::from(inner.min_bits)).to_string(),
        format!("{} (tile {})", inner.worst_channel, inner.worst_tile),
        format!("[{}, {}]", tile.lo, tile.hi),
        String::new(),
        String::new(),
        String::new(),
        verdict_cell(dense.verdict(), inner.declared_bits >= inner.min_bits),
    ])
}

fn norm_cell(norm: &NormSummary, channels: usize) -> String {
    if norm.pass() {
        format!("pass ({} <= {})", short(norm.worst_norm), short(norm.limit))
    } else {
        format!(
            "fail {}/{channels} ch ({} > {})",
            norm.failing_channels,
            short(norm.worst_norm),
            short(norm.limit)
        )
    }
}

fn verdict_cell(verdict: WidthVerdict, this_width_proven: bool) -> String {
    match (this_width_proven, verdict) {
        (true, _) => "proven".into(),
        (false, WidthVerdict::OverflowAllowed) => "OVERFLOW (allowed)".into(),
        (false, _) => "OVERFLOW".into(),
    }
}

/// A norm with at most two decimals and no trailing zeros.
fn short(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
