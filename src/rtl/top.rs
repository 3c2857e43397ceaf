//! The top of the accelerator: one stream stage per plan unit, chained.

use super::hadamard::HadamardBlock;
use super::mvau::MvauBlock;
use super::stream::{StreamFifo, WidthConverter, stream_ports};
use super::window::{MaxPoolBlock, SlidingWindowBlock};
use super::wire::Wire;
use crate::arch::{Plan, Unit};
use rust_hdl::prelude::*;

/// A uniform stream wrapper around one unit of the plan. Exactly one of the
/// vectors holds a block: rust-hdl's translator unrolls loops over vectors,
/// which is how a parent wires children whose kind depends on the plan.
#[derive(LogicBlock)]
pub struct StreamStage {
    pub clock: Signal<In, Clock>,
    pub rst_n: Wire,
    pub in_data: Wire,
    pub in_valid: Wire,
    pub in_ready: Wire,
    pub out_data: Wire,
    pub out_valid: Wire,
    pub out_ready: Wire,
    pub mvau: Vec<MvauBlock>,
    pub hadamard: Vec<HadamardBlock>,
    pub fifo: Vec<StreamFifo>,
    pub converter: Vec<WidthConverter>,
    pub window: Vec<SlidingWindowBlock>,
    pub pool: Vec<MaxPoolBlock>,
}

impl StreamStage {
    pub fn new(unit: &Unit, rom_file: impl Fn(&str, usize) -> String) -> Self {
        let (in_data, in_valid, in_ready, out_data, out_valid, out_ready) =
            stream_ports!(unit.input_shape().bits(), unit.output_shape().bits());
        let mut stage = StreamStage {
            clock: Default::default(),
            rst_n: Wire::input(1),
            in_data,
            in_valid,
            in_ready,
            out_data,
            out_valid,
            out_ready,
            mvau: Vec::new(),
            hadamard: Vec::new(),
            fifo: Vec::new(),
            converter: Vec::new(),
            window: Vec::new(),
            pool: Vec::new(),
        };
        match unit {
            Unit::Mvau(m) => stage
                .mvau
                .push(MvauBlock::new(m, |pe| rom_file(&m.name, pe))),
            Unit::Hadamard(h) => stage.hadamard.push(HadamardBlock::new(h)),
            Unit::Fifo(f) => stage.fifo.push(StreamFifo::new(f)),
            Unit::Converter(c) => stage.converter.push(WidthConverter::new(c)),
            Unit::SlidingWindow(w) => stage.window.push(SlidingWindowBlock::new(w)),
            Unit::MaxPool(p) => stage.pool.push(MaxPoolBlock::new(p)),
        }
        stage
    }
}

