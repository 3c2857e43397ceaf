//! Writing a model to disk in the format `load.rs` reads: `<stem>.toml` plus
//! its integer arrays as `.npy` files in `<stem>/`, published atomically.
//!
//! Everything is first written to a staging folder beside the destination
//! (through [`crate::output::Outputs`]), loaded back through the reader, and
//! only then renamed into place. A failure before the renames leaves the
//! destination untouched.

use super::error::ModelError;
use super::load::load_model;
use super::spec::*;
use super::types::*;
use crate::npyio;
use crate::output::{OutputError, Outputs};
use ndarray::{Array, Dimension};
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// Why a model could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteModelError {
    #[error("`{0}` is not a file stem (a non-empty name without path separators)")]
    BadFileStem(String),
    /// The destination is in the way: a folder the writer did not write,
    /// or a TOML path that is a folder.
    #[error(transparent)]
    Refused(#[from] OutputError),
    /// The written files do not load back (the model breaks a rule of the
    /// format, e.g. descending thresholds); nothing was published.
    #[error("the model does not load back, nothing was written: {0}")]
    Invalid(#[source] ModelError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteModelError + '_ {
    move |source| WriteModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `model` as `<dir>/<file_stem>.toml` with its arrays in
/// `<dir>/<file_stem>/` (`<layer>_weights.npy`, `<layer>_bias.npy`,
/// `<layer>_thresholds.npy`, each in the narrowest signed dtype holding its
/// values) and returns the path of the TOML file. Missing folders are
/// created. The rules of [`crate::output`] apply: an arrays folder the tool
/// did not write is never replaced, and only the arrays an earlier model
/// of the same stem listed in its manifest are removed.
///
/// The written model is loaded back before it is published, so a model the
/// reader would refuse is never written.
pub fn write_model(model: &Model, dir: &Path, file_stem: &str) -> Result<PathBuf, WriteModelError> {
    check_file_stem(file_stem)?;
    let toml_path = dir.join(toml_file_name(file_stem));
    let mut outputs = Outputs::new();
    let slot = outputs.model("model", &toml_path)?;
    let (staging, stem) = outputs.model_location(slot);
    stage_model(model, &staging, &stem)?;
    outputs.commit()?;
    Ok(toml_path)
}

/// Writes `model` into the (staging) folder `dir` as `<file_stem>.toml` and
/// `<file_stem>/`, loads it back and returns the TOML path: the part of
/// [`write_model`] a command staging its outputs with
/// [`Outputs::model`] calls.
pub fn stage_model(model: &Model, dir: &Path, file_stem: &str) -> Result<PathBuf, WriteModelError> {
    check_file_stem(file_stem)?;
    let staged_toml = stage(model, dir, file_stem)?;
    let reloaded = load_model(&staged_toml).map_err(WriteModelError::Invalid)?;
    debug_assert_eq!(
        Model {
            source: model.source.clone(),
            ..reloaded
        },
        *model,
        "the writer and the reader disagree"
    );
    Ok(staged_toml)
}

/// A stem names one file and one directory inside `dir`, nothing else.
fn check_file_stem(stem: &str) -> Result<(), WriteModelError> {
    let mut components = Path::new(stem).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) if name == stem => Ok(()),
        _ => Err(WriteModelError::BadFileStem(stem.to_string())),
    }
}

/// Writes the TOML file and the arrays into `staging`, laid out as they will
/// be in the destination. Returns the staged TOML path.
fn stage(model: &Model, staging: &Path, stem: &str) -> Result<PathBuf, WriteModelError> {
    let arrays = ArrayFiles {
        dir: staging.join(stem),
        stem,
    };
    fs::create_dir(&arrays.dir).map_err(io_error(&arrays.dir))?;
    let text = model_toml(model, &arrays)?;
    let toml_path = staging.join(toml_file_name(stem));
    write_synced(&toml_path, text.as_bytes()).map_err(io_error(&toml_path))?;
    Ok(toml_path)
}

