//! Reading a model: TOML syntax, the schema, the referenced arrays, and every
//! consistency rule of `docs/design.md#2-integer-semantics` and
//! `docs/design.md#4-hardware-plan`.

use super::error::{LayerRef, ModelError};
use super::spec::*;
use super::types::*;
use crate::npyio;
use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};
use std::path::{Path, PathBuf};

/// Widest data value (inputs, weights, activations) in bits.
pub const MAX_DATA_BITS: u32 = 32;
/// Accumulator widths allowed, in bits.
pub const ACCUMULATOR_BITS: std::ops::RangeInclusive<u32> = 2..=64;
/// Widest threshold activation: `2^16 - 1` thresholds per channel.
pub const MAX_THRESHOLD_BITS: u32 = 16;
/// Widest value a layer passes on (the reference and the simulation hold
/// elements in `i64`). Declared types stay within it by the limits above;
/// the one width that grows is a Hadamard layer's without `out_bits`.
pub const MAX_ELEMENT_BITS: u32 = 64;
/// Longest vector between layers (`input.length`, `out_features`): every
/// command holds a few vectors' worth of per-element state.
pub const MAX_VECTOR_LENGTH: usize = 1 << 20;
/// Largest Hadamard block: the hardware transforms a whole block per beat,
/// `log2(block)` stages of `block / 2` butterflies each.
pub const MAX_HADAMARD_BLOCK: usize = 1024;

/// A scale (the real value of one integer step) must be a finite number
/// above zero: anything else cannot turn an integer into the float it stands
/// for.
fn check_scale(scale: f64) -> Result<(), String> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(format!("{scale} is not a finite number above 0"))
    }
}

/// Reads and validates the model at `path`.
pub fn load_model(path: &Path) -> Result<Model, ModelError> {
    let text = crate::input_file::read_text(path)
        .map_err(|e| ModelError::new(path, format!("model file {e}")))?;
    parse_model(&text, path)
}

/// The `.npy` files a model's TOML names (weights, biases, thresholds),
/// resolved against its folder; none when the file does not parse. Commands
/// protect them from their outputs.
pub fn array_files(path: &Path) -> Vec<PathBuf> {
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let Some(document) = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
    else {
        return Vec::new();
    };
    let layers = document.get("layers").and_then(toml::Value::as_array);
    let mut files = Vec::new();
    for layer in layers.into_iter().flatten() {
        let activation = layer.get("activation");
        let named = [
            layer.get("weights"),
            layer.get("bias"),
            activation.and_then(|a| a.get("thresholds")),
        ];
        for relative in named.into_iter().flatten().filter_map(toml::Value::as_str) {
            files.push(base_dir.join(relative));
        }
    }
    files
}

/// Validates a model given as TOML text; arrays in files are looked up
/// relative to the directory of `path`.
pub fn parse_model(text: &str, path: &Path) -> Result<Model, ModelError> {
    let reader = Reader {
        file: path.to_path_buf(),
        base_dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    reader.read(text)
}

struct Reader {
    file: PathBuf,
    base_dir: PathBuf,
}

/// The layer kinds, for messages.
const LAYER_KINDS: &str = "\"dense\", \"hadamard\", \"conv\" or \"maxpool\"";

/// What a layer receives: `length` elements of at most `bits` signed bits,
/// and the map they form when the previous layer (or `[input] shape`) gives one.
#[derive(Clone, Copy)]
struct Incoming {
    length: usize,
    bits: u32,
    map: Option<MapShape>,
}

/// `[input] shape = [H, W, C]`: three dimensions of at least 1 whose
/// product is `length`.
fn input_map(shape: &[usize], length: usize) -> Result<MapShape, String> {
    let [height, width, channels] = shape else {
        return Err(format!(
            "has {} entries, expected 3: [height, width, channels]",
            shape.len()
        ));
    };
    if let Some(axis) = shape.iter().position(|&d| d == 0) {
        return Err(format!(
            "dimension {axis} is 0; every dimension must be at least 1"
        ));
    }
    let product = height
        .checked_mul(*width)
        .and_then(|p| p.checked_mul(*channels));
    match product {
        Some(p) if p == length => Ok(MapShape {
            height: *height,
            width: *width,
            channels: *channels,
        }),
        Some(p) => Err(format!(
            "{height} x {width} x {channels} = {p} elements, but input.length is {length}"
        )),
        None => Err(format!(
            "{height} x {width} x {channels} overflows; input.length is {length}"
        )),
    }
}

/// The map a window layer slides over, or why there is none.
fn spec_map(
    context: &LayerContext,
    map: Option<MapShape>,
    kind: &str,
) -> Result<MapShape, ModelError> {
    map.ok_or_else(|| {
        let why = match context.layer.index {
            0 => "the input has no `shape = [H, W, C]`".to_string(),
            i => format!(
                "layer {} produces a vector, not a map (a {kind} layer follows only the shaped \
                 input, a conv or a maxpool layer)",
                i - 1
            ),
        };
        context.error(
            "kind",
            format!("a {kind} layer needs an input map, but {why}"),
        )
    })
}

/// A pair `[a, b]` of dimensions of at least 1 (`kernel`, `stride`).
fn pair(values: &[usize], what: &str) -> Result<[usize; 2], String> {
    match values {
        [a, b] if *a >= 1 && *b >= 1 => Ok([*a, *b]),
        [_, _] => Err(format!(
            "{values:?}: every {what} dimension must be at least 1"
        )),
        _ => Err(format!(
            "has {} entries, expected 2: [{what} height, {what} width]",
            values.len()
        )),
    }
}

/// Where we are while validating one layer, for error messages.
struct LayerContext<'a> {
    reader: &'a Reader,
    layer: LayerRef,
}

