//! Stream beats as the harness files hold them: `tdata` in hexadecimal,
//! element `j` at bits `[j*W +: W]`, two's complement when signed.

use crate::model::IntType;

/// The hexadecimal `tdata` of a beat of `values`.
pub fn beat_to_hex(values: &[i64], element: IntType) -> String {
    let width = element.bits as usize;
    let total = values.len() * width;
    let mut bits = vec![false; total];
    for (j, &v) in values.iter().enumerate() {
        for b in 0..width {
            bits[j * width + b] = (v >> b.min(63)) & 1 == 1;
        }
    }
    let digits = total.div_ceil(4);
    (0..digits)
        .rev()
        .map(|d| {
            let nibble = (0..4).fold(0u32, |acc, b| {
                let i = d * 4 + b;
                acc | (u32::from(i < total && bits[i]) << b)
            });
            char::from_digit(nibble, 16).expect("a nibble")
        })
        .collect()
}

/// The `elements` values of a beat given as hexadecimal `tdata`.
pub fn hex_to_beat(hex: &str, elements: usize, element: IntType) -> Option<Vec<i64>> {
    let width = element.bits as usize;
    let mut bits = Vec::with_capacity(hex.len() * 4);
    for c in hex.trim().chars().rev() {
        let nibble = c.to_digit(16)?;
        bits.extend((0..4).map(|b| (nibble >> b) & 1 == 1));
    }
    Some(
        (0..elements)
            .map(|j| {
                let raw = (0..width).fold(0i128, |acc, b| {
                    acc | (i128::from(bits.get(j * width + b).copied().unwrap_or(false)) << b)
                });
                let value = if element.signed && raw >> (width - 1) & 1 == 1 {
                    raw - (1i128 << width)
                } else {
                    raw
                };
                value as i64
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = IntType::signed(6);
        let values = vec![-32, 31, -1, 0, 5];
        let hex = beat_to_hex(&values, t);
        assert_eq!(hex.len(), 8); // 30 bits
        assert_eq!(hex_to_beat(&hex, 5, t).unwrap(), values);
        let u = IntType::unsigned(4);
        assert_eq!(beat_to_hex(&[1, 2, 15], u), "f21");
        assert_eq!(hex_to_beat("f21", 3, u).unwrap(), vec![1, 2, 15]);
        // Leading zeros of a wider port are ignored.
        assert_eq!(hex_to_beat("0000f21", 3, u).unwrap(), vec![1, 2, 15]);
    }
}
