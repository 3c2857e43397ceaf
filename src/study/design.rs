//! Building a study variant from a trained model: the model as the
//! variant declares it (hardwired weights written into the TOML and loaded
//! as a user's file would be, so the loader's refusals apply; 32-bit
//! accumulators as `estimate` widens them), its plan, its Verilog and the
//! hash that keys the Yosys cache; and scoring it on the test split exactly
//! as `infer` does.

use super::{Accumulators, StudyError, Variant, Weights};
use crate::arch::{Plan, PlanOptions, build_plan};
use crate::bounds::analyze;
use crate::estimate::widened_model;
use crate::model::{Model, load_model, parse_model};
use crate::reference::{AccumulatorMode, Reference, model_predictions};
use crate::rtl::emit::{Design, generate};
use ndarray::{ArrayView1, ArrayView2};
use std::path::{Path, PathBuf};

/// One row of `examples/study/models/accuracy.csv`, which `train.py` wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainedModel {
    pub name: String,
    /// `baseline`, `a2q` or `a2qplus`.
    pub method: String,
    /// The accumulator width A2Q / A2Q+ trained for (none for the baseline).
    pub target_bits: Option<u32>,
    /// The PyTorch model's test accuracy, a fraction, as written.
    pub torch_accuracy: String,
    /// Test predictions of the integer model equal to PyTorch's.
    pub predictions_agree: usize,
    pub test_images: usize,
    /// The TOML file.
    pub path: PathBuf,
}

/// The trained models listed in `dir/accuracy.csv`, in its order.
pub fn read_trained_models(dir: &Path) -> Result<Vec<TrainedModel>, StudyError> {
    let file = dir.join("accuracy.csv");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| StudyError::Io(format!("{}: {e}", file.display())))?;
    let csv_error = |line: usize, message: String| StudyError::Csv {
        file: file.display().to_string(),
        line,
        message,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| csv_error(1, format!("no column `{name}`")))
    };
    let (name, method, target, torch, agree, images) = (
        column("model")?,
        column("method")?,
        column("target_bits")?,
        column("torch_accuracy")?,
        column("predictions_agree")?,
        column("test_images")?,
    );
    let mut models = Vec::new();
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(csv_error(index + 2, "wrong number of fields".into()));
        }
        let number = |i: usize| {
            fields[i]
                .parse::<usize>()
                .map_err(|e| csv_error(index + 2, format!("`{}`: {e}", header[i])))
        };
        models.push(TrainedModel {
            name: fields[name].to_string(),
            method: fields[method].to_string(),
            target_bits: match fields[target] {
                "" => None,
                _ => Some(number(target)? as u32),
            },
            torch_accuracy: fields[torch].to_string(),
            predictions_agree: number(agree)?,
            test_images: number(images)?,
            path: dir.join(format!("{}.toml", fields[name])),
        });
    }
    Ok(models)
}

/// A variant that was built: its model, plan and Verilog.
#[derive(Clone, Debug)]
pub struct BuiltVariant {
    pub model: Model,
    pub plan: Plan,
    pub design: Design,
    /// [`design_hash`] of `design`.
    pub hash: String,
}

impl BuiltVariant {
    /// Every dense layer's declared width, `13/12/12`.
    pub fn acc_bits(&self) -> String {
        self.model
            .dense_layers()
            .map(|(_, _, dense)| dense.accumulator.bits.to_string())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A variant is built, or the tool refuses it (with the reason).
#[derive(Clone, Debug)]
pub enum VariantBuild {
    Built(Box<BuiltVariant>),
    NotBuilt(String),
}

/// The model file's text with `weights = "hardwired"` in every dense
/// layer's `[layers.hardware]` table.
fn hardwired_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[layers.hardware]" {
            out.push_str("weights = \"hardwired\"\n");
        }
    }
    out
}

/// The loader's message without the file it names first (the row names
/// the model), so one reason reads the same for every model.
fn without_file(path: &Path, message: String) -> String {
    let prefix = format!("{}: ", path.display());
    message
        .strip_prefix(&prefix)
        .map_or(message.clone(), str::to_string)
}

/// Builds `variant` of the model at `path`. The ROM model must load and
/// plan; a hardwired variant the loader or the planner refuses is
/// [`VariantBuild::NotBuilt`].
pub fn build_variant(path: &Path, variant: Variant) -> Result<VariantBuild, StudyError> {
    let model_error = |message: String| StudyError::Model {
        model: path.display().to_string(),
        message,
    };
    let model = match variant.weights {
        Weights::Rom => load_model(path).map_err(|e| model_error(e.to_string()))?,
        Weights::Hardwired => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| StudyError::Io(format!("{}: {e}", path.display())))?;
            match parse_model(&hardwired_text(&text), path) {
                Ok(model) => model,
                Err(e) => return Ok(VariantBuild::NotBuilt(without_file(path, e.to_string()))),
            }
        }
    };
    let model = match variant.accumulators {
        Accumulators::Proven => model,
        Accumulators::Wide32 => widened_model(&model),
    };
    let plan = match build_plan(&model, &analyze(&model), PlanOptions::default()) {
        Ok(plan) => plan,
        Err(e) if variant.weights == Weights::Hardwired => {
            return Ok(VariantBuild::NotBuilt(e.to_string()));
        }
        Err(e) => return Err(model_error(e.to_string())),
    };
    let design = generate(&model, &plan);
    let hash = design_hash(&design);
    Ok(VariantBuild::Built(Box::new(BuiltVariant {
        model,
        plan,
        design,
        hash,
    })))
}

/// FNV-1a (64 bits) of every Verilog file and memory image, names and
/// contents, in the design's order: stable across runs and toolchains, so
/// the committed cache keys stay valid.
pub fn design_hash(design: &Design) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, text) in design.verilog.iter().chain(&design.memories) {
        feed(name.as_bytes());
        feed(&[0]);
        feed(text.as_bytes());
        feed(&[0]);
    }
    format!("{hash:016x}")
}

/// Whether `dir` already holds exactly the files of `design` (a run
/// interrupted after Yosys finished can then be read back).
pub fn design_on_disk(design: &Design, dir: &Path) -> bool {
    design
        .verilog
        .iter()
        .chain(&design.memories)
        .all(|(name, text)| std::fs::read_to_string(dir.join(name)).is_ok_and(|t| t == *text))
}

/// Test predictions equal to their labels, predicted as `infer` predicts
/// (through the output scales when the model has them).
pub fn correct_predictions(
    model: &Model,
    inputs: ArrayView2<i64>,
    labels: ArrayView1<i64>,
) -> Result<usize, StudyError> {
    let reference =
        Reference::new(model, &AccumulatorMode::default()).map_err(|e| StudyError::Model {
            model: model.name.clone(),
            message: e.to_string(),
        })?;
    let run = reference.run(inputs).map_err(|e| StudyError::Model {
        model: model.name.clone(),
        message: e.to_string(),
    })?;
    let predicted = model_predictions(model, run.outputs.view());
    Ok(predicted.iter().zip(labels).filter(|(p, l)| p == l).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardwired_text_marks_every_hardware_table() {
        let text = "[[layers]]\n[layers.hardware]\npe = 2\n[[layers]]\n[layers.hardware]\n";
        let out = hardwired_text(text);
        assert_eq!(out.matches("weights = \"hardwired\"").count(), 2);
        assert!(
            out.starts_with("[[layers]]\n[layers.hardware]\nweights = \"hardwired\"\npe = 2\n")
        );
    }
}
