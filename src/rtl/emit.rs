//! From the rust-hdl block tree to files: Verilog text from rust-hdl's
//! `generate_verilog`, module names made tool-friendly, one module per file
//! (Verilator's DECLFILENAME rule) each with a header, the weight ROM
//! images, and a filelist.

use super::top::Accelerator;
use crate::arch::{Plan, Unit};
use crate::model::Model;
use rust_hdl::prelude::generate_verilog;

/// A generated design, in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    /// Name of the top module.
    pub top: String,
    /// `(file name, contents)` of every Verilog file, the top last.
    pub verilog: Vec<(String, String)>,
    /// `(file name, contents)` of every `$readmemh` image.
    pub memories: Vec<(String, String)>,
}

impl Design {
    /// One Verilog file name per line, in compile order.
    pub fn filelist(&self) -> String {
        self.verilog
            .iter()
            .map(|(name, _)| format!("{name}\n"))
            .collect()
    }
}

/// Name of the weight image of `pe` in layer `layer`.
pub fn rom_file_name(model: &str, layer: &str, pe: usize) -> String {
    format!("{model}_{layer}_pe{pe}_weights.mem")
}

/// Generates the Verilog of `plan` for `model`.
pub fn generate(model: &Model, plan: &Plan) -> Design {
    generate_named(&model.name, plan)
}

/// Generates the Verilog of `plan`; headers name `model` as its source
/// (plans built unit by unit have no model file).
pub fn generate_named(model: &str, plan: &Plan) -> Design {
    let top = Accelerator::new(plan, |layer, pe| rom_file_name(&plan.model, layer, pe));
    let units: Vec<&str> = plan.units.iter().map(Unit::name).collect();
    let text = rename_identifiers(&generate_verilog(&top), &plan.model, &units);
    let mut verilog: Vec<(String, String)> = split_modules(&text)
        .into_iter()
        .map(|(name, body)| {
            let header = header(model, plan, &name);
            (format!("{name}.v"), format!("{header}{body}\n"))
        })
        .collect();
    let top_name = format!("{}_top", plan.model);
    // Children first, then the top; otherwise by name for stable output.
    verilog.sort_by(|a, b| {
        ((a.0 == format!("{top_name}.v")), &a.0).cmp(&((b.0 == format!("{top_name}.v")), &b.0))
    });
    let memories = top
        .stages
        .iter()
        .flat_map(|stage| stage.mvau.iter())
        .flat_map(|mvau| mvau.lanes.iter())
        .map(|lane| (lane.rom.file_name().to_string(), lane.rom.memory_image()))
        .collect();
    Design {
        top: top_name,
        verilog,
        memories,
    }
}

/// rust-hdl names modules by their path (`top$stages$0$mvau$0`) and
/// signals with `$` separators. `$` is legal in Verilog identifiers but a
/// nuisance in file names and scripts: the top becomes `<model>_top`, other
/// modules `<model>_stages_0_mvau_0`, and `$` inside other identifiers `__`
/// (a single `_` could collide: a child `rom`'s port `addr` with a port
/// `rom_addr`).
/// System tasks (`$signed`, `$readmemh`) start with `$` and are kept.
pub fn rename_identifiers(text: &str, model: &str, units: &[&str]) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.char_indices().peekable();
    let bytes = text.as_bytes();
    while let Some((start, c)) = chars.next() {
        let starts_identifier = (c.is_ascii_alphabetic() || c == '_')
            && (start == 0 || !is_identifier_byte(bytes[start - 1]));
        if !starts_identifier {
            out.push(c);
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, next)) = chars.peek() {
            if next.is_ascii_alphanumeric() || next == '_' || next == '$' {
                end = i + 1;
                chars.next();
            } else {
                break;
            }
        }
        let identifier = &text[start..end];
        if identifier == "top" {
            out.push_str(&format!("{model}_top"));
        } else if let Some(path) = identifier.strip_prefix("top$") {
            out.push_str(&module_name(path, model, units));
        } else {
            out.push_str(&identifier.replace('$', "__"));
        }
    }
    out
}

