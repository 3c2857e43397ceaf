//! Float CNNs: `architecture.toml` (the input map and the layers in
//! order: conv, maxpool, dense), their weights, and their forward pass. A
//! convolution is quantized as the dense layer over its windows, so the
//! forward pass hands each one its windows as rows.

use super::QuantizeError;
use super::float::{FloatDense, FloatModel, FloatWindows, LayerValues, read_finite};
use crate::model::{MAX_VECTOR_LENGTH, MapShape, MaxPool, Window};
use ndarray::{Array2, ArrayView2, Ix2, Ix4};
use serde::Deserialize;
use std::path::Path;

/// The file in a float model's folder that makes it a CNN.
pub const ARCHITECTURE_FILE: &str = "architecture.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Architecture {
    input_shape: [usize; 3],
    layers: Vec<ArchitectureLayer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchitectureLayer {
    name: String,
    kind: String,
    #[serde(default)]
    kernel: Option<[usize; 2]>,
    #[serde(default)]
    stride: Option<[usize; 2]>,
    #[serde(default)]
    padding: Option<[usize; 4]>,
}

/// Reads a float CNN: `architecture.toml` and `<name>_weight.npy` (`[out,
/// kh, kw, in]` for a convolution, `[out, in]` for a dense layer) with the
/// optional `<name>_bias.npy` of each accumulating layer.
pub fn load_windowed(dir: &Path, path: &Path) -> Result<FloatModel, QuantizeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| QuantizeError::Settings(format!("{}: {e}", path.display())))?;
    let architecture: Architecture = toml::from_str(&text)
        .map_err(|e| QuantizeError::Settings(format!("{}: {e}", path.display())))?;
    let [height, width, channels] = architecture.input_shape;
    let fail = |layer: &str, message: String| QuantizeError::FloatModel {
        layer: layer.to_string(),
        message: format!("{}: {message}", path.display()),
    };
    let within = |a: usize, b: usize, c: usize| {
        a.checked_mul(b)
            .and_then(|p| p.checked_mul(c))
            .is_some_and(|n| (1..=MAX_VECTOR_LENGTH).contains(&n))
    };
    if !within(height, width, channels) {
        return Err(QuantizeError::Settings(format!(
            "{}: input_shape {:?} is not a map of 1 to {MAX_VECTOR_LENGTH} elements",
            path.display(),
            architecture.input_shape
        )));
    }
    let mut map = Some(MapShape {
        height,
        width,
        channels,
    });
    let mut length = height * width * channels;
    let mut layers = Vec::new();
    let mut conv = Vec::new();
    let mut pools_after: Vec<Vec<(String, MaxPool)>> = vec![Vec::new()];
    for layer in &architecture.layers {
        let name = layer.name.as_str();
        match layer.kind.as_str() {
            "conv" => {
                let input = map.ok_or_else(|| fail(name, "a conv layer needs a map".into()))?;
                let weights = read_finite(&dir.join(format!("{name}_weight.npy")))?;
                let shape = weights.shape().to_vec();
                let weights = weights.into_dimensionality::<Ix4>().map_err(|_| {
                    fail(
                        name,
                        format!("weights have shape {shape:?}, expected [out, kh, kw, in]"),
                    )
                })?;
                let (out, kh, kw, cin) = weights.dim();
                if cin != input.channels || [kh, kw] != layer.kernel.unwrap_or([kh, kw]) {
                    return Err(fail(
                        name,
                        format!(
                            "weights [{out}, {kh}, {kw}, {cin}] do not match kernel {:?} over the {input} map",
                            layer.kernel
                        ),
                    ));
                }
                let window = window(name, input, [kh, kw], layer, &fail)?;
                output_within(name, &window, out, &fail)?;
                let flat = weights
                    .into_shape_with_order((out, kh * kw * cin))
                    .expect("contiguous after reading")
                    .to_owned();
                let bias = bias(dir, name, out)?;
                let out_map = window.output(out);
                layers.push(FloatDense {
                    name: name.to_string(),
                    weights: flat,
                    bias,
                });
                conv.push(Some(window));
                pools_after.push(Vec::new());
                map = Some(out_map);
                length = out_map.len();
            }
            "maxpool" => {
                let input = map.ok_or_else(|| fail(name, "a maxpool layer needs a map".into()))?;
                let kernel = layer
                    .kernel
                    .ok_or_else(|| fail(name, "maxpool needs a kernel".into()))?;
                if layer.padding.is_some_and(|p| p != [0; 4]) {
                    return Err(fail(name, "max pools take no padding".into()));
                }
                let window = window(name, input, kernel, layer, &fail)?;
                output_within(name, &window, input.channels, &fail)?;
                let pool = MaxPool { window };
                let out_map = pool.output_map();
                pools_after
                    .last_mut()
                    .expect("one list per layer and the input")
                    .push((name.to_string(), pool));
                map = Some(out_map);
                length = out_map.len();
            }
            "dense" => {
                let weights = read_finite(&dir.join(format!("{name}_weight.npy")))?;
                let shape = weights.shape().to_vec();
                let weights = weights.into_dimensionality::<Ix2>().map_err(|_| {
                    fail(
                        name,
                        format!("weights have shape {shape:?}, expected [out, in]"),
                    )
                })?;
                if weights.ncols() != length {
                    return Err(fail(
                        name,
                        format!("takes {} inputs but receives {length}", weights.ncols()),
                    ));
                }
                let out = weights.nrows();
                layers.push(FloatDense {
                    name: name.to_string(),
                    weights,
                    bias: bias(dir, name, out)?,
                });
                conv.push(None);
                pools_after.push(Vec::new());
                map = None;
                length = out;
            }
            other => {
                return Err(fail(
                    name,
                    format!(
                        "unknown kind \"{other}\" (expected \"conv\", \"maxpool\" or \"dense\")"
                    ),
                ));
            }
        }
    }
    // The pools before the first accumulating layer have nowhere to go.
    if !pools_after[0].is_empty() {
        return Err(fail(
            &pools_after[0][0].0,
            "a max pool before the first conv or dense layer is not supported".into(),
        ));
    }
    pools_after.remove(0);
    if let Some(empty) = layers.iter().find(|l| l.weights.is_empty()) {
        return Err(fail(&empty.name, "has an empty weight array".into()));
    }
    if layers.is_empty() {
        return Err(QuantizeError::Settings(format!(
            "{}: no conv or dense layer",
            path.display()
        )));
    }
    Ok(FloatModel {
        layers,
        windows: Some(FloatWindows {
            input: MapShape {
                height,
                width,
                channels,
            },
            conv,
            pools_after,
        }),
    })
}