impl Logic for StreamStage {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..self.mvau.len() {
            self.mvau[i].clock.next = self.clock.val();
            self.mvau[i].rst_n.next = self.rst_n.val();
            self.mvau[i].in_data.next = self.in_data.val();
            self.mvau[i].in_valid.next = self.in_valid.val();
            self.mvau[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.mvau[i].in_ready.val();
            self.out_data.next = self.mvau[i].out_data.val();
            self.out_valid.next = self.mvau[i].out_valid.val();
        }
        for i in 0..self.hadamard.len() {
            self.hadamard[i].clock.next = self.clock.val();
            self.hadamard[i].rst_n.next = self.rst_n.val();
            self.hadamard[i].in_data.next = self.in_data.val();
            self.hadamard[i].in_valid.next = self.in_valid.val();
            self.hadamard[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.hadamard[i].in_ready.val();
            self.out_data.next = self.hadamard[i].out_data.val();
            self.out_valid.next = self.hadamard[i].out_valid.val();
        }
        for i in 0..self.fifo.len() {
            self.fifo[i].clock.next = self.clock.val();
            self.fifo[i].rst_n.next = self.rst_n.val();
            self.fifo[i].in_data.next = self.in_data.val();
            self.fifo[i].in_valid.next = self.in_valid.val();
            self.fifo[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.fifo[i].in_ready.val();
            self.out_data.next = self.fifo[i].out_data.val();
            self.out_valid.next = self.fifo[i].out_valid.val();
        }
        for i in 0..self.converter.len() {
            self.converter[i].clock.next = self.clock.val();
            self.converter[i].rst_n.next = self.rst_n.val();
            self.converter[i].in_data.next = self.in_data.val();
            self.converter[i].in_valid.next = self.in_valid.val();
            self.converter[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.converter[i].in_ready.val();
            self.out_data.next = self.converter[i].out_data.val();
            self.out_valid.next = self.converter[i].out_valid.val();
        }
        for i in 0..self.window.len() {
            self.window[i].clock.next = self.clock.val();
            self.window[i].rst_n.next = self.rst_n.val();
            self.window[i].in_data.next = self.in_data.val();
            self.window[i].in_valid.next = self.in_valid.val();
            self.window[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.window[i].in_ready.val();
            self.out_data.next = self.window[i].out_data.val();
            self.out_valid.next = self.window[i].out_valid.val();
        }
        for i in 0..self.pool.len() {
            self.pool[i].clock.next = self.clock.val();
            self.pool[i].rst_n.next = self.rst_n.val();
            self.pool[i].in_data.next = self.in_data.val();
            self.pool[i].in_valid.next = self.in_valid.val();
            self.pool[i].out_ready.next = self.out_ready.val();
            self.in_ready.next = self.pool[i].in_ready.val();
            self.out_data.next = self.pool[i].out_data.val();
            self.out_valid.next = self.pool[i].out_valid.val();
        }
    }
}

/// The accelerator: `clk`, `rst_n`, an AXI-Stream style input
/// (`s_axis_*`) and output (`m_axis_*`).
#[derive(LogicBlock)]
pub struct Accelerator {
    pub clk: Signal<In, Clock>,
    pub rst_n: Wire,
    pub s_axis_tdata: Wire,
    pub s_axis_tvalid: Wire,
    pub s_axis_tready: Wire,
    pub m_axis_tdata: Wire,
    pub m_axis_tvalid: Wire,
    pub m_axis_tready: Wire,
    pub stages: Vec<StreamStage>,
}

impl Accelerator {
    /// The block tree of `plan`; `rom_file(layer, pe)` names weight images.
    pub fn new(plan: &Plan, rom_file: impl Fn(&str, usize) -> String) -> Self {
        let (
            s_axis_tdata,
            s_axis_tvalid,
            s_axis_tready,
            m_axis_tdata,
            m_axis_tvalid,
            m_axis_tready,
        ) = stream_ports!(plan.input().bits(), plan.output().bits());
        let mut top = Accelerator {
            clk: Default::default(),
            rst_n: Wire::input(1),
            s_axis_tdata,
            s_axis_tvalid,
            s_axis_tready,
            m_axis_tdata,
            m_axis_tvalid,
            m_axis_tready,
            stages: plan
                .units
                .iter()
                .map(|u| StreamStage::new(u, &rom_file))
                .collect(),
        };
        top.connect_all();
        top
    }
}

impl Logic for Accelerator {
    #[hdl_gen]
    fn update(&mut self) {
        self.stages[0].in_data.next = self.s_axis_tdata.val();
        self.stages[0].in_valid.next = self.s_axis_tvalid.val();
        self.s_axis_tready.next = self.stages[0].in_ready.val();
        for i in 0..self.stages.len() {
            self.stages[i].clock.next = self.clk.val();
            self.stages[i].rst_n.next = self.rst_n.val();
        }
        for i in 1..self.stages.len() {
            self.stages[i].in_data.next = self.stages[i - 1].out_data.val();
            self.stages[i].in_valid.next = self.stages[i - 1].out_valid.val();
            self.stages[i - 1].out_ready.next = self.stages[i].in_ready.val();
        }
        for i in (self.stages.len() - 1)..self.stages.len() {
            self.m_axis_tdata.next = self.stages[i].out_data.val();
            self.m_axis_tvalid.next = self.stages[i].out_valid.val();
            self.stages[i].out_ready.next = self.m_axis_tready.val();
        }
    }
}
