//! Reading Yosys `stat` output: the cell counts of the synthesized module,
//! and the xc7 resources they add up to.
//!
//! How cells count (Yosys 0.23 `synth_xilinx` names, 7-series slices):
//!
//! * **LUT** = `LUT1`..`LUT6` (logic) + LUTs used as memory or shift
//!   registers: `RAM32M`, `RAM64M` (4 LUTs each: a whole SLICEM),
//!   `RAM32X1D`, `RAM64X1D` (2), `RAM128X1D` (4), `RAM256X1S` (4),
//!   `RAM128X1S` (2), `RAM32X1S`, `RAM64X1S`, `SRL16E`, `SRLC32E` (1).
//!   `INV` cells are not counted: Vivado folds them into the LUTs they
//!   feed; they are reported apart. `MUXF7`/`MUXF8` are slice muxes, not
//!   LUTs, and are reported apart too.
//! * **FF** = `FDRE` + `FDSE` + `FDCE` + `FDPE`.
//! * **CARRY4**, **DSP48E1** as counted.
//! * **BRAM18** = `RAMB18E1` + 2 x `RAMB36E1`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// LUTs each LUT-based memory or shift-register primitive occupies.
pub const LUT_MEMORY_CELLS: [(&str, u64); 11] = [
    ("RAM32M", 4),
    ("RAM64M", 4),
    ("RAM32X1D", 2),
    ("RAM64X1D", 2),
    ("RAM128X1D", 4),
    ("RAM256X1S", 4),
    ("RAM128X1S", 2),
    ("RAM32X1S", 1),
    ("RAM64X1S", 1),
    ("SRL16E", 1),
    ("SRLC32E", 1),
];

const LOGIC_LUTS: [&str; 6] = ["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"];
const FLIP_FLOPS: [&str; 4] = ["FDRE", "FDSE", "FDCE", "FDPE"];

/// Cell type -> count of one synthesized module.
pub type CellCounts = BTreeMap<String, u64>;

/// What Yosys measured, in xc7 resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// Logic LUTs plus LUTs used as memory (`lutram`) or shift registers.
    pub lut: u64,
    /// The part of `lut` used as distributed memory or shift registers.
    pub lutram: u64,
    pub ff: u64,
    pub carry4: u64,
    pub dsp: u64,
    /// RAMB18E1 plus two per RAMB36E1.
    pub bram18: u64,
    /// Not in `lut`: inverters and slice muxes.
    pub inv: u64,
    pub muxf: u64,
}

impl Measured {
    /// The resources of a module's cell counts.
    pub fn from_cells(cells: &CellCounts) -> Self {
        let count = |name: &str| cells.get(name).copied().unwrap_or(0);
        let lutram = LUT_MEMORY_CELLS
            .iter()
            .map(|(name, luts)| count(name) * luts)
            .sum();
        Measured {
            lut: LOGIC_LUTS.iter().map(|n| count(n)).sum::<u64>() + lutram,
            lutram,
            ff: FLIP_FLOPS.iter().map(|n| count(n)).sum(),
            carry4: count("CARRY4"),
            dsp: count("DSP48E1"),
            bram18: count("RAMB18E1") + 2 * count("RAMB36E1"),
            inv: count("INV"),
            muxf: count("MUXF7") + count("MUXF8"),
        }
    }
}

impl std::ops::Add for Measured {
    type Output = Measured;
    fn add(self, o: Measured) -> Measured {
        Measured {
            lut: self.lut + o.lut,
            lutram: self.lutram + o.lutram,
            ff: self.ff + o.ff,
            carry4: self.carry4 + o.carry4,
            dsp: self.dsp + o.dsp,
            bram18: self.bram18 + o.bram18,
            inv: self.inv + o.inv,
            muxf: self.muxf + o.muxf,
        }
    }
}

impl std::iter::Sum for Measured {
    fn sum<I: Iterator<Item = Measured>>(iter: I) -> Measured {
        iter.fold(Measured::default(), |sum, m| sum + m)
    }
}

/// Why a `stat` report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatError {
    #[error("no `=== {0} ===` section in the Yosys statistics")]
    NoModule(String),
    #[error("the statistics of `{0}` list no cells")]
    NoCells(String),
}

