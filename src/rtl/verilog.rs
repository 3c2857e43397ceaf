//! Small helpers for writing Verilog-2005 text: sized literals, widths,
//! sign extension, element selects.

use super::bits::BitVector;
use std::fmt::Write;

/// Bits needed to count `0..n` (at least 1).
pub fn index_bits(n: usize) -> usize {
    let mut bits = 1;
    while (1usize << bits) < n {
        bits += 1;
    }
    bits
}

/// A `width`-bit unsigned literal (decimal: exact at any width).
pub fn unsigned_literal(value: usize, width: usize) -> String {
    format!("{width}'d{value}")
}

/// A `width`-bit signed literal written as its two's complement pattern,
/// e.g. `9'sh100` for -256 (a negated positive literal could overflow).
/// The whole `width`-bit pattern is written (leading zero digits aside,
/// which Verilog's zero extension restores), so it is right at any width.
pub fn signed_literal(value: i128, width: usize) -> String {
    let hex = BitVector::from_i128(value, width).to_hex();
    let digits = hex.trim_start_matches('0');
    format!("{width}'sh{}", if digits.is_empty() { "0" } else { digits })
}

/// `bits` of `source` (an expression `from` bits wide, signed or not)
/// extended to `to` bits by concatenation. Only for adders and
/// comparators: a multiplier must see its operands' real widths.
pub fn extend(source: &str, from: usize, to: usize, signed: bool) -> String {
    assert!(to >= from, "cannot extend {from} bits to {to}");
    // Verilog-2005 cannot index a part-select: a signed source must be a name.
    assert!(
        !(signed && to > from && source.contains('[')),
        "sign of `{source}` needs a named wire"
    );
    if to == from {
        return source.to_string();
    }
    let fill = if signed {
        format!("{{{}{{{source}[{}]}}}}", to - from, from - 1)
    } else {
        format!("{{{}{{1'b0}}}}", to - from)
    };
    format!("{{{fill}, {source}}}")
}

/// Element `index` of `width` bits of the packed `bus_bits`-bit `bus`.
/// An element that is the whole bus is the bus itself: a 1-bit port is
/// declared as a scalar, which Verilog does not let one index.
pub fn element(bus: &str, bus_bits: usize, index: usize, width: usize) -> String {
    field(bus, bus_bits, index * width, width)
}

/// Bits `[offset +: width]` of the `bus_bits`-bit `bus`; the whole bus is
/// the bus itself (see [`element`]).
pub fn field(bus: &str, bus_bits: usize, offset: usize, width: usize) -> String {
    if offset == 0 && width == bus_bits {
        bus.to_string()
    } else {
        format!("{bus}[{offset} +: {width}]")
    }
}

/// Bit `index` of the `bus_bits`-bit `bus` (the bus itself when it has
/// one bit, see [`element`]).
pub fn bit(bus: &str, bus_bits: usize, index: usize) -> String {
    if bus_bits == 1 {
        bus.to_string()
    } else {
        format!("{bus}[{index}]")
    }
}

/// Terms per line of a long sum: Verilator refuses a line of more than
/// 40,000 preprocessor tokens, and a bank of 16-bit thresholds sums 65,535
/// comparisons.
const TERMS_PER_LINE: usize = 64;

/// Declares `wire [width-1:0] name` as the sum of `terms`. Up to
/// `TERMS_PER_LINE` terms make one line; more are summed in groups of
/// that many, one `name_<level>_<group>` wire per line, and the groups'
/// sums the same way. Each partial sum adds some of the terms, so at
/// `width` bits it is exact whenever the whole sum is.
pub fn sum_declaration(
    out: &mut String,
    indent: usize,
    name: &str,
    width: usize,
    terms: &[String],
) {
    let mut terms = terms.to_vec();
    let mut level = 0;
    while terms.len() > TERMS_PER_LINE {
        terms = terms
            .chunks(TERMS_PER_LINE)
            .enumerate()
            .map(|(group, part)| {
                let partial = format!("{name}_{level}_{group}");
                let sum = part.join(" + ");
                line(
                    out,
                    indent,
                    format!("wire [{}:0] {partial} = {sum};", width - 1),
                );
                partial
            })
            .collect();
        level += 1;
    }
    let sum = terms.join(" + ");
    line(
        out,
        indent,
        format!("wire [{}:0] {name} = {sum};", width - 1),
    );
}

/// Appends a line with indentation.
pub fn line(out: &mut String, indent: usize, text: impl AsRef<str>) {
    let _ = writeln!(out, "{}{}", "    ".repeat(indent), text.as_ref());
}

