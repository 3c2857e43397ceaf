//! One processing element: ROM, dot product, tag pipe, accumulator and
//! activation stage, wired together.

use super::accumulator::Accumulator;
use super::dot_product::DotProduct;
use super::tags::{TagLayout, TagPipe};
use super::thresholds::{ComparatorBank, PassThrough};
use super::weights::WeightRom;
use crate::arch::{ActivationPlan, Mvau};
use crate::rtl::verilog::index_bits;
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// One processing element: ROM, dot product, accumulator, activation.
#[derive(LogicBlock)]
pub struct PeLane {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub rom_addr: Wire,
    pub x1: Wire,
    pub tags1: Wire,
    pub valid2: Wire,
    pub out: Wire,
    pub rom: WeightRom,
    pub dot: DotProduct,
    pub tags: TagPipe,
    pub acc: Accumulator,
    pub thresholds: Vec<ComparatorBank>,
    pub passthrough: Vec<PassThrough>,
}

impl PeLane {
    pub fn new(plan: &Mvau, pe: usize, rom_file: String) -> Self {
        let thresholds = matches!(plan.activation, ActivationPlan::Thresholds { .. });
        PeLane {
            clock: Default::default(),
            advance: Wire::input(1),
            rom_addr: Wire::input(index_bits(plan.nf * plan.sf)),
            x1: Wire::input(plan.input_shape().bits()),
            tags1: Wire::input(TagLayout::of(plan).width()),
            valid2: Wire::input(1),
            out: Wire::output(plan.output.bits as usize),
            rom: WeightRom::new(plan, pe, rom_file),
            dot: DotProduct::new(plan, pe),
            tags: TagPipe::new(plan),
            acc: Accumulator::new(plan, pe),
            thresholds: if thresholds {
                vec![ComparatorBank::new(plan, pe)]
            } else {
                Vec::new()
            },
            passthrough: if thresholds {
                Vec::new()
            } else {
                vec![PassThrough::new(plan)]
            },
        }
    }
}

impl Logic for PeLane {
    #[hdl_gen]
    fn update(&mut self) {
        self.rom.clock.next = self.clock.val();
        self.rom.advance.next = self.advance.val();
        self.rom.addr.next = self.rom_addr.val();
        self.dot.clock.next = self.clock.val();
        self.dot.advance.next = self.advance.val();
        self.dot.x1.next = self.x1.val();
        self.dot.word.next = self.rom.word.val();
        self.tags.clock.next = self.clock.val();
        self.tags.advance.next = self.advance.val();
        self.tags.tags1.next = self.tags1.val();
        self.acc.clock.next = self.clock.val();
        self.acc.advance.next = self.advance.val();
        self.acc.valid2.next = self.valid2.val();
        self.acc.tags2.next = self.tags.tags2.val();
        self.acc.sum2.next = self.dot.sum2.val();
        for i in 0..self.thresholds.len() {
            self.thresholds[i].clock.next = self.clock.val();
            self.thresholds[i].advance.next = self.advance.val();
            self.thresholds[i].acc3.next = self.acc.acc3.val();
            self.thresholds[i].nf3.next = self.tags.nf3[i].val();
            self.out.next = self.thresholds[i].out.val();
        }
        for i in 0..self.passthrough.len() {
            self.passthrough[i].clock.next = self.clock.val();
            self.passthrough[i].advance.next = self.advance.val();
            self.passthrough[i].acc3.next = self.acc.acc3.val();
            self.out.next = self.passthrough[i].out.val();
        }
    }
}