fn toml_file_name(stem: &str) -> String {
    format!("{stem}.toml")
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The model's TOML text: a header comment, then `[model]`, `[input]` and
/// one `[[layers]]` table per layer with its sub-tables, keys in schema order.
fn model_toml(model: &Model, arrays: &ArrayFiles) -> Result<String, WriteModelError> {
    let file = ModelFile {
        model: ModelSection {
            name: model.name.clone(),
            description: model.description.clone(),
        },
        input: InputSection {
            length: model.input_length,
            bits: model.input.bits,
            signed: model.input.signed,
            shape: model
                .input_shape
                .map(|m| vec![m.height, m.width, m.channels]),
            scale: model.input_scale,
        },
        output: model.output_scale.as_ref().map(|scale| OutputSection {
            scale: scale.clone(),
        }),
        layers: model
            .layers
            .iter()
            .map(|layer| layer_spec(layer, arrays))
            .collect::<Result<_, _>>()?,
    };
    let body = toml::to_string(&file).expect("model specs always serialize to TOML");
    Ok(format!(
        "# Model `{}`, written by a2qgen. Array paths are relative to this file.\n\n{body}",
        model.name
    ))
}

/// Where a model's arrays are written, and how the TOML file refers to them.
struct ArrayFiles<'a> {
    dir: PathBuf,
    stem: &'a str,
}

impl ArrayFiles<'_> {
    /// Writes `<layer>_<role>.npy` and returns the TOML value naming it.
    fn write<D: Dimension>(
        &self,
        layer: &str,
        role: &str,
        array: &Array<i64, D>,
    ) -> Result<toml::Value, WriteModelError> {
        let file_name = format!("{layer}_{role}.npy");
        let path = self.dir.join(&file_name);
        npyio::write_narrowest_int_array(&path, array).map_err(io_error(&path))?;
        // Always `/`: the reader accepts it everywhere, and the TOML text must
        // not depend on the platform that wrote it.
        Ok(toml::Value::String(format!("{}/{file_name}", self.stem)))
    }
}

fn layer_spec(layer: &Layer, arrays: &ArrayFiles) -> Result<LayerSpec, WriteModelError> {
    Ok(match &layer.kind {
        LayerKind::Dense(dense) => LayerSpec::Dense(dense_spec(&layer.name, dense, arrays)?),
        LayerKind::Hadamard(hadamard) => LayerSpec::Hadamard(hadamard_spec(&layer.name, hadamard)),
        LayerKind::Conv(conv) => LayerSpec::Conv(conv_spec(&layer.name, conv, arrays)?),
        LayerKind::MaxPool(pool) => LayerSpec::MaxPool(MaxPoolSpec {
            name: layer.name.clone(),
            kernel: pool.window.kernel.to_vec(),
            stride: Some(pool.window.stride.to_vec()),
        }),
    })
}

/// Stride and padding are written even at their defaults, as the overflow
/// mode is; the weights as `[out_channels, kh, kw, in_channels]`.
fn conv_spec(name: &str, conv: &Conv, arrays: &ArrayFiles) -> Result<ConvSpec, WriteModelError> {
    let window = &conv.window;
    let dense = dense_spec(name, &conv.dense, arrays)?;
    let weights = conv
        .dense
        .weights
        .to_shape((
            conv.dense.out_features,
            window.kernel[0],
            window.kernel[1],
            window.input.channels,
        ))
        .expect("a conv's weight rows are its windows")
        .to_owned();
    Ok(ConvSpec {
        name: dense.name,
        in_channels: window.input.channels,
        out_channels: dense.out_features,
        kernel: window.kernel.to_vec(),
        stride: Some(window.stride.to_vec()),
        padding: Some(window.padding.to_vec()),
        weight_bits: dense.weight_bits,
        weights: arrays.write(name, "weights", &weights)?,
        bias: dense.bias,
        accumulator: dense.accumulator,
        activation: dense.activation,
        hardware: dense.hardware,
    })
}