impl LayerContext<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> ModelError {
        self.reader.error(field, message).layer(self.layer.clone())
    }
}

impl Reader {
    fn error(&self, field: &str, message: impl Into<String>) -> ModelError {
        ModelError::new(&self.file, message).field(field)
    }

    fn read(&self, text: &str) -> Result<Model, ModelError> {
        let mut document: toml::Table =
            toml::from_str(text).map_err(|e| self.syntax_error(text, &e))?;
        for key in document.keys() {
            if !["model", "input", "output", "layers"].contains(&key.as_str()) {
                return Err(self.error(
                    key,
                    "unknown top-level key (expected `model`, `input`, `output` or `layers`)",
                ));
            }
        }
        let model: ModelSection = self.section(&mut document, "model")?;
        check_identifier(&model.name).map_err(|m| self.error("model.name", m))?;
        let input: InputSection = self.section(&mut document, "input")?;
        check_vector_length(input.length).map_err(|m| self.error("input.length", m))?;
        check_data_bits(input.bits).map_err(|m| self.error("input.bits", m))?;
        if let Some(scale) = input.scale {
            check_scale(scale).map_err(|m| self.error("input.scale", m))?;
        }
        let input_type = IntType {
            bits: input.bits,
            signed: input.signed,
        };
        let input_shape = match &input.shape {
            None => None,
            Some(shape) => {
                Some(input_map(shape, input.length).map_err(|m| self.error("input.shape", m))?)
            }
        };

        let layer_tables = match document.remove("layers") {
            Some(toml::Value::Array(items)) if !items.is_empty() => items,
            Some(toml::Value::Array(_)) | None => {
                return Err(self.error(
                    "layers",
                    "the model has no layers (add at least one `[[layers]]` table)",
                ));
            }
            Some(_) => return Err(self.error("layers", "must be an array of tables `[[layers]]`")),
        };
        let mut layers: Vec<Layer> = Vec::with_capacity(layer_tables.len());
        let mut length = input.length;
        let mut element_bits = input_type.bits + u32::from(!input_type.signed);
        let mut map = input_shape;
        for (index, value) in layer_tables.into_iter().enumerate() {
            let incoming = Incoming {
                length,
                bits: element_bits,
                map,
            };
            let layer = self.read_layer(index, value, incoming, &layers)?;
            (length, element_bits, map) = match &layer.kind {
                LayerKind::Dense(d) => (d.out_features, d.output_bits(), None),
                LayerKind::Hadamard(h) => (length, h.output_bits(element_bits), None),
                LayerKind::Conv(c) => (
                    c.output_map().len(),
                    c.dense.output_bits(),
                    Some(c.output_map()),
                ),
                LayerKind::MaxPool(p) => (p.output_map().len(), element_bits, Some(p.output_map())),
            };
            layers.push(layer);
        }
        let output_scale = match document.contains_key("output") {
            false => None,
            true => {
                let output: OutputSection = self.section(&mut document, "output")?;
                self.output_scale(&output.scale, length)?;
                Some(output.scale)
            }
        };
        Ok(Model {
            name: model.name,
            description: model.description,
            source: self.file.clone(),
            input_length: input.length,
            input: input_type,
            input_shape,
            layers,
            input_scale: input.scale,
            output_scale,
        })
    }

    /// `[output] scale`: one finite positive step per output element.
    fn output_scale(&self, scale: &[f64], output_length: usize) -> Result<(), ModelError> {
        if scale.len() != output_length {
            return Err(self.error(
                "output.scale",
                format!(
                    "has {} entries but the model's output has {output_length} elements",
                    scale.len()
                ),
            ));
        }
        for (element, &value) in scale.iter().enumerate() {
            check_scale(value)
                .map_err(|m| self.error("output.scale", format!("[{element}]: {m}")))?;
        }
        Ok(())
    }

    fn syntax_error(&self, text: &str, e: &toml::de::Error) -> ModelError {
        let mut error = ModelError::new(
            &self.file,
            format!("TOML syntax error: {}", e.message().trim()),
        );
        if let Some(span) = e.span() {
            error.0.position = Some(line_column(text, span.start));
        }
        error
    }

    /// Removes and deserializes a required top-level table.
    fn section<T: serde::de::DeserializeOwned>(
        &self,
        document: &mut toml::Table,
        key: &str,
    ) -> Result<T, ModelError> {
        let value = document
            .remove(key)
            .ok_or_else(|| self.error(key, format!("missing `[{key}]` table")))?;
        deserialize(value).map_err(|(field, message)| self.error(&join(key, &field), message))
    }