/// Declares `declaration` (e.g. `wire signed [9:0] t0`) as the constant
/// that `selector` picks: `values[k]` when `selector == k`, written as a
/// chain of conditionals, one entry per line. The last value needs no test
/// (the selector never leaves `0..values.len()`), and equal values need
/// no chain at all. Returns whether the text reads the selector. A chain
/// rather than a
/// `case`: Yosys turns a long `case` of constants into a ROM and, once the
/// design is flattened, moves the selector's register to the ROM's data,
/// so whatever reads the value (a comparator, an adder) loses its constant
/// operand and costs a fifth to a third more LUTs.
pub fn constant_select(
    out: &mut String,
    indent: usize,
    declaration: &str,
    selector: (&str, usize),
    values: &[String],
) -> bool {
    let (name, width) = selector;
    let Some((last, tested)) = values.split_last() else {
        panic!("`{declaration}` selects from no values");
    };
    if tested.iter().all(|v| v == last) {
        line(out, indent, format!("{declaration} = {last};"));
        return false;
    }
    line(out, indent, format!("{declaration} ="));
    for (k, value) in tested.iter().enumerate() {
        let key = unsigned_literal(k, width);
        line(out, indent + 1, format!("({name} == {key}) ? {value} :"));
    }
    line(out, indent + 1, format!("{last};"));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_select_tests_all_but_the_last_value() {
        let values = ["4'sh1".to_string(), "4'sh2".into(), "4'sh3".into()];
        let mut v = String::new();
        assert!(constant_select(
            &mut v,
            0,
            "wire signed [3:0] t",
            ("nf", 2),
            &values
        ));
        assert_eq!(
            v,
            "wire signed [3:0] t =\n    (nf == 2'd0) ? 4'sh1 :\n    (nf == 2'd1) ? 4'sh2 :\n    4'sh3;\n"
        );
        let mut one = String::new();
        assert!(!constant_select(
            &mut one,
            1,
            "wire [3:0] b",
            ("nf", 1),
            &values[..1]
        ));
        assert_eq!(one, "    wire [3:0] b = 4'sh1;\n");
        let mut same = String::new();
        let equal = vec!["4'sh0".to_string(); 3];
        assert!(!constant_select(
            &mut same,
            0,
            "wire [3:0] b",
            ("nf", 2),
            &equal
        ));
        assert_eq!(same, "wire [3:0] b = 4'sh0;\n");
    }

    #[test]
    fn long_sums_take_many_lines() {
        let mut short = String::new();
        let terms: Vec<String> = (0..3).map(|k| format!("h{k}")).collect();
        sum_declaration(&mut short, 0, "hits", 4, &terms);
        assert_eq!(short, "wire [3:0] hits = h0 + h1 + h2;\n");
        let terms: Vec<String> = (0..4095).map(|k| format!("h{k}")).collect();
        let mut long = String::new();
        sum_declaration(&mut long, 0, "hits", 12, &terms);
        let lines: Vec<&str> = long.lines().collect();
        // 64 groups of up to 64 terms, then their sum.
        assert_eq!(lines.len(), 65);
        assert!(
            lines
                .iter()
                .all(|l| l.matches('+').count() < TERMS_PER_LINE)
        );
        assert_eq!(
            lines[0],
            format!("wire [11:0] hits_0_0 = {};", terms[..64].join(" + "))
        );
        assert!(lines[64].starts_with("wire [11:0] hits = hits_0_0 + hits_0_1 + "));
        assert!(lines[64].ends_with(" + hits_0_63;"));
        assert!(lines[63].ends_with(" + h4094;"));
    }

    #[test]
    fn literals_and_extension() {
        assert_eq!(signed_literal(-256, 9), "9'sh100");
        assert_eq!(signed_literal(5, 4), "4'sh5");
        assert_eq!(signed_literal(3, 9), "9'sh3");
        assert_eq!(signed_literal(0, 9), "9'sh0");
        assert_eq!(
            signed_literal(-1, 130),
            format!("130'sh3{}", "f".repeat(32))
        );
        assert_eq!(extend("a", 4, 6, true), "{{2{a[3]}}, a}");
        assert_eq!(extend("a", 4, 6, false), "{{2{1'b0}}, a}");
        assert_eq!(index_bits(1), 1);
        assert_eq!(index_bits(4), 2);
        assert_eq!(index_bits(5), 3);
        assert_eq!(element("x", 8, 1, 4), "x[4 +: 4]");
        assert_eq!(element("x", 1, 0, 1), "x");
        assert_eq!(bit("w", 4, 3), "w[3]");
        assert_eq!(bit("w", 1, 0), "w");
    }
}
