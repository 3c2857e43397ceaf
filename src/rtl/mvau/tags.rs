//! The fold-step tags of an MVAU: the layout of the tag bus the control
//! block issues with each chunk ([`TagLayout`]), and the per-lane pipe that
//! delays those tags to the dot-product and accumulator stages ([`TagPipe`]).

use crate::arch::{ActivationPlan, Mvau};
use crate::rtl::bits::BitVector;
use crate::rtl::verilog::{index_bits, line};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// Bit positions in the stage-1 tag bus: which fold step a chunk is.
#[derive(Clone, Copy, Debug)]
pub struct TagLayout {
    pub tiled: bool,
    pub nf_bits: usize,
}

impl TagLayout {
    pub fn of(plan: &Mvau) -> Self {
        TagLayout {
            tiled: plan.accumulator.inner.is_some(),
            nf_bits: index_bits(plan.nf),
        }
    }

    /// Flag bits: untiled `{last, first}`, tiled
    /// `{first_tile, tile_last, tile_first, last}` (LSB first as listed
    /// from the right).
    pub fn flags(&self) -> usize {
        if self.tiled { 4 } else { 2 }
    }

    pub fn width(&self) -> usize {
        self.flags() + self.nf_bits
    }

    /// The tag bus value of fold step (`nf`, `sf`).
    pub fn encode(&self, plan: &Mvau, nf: usize, sf: usize) -> BitVector {
        let last = sf == plan.sf - 1;
        let flags: Vec<bool> = match &plan.accumulator.inner {
            None => vec![sf == 0, last],
            Some(inner) => {
                let tc = inner.chunks_per_tile;
                vec![last, sf.is_multiple_of(tc), sf % tc == tc - 1, sf < tc]
            }
        };
        let mut tags = BitVector::zero(self.width());
        for (i, &flag) in flags.iter().enumerate() {
            tags.set_field(i, &BitVector::from_i128(i128::from(flag), 1));
        }
        tags.set_field(
            self.flags(),
            &BitVector::from_i128(nf as i128, self.nf_bits),
        );
        tags
    }
}

/// Delays the stage-1 tags to stages 2 and 3 for one lane.
#[derive(LogicBlock)]
pub struct TagPipe {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub tags1: Wire,
    pub tags2: Wire,
    /// The neuron fold of the finished accumulator (thresholds only).
    pub nf3: Vec<Wire>,
    _layout: TagLayout,
}

impl TagPipe {
    pub fn new(plan: &Mvau) -> Self {
        let layout = TagLayout::of(plan);
        let thresholds = matches!(plan.activation, ActivationPlan::Thresholds { .. });
        TagPipe {
            clock: Default::default(),
            advance: Wire::input(1),
            tags1: Wire::input(layout.width()),
            tags2: Wire::output(layout.width()),
            nf3: if thresholds {
                vec![Wire::output(layout.nf_bits)]
            } else {
                Vec::new()
            },
            _layout: layout,
        }
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        line(&mut v, 0, "always @(posedge clock) if (advance) begin");
        line(&mut v, 1, "tags2 <= tags1;");
        if !self.nf3.is_empty() {
            let (lo, hi) = (self._layout.flags(), self._layout.width() - 1);
            line(&mut v, 1, format!("nf3$0 <= tags2[{hi}:{lo}];"));
        }
        line(&mut v, 0, "end");
        v
    }
}

impl Logic for TagPipe {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            let flags = self._layout.flags();
            for nf3 in &mut self.nf3 {
                nf3.next = self.tags2.val().field(flags, nf3.width());
            }
            self.tags2.next = self.tags1.val();
        }
    }

    fn connect(&mut self) {
        self.tags2.connect();
        self.nf3.iter_mut().for_each(Wire::connect);
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