fn dense_spec(
    name: &str,
    dense: &Dense,
    arrays: &ArrayFiles,
) -> Result<DenseSpec, WriteModelError> {
    let bias = match &dense.bias {
        Some(bias) => Some(arrays.write(name, "bias", bias)?),
        None => None,
    };
    Ok(DenseSpec {
        name: name.to_string(),
        in_features: dense.in_features,
        out_features: dense.out_features,
        weight_bits: dense.weight_bits,
        weights: arrays.write(name, "weights", &dense.weights)?,
        bias,
        accumulator: accumulator_spec(&dense.accumulator),
        activation: Some(activation_spec(name, &dense.activation, arrays)?),
        hardware: hardware_spec(&dense.hardware),
    })
}

/// Overflow mode and `allow_overflow` are written even at their defaults: a
/// reader of the file should not need to know the defaults to see them.
fn accumulator_spec(accumulator: &Accumulator) -> AccumulatorSpec {
    AccumulatorSpec {
        bits: accumulator.bits,
        tile: accumulator.tile.map(|tile| TileSpec {
            size: tile.size,
            inner_bits: tile.inner_bits,
        }),
        overflow: Some(match accumulator.overflow {
            OverflowMode::Wrap => OverflowSpec::Wrap,
            OverflowMode::Saturate => OverflowSpec::Saturate,
        }),
        allow_overflow: accumulator.allow_overflow,
    }
}

/// `kind = "none"` is written out rather than omitted, so a last layer
/// visibly outputs raw accumulators.
fn activation_spec(
    name: &str,
    activation: &Activation,
    arrays: &ArrayFiles,
) -> Result<ActivationSpec, WriteModelError> {
    Ok(match activation {
        Activation::None => ActivationSpec {
            kind: ActivationKind::None,
            bits: None,
            signed: None,
            thresholds: None,
        },
        Activation::Thresholds { output, thresholds } => ActivationSpec {
            kind: ActivationKind::Thresholds,
            bits: Some(output.bits),
            signed: Some(output.signed),
            thresholds: Some(arrays.write(name, "thresholds", thresholds)?),
        },
    })
}

/// No `[layers.hardware]` table when every hint is at its default.
fn hardware_spec(hints: &HardwareHints) -> Option<HardwareSpec> {
    (*hints != HardwareHints::default()).then_some(HardwareSpec {
        pe: hints.pe,
        simd: hints.simd,
        multiplier: Some(match hints.multiplier {
            MultiplierStyle::Lut => MultiplierSpec::Lut,
            MultiplierStyle::Dsp => MultiplierSpec::Dsp,
        }),
        // Written only when not the default, so that ROM models keep their text.
        weights: match hints.weights {
            WeightsHint::Rom => None,
            WeightsHint::Hardwired => Some(WeightsSpec::Hardwired),
            WeightsHint::Auto => Some(WeightsSpec::Auto),
        },
    })
}

