//! qonnx's `Quant` semantics, shared by the constant evaluation (weights,
//! biases) and the threshold derivation (activations): `y = x / scale +
//! zero_point` in float32, clipped to the integer range, then rounded.

use super::proto::{NodeProto, attribute};

/// How `Quant` rounds (its `rounding_mode` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// `ROUND`: to nearest, ties to even (numpy's `round`).
    HalfEven,
    /// `ROUND_TO_ZERO`.
    TowardZero,
    Floor,
    Ceil,
}

impl Rounding {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "ROUND" | "HALF_EVEN" => Some(Rounding::HalfEven),
            "ROUND_TO_ZERO" | "DOWN" => Some(Rounding::TowardZero),
            "FLOOR" => Some(Rounding::Floor),
            "CEIL" => Some(Rounding::Ceil),
            _ => None,
        }
    }

    pub fn apply(self, y: f64) -> f64 {
        match self {
            Rounding::HalfEven => y.round_ties_even(),
            Rounding::TowardZero => y.trunc(),
            Rounding::Floor => y.floor(),
            Rounding::Ceil => y.ceil(),
        }
    }
}

/// The integer grid of a `Quant` node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantSpec {
    pub bits: u32,
    pub signed: bool,
    pub narrow: bool,
    pub rounding: Rounding,
}

/// Widest bit width a `Quant` may have here (the model's data limit).
pub const MAX_QUANT_BITS: u32 = 32;

impl QuantSpec {
    /// Reads the attributes of `node` and its bit width input.
    pub fn of_node(node: &NodeProto, bit_width: f64) -> Result<Self, String> {
        let flag = |name: &str, default: i64| -> Result<bool, String> {
            match attribute(node, name) {
                None => Ok(default != 0),
                Some(a) => match a.i() {
                    0 => Ok(false),
                    1 => Ok(true),
                    v => Err(format!("attribute `{name}` = {v}, expected 0 or 1")),
                },
            }
        };
        let signed = flag("signed", 1)?;
        let narrow = flag("narrow", 0)?;
        let rounding = match attribute(node, "rounding_mode") {
            None => Rounding::HalfEven,
            Some(a) => {
                let text = String::from_utf8_lossy(a.s()).to_string();
                Rounding::parse(&text).ok_or_else(|| {
                    format!(
                        "attribute `rounding_mode` = \"{text}\" is not one of ROUND, ROUND_TO_ZERO, FLOOR, CEIL"
                    )
                })?
            }
        };
        if bit_width.fract() != 0.0 || !(1.0..=f64::from(MAX_QUANT_BITS)).contains(&bit_width) {
            return Err(format!(
                "bit width {bit_width} is not a whole number of bits in 1..={MAX_QUANT_BITS}"
            ));
        }
        let bits = bit_width as u32;
        if bits == 1 && signed && narrow {
            return Err("a signed 1-bit narrow range holds no value".into());
        }
        Ok(QuantSpec {
            bits,
            signed,
            narrow,
            rounding,
        })
    }

    pub fn min_int(self) -> i64 {
        match (self.signed, self.narrow) {
            (true, true) => -(1i64 << (self.bits - 1)) + 1,
            (true, false) => -(1i64 << (self.bits - 1)),
            (false, _) => 0,
        }
    }

    pub fn max_int(self) -> i64 {
        match (self.signed, self.narrow) {
            (false, false) => (1i64 << self.bits) - 1,
            (false, true) => (1i64 << self.bits) - 2,
            (true, _) => (1i64 << (self.bits - 1)) - 1,
        }
    }

    /// The integer `Quant` gives for `x` (float32 values), scale and zero
    /// point, as qonnx computes it: the division and the addition in float32,
    /// clipped, then rounded. A signed 1-bit Quant is bipolar: `+-1`.
    pub fn integer(self, x: f64, scale: f64, zero_point: f64) -> i64 {
        let y = f64::from((x as f32) / (scale as f32));
        let y = f64::from((y as f32) + (zero_point as f32));
        if self.bits == 1 && self.signed {
            return if y >= 0.0 { 1 } else { -1 };
        }
        let y = y.clamp(self.min_int() as f64, self.max_int() as f64);
        self.rounding.apply(y) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bits: u32, signed: bool, narrow: bool, rounding: Rounding) -> QuantSpec {
        QuantSpec {
            bits,
            signed,
            narrow,
            rounding,
        }
    }

    #[test]
    fn ranges_follow_signed_and_narrow() {
        assert_eq!((spec(4, true, true, Rounding::HalfEven).min_int()), -7);
        assert_eq!((spec(4, true, false, Rounding::HalfEven).min_int()), -8);
        assert_eq!((spec(4, false, false, Rounding::HalfEven).max_int()), 15);
        assert_eq!((spec(4, false, true, Rounding::HalfEven).max_int()), 14);
    }

    #[test]
    fn each_rounding_mode_rounds_as_numpy() {
        let at = |r| spec(8, true, false, r);
        assert_eq!(at(Rounding::HalfEven).integer(2.5, 1.0, 0.0), 2);
        assert_eq!(at(Rounding::HalfEven).integer(3.5, 1.0, 0.0), 4);
        assert_eq!(at(Rounding::HalfEven).integer(-2.5, 1.0, 0.0), -2);
        assert_eq!(at(Rounding::TowardZero).integer(-2.7, 1.0, 0.0), -2);
        assert_eq!(at(Rounding::Floor).integer(-2.2, 1.0, 0.0), -3);
        assert_eq!(at(Rounding::Ceil).integer(2.2, 1.0, 0.0), 3);
    }

    #[test]
    fn values_are_clipped_before_rounding_and_bipolar_is_a_sign() {
        assert_eq!(
            spec(4, false, false, Rounding::HalfEven).integer(100.0, 1.0, 0.0),
            15
        );
        assert_eq!(
            spec(4, true, true, Rounding::HalfEven).integer(-100.0, 1.0, 0.0),
            -7
        );
        assert_eq!(
            spec(1, true, false, Rounding::HalfEven).integer(-0.1, 1.0, 0.0),
            -1
        );
        assert_eq!(
            spec(1, true, false, Rounding::HalfEven).integer(0.0, 1.0, 0.0),
            1
        );
    }

    #[test]
    fn the_division_is_float32() {
        // 0.3 / 0.1 is 2.9999999999999996 in float64 but 3.0 in float32.
        assert_eq!(
            spec(8, true, false, Rounding::Floor).integer(0.3, 0.1, 0.0),
            3
        );
    }
}
