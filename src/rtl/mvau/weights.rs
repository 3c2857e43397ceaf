//! The weight ROM of one PE: its `$readmemh` image and the registered read.

use crate::arch::Mvau;
use crate::rtl::bits::BitVector;
use crate::rtl::verilog::{index_bits, line};
use crate::rtl::wire::Wire;
use rust_hdl::prelude::*;

/// One PE's weights: `NF * SF` words of `SIMD` weights, read on `advance`.
#[derive(LogicBlock)]
pub struct WeightRom {
    pub clock: Signal<In, Clock>,
    pub advance: Wire,
    pub addr: Wire,
    pub word: Wire,
    _words: Vec<BitVector>,
    _file: String,
}

impl WeightRom {
    /// `file` is the `$readmemh` image the generator writes beside the RTL.
    pub fn new(plan: &Mvau, pe: usize, file: String) -> Self {
        let width = plan.simd * plan.weight.bits as usize;
        let words = plan.weights[pe]
            .iter()
            .map(|word| {
                BitVector::pack(
                    &word.iter().map(|&w| w as i128).collect::<Vec<_>>(),
                    plan.weight.bits as usize,
                )
            })
            .collect();
        WeightRom {
            clock: Default::default(),
            advance: Wire::input(1),
            addr: Wire::input(index_bits(plan.nf * plan.sf)),
            word: Wire::output(width),
            _words: words,
            _file: file,
        }
    }

    pub fn file_name(&self) -> &str {
        &self._file
    }

    /// The `$readmemh` image: one hexadecimal word per line, every digit
    /// of the word's width.
    pub fn memory_image(&self) -> String {
        self._words
            .iter()
            .map(|w| format!("{}\n", w.to_hex()))
            .collect()
    }

    fn verilog(&self) -> String {
        let mut v = String::new();
        line(
            &mut v,
            0,
            format!(
                "reg [{}:0] words [0:{}];",
                self.word.width() - 1,
                self._words.len() - 1
            ),
        );
        line(
            &mut v,
            0,
            format!("initial $readmemh(\"{}\", words);", self._file),
        );
        line(
            &mut v,
            0,
            "always @(posedge clock) if (advance) word <= words[addr];",
        );
        v
    }
}

impl Logic for WeightRom {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.advance.is_high() {
            self.word.next = self
                ._words
                .get(self.addr.index())
                .cloned()
                .unwrap_or_else(|| BitVector::zero(self.word.width()));
        }
    }

    fn connect(&mut self) {
        self.word.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog())
    }
}
