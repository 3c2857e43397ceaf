//! `BitVector`: a bit pattern of any width, the value the RTL side carries
//! in its wires, ROM words, tags and constants.
//!
//! Buses are as wide as the model makes them (a ROM word of 64 int4
//! weights is 256 bits, an input beat of 32 int16 elements 512), so no
//! fixed-width integer holds them. Elements of a bus (inputs, weights,
//! accumulators, dot products) are at most a little over 64 bits and are
//! read and written as `i128`. Project-owned rather than a crate: the
//! blocks need only packing, fields, hexadecimal and bits, a hundred lines.

use std::fmt;

/// A `width`-bit two's complement pattern, 64 bits per word, least
/// significant word first; the bits above `width` are always zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitVector {
    width: usize,
    words: Vec<u64>,
}

/// The low `bits` (0..=64) bits set.
fn low_mask(bits: usize) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl BitVector {
    /// `width` zero bits.
    pub fn zero(width: usize) -> Self {
        BitVector {
            width,
            words: vec![0; width.div_ceil(64)],
        }
    }

    /// `value` as a `width`-bit two's complement pattern (truncated, or
    /// sign-extended past 128 bits).
    pub fn from_i128(value: i128, width: usize) -> Self {
        let mut v = BitVector::zero(width);
        let fill = if value < 0 { u64::MAX } else { 0 };
        for (k, word) in v.words.iter_mut().enumerate() {
            *word = match k {
                0 => value as u64,
                1 => (value >> 64) as u64,
                _ => fill,
            };
        }
        v.clear_above_width();
        v
    }

    /// Values packed as `element_bits`-bit elements, element `j` at bits
    /// `[j * element_bits +: element_bits]`.
    pub fn pack(values: &[i128], element_bits: usize) -> Self {
        let mut v = BitVector::zero(values.len() * element_bits);
        for (j, &value) in values.iter().enumerate() {
            v.set_field(j * element_bits, &BitVector::from_i128(value, element_bits));
        }
        v
    }

    pub fn width(&self) -> usize {
        self.width
    }

    fn clear_above_width(&mut self) {
        let used = self.width - self.words.len().saturating_sub(1) * 64;
        if let Some(last) = self.words.last_mut() {
            *last &= low_mask(used);
        }
    }

    /// Bit `i` (false beyond the width).
    pub fn bit(&self, i: usize) -> bool {
        i < self.width && (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// The same pattern at `width` bits: truncated, or zero-extended.
    pub fn resized(&self, width: usize) -> Self {
        if width == self.width {
            return self.clone();
        }
        self.field(0, width)
    }

    /// Bits `[offset +: width]` (zeros beyond this pattern's width).
    pub fn field(&self, offset: usize, width: usize) -> Self {
        let mut out = BitVector::zero(width);
        let mut done = 0;
        while done < width {
            let take = (width - done).min(64);
            out.words[done / 64] = self.read_u64(offset + done, take);
            done += take;
        }
        out
    }

    /// Up to 64 bits from `offset`, low-aligned.
    fn read_u64(&self, offset: usize, bits: usize) -> u64 {
        let (word, shift) = (offset / 64, offset % 64);
        let low = self.words.get(word).map_or(0, |w| w >> shift);
        let high = if shift == 0 {
            0
        } else {
            self.words.get(word + 1).map_or(0, |w| w << (64 - shift))
        };
        (low | high) & low_mask(bits)
    }

    /// Overwrites bits `[offset +: value.width()]` with `value` (bits past
    /// this pattern's width are dropped).
    pub fn set_field(&mut self, offset: usize, value: &BitVector) {
        for i in 0..value.width.min(self.width.saturating_sub(offset)) {
            let (word, bit) = ((offset + i) / 64, (offset + i) % 64);
            if value.bit(i) {
                self.words[word] |= 1 << bit;
            } else {
                self.words[word] &= !(1 << bit);
            }
        }
    }

    /// Element `index` of `element_bits` (at most 128) bits, read as two's
    /// complement when `signed`.
    pub fn element(&self, index: usize, element_bits: usize, signed: bool) -> i128 {
        self.field(index * element_bits, element_bits)
            .to_i128(signed)
    }

    /// The whole pattern as an integer; at most 128 bits.
    pub fn to_i128(&self, signed: bool) -> i128 {
        assert!(self.width <= 128, "{} bits do not fit i128", self.width);
        let raw = self
            .words
            .iter()
            .enumerate()
            .fold(0u128, |acc, (k, &w)| acc | u128::from(w) << (64 * k));
        if signed && self.width > 0 && self.width < 128 {
            let shift = 128 - self.width as u32;
            ((raw << shift) as i128) >> shift
        } else {
            raw as i128
        }
    }

    /// The pattern as an unsigned index (addresses, folds).
    pub fn to_usize(&self) -> usize {
        usize::try_from(self.to_i128(false)).expect("an index fits usize")
    }

    /// Hexadecimal, most significant digit first, `width / 4` digits
    /// rounded up (at least one).
    pub fn to_hex(&self) -> String {
        let digits = self.width.div_ceil(4).max(1);
        (0..digits)
            .rev()
            .map(|d| {
                let nibble = self.read_u64(4 * d, 4) as u32;
                char::from_digit(nibble, 16).expect("a nibble")
            })
            .collect()
    }
}

impl fmt::Display for BitVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'h{}", self.width, self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_patterns_keep_every_bit() {
        // 64 int4 elements: a 256-bit word whose top element is -1.
        let mut values = vec![0i128; 64];
        values[0] = 5;
        values[40] = -8;
        values[63] = -1;
        let v = BitVector::pack(&values, 4);
        assert_eq!(v.width(), 256);
        assert_eq!(v.element(0, 4, true), 5);
        assert_eq!(v.element(40, 4, true), -8);
        assert_eq!(v.element(40, 4, false), 8);
        assert_eq!(v.element(63, 4, true), -1);
        let hex = v.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with(&format!("f{}8", "0".repeat(22))), "{hex}");
        assert!(hex.ends_with('5'));
    }

    #[test]
    fn fields_cross_word_boundaries() {
        let v = BitVector::pack(&[-3, 1234567, -(1i128 << 80)], 90);
        assert_eq!(v.element(0, 90, true), -3);
        assert_eq!(v.element(1, 90, true), 1234567);
        assert_eq!(v.element(2, 90, true), -(1i128 << 80));
        let mut w = BitVector::zero(200);
        w.set_field(60, &BitVector::from_i128(-1, 10));
        assert_eq!(w.field(58, 14).to_i128(false), 0b00_1111_1111_1100);
        assert_eq!(w.field(60, 10).to_i128(true), -1);
    }

    #[test]
    fn sign_extends_past_128_bits_and_truncates() {
        let v = BitVector::from_i128(-2, 130);
        assert_eq!(v.to_hex(), "3".to_string() + &"f".repeat(31) + "e");
        assert_eq!(BitVector::from_i128(18, 4).to_i128(false), 2);
        assert_eq!(BitVector::from_i128(-3, 4).to_i128(false), 13);
        assert_eq!(BitVector::from_i128(-3, 4).to_i128(true), -3);
        assert_eq!(BitVector::from_i128(1, 1).to_hex(), "1");
        assert_eq!(BitVector::from_i128(-1, 1).to_i128(true), -1);
        assert_eq!(BitVector::from_i128(-1, 65).resized(3).to_hex(), "7");
        assert_eq!(BitVector::from_i128(5, 3).resized(70).to_i128(true), 5);
    }
}
