//! Shrinking a failing model: smaller variants (fewer layers, smaller
//! layers, PE = SIMD = 1, no tile, no bias, fewer threshold bits, narrower
//! weights and inputs, zero weights, proven-minimum widths) are tried in
//! turn, largest reduction first, and each that still fails in the same
//! stage replaces the model, until none does or the budget is spent.

use super::chain::{ChainOptions, Failure, run_chain};
use crate::bounds::{WidthVerdict, analyze};
use crate::model::{Activation, Dense, IntType, LayerKind, Model, MultiplierStyle, WeightsHint};
use ndarray::{Array2, Axis, s};

/// The smallest failing variant found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub model: Model,
    pub failure: Failure,
    /// Variants run through the chain.
    pub attempts: usize,
    /// Variants that still failed and were kept.
    pub steps: usize,
}

/// Shrinks `model`, which fails with `failure` under stimulus seed `seed`,
/// running each variant in a folder under `options.dir` up to the failing
/// stage, at most `budget` times.
pub fn shrink(
    model: &Model,
    seed: u64,
    failure: &Failure,
    options: &ChainOptions,
    budget: usize,
) -> Shrunk {
    let mut best = Shrunk {
        model: model.clone(),
        failure: failure.clone(),
        attempts: 0,
        steps: 0,
    };
    'search: loop {
        for candidate in variants(&best.model) {
            if best.attempts >= budget {
                break 'search;
            }
            best.attempts += 1;
            let dir = options.dir.join(format!("variant{}", best.attempts));
            let variant_options = ChainOptions {
                dir: dir.clone(),
                last: failure.stage,
                ..options.clone()
            };
            let result = run_chain(&candidate, seed, &variant_options);
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(f) = result
                && f.stage == failure.stage
                && signature(&f.message) == signature(&failure.message)
            {
                best.model = candidate;
                best.failure = f;
                best.steps += 1;
                continue 'search;
            }
        }
        break;
    }
    best
}