    /// Reads layer `index`, whose input is `incoming`.
    fn read_layer(
        &self,
        index: usize,
        value: toml::Value,
        incoming: Incoming,
        earlier: &[Layer],
    ) -> Result<Layer, ModelError> {
        let Incoming {
            length: input_length,
            bits: input_bits,
            map,
        } = incoming;
        let toml::Value::Table(mut table) = value else {
            return Err(self.error("layers", format!("entry {index} is not a table")));
        };
        let name = table
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let context = LayerContext {
            reader: self,
            layer: LayerRef { index, name },
        };
        let kind = match table.remove("kind") {
            Some(toml::Value::String(kind)) => kind,
            Some(_) => {
                return Err(context.error("kind", format!("must be a string: {LAYER_KINDS}")));
            }
            None => return Err(context.error("kind", format!("missing: {LAYER_KINDS}"))),
        };
        let value = toml::Value::Table(table);
        let from_serde = |(field, message): (String, String)| context.error(&field, message);
        let layer = match kind.as_str() {
            "dense" => {
                let spec: DenseSpec = deserialize(value).map_err(from_serde)?;
                let dense = context.dense(&spec, input_length, earlier)?;
                Layer {
                    name: spec.name,
                    kind: LayerKind::Dense(Box::new(dense)),
                }
            }
            "hadamard" => {
                let spec: HadamardSpec = deserialize(value).map_err(from_serde)?;
                let hadamard = context.hadamard(&spec, input_length, input_bits)?;
                Layer {
                    name: spec.name,
                    kind: LayerKind::Hadamard(hadamard),
                }
            }
            "conv" => {
                let spec: ConvSpec = deserialize(value).map_err(from_serde)?;
                let conv = context.conv(spec_map(&context, map, "conv")?, spec)?;
                Layer {
                    name: conv.0,
                    kind: LayerKind::Conv(Box::new(conv.1)),
                }
            }
            "maxpool" => {
                let spec: MaxPoolSpec = deserialize(value).map_err(from_serde)?;
                let pool = context.maxpool(spec_map(&context, map, "maxpool")?, &spec)?;
                Layer {
                    name: spec.name,
                    kind: LayerKind::MaxPool(pool),
                }
            }
            other => {
                return Err(context.error(
                    "kind",
                    format!("unknown layer kind \"{other}\" (expected {LAYER_KINDS})"),
                ));
            }
        };
        check_identifier(&layer.name).map_err(|m| context.error("name", m))?;
        if earlier.iter().any(|l| l.name == layer.name) {
            return Err(context.error(
                "name",
                format!("`{}` names an earlier layer too", layer.name),
            ));
        }
        Ok(layer)
    }
}