fn bias(dir: &Path, name: &str, out: usize) -> Result<ndarray::Array1<f64>, QuantizeError> {
    let path = dir.join(format!("{name}_bias.npy"));
    if !path.exists() {
        return Ok(ndarray::Array1::zeros(out));
    }
    let bias = super::float::read_float_vector_of(&path)?;
    if bias.len() != out {
        return Err(QuantizeError::FloatModel {
            layer: name.to_string(),
            message: format!("bias has {} elements, the weights {out} rows", bias.len()),
        });
    }
    Ok(bias)
}

/// The window of a layer over `input`, with the model format's rules.
fn window(
    name: &str,
    input: MapShape,
    kernel: [usize; 2],
    layer: &ArchitectureLayer,
    fail: &dyn Fn(&str, String) -> QuantizeError,
) -> Result<Window, QuantizeError> {
    let stride = layer.stride.unwrap_or([1, 1]);
    let padding = layer.padding.unwrap_or([0; 4]);
    let pads_fit = padding[0] < kernel[0]
        && padding[2] < kernel[0]
        && padding[1] < kernel[1]
        && padding[3] < kernel[1];
    let padded = |size: usize, a: usize, b: usize| size.checked_add(a)?.checked_add(b);
    let kernel_fits = |axis: usize, size: usize| {
        padded(size, padding[axis], padding[axis + 2]).is_some_and(|p| kernel[axis] <= p)
    };
    let taps_fit = kernel[0]
        .checked_mul(kernel[1])
        .and_then(|k| k.checked_mul(input.channels))
        .is_some_and(|t| t <= MAX_VECTOR_LENGTH);
    let fits = kernel[0] >= 1
        && kernel[1] >= 1
        && stride[0] >= 1
        && stride[1] >= 1
        && pads_fit
        && kernel_fits(0, input.height)
        && kernel_fits(1, input.width)
        && taps_fit;
    if !fits {
        return Err(fail(
            name,
            format!(
                "kernel {kernel:?}, stride {stride:?}, padding {padding:?} do not fit the {input} map \
                 (strides and kernels of at least 1, pads below the kernel, the kernel within the \
                 padded map, windows of at most {MAX_VECTOR_LENGTH} elements)"
            ),
        ));
    }
    Ok(Window {
        input,
        kernel,
        stride,
        padding,
    })
}