/// What stays of a failure message when names, paths and numbers go: two
/// failures of one stage with the same signature are taken for one bug.
pub fn signature(message: &str) -> String {
    message
        .split_whitespace()
        .filter(|w| !w.contains('/') && !w.contains('`'))
        .map(|w| {
            w.chars()
                .filter(|c| !c.is_ascii_digit())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A measure of size: what the variants make smaller.
pub fn size(model: &Model) -> usize {
    model
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| match &l.kind {
            LayerKind::Dense(d) => d.in_features * d.out_features + 1,
            LayerKind::Conv(c) => c.dense.weights.len() + 1,
            LayerKind::Hadamard(_) | LayerKind::MaxPool(_) => model.input_length_of(i) + 1,
        })
        .sum()
}

/// Valid smaller variants of `model`, largest reduction first.
pub fn variants(model: &Model) -> Vec<Model> {
    let mut out = Vec::new();
    let n = model.layers.len();
    for index in (0..n).rev() {
        out.extend(without_layer(model, index));
    }
    for index in 0..n {
        if let Some(d) = model.layers[index].as_dense() {
            for size in [1, d.out_features / 2, d.out_features - 1] {
                if size >= 1 && size < d.out_features {
                    out.extend(resize_outputs(model, index, size));
                }
            }
        }
    }
    for size in [
        1,
        model.input_length / 2,
        model.input_length.saturating_sub(1),
    ] {
        if size >= 1 && size < model.input_length {
            out.extend(resize_input(model, size));
        }
    }
    for index in 0..n {
        for edit in DENSE_EDITS {
            let mut m = model.clone();
            if let LayerKind::Dense(d) = &mut m.layers[index].kind
                && edit(d)
            {
                out.extend(repair(m));
            }
        }
        if let LayerKind::Hadamard(h) = model.layers[index].kind {
            for (shift, out_bits) in [(None, h.out_bits), (h.shift, None)] {
                if (shift, out_bits) != (h.shift, h.out_bits) {
                    let mut m = model.clone();
                    if let LayerKind::Hadamard(h) = &mut m.layers[index].kind {
                        h.shift = shift;
                        h.out_bits = out_bits;
                    }
                    out.extend(repair(m));
                }
            }
        }
    }
    if model.input.bits > 1 {
        let mut m = model.clone();
        m.input.bits -= 1;
        out.extend(repair(m));
    }
    if model.input_scale.is_some() || model.output_scale.is_some() {
        out.push(Model {
            input_scale: None,
            output_scale: None,
            ..model.clone()
        });
    }
    for variant in &mut out {
        fit_output_scale(variant);
    }
    out.retain_mut(fit_input_shape);
    out.retain(|v| v != model);
    out
}

/// A variant whose input length changed drops its input map when no window
/// layer reads one; one whose window layers read a map of another length
/// is no model.
fn fit_input_shape(model: &mut Model) -> bool {
    match model.input_shape {
        Some(map) if map.len() != model.input_length => {
            if model.has_windows() {
                return false;
            }
            model.input_shape = None;
            true
        }
        _ => true,
    }
}

/// A variant whose output length changed keeps one output step per element:
/// the first ones, the last repeated for new elements.
fn fit_output_scale(model: &mut Model) {
    let length = model.output_length(model.layers.len() - 1);
    if let Some(scale) = &mut model.output_scale {
        let last = *scale.last().expect("one step per output element");
        scale.resize(length, last);
    }
}

type DenseEdit = fn(&mut Dense) -> bool;

/// Edits of one dense layer; each says whether it changed anything.
const DENSE_EDITS: [DenseEdit; 10] = [
    |d| {
        let changed = d.hardware.pe != Some(1) || d.hardware.simd != Some(1);
        d.hardware.pe = Some(1);
        d.hardware.simd = Some(1);
        changed
    },
    |d| {
        let changed = d.hardware.weights != WeightsHint::Rom;
        d.hardware.weights = WeightsHint::Rom;
        changed
    },
    |d| d.accumulator.tile.take().is_some(),
    |d| d.bias.take().is_some(),
    |d| {
        let changed = d.weights.iter().any(|&w| w != 0);
        d.weights.fill(0);
        changed
    },
    |d| {
        let nonzero: Vec<usize> = (0..d.weights.len())
            .filter(|&k| d.weights.as_slice().is_some_and(|w| w[k] != 0))
            .collect();
        let half = &nonzero[nonzero.len() / 2..];
        if let Some(w) = d.weights.as_slice_mut() {
            half.iter().for_each(|&k| w[k] = 0);
        }
        !half.is_empty() && nonzero.len() > 1
    },
    |d| {
        if d.weight_bits == 1 {
            return false;
        }
        d.weight_bits -= 1;
        let t = IntType::signed(d.weight_bits);
        d.weights
            .mapv_inplace(|w| (w as i128).clamp(t.min(), t.max()) as i64);
        true
    },
    |d| {
        let changed = d.hardware.multiplier != MultiplierStyle::Lut;
        d.hardware.multiplier = MultiplierStyle::Lut;
        changed
    },
    |d| {
        let Activation::Thresholds { output, thresholds } = &mut d.activation else {
            return false;
        };
        if output.bits == 1 {
            return false;
        }
        output.bits -= 1;
        *thresholds = thresholds.slice(s![.., 1..;2]).to_owned();
        true
    },
    |d| {
        // Proven widths go to their minimum: `repair` raises them back.
        let changed = !d.accumulator.allow_overflow && d.accumulator.bits > 2;
        if changed {
            d.accumulator.bits = 2;
            if let Some(t) = d.accumulator.tile.as_mut() {
                t.inner_bits = 2;
            }
        }
        changed
    },
];

/// The model without layer `index`, where the layers around it still chain.
fn without_layer(model: &Model, index: usize) -> Option<Model> {
    if model.layers.len() < 2 {
        return None;
    }
    let mut m = model.clone();
    let removed = m.layers.remove(index);
    let (in_len, out_len) = (model.input_length_of(index), model.output_length(index));
    if index == 0 && in_len != out_len {
        // The next layer reads what the removed one wrote: its type becomes
        // the model's input type.
        let output = analyze(model).layers[0].output_type();
        if output.bits > 32 {
            return None;
        }
        m.input = output;
        m.input_length = out_len;
        m.input_shape = model.output_map(0);
    } else if in_len != out_len {
        return None;
    }
    drop(removed);
    repair(m)
}

/// Dense layer `index` with only its first `size` output channels.
fn resize_outputs(model: &Model, index: usize, size: usize) -> Option<Model> {
    let mut m = model.clone();
    let LayerKind::Dense(d) = &mut m.layers[index].kind else {
        return None;
    };
    keep_rows(d, size);
    reconnect(&mut m, index + 1, size)?;
    repair(m)
}

/// The model with only the first `size` input elements.
fn resize_input(model: &Model, size: usize) -> Option<Model> {
    let mut m = model.clone();
    m.input_length = size;
    reconnect(&mut m, 0, size)?;
    repair(m)
}

/// Layers from `index` on read vectors of `size` elements now: a dense
/// layer keeps its first `size` columns; a Hadamard layer needs its block
/// to divide `size` and passes it on.
fn reconnect(m: &mut Model, index: usize, size: usize) -> Option<()> {
    match m.layers.get_mut(index).map(|l| &mut l.kind) {
        None => Some(()),
        Some(LayerKind::Dense(d)) => {
            keep_columns(d, size);
            Some(())
        }
        Some(LayerKind::Hadamard(h)) => {
            if !size.is_multiple_of(h.block) {
                return None;
            }
            reconnect(m, index + 1, size)
        }
        // A window layer reads a map, which a shorter vector is not.
        Some(LayerKind::Conv(_) | LayerKind::MaxPool(_)) => None,
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn keep_rows(d: &mut Dense, size: usize) {
    d.out_features = size;
    d.weights = d.weights.slice(s![..size, ..]).to_owned();
    if let Some(b) = d.bias.as_mut() {
        *b = b.slice(s![..size]).to_owned();
    }
    if let Activation::Thresholds { thresholds, .. } = &mut d.activation {
        *thresholds = thresholds.slice(s![..size, ..]).to_owned();
    }
    d.hardware.pe = d.hardware.pe.map(|p| gcd(p, size));
}

fn keep_columns(d: &mut Dense, size: usize) {
    d.in_features = size;
    let w: Array2<i64> = d.weights.slice(s![.., ..size]).to_owned();
    d.weights = w;
    let simd = d.hardware.simd.map(|s| gcd(s, size));
    d.hardware.simd = simd;
    if let Some(t) = d.accumulator.tile
        && (!size.is_multiple_of(t.size) || !t.size.is_multiple_of(simd.unwrap_or(1)))
    {
        d.accumulator.tile = None;
    }
    debug_assert_eq!(d.weights.len_of(Axis(1)), size);
}

/// Raises every width that is no longer proven (and does not allow
/// overflow) to its minimum and clamps biases into their accumulators;
/// `None` when a width would need more than 64 bits.
fn repair(mut m: Model) -> Option<Model> {
    for _ in 0..=m.layers.len() {
        let bounds = analyze(&m);
        let Some(layer) = bounds.refused().next() else {
            return Some(m);
        };
        let proof = layer.dense.as_ref().expect("refused layers are dense");
        let index = layer.index;
        let LayerKind::Dense(d) = &mut m.layers[index].kind else {
            return None;
        };
        if proof.min_bits > 64 {
            return None;
        }
        d.accumulator.bits = d.accumulator.bits.max(proof.min_bits);
        if let (Some(t), Some(inner)) = (d.accumulator.tile.as_mut(), proof.inner.as_ref()) {
            if inner.min_bits > 64 {
                return None;
            }
            t.inner_bits = t.inner_bits.max(inner.min_bits);
        }
        debug_assert_ne!(
            analyze(&m).layers[index]
                .dense
                .as_ref()
                .map(|d| d.verdict()),
            Some(WidthVerdict::TooNarrow)
        );
    }
    let acc_fits = m.dense_layers().all(|(_, _, d)| {
        let a = IntType::signed(d.accumulator.bits);
        d.bias
            .as_ref()
            .is_none_or(|b| b.iter().all(|&v| a.contains(v.into())))
    });
    (acc_fits && analyze(&m).refused().next().is_none()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::model_gen::{GenConfig, draw_model};

    #[test]
    fn signatures_drop_names_paths_and_numbers() {
        assert_eq!(
            signature("`fc3`: dot products of 76 bits exceed the simulator's 64"),
            signature("`fc0`: dot products of 65 bits exceed the simulator's 64"),
        );
        assert_ne!(
            signature("%Error: /a/b.v:1:2: Too many preprocessor tokens"),
            signature("%Error: /a/c.v:3:4: Illegal bit or array select"),
        );
    }

    #[test]
    fn variants_are_valid_and_smaller_or_simpler() {
        let config = GenConfig::default();
        let dir = tempfile::tempdir().unwrap();
        for seed in 0..40 {
            let model = draw_model(&config, seed);
            for (k, v) in variants(&model).into_iter().enumerate() {
                assert!(size(&v) <= size(&model), "seed {seed} variant {k}");
                assert_ne!(v, model, "seed {seed} variant {k} changes nothing");
                crate::model::write_model(&v, dir.path(), "v")
                    .unwrap_or_else(|e| panic!("seed {seed} variant {k}: {e}"));
                assert!(analyze(&v).refused().next().is_none());
            }
        }
    }
}
