//! `Wire`: a signal whose width is chosen at run time, for rust-hdl.
//!
//! rust-hdl's own `Signal<D, Bits<N>>` fixes widths at compile time; the
//! generator's widths come from the model. `Wire` implements rust-hdl's
//! `Atom`, `Block` and `Logic` traits, so blocks built from it take part in
//! rust-hdl's connection checks, Verilog generation and simulation. Values
//! are kept as two's complement bit patterns of up to 128 bits for
//! simulation; declarations may be of any width.

use rust_hdl::core::ast::VerilogLiteral;
use rust_hdl::core::atom::{Atom, AtomKind};
use rust_hdl::core::block::Block;
use rust_hdl::core::constraint::PinConstraint;
use rust_hdl::core::logic::Logic;
use rust_hdl::core::probe::Probe;
use rust_hdl::core::signal::get_signal_id;
use rust_hdl::core::synth::VCDValue;
use rust_hdl::core::type_descriptor::{TypeDescriptor, TypeKind};

/// A run-time-width signal. Assign `next`, read `val()`, as with rust-hdl's
/// `Signal`.
#[derive(Clone, Debug)]
pub struct Wire {
    /// The value being driven this delta cycle (a bit pattern).
    pub next: u128,
    val: u128,
    width: usize,
    signed: bool,
    kind: AtomKind,
    id: usize,
    changed: bool,
    claimed: bool,
}

impl Wire {
    fn new(kind: AtomKind, width: usize, signed: bool) -> Self {
        assert!(width >= 1, "a wire has at least one bit");
        Wire {
            next: 0,
            val: 0,
            width,
            signed,
            kind,
            id: get_signal_id(),
            changed: false,
            claimed: false,
        }
    }

    /// A module input of `width` bits.
    pub fn input(width: usize) -> Self {
        Wire::new(AtomKind::InputParameter, width, false)
    }

    /// A module output of `width` bits.
    pub fn output(width: usize) -> Self {
        Wire::new(AtomKind::OutputParameter, width, false)
    }

    /// The same wire declared `signed` in Verilog.
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The current bit pattern.
    pub fn val(&self) -> u128 {
        self.val
    }

    fn mask(&self) -> u128 {
        if self.width >= 128 {
            u128::MAX
        } else {
            (1u128 << self.width) - 1
        }
    }

    /// Drives `value`, truncated to the width (two's complement).
    pub fn drive(&mut self, value: i128) {
        self.next = (value as u128) & self.mask();
    }

    /// The current value read as a `width`-bit signed integer.
    pub fn as_signed(&self) -> i128 {
        sign_extend(self.val, self.width)
    }

    pub fn is_high(&self) -> bool {
        self.val & 1 == 1
    }
}

/// Reads the low `width` bits of `pattern` as two's complement.
pub fn sign_extend(pattern: u128, width: usize) -> i128 {
    if width >= 128 {
        return pattern as i128;
    }
    let shift = 128 - width as u32;
    ((pattern << shift) as i128) >> shift
}

impl Atom for Wire {
    fn bits(&self) -> usize {
        self.width
    }

    fn connected(&self) -> bool {
        self.claimed
    }

    fn changed(&self) -> bool {
        self.changed
    }

    fn kind(&self) -> AtomKind {
        self.kind
    }

    fn descriptor(&self) -> TypeDescriptor {
        TypeDescriptor {
            name: format!("wire{}", self.width),
            kind: if self.signed {
                TypeKind::Signed(self.width)
            } else {
                TypeKind::Bits(self.width)
            },
        }
    }

    fn vcd(&self) -> VCDValue {
        VCDValue::Vector(
            (0..self.width)
                .rev()
                .map(|i| {
                    if i < 128 && (self.val >> i) & 1 == 1 {
                        vcd::Value::V1
                    } else {
                        vcd::Value::V0
                    }
                })
                .collect(),
        )
    }

    fn id(&self) -> usize {
        self.id
    }

    fn verilog(&self) -> VerilogLiteral {
        VerilogLiteral::from(self.val)
    }

    fn constraints(&self) -> Vec<PinConstraint> {
        Vec::new()
    }
}

impl Logic for Wire {
    fn update(&mut self) {}

    fn connect(&mut self) {
        self.claimed = true;
    }
}

impl Block for Wire {
    fn connect_all(&mut self) {}

    fn update_all(&mut self) {
        self.changed = self.val != self.next;
        self.val = self.next;
    }

    fn has_changed(&self) -> bool {
        self.changed
    }

    fn accept(&self, name: &str, probe: &mut dyn Probe) {
        probe.visit_atom(name, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_truncates_and_sign_extends() {
        let mut w = Wire::input(4);
        w.drive(-3);
        w.update_all();
        assert_eq!(w.val(), 0b1101);
        assert_eq!(w.as_signed(), -3);
        w.drive(18);
        w.update_all();
        assert_eq!(w.val(), 2);
    }
}