impl LayerContext<'_> {
    fn dense(
        &self,
        spec: &DenseSpec,
        input_length: usize,
        earlier: &[Layer],
    ) -> Result<Dense, ModelError> {
        if spec.in_features != input_length {
            let source = match earlier.last() {
                Some(l) => format!(
                    "the output length of layer {} (`{}`)",
                    earlier.len() - 1,
                    l.name
                ),
                None => "the input length".to_string(),
            };
            return Err(self.error(
                "in_features",
                format!("is {} but {source} is {input_length}", spec.in_features),
            ));
        }
        self.dense_body(spec, |context| {
            context.matrix(
                &spec.weights,
                "weights",
                [spec.out_features, spec.in_features],
            )
        })
    }

    /// Everything of a dense layer but how its input arrives: widths,
    /// hardware hints, weights (read by `weights` as `[out, in]`), bias and
    /// activation.
    fn dense_body(
        &self,
        spec: &DenseSpec,
        weights: impl FnOnce(&Self) -> Result<Array2<i64>, ModelError>,
    ) -> Result<Dense, ModelError> {
        check_vector_length(spec.out_features).map_err(|m| self.error("out_features", m))?;
        check_data_bits(spec.weight_bits).map_err(|m| self.error("weight_bits", m))?;
        let accumulator = self.accumulator(&spec.accumulator, spec.in_features)?;
        let hardware = self.hardware(spec, accumulator.tile)?;

        let weights = weights(self)?;
        let weight_type = IntType::signed(spec.weight_bits);
        if let Some(((c, i), &w)) = weights
            .indexed_iter()
            .find(|(_, w)| !weight_type.contains(**w as i128))
        {
            return Err(self.error(
                "weights",
                format!(
                    "weight [{c}][{i}] = {w} does not fit signed {} bits ({}..={})",
                    spec.weight_bits,
                    weight_type.min(),
                    weight_type.max()
                ),
            ));
        }
        let bias = match &spec.bias {
            None => None,
            Some(value) => {
                let bias = self.vector(value, "bias", spec.out_features)?;
                let acc_type = IntType::signed(accumulator.bits);
                if let Some((c, &b)) = bias
                    .indexed_iter()
                    .find(|(_, b)| !acc_type.contains(**b as i128))
                {
                    return Err(self.error(
                        "bias",
                        format!(
                            "bias [{c}] = {b} does not fit the {}-bit accumulator it initialises",
                            accumulator.bits
                        ),
                    ));
                }
                Some(bias)
            }
        };
        let activation = self.activation(spec.activation.as_ref(), spec.out_features)?;
        Ok(Dense {
            in_features: spec.in_features,
            out_features: spec.out_features,
            weight_bits: spec.weight_bits,
            weights,
            bias,
            accumulator,
            activation,
            hardware,
        })
    }

    /// The window of a conv or maxpool layer over `map`: kernel, stride and
    /// padding, each pad smaller than the kernel along its axis, the kernel
    /// within the padded map, and the output map and window within limits.
    fn window(
        &self,
        map: MapShape,
        kernel: &[usize],
        stride: Option<&[usize]>,
        padding: Option<&[usize]>,
    ) -> Result<Window, ModelError> {
        let kernel = pair(kernel, "kernel").map_err(|m| self.error("kernel", m))?;
        let stride = match stride {
            None => [1, 1],
            Some(s) => pair(s, "stride").map_err(|m| self.error("stride", m))?,
        };
        let padding = match padding {
            None => [0; 4],
            Some(&[top, left, bottom, right]) => [top, left, bottom, right],
            Some(p) => {
                return Err(self.error(
                    "padding",
                    format!(
                        "has {} entries, expected 4: [top, left, bottom, right]",
                        p.len()
                    ),
                ));
            }
        };
        for (side, (&pad, axis)) in ["top", "left", "bottom", "right"]
            .iter()
            .zip(padding.iter().zip([0, 1, 0, 1]))
        {
            if pad >= kernel[axis] {
                return Err(self.error(
                    "padding",
                    format!(
                        "{side} padding {pad} is not smaller than the kernel's {} {} (a window \
                         of padding only)",
                        ["height", "width"][axis],
                        kernel[axis]
                    ),
                ));
            }
        }
        // Pads are below the kernel, which may be absurd: checked sums.
        let padded = [
            map.height
                .checked_add(padding[0])
                .and_then(|h| h.checked_add(padding[2])),
            map.width
                .checked_add(padding[1])
                .and_then(|w| w.checked_add(padding[3])),
        ];
        for axis in 0..2 {
            let fits = padded[axis].is_some_and(|p| kernel[axis] <= p);
            if !fits {
                return Err(self.error(
                    "kernel",
                    format!(
                        "{:?} is larger than the padded {map} input map ({} {} with padding)",
                        kernel,
                        padded[axis].map_or("overflowing".into(), |p| p.to_string()),
                        ["rows", "columns"][axis]
                    ),
                ));
            }
        }
        let taps = kernel[0]
            .checked_mul(kernel[1])
            .and_then(|k| k.checked_mul(map.channels))
            .filter(|&t| t <= MAX_VECTOR_LENGTH)
            .ok_or_else(|| {
                self.error(
                    "kernel",
                    format!(
                        "{kernel:?} over {} channels exceeds the longest window, \
                         {MAX_VECTOR_LENGTH} elements",
                        map.channels
                    ),
                )
            })?;
        debug_assert!(taps >= 1);
        Ok(Window {
            input: map,
            kernel,
            stride,
            padding,
        })
    }

    /// The output map of `window` with `channels` channels, within the
    /// longest vector.
    fn output_map(&self, window: &Window, channels: usize) -> Result<MapShape, ModelError> {
        let out = window.output(channels);
        let length = out
            .height
            .checked_mul(out.width)
            .and_then(|p| p.checked_mul(channels));
        match length {
            Some(l) if l <= MAX_VECTOR_LENGTH => Ok(out),
            _ => Err(self.error(
                "kernel",
                format!(
                    "the output map {} x {} x {channels} exceeds the longest vector, \
                     {MAX_VECTOR_LENGTH} elements",
                    out.height, out.width
                ),
            )),
        }
    }

    fn conv(&self, map: MapShape, spec: ConvSpec) -> Result<(String, Conv), ModelError> {
        if spec.in_channels != map.channels {
            return Err(self.error(
                "in_channels",
                format!(
                    "is {} but the incoming {map} map has {} channels",
                    spec.in_channels, map.channels
                ),
            ));
        }
        check_vector_length(spec.out_channels).map_err(|m| self.error("out_channels", m))?;
        let window = self.window(
            map,
            &spec.kernel,
            spec.stride.as_deref(),
            spec.padding.as_deref(),
        )?;
        self.output_map(&window, spec.out_channels)?;
        let taps = window.taps();
        if let Some(simd) = spec.hardware.as_ref().and_then(|h| h.simd) {
            let within_pixel = simd >= 1 && map.channels.is_multiple_of(simd);
            let whole_pixels =
                simd >= 1 && simd.is_multiple_of(map.channels) && taps.is_multiple_of(simd);
            if !(within_pixel || whole_pixels) {
                return Err(self.error(
                    "hardware.simd",
                    format!(
                        "{simd} neither divides in_channels = {} nor is a multiple of it \
                         dividing the window's kh * kw * in_channels = {taps}",
                        map.channels
                    ),
                ));
            }
        }
        let shape = [
            spec.out_channels,
            window.kernel[0],
            window.kernel[1],
            map.channels,
        ];
        let dense_spec = DenseSpec {
            name: spec.name,
            in_features: taps,
            out_features: spec.out_channels,
            weight_bits: spec.weight_bits,
            weights: spec.weights,
            bias: spec.bias,
            accumulator: spec.accumulator,
            activation: spec.activation,
            hardware: spec.hardware,
        };
        let dense = self.dense_body(&dense_spec, |context| {
            let array = context.array(&dense_spec.weights, "weights")?;
            if array.shape() != shape {
                return Err(context.error(
                    "weights",
                    format!(
                        "has shape {:?}, expected {shape:?} = [out_channels, kh, kw, in_channels]",
                        array.shape()
                    ),
                ));
            }
            Ok(array
                .into_shape_with_order((shape[0], taps))
                .expect("the shape was checked")
                .into_owned())
        })?;
        Ok((dense_spec.name, Conv { window, dense }))
    }

    fn maxpool(&self, map: MapShape, spec: &MaxPoolSpec) -> Result<MaxPool, ModelError> {
        let window = self.window(map, &spec.kernel, spec.stride.as_deref(), None)?;
        self.output_map(&window, map.channels)?;
        Ok(MaxPool { window })
    }

    fn accumulator(
        &self,
        spec: &AccumulatorSpec,
        in_features: usize,
    ) -> Result<Accumulator, ModelError> {
        check_accumulator_bits(spec.bits).map_err(|m| self.error("accumulator.bits", m))?;
        let tile = match &spec.tile {
            None => None,
            Some(tile) => {
                if tile.size == 0 || !in_features.is_multiple_of(tile.size) {
                    return Err(self.error(
                        "accumulator.tile.size",
                        format!("{} does not divide in_features = {in_features}", tile.size),
                    ));
                }
                check_accumulator_bits(tile.inner_bits)
                    .map_err(|m| self.error("accumulator.tile.inner_bits", m))?;
                Some(Tile {
                    size: tile.size,
                    inner_bits: tile.inner_bits,
                })
            }
        };
        let overflow = match spec.overflow {
            None | Some(OverflowSpec::Wrap) => OverflowMode::Wrap,
            Some(OverflowSpec::Saturate) => OverflowMode::Saturate,
        };
        // A proven width never overflows, so saturation logic would be dead
        // hardware: it is only meaningful when overflow is allowed.
        if overflow == OverflowMode::Saturate && !spec.allow_overflow {
            return Err(self.error(
                "accumulator.overflow",
                "\"saturate\" needs allow_overflow = true (a proven width never overflows; use \"wrap\")",
            ));
        }
        Ok(Accumulator {
            bits: spec.bits,
            tile,
            overflow,
            allow_overflow: spec.allow_overflow,
        })
    }

    fn hardware(&self, spec: &DenseSpec, tile: Option<Tile>) -> Result<HardwareHints, ModelError> {
        let Some(hw) = &spec.hardware else {
            return Ok(HardwareHints::default());
        };
        if let Some(pe) = hw.pe
            && (pe == 0 || !spec.out_features.is_multiple_of(pe))
        {
            return Err(self.error(
                "hardware.pe",
                format!("{pe} does not divide out_features = {}", spec.out_features),
            ));
        }
        if let Some(simd) = hw.simd {
            if simd == 0 || !spec.in_features.is_multiple_of(simd) {
                return Err(self.error(
                    "hardware.simd",
                    format!("{simd} does not divide in_features = {}", spec.in_features),
                ));
            }
            if let Some(tile) = tile
                && tile.size % simd != 0
            {
                return Err(self.error(
                    "accumulator.tile.size",
                    format!("{} is not a multiple of hardware.simd = {simd}", tile.size),
                ));
            }
        }
        let hints = HardwareHints {
            pe: hw.pe,
            simd: hw.simd,
            multiplier: match hw.multiplier {
                None | Some(MultiplierSpec::Lut) => MultiplierStyle::Lut,
                Some(MultiplierSpec::Dsp) => MultiplierStyle::Dsp,
            },
            weights: match hw.weights {
                None | Some(WeightsSpec::Rom) => WeightsHint::Rom,
                Some(WeightsSpec::Hardwired) => WeightsHint::Hardwired,
                Some(WeightsSpec::Auto) => WeightsHint::Auto,
            },
        };
        if hints.weights != WeightsHint::Rom && hints.multiplier == MultiplierStyle::Dsp {
            return Err(self.error(
                "hardware.weights",
                format!(
                    "\"{}\" takes no multiplier = \"dsp\": hardwired products are constant shift-and-add circuits in LUTs",
                    hints.weights
                ),
            ));
        }
        Ok(hints)
    }

    fn activation(
        &self,
        spec: Option<&ActivationSpec>,
        out_features: usize,
    ) -> Result<Activation, ModelError> {
        let Some(spec) = spec else {
            return Ok(Activation::None);
        };
        if spec.kind == ActivationKind::None {
            for (present, key) in [
                (spec.bits.is_some(), "bits"),
                (spec.signed.is_some(), "signed"),
                (spec.thresholds.is_some(), "thresholds"),
            ] {
                if present {
                    return Err(self.error(
                        &format!("activation.{key}"),
                        "only applies to kind = \"thresholds\"",
                    ));
                }
            }
            return Ok(Activation::None);
        }
        let bits = spec.bits.ok_or_else(|| {
            self.error("activation.bits", "missing (output bits of the thresholds)")
        })?;
        if !(1..=MAX_THRESHOLD_BITS).contains(&bits) {
            return Err(self.error(
                "activation.bits",
                format!("{bits} is out of range 1..={MAX_THRESHOLD_BITS}"),
            ));
        }
        let value = spec.thresholds.as_ref().ok_or_else(|| {
            self.error(
                "activation.thresholds",
                "missing (array [out_features, 2^bits - 1])",
            )
        })?;
        let count = (1usize << bits) - 1;
        let thresholds = self.matrix(value, "activation.thresholds", [out_features, count])?;
        for (c, row) in thresholds.outer_iter().enumerate() {
            if let Some(k) = (1..count).find(|&k| row[k] < row[k - 1]) {
                return Err(self.error(
                    "activation.thresholds",
                    format!(
                        "channel {c} is not non-decreasing: t[{c}][{}] = {} > t[{c}][{k}] = {}",
                        k - 1,
                        row[k - 1],
                        row[k]
                    ),
                ));
            }
        }
        Ok(Activation::Thresholds {
            output: IntType {
                bits,
                signed: spec.signed.unwrap_or(false),
            },
            thresholds,
        })
    }

    fn hadamard(
        &self,
        spec: &HadamardSpec,
        length: usize,
        input_bits: u32,
    ) -> Result<Hadamard, ModelError> {
        if spec.block < 2 || !spec.block.is_power_of_two() {
            return Err(self.error(
                "block",
                format!("{} is not a power of two >= 2", spec.block),
            ));
        }
        if spec.block > MAX_HADAMARD_BLOCK {
            return Err(self.error(
                "block",
                format!(
                    "{} exceeds the largest block, {MAX_HADAMARD_BLOCK}",
                    spec.block
                ),
            ));
        }
        if !length.is_multiple_of(spec.block) {
            return Err(self.error(
                "block",
                format!("{} does not divide the vector length {length}", spec.block),
            ));
        }
        if let Some(shift) = spec.shift
            && !(1..=62).contains(&shift)
        {
            return Err(self.error("shift", format!("{shift} is out of range 1..=62")));
        }
        if let Some(bits) = spec.out_bits {
            check_data_bits(bits).map_err(|m| self.error("out_bits", m))?;
        }
        let hadamard = Hadamard {
            block: spec.block,
            shift: spec.shift,
            out_bits: spec.out_bits,
        };
        let butterfly_bits = input_bits + hadamard.stages();
        if butterfly_bits > MAX_ELEMENT_BITS {
            return Err(self.error(
                "block",
                format!(
                    "inputs of up to {input_bits} signed bits grow to {butterfly_bits} bits in \
                     {} butterfly stage(s), more than the {MAX_ELEMENT_BITS} bits a value may have \
                     (a smaller block, or narrower inputs)",
                    hadamard.stages()
                ),
            ));
        }
        Ok(hadamard)
    }

    fn matrix(
        &self,
        value: &toml::Value,
        field: &str,
        shape: [usize; 2],
    ) -> Result<Array2<i64>, ModelError> {
        let array = self.array(value, field)?;
        let found = array.shape().to_vec();
        array
            .into_dimensionality::<Ix2>()
            .ok()
            .filter(|a| a.shape() == shape)
            .ok_or_else(|| {
                self.error(
                    field,
                    format!("has shape {found:?}, expected [{}, {}]", shape[0], shape[1]),
                )
            })
    }

    fn vector(
        &self,
        value: &toml::Value,
        field: &str,
        length: usize,
    ) -> Result<Array1<i64>, ModelError> {
        let array = self.array(value, field)?;
        let found = array.shape().to_vec();
        array
            .into_dimensionality::<Ix1>()
            .ok()
            .filter(|a| a.len() == length)
            .ok_or_else(|| self.error(field, format!("has shape {found:?}, expected [{length}]")))
    }

    /// An array given inline or as a path to an `.npy` file.
    fn array(&self, value: &toml::Value, field: &str) -> Result<ArrayD<i64>, ModelError> {
        match value {
            toml::Value::String(relative) => {
                let path = self.reader.base_dir.join(relative);
                if let Some(problem) = crate::input_file::not_a_regular_file(&path) {
                    return Err(self.error(field, format!("file `{}` {problem}", path.display())));
                }
                npyio::read_int_array(&path).map_err(|e| self.error(field, e.to_string()))
            }
            toml::Value::Array(_) => inline_array(value).map_err(|m| self.error(field, m)),
            _ => Err(self.error(
                field,
                "must be a path to an .npy file or an inline array of integers",
            )),
        }
    }
}