fn hadamard_spec(name: &str, hadamard: &Hadamard) -> HadamardSpec {
    HadamardSpec {
        name: name.to_string(),
        block: hadamard.block,
        shift: hadamard.shift,
        out_bits: hadamard.out_bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn example(name: &str) -> Model {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{name}.toml"));
        load_model(&path).unwrap()
    }

    /// Writes `model` into `dir`, loads it back and checks it is the same
    /// model apart from where it was read from.
    fn assert_round_trips(model: &Model, dir: &Path) -> Model {
        let path = write_model(model, dir, "written").unwrap();
        assert_eq!(path, dir.join("written.toml"));
        let reloaded = load_model(&path).unwrap();
        assert_eq!(reloaded.source, path);
        assert_eq!(
            Model {
                source: model.source.clone(),
                ..reloaded.clone()
            },
            *model
        );
        reloaded
    }

    /// Names of the entries of `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn bundled_examples_round_trip() {
        for name in ["mlp3", "hadamard_tiled"] {
            let dir = tempfile::tempdir().unwrap();
            assert_round_trips(&example(name), dir.path());
        }
    }

    #[test]
    fn convolution_and_pooling_round_trip() {
        let text = r#"
[model]
name = "cnn"

[input]
length = 18
bits = 3
signed = true
shape = [3, 3, 2]

[[layers]]
name = "conv"
kind = "conv"
in_channels = 2
out_channels = 2
kernel = [2, 1]
stride = [2, 1]
padding = [1, 0, 1, 0]
weight_bits = 3
weights = [[[[1, -4]], [[2, 0]]], [[[-1, 3]], [[0, 0]]]]
bias = [3, -3]
accumulator = { bits = 9, tile = { size = 2, inner_bits = 8 } }
hardware = { pe = 1, simd = 2 }

[[layers]]
name = "pool"
kind = "maxpool"
kernel = [2, 3]
"#;
        let model = crate::model::parse_model(text, Path::new("cnn.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reloaded = assert_round_trips(&model, dir.path());
        assert_eq!(reloaded.output_map(1).map(|m| m.len()), Some(2));
        let written = fs::read_to_string(dir.path().join("written.toml")).unwrap();
        assert!(written.contains("shape = [3, 3, 2]"), "{written}");
        let weights = npyio::read_int_array(&dir.path().join("written/conv_weights.npy")).unwrap();
        assert_eq!(weights.shape(), [2, 2, 1, 2]);
    }

    /// A model that leaves every optional field out: no description, no
    /// bias, no activation, no hardware hints, a Hadamard with no shift.
    fn minimal_model() -> Model {
        Model {
            name: "minimal".into(),
            description: None,
            source: PathBuf::new(),
            input_length: 4,
            input: IntType::signed(3),
            input_shape: None,
            input_scale: None,
            output_scale: None,
            layers: vec![
                Layer {
                    name: "rot".into(),
                    kind: LayerKind::Hadamard(Hadamard {
                        block: 4,
                        shift: None,
                        out_bits: None,
                    }),
                },
                Layer {
                    name: "out".into(),
                    kind: LayerKind::Dense(Box::new(Dense {
                        in_features: 4,
                        out_features: 2,
                        weight_bits: 2,
                        weights: array![[1, -2, 0, 1], [-1, 0, 1, -2]],
                        bias: None,
                        accumulator: Accumulator {
                            bits: 9,
                            tile: None,
                            overflow: OverflowMode::Wrap,
                            allow_overflow: false,
                        },
                        activation: Activation::None,
                        hardware: HardwareHints::default(),
                    })),
                },
            ],
        }
    }

    #[test]
    fn float_scales_round_trip_exactly() {
        let mut model = minimal_model();
        model.input_scale = Some(0.0625);
        let outputs = model.output_length(model.layers.len() - 1);
        model.output_scale = Some((0..outputs).map(|i| 0.1 + i as f64 * 1e-9).collect());
        let dir = tempfile::tempdir().unwrap();
        let read = assert_round_trips(&model, dir.path());
        assert_eq!(read.input_scale, model.input_scale);
        assert_eq!(read.output_scale, model.output_scale);
    }

    #[test]
    fn a_model_without_optional_fields_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_round_trips(&minimal_model(), dir.path());
        let text = fs::read_to_string(dir.path().join("written.toml")).unwrap();
        assert!(
            !text.contains("bias") && !text.contains("hardware"),
            "{text}"
        );
        assert_eq!(
            listing(&dir.path().join("written")),
            [crate::output::MANIFEST, "out_weights.npy"]
        );
    }

    #[test]
    fn saturating_accumulators_and_wide_arrays_round_trip() {
        let mut model = minimal_model();
        let LayerKind::Dense(dense) = &mut model.layers[1].kind else {
            unreachable!()
        };
        dense.accumulator = Accumulator {
            bits: 40,
            tile: Some(Tile {
                size: 2,
                inner_bits: 6,
            }),
            overflow: OverflowMode::Saturate,
            allow_overflow: true,
        };
        dense.bias = Some(array![1 << 36, -(1 << 20)]);
        dense.hardware = HardwareHints {
            pe: None,
            simd: Some(2),
            multiplier: MultiplierStyle::Dsp,
            weights: WeightsHint::Rom,
        };
        model.description = Some("quotes \" and\nnewlines survive".into());
        let dir = tempfile::tempdir().unwrap();
        assert_round_trips(&model, dir.path());
    }

    #[test]
    fn the_toml_text_is_readable_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        write_model(&example("mlp3"), dir.path(), "mlp3").unwrap();
        let text = fs::read_to_string(dir.path().join("mlp3.toml")).unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn writing_twice_gives_the_same_bytes() {
        let model = example("hadamard_tiled");
        let [first, second] = [(); 2].map(|_| {
            let dir = tempfile::tempdir().unwrap();
            write_model(&model, dir.path(), "m").unwrap();
            let files: Vec<Vec<u8>> = ["m.toml", "m/fc0_weights.npy", "m/fc0_thresholds.npy"]
                .iter()
                .map(|f| fs::read(dir.path().join(f)).unwrap())
                .collect();
            files
        });
        assert_eq!(first, second);
    }

    #[test]
    fn replacing_a_model_removes_its_stale_arrays() {
        let dir = tempfile::tempdir().unwrap();
        write_model(&example("mlp3"), dir.path(), "m").unwrap();
        let model = example("hadamard_tiled");
        let path = write_model(&model, dir.path(), "m").unwrap();
        let reloaded = load_model(&path).unwrap();
        assert_eq!(reloaded.layers, model.layers);
        assert_eq!(
            listing(&dir.path().join("m")),
            [
                crate::output::MANIFEST,
                "fc0_thresholds.npy",
                "fc0_weights.npy",
                "fc1_bias.npy",
                "fc1_weights.npy"
            ]
        );
        // No staging directory is left behind.
        assert_eq!(listing(dir.path()), ["m", "m.toml"]);
    }

    #[test]
    fn a_folder_where_the_toml_goes_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        write_model(&example("mlp3"), dir.path(), "m").unwrap();
        let before = listing(&dir.path().join("m"));
        fs::remove_file(dir.path().join("m.toml")).unwrap();
        fs::create_dir(dir.path().join("m.toml")).unwrap();
        fs::write(dir.path().join("m.toml/keep"), "").unwrap();
        let error = write_model(&example("hadamard_tiled"), dir.path(), "m").unwrap_err();
        assert!(matches!(error, WriteModelError::Refused(_)), "{error}");
        assert_eq!(listing(&dir.path().join("m")), before);
        assert_eq!(listing(dir.path()), ["m", "m.toml"]);
    }

    #[test]
    fn a_directory_with_other_files_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("m")).unwrap();
        fs::write(dir.path().join("m/notes.txt"), "mine").unwrap();
        let error = write_model(&example("mlp3"), dir.path(), "m").unwrap_err();
        assert!(
            matches!(&error, WriteModelError::Refused(e) if e.path.ends_with("m")),
            "{error}"
        );
        assert_eq!(listing(dir.path()), ["m"]);
        assert_eq!(listing(&dir.path().join("m")), ["notes.txt"]);
    }

    #[test]
    fn an_invalid_model_writes_nothing() {
        let mut model = example("mlp3");
        let LayerKind::Dense(dense) = &mut model.layers[0].kind else {
            unreachable!()
        };
        let Activation::Thresholds { thresholds, .. } = &mut dense.activation else {
            unreachable!()
        };
        thresholds[[3, 0]] = thresholds[[3, 1]] + 1;
        let dir = tempfile::tempdir().unwrap();
        let error = write_model(&model, dir.path(), "m").unwrap_err();
        assert!(
            matches!(&error, WriteModelError::Invalid(e) if e.message.contains("channel 3")),
            "{error}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn file_stems_with_path_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for stem in ["", ".", "..", "a/b", "/abs", "a/"] {
            let error = write_model(&minimal_model(), dir.path(), stem).unwrap_err();
            assert!(
                matches!(error, WriteModelError::BadFileStem(_)),
                "{stem:?}: {error}"
            );
        }
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_destination_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        assert_round_trips(&minimal_model(), &nested);
    }
}
