//! The matrix-vector-activation unit (MVAU): a control block that reads the
//! input stream once and replays it for every neuron fold, and `PE` lanes,
//! each a weight ROM, an exact dot product over `SIMD` inputs, an
//! accumulator (inner and outer when tiled) and an activation register.
//! Everything moves together on `advance` (the output register is empty or
//! being read); see `crate::arch` for the cycle semantics.
//!
//! One file per part: `control`, `tags`, `weights`, `dot_product`,
//! `accumulator`, `thresholds`, and `lane`, which wires one PE from them;
//! `hardwired` holds the PE of a layer whose weights are constants;
//! this file holds the output packer and the block that joins control and
//! lanes.

mod accumulator;
mod control;
mod dot_product;
mod hardwired;
mod lane;
mod tags;
mod thresholds;
mod weights;

pub use accumulator::{Accumulator, fix};
pub use control::MvauControl;
pub use dot_product::DotProduct;
pub use hardwired::{HardwiredDot, HardwiredLane};
pub use lane::PeLane;
pub use tags::{TagLayout, TagPipe};
pub use thresholds::{ComparatorBank, PassThrough};
pub use weights::WeightRom;

use crate::arch::Mvau;
use crate::model::WeightStorage;
use crate::rtl::bits::BitVector;
use crate::rtl::stream::stream_ports;
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// Concatenates the PE outputs into one beat: PE `p` at `[p*W +: W]`.
#[derive(LogicBlock)]
pub struct OutputPacker {
    pub elements: Vec<Wire>,
    pub data: Wire,
    _bits: usize,
}

impl OutputPacker {
    pub fn new(plan: &Mvau) -> Self {
        let bits = plan.output.bits as usize;
        OutputPacker {
            elements: (0..plan.pe).map(|_| Wire::input(bits)).collect(),
            data: Wire::output(plan.pe * bits),
            _bits: bits,
        }
    }
}

impl Logic for OutputPacker {
    fn update(&mut self) {
        let mut data = BitVector::zero(self.elements.len() * self._bits);
        for (p, element) in self.elements.iter().enumerate() {
            data.set_field(p * self._bits, &element.val());
        }
        self.data.next = data;
    }

    fn connect(&mut self) {
        self.data.connect();
    }

    fn hdl(&self) -> Verilog {
        let parts: Vec<String> = (0..self.elements.len())
            .rev()
            .map(|p| format!("elements${p}"))
            .collect();
        Verilog::Custom(format!("always @(*) data = {{{}}};\n", parts.join(", ")))
    }
}

/// The MVAU: control, PE lanes (ROM or hardwired, by the plan's storage)
/// and the output packer.
#[derive(LogicBlock)]
pub struct MvauBlock {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub control: MvauControl,
    pub lanes: Vec<PeLane>,
    pub wired_lanes: Vec<HardwiredLane>,
    pub packer: OutputPacker,
}

impl MvauBlock {
    /// `rom_file(pe)` names the weight image of each PE.
    pub fn new(plan: &Mvau, rom_file: impl Fn(usize) -> String) -> Self {
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(plan.input_shape().bits(), plan.output_shape().bits());
        MvauBlock {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            control: MvauControl::new(plan),
            lanes: match plan.storage {
                WeightStorage::Rom => (0..plan.pe)
                    .map(|p| PeLane::new(plan, p, rom_file(p)))
                    .collect(),
                WeightStorage::Hardwired => Vec::new(),
            },
            wired_lanes: match plan.storage {
                WeightStorage::Rom => Vec::new(),
                WeightStorage::Hardwired => {
                    (0..plan.pe).map(|p| HardwiredLane::new(plan, p)).collect()
                }
            },
            packer: OutputPacker::new(plan),
        }
    }
}

impl Logic for MvauBlock {
    #[hdl_gen]
    fn update(&mut self) {
        self.control.clock.next = self.clock.val();
        self.control.rst_n.next = self.rst_n.val();
        self.control.in_data.next = self.in_data.val();
        self.control.in_valid.next = self.in_valid.val();
        self.control.out_ready.next = self.out_ready.val();
        self.in_ready.next = self.control.in_ready.val();
        self.out_valid.next = self.control.out_valid.val();
        self.out_data.next = self.packer.data.val();
        for i in 0..self.lanes.len() {
            self.lanes[i].clock.next = self.clock.val();
            self.lanes[i].advance.next = self.control.advance.val();
            self.lanes[i].rom_addr.next = self.control.rom_addr.val();
            self.lanes[i].x1.next = self.control.x1.val();
            self.lanes[i].tags1.next = self.control.tags1.val();
            self.lanes[i].valid2.next = self.control.valid2.val();
            self.packer.elements[i].next = self.lanes[i].out.val();
        }
        for i in 0..self.wired_lanes.len() {
            self.wired_lanes[i].clock.next = self.clock.val();
            self.wired_lanes[i].advance.next = self.control.advance.val();
            self.wired_lanes[i].rom_addr.next = self.control.rom_addr.val();
            self.wired_lanes[i].x1.next = self.control.x1.val();
            self.wired_lanes[i].tags1.next = self.control.tags1.val();
            self.wired_lanes[i].valid2.next = self.control.valid2.val();
            self.packer.elements[i].next = self.wired_lanes[i].out.val();
        }
    }
}
