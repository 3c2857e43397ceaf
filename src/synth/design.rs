//! Writing a generated design where Yosys can read it, and naming the
//! modules to synthesize: the whole top and one module per layer.

use crate::arch::{Plan, Unit};
use crate::rtl::emit::Design;
use std::io;
use std::path::{Path, PathBuf};

/// A design on disk.
#[derive(Clone, Debug)]
pub struct WrittenDesign {
    pub dir: PathBuf,
    pub top: String,
    /// Verilog files, relative to `dir`, in compile order.
    pub files: Vec<String>,
}

/// Writes every Verilog file, memory image and `filelist.f` of `design`
/// into `dir` (created when missing).
pub fn write_design(design: &Design, dir: &Path) -> io::Result<WrittenDesign> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in design.verilog.iter().chain(&design.memories) {
        std::fs::write(dir.join(name), text)?;
    }
    std::fs::write(dir.join("filelist.f"), design.filelist())?;
    Ok(WrittenDesign {
        dir: dir.to_path_buf(),
        top: design.top.clone(),
        files: design
            .verilog
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
    })
}

/// The module of unit `index` of `plan`: `<model>_<unit>` (the generator
/// wraps it in a stream stage, `<model>_<unit>_stage`).
pub fn unit_module(plan: &Plan, index: usize) -> String {
    format!("{}_{}", plan.model, plan.units[index].name())
}

/// Whether a unit is a layer (synthesized on its own by `synth`).
pub fn is_layer(unit: &Unit) -> bool {
    matches!(unit, Unit::Mvau(_) | Unit::Hadamard(_))
}