/// `stages$3$mvau$0$lanes$1` -> `<model>_<unit 3>_lanes_1`; the stage
/// wrapper itself -> `<model>_<unit>_stage`.
fn module_name(path: &str, model: &str, units: &[&str]) -> String {
    let mut parts = path.split('$');
    let unit = match (
        parts.next(),
        parts.next().and_then(|i| i.parse::<usize>().ok()),
    ) {
        (Some("stages"), Some(index)) if index < units.len() => units[index],
        _ => return format!("{model}_{}", path.replace('$', "_")),
    };
    let rest: Vec<&str> = parts.collect();
    match rest.as_slice() {
        [] => format!("{model}_{unit}_stage"),
        [_kind, _zero] => format!("{model}_{unit}"),
        [_kind, _zero, inner @ ..] => format!("{model}_{unit}_{}", inner.join("_")),
        _ => format!("{model}_{unit}_{}", rest.join("_")),
    }
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// `(module name, text)` of every `module ... endmodule` in `text`.
fn split_modules(text: &str) -> Vec<(String, String)> {
    let mut modules = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("\nmodule ") {
        let body = &rest[start + 1..];
        let end = body.find("endmodule").expect("every module ends") + "endmodule".len();
        let name: String = body["module ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let line_end = body[end..].find('\n').map_or(body.len(), |i| end + i);
        modules.push((name, body[..line_end].trim_end().to_string()));
        rest = &body[line_end..];
    }
    modules
}

/// The comment every file starts with: the model, and the layer the module
/// belongs to with its parameters and proven accumulator range.
fn header(model: &str, plan: &Plan, module: &str) -> String {
    let mut lines = vec![
        format!(
            "// Generated by a2qgen {} from model `{}`.",
            env!("CARGO_PKG_VERSION"),
            model
        ),
        format!("// Module {module}."),
    ];
    // The unit whose name the module's starts with (the longest such name).
    let unit = plan
        .units
        .iter()
        .filter(|u| {
            let prefix = format!("{}_{}", plan.model, u.name());
            module == prefix || module.starts_with(&format!("{prefix}_"))
        })
        .max_by_key(|u| u.name().len());
    match unit {
        Some(unit) => lines.extend(describe_unit(unit)),
        None => lines.push(format!(
            "// Top: {} stages; input {} x {} per beat, output {} x {} per beat; II {} cycles, latency {} cycles.",
            plan.units.len(),
            plan.input().elements,
            plan.input().element,
            plan.output().elements,
            plan.output().element,
            plan.initiation_interval,
            plan.latency
        )),
    }
    lines.push("// Do not edit: regenerate with `a2qgen gen`.".into());
    let mut text = lines.join("\n");
    text.push_str("\n\n");
    text
}

fn describe_unit(unit: &Unit) -> Vec<String> {
    match unit {
        Unit::Mvau(m) => {
            let mut lines = vec![
                format!(
                    "// Layer {} `{}`: dense {} -> {}, MVAU PE = {}, SIMD = {} (NF = {}, SF = {}), {} multipliers.",
                    m.layer,
                    m.name,
                    m.in_features,
                    m.out_features,
                    m.pe,
                    m.simd,
                    m.nf,
                    m.sf,
                    m.multiplier
                ),
                format!(
                    "// Input {}, weights {}, products {} bits, dot product {} bits, output {}.",
                    m.input, m.weight, m.product_bits, m.dot_bits, m.output
                ),
                format!(
                    "// Accumulator {} bits ({}), proven range [{}, {}].",
                    m.accumulator.bits,
                    m.accumulator.overflow,
                    m.proven_range.lo,
                    m.proven_range.hi
                ),
            ];
            if let (Some(inner), Some(range)) = (&m.accumulator.inner, &m.proven_tile_range) {
                lines.push(format!(
                    "// Tiles of {} inputs in a {}-bit inner accumulator, proven tile range [{}, {}].",
                    inner.tile_size, inner.bits, range.lo, range.hi
                ));
            }
            lines
        }
        Unit::Hadamard(h) => vec![format!(
            "// Layer {} `{}`: Hadamard blocks of {} ({} butterfly stages), input {}, widths {:?}, shift {}, output {}.",
            h.layer,
            h.name,
            h.block,
            h.stages,
            h.input,
            h.stage_bits,
            h.shift.map_or("none".to_string(), |s| s.to_string()),
            h.output
        )],
        Unit::Fifo(f) => vec![format!(
            "// FIFO `{}`: {} beats of {} x {}.",
            f.name, f.depth, f.beat.elements, f.beat.element
        )],
        Unit::Converter(c) => vec![format!(
            "// Width converter `{}`: {} to {} elements of {} per beat.",
            c.name, c.input_elements, c.output_elements, c.element
        )],
        Unit::SlidingWindow(w) => {
            let (oh, ow) = w.output();
            let p = w.padding;
            vec![
                format!(
                    "// Layer {} `{}`: sliding window over {} x {} x {} ({}), kernel {} x {}, stride {} x {}, padding top {} left {} bottom {} right {}: {oh} x {ow} windows.",
                    w.layer,
                    w.name,
                    w.height,
                    w.width,
                    w.channels,
                    w.element,
                    w.kernel.0,
                    w.kernel.1,
                    w.stride.0,
                    w.stride.1,
                    p.top,
                    p.left,
                    p.bottom,
                    p.right
                ),
                format!(
                    "// SIMD {}; line buffer {} rows of {} words of {} bits.",
                    w.simd,
                    w.buffer_rows(),
                    w.row_beats(),
                    w.word_bits()
                ),
            ]
        }
        Unit::MaxPool(m) => {
            let (ph, pw) = m.output();
            vec![format!(
                "// Layer {} `{}`: max pool over {} x {} x {} ({}), kernel {} x {}, stride {} x {}: {ph} x {pw}; SIMD {}, line buffer {} rows.",
                m.layer,
                m.name,
                m.height,
                m.width,
                m.channels,
                m.element,
                m.kernel.0,
                m.kernel.1,
                m.stride.0,
                m.stride.1,
                m.simd,
                m.window().buffer_rows()
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_paths_and_keeps_system_tasks() {
        let text = "module top$stages$0(a$b);\n  x = $signed(a$b);\n  top$stages$0$mvau$0 mvau$0(.a(a$b));\nendmodule // top$stages$0";
        assert_eq!(
            rename_identifiers(text, "m", &["fc0"]),
            "module m_fc0_stage(a__b);\n  x = $signed(a__b);\n  m_fc0 mvau__0(.a(a__b));\nendmodule // m_fc0_stage"
        );
        assert_eq!(
            rename_identifiers("module top(clk);", "m", &[]),
            "module m_top(clk);"
        );
        assert_eq!(
            rename_identifiers("top$stages$0$mvau$0$lanes$1$rom", "m", &["fc0"]),
            "m_fc0_lanes_1_rom"
        );
    }

    #[test]
    fn splits_modules() {
        let text = "\n\nmodule a(x);\nendmodule // a\n\n\nmodule b(y);\nendmodule // b\n";
        let modules = split_modules(text);
        assert_eq!(modules.len(), 2);
        assert_eq!(modules[0].0, "a");
        assert_eq!(modules[1].1, "module b(y);\nendmodule // b");
    }
}