/// A vector length from 1 to [`MAX_VECTOR_LENGTH`].
fn check_vector_length(length: usize) -> Result<(), String> {
    if length == 0 {
        Err("must be at least 1".into())
    } else if length > MAX_VECTOR_LENGTH {
        Err(format!(
            "{length} exceeds the longest vector, {MAX_VECTOR_LENGTH} elements"
        ))
    } else {
        Ok(())
    }
}

/// A rectangular inline TOML array of integers, of any rank.
fn inline_array(value: &toml::Value) -> Result<ArrayD<i64>, String> {
    fn walk(
        value: &toml::Value,
        depth: usize,
        shape: &mut Vec<usize>,
        data: &mut Vec<i64>,
    ) -> Result<(), String> {
        match value {
            toml::Value::Integer(v) => {
                if depth != shape.len() {
                    return Err("inline array is not rectangular".into());
                }
                data.push(*v);
                Ok(())
            }
            toml::Value::Array(items) => {
                if depth == shape.len() {
                    if !data.is_empty() {
                        return Err("inline array is not rectangular".into());
                    }
                    shape.push(items.len());
                } else if shape.get(depth) != Some(&items.len()) {
                    return Err("inline array is not rectangular".into());
                }
                items
                    .iter()
                    .try_for_each(|item| walk(item, depth + 1, shape, data))
            }
            other => Err(format!(
                "inline array holds a {}, expected integers",
                other.type_str()
            )),
        }
    }
    let mut shape = Vec::new();
    let mut data = Vec::new();
    walk(value, 0, &mut shape, &mut data)?;
    ArrayD::from_shape_vec(shape, data).map_err(|_| "inline array is not rectangular".to_string())
}