/// A window layer's output map of `channels` channels holds at most
/// [`MAX_VECTOR_LENGTH`] elements.
fn output_within(
    name: &str,
    window: &Window,
    channels: usize,
    fail: &dyn Fn(&str, String) -> QuantizeError,
) -> Result<(), QuantizeError> {
    let pixels = window.out_height().checked_mul(window.out_width());
    match pixels.and_then(|p| p.checked_mul(channels)) {
        Some(n) if n <= MAX_VECTOR_LENGTH => Ok(()),
        _ => Err(fail(
            name,
            format!("its output map exceeds {MAX_VECTOR_LENGTH} elements"),
        )),
    }
}

/// Every window of `window` over each map of `maps` (`[n, H * W * C]`),
/// as rows `[n * pixels, kh * kw * C]`, padding as zeros.
pub fn windows_of(window: &Window, maps: ArrayView2<f64>) -> Array2<f64> {
    let pixels = window.out_height() * window.out_width();
    let taps = window.taps();
    let mut rows = Array2::zeros((maps.nrows() * pixels, taps));
    for (n, map) in maps.outer_iter().enumerate() {
        for oy in 0..window.out_height() {
            for ox in 0..window.out_width() {
                let mut row =
                    rows.row_mut((n * window.out_height() + oy) * window.out_width() + ox);
                for (value, tap) in row.iter_mut().zip(window.taps_at(oy, ox)) {
                    *value = tap.map_or(0.0, |element| map[element]);
                }
            }
        }
    }
    rows
}

fn max_pool(pool: &MaxPool, maps: ArrayView2<f64>) -> Array2<f64> {
    let window = &pool.window;
    let channels = window.input.channels;
    let out = pool.output_map();
    let mut pooled = Array2::from_elem((maps.nrows(), out.len()), f64::NEG_INFINITY);
    for (map, mut into) in maps.outer_iter().zip(pooled.outer_iter_mut()) {
        for oy in 0..out.height {
            for ox in 0..out.width {
                let base = (oy * out.width + ox) * channels;
                for (tap, element) in window.taps_at(oy, ox).enumerate() {
                    let element = element.expect("pools have no padding");
                    let slot = &mut into[base + tap % channels];
                    *slot = slot.max(map[element]);
                }
            }
        }
    }
    pooled
}

/// The float CNN's forward pass: each layer's rows and its outputs in NHWC
/// order (`[n * pixels, out]` reshaped to `[n, pixels * out]`), then the
/// max pools after it.
pub fn layer_values(
    float: &FloatModel,
    windows: &FloatWindows,
    inputs: ArrayView2<f64>,
) -> Vec<LayerValues> {
    let n = inputs.nrows();
    let mut x = inputs.to_owned();
    let mut values = Vec::with_capacity(float.layers.len());
    for (index, layer) in float.layers.iter().enumerate() {
        let rows = match &windows.conv[index] {
            Some(window) => windows_of(window, x.view()),
            None => x.clone(),
        };
        let mut out = rows.dot(&layer.weights.t()) + &layer.bias;
        if index + 1 < float.layers.len() {
            out.mapv_inplace(|v| v.max(0.0));
        }
        let length = out.len() / n.max(1);
        let outputs = out
            .into_shape_with_order((n, length))
            .expect("rows are pixel-major per input");
        x = outputs.clone();
        for (_, pool) in &windows.pools_after[index] {
            x = max_pool(pool, x.view());
        }
        values.push(LayerValues { rows, outputs });
    }
    values
}
