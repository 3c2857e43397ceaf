//! Bounds of the sliding-window layers. A convolution is its dense layer
//! applied to every window: each window is a vector of input ranges (a
//! padded position is fixed at zero), and a channel's exact range is the
//! union over the distinct windows of the dense range. Max pooling maps
//! ranges exactly: the maximum of a window's elements lies between the
//! largest low end and the largest high end.

use super::dense::{ChannelBound, TileBound, accumulator_bits, channel_bounds, dot_range};
use super::range::ValueRange;
use crate::model::{Conv, IntType, MaxPool, Window};
use std::collections::HashMap;

/// The distinct windows of a layer over per-element `inputs` ranges: each
/// window's ranges in tap order and the output pixels `(oy, ox)` that see it.
pub struct DistinctWindows {
    pub windows: Vec<Vec<ValueRange>>,
    /// For every output pixel (row-major), the index of its window.
    pub of_pixel: Vec<usize>,
    /// For every window, the first output pixel that sees it.
    pub first_pixel: Vec<(usize, usize)>,
}

/// Groups the output pixels of `window` by the ranges their window reads
/// (inputs widened to contain 0, padding at exactly 0). Maps whose ranges
/// depend on the channel only have one window per padding pattern.
pub fn distinct_windows(window: &Window, inputs: &[ValueRange]) -> DistinctWindows {
    let ranges_at = |oy: usize, ox: usize| -> Vec<ValueRange> {
        window
            .taps_at(oy, ox)
            .map(|tap| tap.map_or(ValueRange::ZERO, |i| inputs[i].with_zero()))
            .collect()
    };
    let channels = window.input.channels;
    let per_channel = inputs
        .chunks_exact(channels)
        .all(|pixel| pixel == &inputs[..channels]);
    if per_channel {
        // Equal windows exactly when their padding patterns are equal: the
        // key is the span of kernel rows and columns inside the map.
        group_pixels(window, |oy, ox| inside_span(window, oy, ox), ranges_at)
    } else {
        group_pixels(window, ranges_at, ranges_at)
    }
}

/// The kernel rows and columns of the window at `(oy, ox)` that fall
/// inside the map (the others are padding).
fn inside_span(window: &Window, oy: usize, ox: usize) -> [usize; 4] {
    let inside = |o: usize, axis: usize, k: usize| window.pixel_axis(o, k, axis).is_some();
    let [kh, kw] = window.kernel;
    let first_row = (0..kh).find(|&k| inside(oy, 0, k)).unwrap_or(kh);
    let last_row = (0..kh).rev().find(|&k| inside(oy, 0, k)).unwrap_or(0);
    let first_col = (0..kw).find(|&k| inside(ox, 1, k)).unwrap_or(kw);
    let last_col = (0..kw).rev().find(|&k| inside(ox, 1, k)).unwrap_or(0);
    [first_row, last_row, first_col, last_col]
}

/// Output pixels grouped by `key`, each group's window ranges made once.
fn group_pixels<K: std::hash::Hash + Eq>(
    window: &Window,
    key: impl Fn(usize, usize) -> K,
    ranges_at: impl Fn(usize, usize) -> Vec<ValueRange>,
) -> DistinctWindows {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut distinct = DistinctWindows {
        windows: Vec::new(),
        of_pixel: Vec::with_capacity(window.out_height() * window.out_width()),
        first_pixel: Vec::new(),
    };
    for oy in 0..window.out_height() {
        for ox in 0..window.out_width() {
            let next = distinct.windows.len();
            let id = *index.entry(key(oy, ox)).or_insert(next);
            if id == next {
                distinct.windows.push(ranges_at(oy, ox));
                distinct.first_pixel.push((oy, ox));
            }
            distinct.of_pixel.push(id);
        }
    }
    distinct
}

/// Per channel: the union over `windows` of the dense channel bounds (norms
/// are the weights' and the same in every window), and per window the
/// channel ranges.
pub fn conv_channel_bounds(
    conv: &Conv,
    windows: &DistinctWindows,
    input_type: IntType,
) -> (Vec<ChannelBound>, Vec<Vec<ValueRange>>) {
    let mut merged: Option<Vec<ChannelBound>> = None;
    let mut per_window = Vec::with_capacity(windows.windows.len());
    for ranges in &windows.windows {
        let channels = channel_bounds(&conv.dense, ranges, input_type);
        per_window.push(channels.iter().map(ChannelBound::range).collect());
        merged = Some(match merged {
            None => channels,
            Some(mut merged) => {
                for (m, c) in merged.iter_mut().zip(&channels) {
                    union_into(m, c);
                }
                merged
            }
        });
    }
    (merged.expect("a map has at least one window"), per_window)
}

fn union_into(merged: &mut ChannelBound, other: &ChannelBound) {
    merged.lo = merged.lo.min(other.lo);
    merged.hi = merged.hi.max(other.hi);
    merged.min_bits = accumulator_bits(merged.range());
    for (m, t) in merged.tiles.iter_mut().zip(&other.tiles) {
        *m = TileBound {
            tile: m.tile,
            lo: m.lo.min(t.lo),
            hi: m.hi.max(t.hi),
            min_bits: accumulator_bits(ValueRange::new(m.lo.min(t.lo), m.hi.max(t.hi))),
        };
    }
}

/// The window (by index) where `channel`'s sum over the taps `span` reaches
/// `value` at one end of its range (`toward_hi`), with the bias when `bias`.
pub fn window_reaching(
    conv: &Conv,
    windows: &DistinctWindows,
    channel: usize,
    span: std::ops::Range<usize>,
    bias: i64,
    toward_hi: bool,
) -> usize {
    let row = conv.dense.weights.row(channel);
    let row = row.slice(ndarray::s![span.clone()]);
    let end = |ranges: &Vec<ValueRange>| {
        let r = dot_range(row, bias, &ranges[span.clone()]);
        if toward_hi { r.hi } else { -r.lo }
    };
    (0..windows.windows.len())
        .max_by_key(|&w| (end(&windows.windows[w]), std::cmp::Reverse(w)))
        .expect("a map has at least one window")
}

/// Exact output ranges of a max pool: element `(oy, ox, c)` is the largest
/// of its window's elements, so it lies in `[max lo, max hi]`.
pub fn maxpool_output_ranges(pool: &MaxPool, inputs: &[ValueRange]) -> Vec<ValueRange> {
    let window = &pool.window;
    let channels = window.input.channels;
    let mut outputs = Vec::with_capacity(pool.output_map().len());
    for oy in 0..window.out_height() {
        for ox in 0..window.out_width() {
            let mut pixel: Vec<Option<ValueRange>> = vec![None; channels];
            for (tap, input) in window.taps_at(oy, ox).enumerate() {
                let element = input.expect("pooling windows have no padding");
                let slot = &mut pixel[tap % channels];
                let r = inputs[element];
                *slot = Some(match *slot {
                    None => r,
                    Some(s) => ValueRange::new(s.lo.max(r.lo), s.hi.max(r.hi)),
                });
            }
            outputs.extend(pixel.into_iter().map(|r| r.expect("kernels are not empty")));
        }
    }
    outputs
}