/// Runs serde on a TOML value; on failure returns the dotted field path and
/// the message.
fn deserialize<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, (String, String)> {
    value.try_into().map_err(|e: toml::de::Error| {
        let text = e.to_string();
        let (message, mut path) = match text.split_once("\nin `") {
            Some((message, rest)) => (
                message.trim().to_string(),
                rest.trim().trim_end_matches('`').to_string(),
            ),
            None => (text.trim().to_string(), String::new()),
        };
        for prefix in ["unknown field `", "missing field `"] {
            if let Some(rest) = message.strip_prefix(prefix)
                && let Some(key) = rest.split('`').next()
            {
                path = join(&path, key);
            }
        }
        (path, message)
    })
}

fn join(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}.{field}"),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Names become Verilog module names and directory names.
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not an identifier (letters, digits and `_`, not starting with a digit)"
        ))
    }
}

fn check_data_bits(bits: u32) -> Result<(), String> {
    if (1..=MAX_DATA_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(format!("{bits} is out of range 1..={MAX_DATA_BITS}"))
    }
}

fn check_accumulator_bits(bits: u32) -> Result<(), String> {
    if ACCUMULATOR_BITS.contains(&bits) {
        Ok(())
    } else {
        Err(format!(
            "{bits} is out of range {}..={}",
            ACCUMULATOR_BITS.start(),
            ACCUMULATOR_BITS.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[model]
name = "tiny"

[input]
length = 4
bits = 2
signed = false

[[layers]]
name = "fc"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 3
weights = [[1, -2, 3, 0], [0, 0, -4, 1]]
bias = [5, -5]
accumulator = { bits = 8, tile = { size = 2, inner_bits = 6 } }
activation = { kind = "thresholds", bits = 1, thresholds = [[0], [3]] }
hardware = { pe = 2, simd = 2, multiplier = "dsp" }

[[layers]]
name = "had"
kind = "hadamard"
block = 2
shift = 1
out_bits = 3
"#;

    fn parse(text: &str) -> Result<Model, ModelError> {
        parse_model(text, Path::new("m.toml"))
    }

    #[test]
    fn parses_a_complete_model() {
        let model = parse(SMALL).unwrap();
        assert_eq!(model.name, "tiny");
        assert_eq!(model.input, IntType::unsigned(2));
        let dense = model.layers[0].as_dense().unwrap();
        assert_eq!(dense.weights[[1, 2]], -4);
        assert_eq!(dense.bias_of(1), -5);
        assert_eq!(
            dense.accumulator.tile,
            Some(Tile {
                size: 2,
                inner_bits: 6
            })
        );
        assert_eq!(dense.hardware.multiplier, MultiplierStyle::Dsp);
        let LayerKind::Hadamard(h) = &model.layers[1].kind else {
            panic!()
        };
        assert_eq!((h.block, h.shift, h.out_bits), (2, Some(1), Some(3)));
        assert_eq!(model.output_length(1), 2);
    }

    fn error_of(edit: (&str, &str)) -> ModelError {
        let text = SMALL.replacen(edit.0, edit.1, 1);
        assert_ne!(text, SMALL, "edit {edit:?} did not apply");
        parse(&text).unwrap_err()
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = error_of(("bits = 2\n", "bits = = 2\n"));
        assert_eq!(e.position.map(|p| p.0), Some(7));
    }

    #[test]
    fn unknown_nested_key_names_the_path() {
        let e = error_of(("multiplier = \"dsp\"", "multipler = \"dsp\""));
        assert_eq!(e.field.as_deref(), Some("hardware.multipler"));
        assert_eq!(e.layer.as_ref().unwrap().name.as_deref(), Some("fc"));
    }

    #[test]
    fn hardwired_and_auto_weights_parse_folded_and_tiled() {
        let folded = SMALL.replacen("multiplier = \"dsp\"", "weights = \"hardwired\"", 1);
        let model = parse(&folded).unwrap();
        let dense = model.layers[0].as_dense().unwrap();
        assert_eq!(dense.hardware.weights, WeightsHint::Hardwired);
        assert_eq!((dense.hardware.pe, dense.hardware.simd), (Some(2), Some(2)));
        assert!(dense.accumulator.tile.is_some());
        let auto = parse(&folded.replacen("\"hardwired\"", "\"auto\"", 1)).unwrap();
        let dense = auto.layers[0].as_dense().unwrap();
        assert_eq!(dense.hardware.weights, WeightsHint::Auto);
        for storage in ["hardwired", "auto"] {
            let dsp = SMALL.replacen(
                "multiplier = \"dsp\"",
                &format!("multiplier = \"dsp\", weights = \"{storage}\""),
                1,
            );
            let e = parse(&dsp).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("hardware.weights"), "{storage}");
            assert_eq!(e.layer.as_ref().unwrap().name.as_deref(), Some("fc"));
            assert!(e.message.contains("dsp"), "{storage}: {}", e.message);
        }
        let e = parse(&folded.replacen("\"hardwired\"", "\"wired\"", 1)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("hardware.weights"));
    }

    #[test]
    fn wrong_type_names_the_path() {
        let e = error_of(("inner_bits = 6", "inner_bits = \"six\""));
        assert_eq!(e.field.as_deref(), Some("accumulator.tile.inner_bits"));
    }

    #[test]
    fn descending_thresholds_are_refused() {
        let e = error_of((
            "bits = 1, thresholds = [[0], [3]]",
            "bits = 2, thresholds = [[0, 1, 2], [3, 2, 4]]",
        ));
        assert_eq!(e.field.as_deref(), Some("activation.thresholds"));
        assert!(e.message.contains("channel 1"), "{}", e.message);
    }

    #[test]
    fn weights_out_of_range_are_refused() {
        let e = error_of(("[[1, -2, 3, 0]", "[[1, -2, 4, 0]"));
        assert!(e.message.contains("[0][2] = 4"), "{}", e.message);
    }

    #[test]
    fn layer_chaining_is_checked() {
        let e = error_of(("in_features = 4", "in_features = 5"));
        assert_eq!(e.field.as_deref(), Some("in_features"));
    }

    #[test]
    fn inline_arrays_must_be_rectangular() {
        assert!(
            inline_array(&toml::Value::Array(vec![
                toml::Value::Array(vec![1.into()]),
                toml::Value::Array(vec![1.into(), 2.into()]),
            ]))
            .is_err()
        );
        assert!(
            inline_array(&toml::Value::Array(vec![
                1.into(),
                toml::Value::Array(vec![])
            ]))
            .is_err()
        );
    }

    const CONV: &str = r#"
[model]
name = "cnn"

[input]
length = 18
bits = 2
signed = false
shape = [3, 3, 2]

[[layers]]
name = "conv"
kind = "conv"
in_channels = 2
out_channels = 2
kernel = [2, 2]
stride = [1, 1]
padding = [1, 1, 0, 0]
weight_bits = 3
weights = [[[[1, 0], [0, 1]], [[2, 0], [0, 3]]], [[[-1, 0], [0, -1]], [[-2, 0], [0, -3]]]]
accumulator = { bits = 8 }
activation = { kind = "thresholds", bits = 1, thresholds = [[0], [0]] }

[[layers]]
name = "pool"
kind = "maxpool"
kernel = [2, 2]
stride = [1, 1]

[[layers]]
name = "fc"
kind = "dense"
in_features = 8
out_features = 1
weight_bits = 2
weights = [[1, 1, 1, 1, 1, 1, 1, 1]]
accumulator = { bits = 6 }
"#;

    fn conv_error(from: &str, to: &str) -> ModelError {
        let text = CONV.replacen(from, to, 1);
        assert_ne!(text, CONV, "edit {from:?} did not apply");
        parse(&text).unwrap_err()
    }

    #[test]
    fn parses_convolution_and_pooling() {
        let model = parse(CONV).unwrap();
        let map = MapShape {
            height: 3,
            width: 3,
            channels: 2,
        };
        assert_eq!(model.input_shape, Some(map));
        let LayerKind::Conv(conv) = &model.layers[0].kind else {
            panic!("not a conv layer")
        };
        assert_eq!(conv.window.input, map);
        assert_eq!(conv.dense.in_features, 8);
        // Weights flattened (ky, kx, c), c fastest.
        assert_eq!(conv.dense.weights.row(0).to_vec(), [1, 0, 0, 1, 2, 0, 0, 3]);
        assert_eq!(model.output_map(0).map(|m| m.len()), Some(18));
        assert_eq!(
            model.output_map(1).map(|m| (m.height, m.width)),
            Some((2, 2))
        );
        assert_eq!(model.output_length(2), 1);
    }

    #[test]
    fn convolution_shapes_are_validated_by_field() {
        for ((from, to), field, says) in [
            (
                ("in_channels = 2", "in_channels = 3"),
                "in_channels",
                "2 channels",
            ),
            (
                ("kernel = [2, 2]", "kernel = [2, 0]"),
                "kernel",
                "at least 1",
            ),
            (("kernel = [2, 2]", "kernel = [2]"), "kernel", "expected 2"),
            (
                ("kernel = [2, 2]", "kernel = [5, 2]"),
                "kernel",
                "larger than the padded",
            ),
            (
                ("stride = [1, 1]", "stride = [0, 1]"),
                "stride",
                "at least 1",
            ),
            (
                ("padding = [1, 1, 0, 0]", "padding = [2, 1, 0, 0]"),
                "padding",
                "top padding 2",
            ),
            (
                ("padding = [1, 1, 0, 0]", "padding = [1, 1, 0]"),
                "padding",
                "expected 4",
            ),
            (("[[[[1, 0]", "[[[[1]"), "weights", "not rectangular"),
            (
                (", [[[-1, 0], [0, -1]], [[-2, 0], [0, -3]]]", ""),
                "weights",
                "[1, 2, 2, 2], expected [2, 2, 2, 2]",
            ),
            (
                (
                    "accumulator = { bits = 8 }",
                    "accumulator = { bits = 8 }\nhardware = { simd = 3 }",
                ),
                "hardware.simd",
                "in_channels = 2",
            ),
            (
                (
                    "accumulator = { bits = 8 }",
                    "accumulator = { bits = 8 }\nhardware = { pe = 3 }",
                ),
                "hardware.pe",
                "out_features = 2",
            ),
            (
                ("shape = [3, 3, 2]", "shape = [3, 3, 3]"),
                "input.shape",
                "27 elements",
            ),
            (
                ("shape = [3, 3, 2]", "shape = [3, 0, 2]"),
                "input.shape",
                "dimension 1 is 0",
            ),
            (
                ("shape = [3, 3, 2]", "shape = [3, 3]"),
                "input.shape",
                "expected 3",
            ),
            (
                ("shape = [3, 3, 2]", "shape = [4294967296, 4294967296, 2]"),
                "input.shape",
                "overflows",
            ),
            (
                (
                    "kind = \"maxpool\"",
                    "kind = \"maxpool\"\npadding = [0, 0, 0, 0]",
                ),
                "padding",
                "unknown field",
            ),
        ] {
            let e = conv_error(from, to);
            assert_eq!(e.field.as_deref(), Some(field), "{to}: {e}");
            assert!(e.message.contains(says), "{to}: {e}");
        }
    }

    #[test]
    fn window_layers_need_a_map() {
        let e = conv_error("shape = [3, 3, 2]\n", "");
        assert_eq!(e.field.as_deref(), Some("kind"));
        assert!(e.message.contains("no `shape"), "{e}");
        let dense_first = SMALL.replacen(
            "[[layers]]\nname = \"had\"\nkind = \"hadamard\"\nblock = 2",
            "[[layers]]\nname = \"pool\"\nkind = \"maxpool\"\nkernel = [1, 1]",
            1,
        );
        let e = parse(&dense_first.replace("shift = 1\nout_bits = 3\n", "")).unwrap_err();
        assert_eq!(e.layer.as_ref().map(|l| l.index), Some(1));
        assert!(e.message.contains("produces a vector"), "{e}");
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 0), (1, 1));
    }
}
