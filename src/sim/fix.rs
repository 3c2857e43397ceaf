//! Fitting a value into a register of a given width, as the hardware does:
//! two's complement wrap-around, or saturation.

use crate::model::OverflowMode;

/// `value` modulo `2^bits`, read as two's complement (`1 <= bits <= 64`).
pub fn wrap(value: i64, bits: u32) -> i64 {
    debug_assert!((1..=64).contains(&bits));
    let unused = 64 - bits;
    (value << unused) >> unused
}

/// A signed register of `bits` bits (`1..=64`) and what it does with a sum
/// outside its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fix {
    bits: u32,
    overflow: OverflowMode,
    min: i128,
    max: i128,
}

impl Fix {
    pub fn new(bits: u32, overflow: OverflowMode) -> Self {
        Fix {
            bits,
            overflow,
            min: -(1i128 << (bits - 1)),
            max: (1i128 << (bits - 1)) - 1,
        }
    }

    /// The register's value after loading the exact sum `value`.
    pub fn apply(self, value: i128) -> i64 {
        match self.overflow {
            // Wrapping keeps the low `bits` bits; those of the i64 truncation
            // are the same because bits <= 64.
            OverflowMode::Wrap => wrap(value as i64, self.bits),
            OverflowMode::Saturate => value.clamp(self.min, self.max) as i64,
        }
    }

    /// The register's value after loading `a + b` (`b` may be a dot
    /// product wider than 64 bits).
    #[inline]
    pub fn add(self, a: i64, b: i128) -> i64 {
        match self.overflow {
            // Modulo 2^64 first changes nothing modulo 2^bits.
            OverflowMode::Wrap => wrap(a.wrapping_add(b as i64), self.bits),
            OverflowMode::Saturate => self.apply(i128::from(a) + b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_in_twos_complement() {
        assert_eq!(wrap(7, 4), 7);
        assert_eq!(wrap(8, 4), -8);
        assert_eq!(wrap(-9, 4), 7);
        assert_eq!(wrap(i64::MIN, 64), i64::MIN);
        assert_eq!(wrap(3, 1), -1);
    }

    #[test]
    fn fix_wraps_or_saturates() {
        let wrap4 = Fix::new(4, OverflowMode::Wrap);
        let sat4 = Fix::new(4, OverflowMode::Saturate);
        assert_eq!(wrap4.apply(14), -2);
        assert_eq!(sat4.apply(14), 7);
        assert_eq!(sat4.apply(-20), -8);
        assert_eq!(sat4.apply(-3), -3);
        let wide = Fix::new(64, OverflowMode::Saturate);
        assert_eq!(wide.apply(i128::from(i64::MAX) + 5), i64::MAX);
        let wide_wrap = Fix::new(64, OverflowMode::Wrap);
        assert_eq!(wide_wrap.apply(i128::from(i64::MAX) + 1), i64::MIN);
        assert_eq!(wide_wrap.add(i64::MAX, 1), i64::MIN);
        assert_eq!(wide.add(i64::MAX, 1), i64::MAX);
        assert_eq!(wrap4.add(7, 7), -2);
        assert_eq!(sat4.add(-8, -1), -8);
        // A 65-bit addend: wrapping keeps its low bits, saturation its sign.
        let wide_addend = -(1i128 << 64) + 3;
        assert_eq!(wrap4.add(1, wide_addend), 4);
        assert_eq!(sat4.add(1, wide_addend), -8);
        assert_eq!(wide.add(-1, -wide_addend), i64::MAX);
    }
}
