//! `Wire`: a signal whose width is chosen at run time, for rust-hdl.
//!
//! rust-hdl's own `Signal<D, Bits<N>>` fixes widths at compile time; the
//! generator's widths come from the model. `Wire` implements rust-hdl's
//! `Atom`, `Block` and `Logic` traits, so blocks built from it take part in
//! rust-hdl's connection checks, Verilog generation and simulation. Values
//! are kept as two's complement bit patterns of up to 128 bits for
//! simulation; declarations may be of any width.

use super::bits::BitVector;
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
    /// The value being driven this delta cycle (a bit pattern; kept at
    /// the wire's width, truncated or zero-extended, when it settles).
    pub next: BitVector,
    val: BitVector,
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
            next: BitVector::zero(width),
            val: BitVector::zero(width),
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
    pub fn val(&self) -> BitVector {
        self.val.clone()
    }

    /// Drives `value`, truncated to the width (two's complement).
    pub fn drive(&mut self, value: i128) {
        self.next = BitVector::from_i128(value, self.width);
    }

    /// Drives a 1-bit level.
    pub fn set(&mut self, high: bool) {
        self.drive(i128::from(high));
    }

    /// The current value read as a `width`-bit signed integer (at most 128
    /// bits: an element, not a bus).
    pub fn as_signed(&self) -> i128 {
        self.val.to_i128(true)
    }

    /// The current value as an unsigned index (an address, a fold).
    pub fn index(&self) -> usize {
        self.val.to_usize()
    }

    pub fn is_high(&self) -> bool {
        self.val.bit(0)
    }
}

/// Reads the low `width` bits of `value` as two's complement
/// (`1 <= width <= 128`).
pub fn sign_extend(value: i128, width: usize) -> i128 {
    let shift = 128 - width as u32;
    (value << shift) >> shift
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
                    if self.val.bit(i) {
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

    /// rust-hdl writes this literal only for constant atoms, which a
    /// `Wire` never is (it is always a port): the low 64 bits stand in.
    fn verilog(&self) -> VerilogLiteral {
        VerilogLiteral::from(self.val.field(0, 64).to_i128(false) as u64)
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
        if self.next.width() != self.width {
            self.next = self.next.resized(self.width);
        }
        self.changed = self.val != self.next;
        if self.changed {
            self.val = self.next.clone();
        }
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
        assert_eq!(w.index(), 0b1101);
        assert_eq!(w.as_signed(), -3);
        w.drive(18);
        w.update_all();
        assert_eq!(w.index(), 2);
        // A wider value driven onto the wire keeps its low bits.
        w.next = BitVector::from_i128(0x35, 8);
        w.update_all();
        assert_eq!(w.index(), 5);
    }
}