/// The cell counts of module `top` in the text of a Yosys `stat` report
/// (the last section of that name when there are several).
pub fn parse_stat(text: &str, top: &str) -> Result<CellCounts, StatError> {
    let header = format!("=== {top} ===");
    let section = text
        .rfind(&header)
        .map(|start| &text[start + header.len()..])
        .ok_or_else(|| StatError::NoModule(top.to_string()))?;
    section_cells(section).ok_or_else(|| StatError::NoCells(top.to_string()))
}

/// Every module's own cell counts, in the order of the report (a
/// hierarchical synthesis lists one section per module, then the design
/// hierarchy, which is not a module).
pub fn parse_modules(text: &str) -> Vec<(String, CellCounts)> {
    let mut modules = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("=== ") {
        let after = &rest[start + 4..];
        let Some(end) = after.find(" ===") else { break };
        let name = after[..end].trim();
        let body = &after[end + 4..];
        if name != "design hierarchy"
            && let Some(cells) = section_cells(body)
        {
            modules.push((name.to_string(), cells));
        }
        rest = body;
    }
    modules
}

/// The cells listed after `Number of cells:` in one section (which ends at
/// the next `===`).
fn section_cells(section: &str) -> Option<CellCounts> {
    let section = section.split("\n===").next().unwrap_or(section);
    let mut lines = section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Number of cells:"));
    lines.next()?;
    let mut cells = CellCounts::new();
    for line in lines {
        match cell_line(line) {
            Some((name, count)) => {
                cells.insert(name.to_string(), count);
            }
            None if line.trim().is_empty() && !cells.is_empty() => break,
            None => {}
        }
    }
    Some(cells)
}

/// `    LUT6      465` -> `("LUT6", 465)`.
fn cell_line(line: &str) -> Option<(&str, u64)> {
    let mut parts = line.split_whitespace();
    let (name, count) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || name.ends_with(':') {
        return None;
    }
    Some((name, count.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `yosys -p "...; synth_xilinx -family xc7 -flatten
    /// -noiopad -top mlp3_top; stat"` on the mlp3 example.
    const MLP3_LOG: &str = include_str!("testdata/mlp3_top_stat.txt");

    #[test]
    fn parses_the_captured_mlp3_statistics() {
        let cells = parse_stat(MLP3_LOG, "mlp3_top").unwrap();
        assert_eq!(cells["LUT6"], 465);
        assert_eq!(cells["RAM32M"], 13);
        assert_eq!(cells.len(), 16);
        let m = Measured::from_cells(&cells);
        assert_eq!(m.lut, 6 + 442 + 217 + 222 + 331 + 465 + 4 * 13 + 2);
        assert_eq!(m.lutram, 4 * 13 + 2);
        assert_eq!(m.ff, 555 + 16);
        assert_eq!((m.carry4, m.dsp, m.bram18), (241, 16, 0));
        assert_eq!((m.inv, m.muxf), (64, 194 + 8));
    }

    #[test]
    fn block_rams_count_in_18k_halves() {
        let text =
            "=== rom ===\n\n   Number of cells:    3\n     RAMB18E1    1\n     RAMB36E1    2\n";
        let m = Measured::from_cells(&parse_stat(text, "rom").unwrap());
        assert_eq!(m.bram18, 5);
    }

    #[test]
    fn a_hierarchical_report_lists_every_module() {
        let text = "=== top ===\n\n   Number of cells:   2\n     lane       1\n     FDRE       3\n\n\
                    === lane ===\n\n   Number of cells:   2\n     LUT6       4\n     CARRY4     1\n\n\
                    === design hierarchy ===\n\n   top     1\n     lane   1\n\n   Number of cells:   4\n     LUT6  4\n";
        let modules = parse_modules(text);
        let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["top", "lane"]);
        assert_eq!(modules[1].1["LUT6"], 4);
        assert_eq!(modules[0].1["FDRE"], 3);
        // A flattened report is one module.
        assert_eq!(parse_modules(MLP3_LOG).len(), 1);
    }

    #[test]
    fn a_missing_module_is_an_error() {
        assert_eq!(
            parse_stat(MLP3_LOG, "other"),
            Err(StatError::NoModule("other".into()))
        );
    }
}
