//! How Yosys 0.23 `synth_xilinx` maps the design's memories on xc7, as
//! measured and as its `memory_libmap` cost model decides:
//!
//! * **ROMs read synchronously** (the weight ROMs: `$readmemh` images, a
//!   registered read): block RAM when the cheapest RAMB18 (cost 129) or
//!   RAMB36 (cost 257) arrangement costs less than soft logic at 1/64 per
//!   bit; otherwise logic, about one LUT6 per non-constant output bit per
//!   64 words (plus MUXF7/MUXF8 beyond 64 words). Measured on random
//!   images: 256 x 64 and 512 x 16 go to LUTs, 512 x 32 and 1024 x 16 to
//!   one RAMB18, 1024 x 20, 384 x 48 and 768 x 24 to one RAMB36, 2048 x 32
//!   to two RAMB36.
//! * **Register arrays with an asynchronous read** (FIFOs, the MVAU's
//!   replay buffer): distributed RAM as simple dual-port `RAM32M` (32 x 6)
//!   or `RAM64M` (64 x 3), 4 LUTs each, when cheaper than one flip-flop
//!   per bit; otherwise flip-flops and a read multiplexer. The replay
//!   buffer's read feeds the chunk register, which `memory_dff` can merge
//!   into a synchronous read: then block RAM competes at its cost (a
//!   128 x 32 buffer took a RAMB18).

/// Cost of one bit of ROM lowered to soft logic (`memory_libmap`).
const LOGIC_COST_PER_ROM_BIT: f64 = 1.0 / 64.0;
/// Costs of the block RAM modes in Yosys's xc7 library.
const RAMB18_COST: f64 = 129.0;
const RAMB36_COST: f64 = 257.0;
/// Data widths (with parity) and address bits of each block RAM, simple
/// dual port.
const RAMB18_WIDTHS: [usize; 6] = [1, 2, 4, 9, 18, 36];
const RAMB36_WIDTHS: [usize; 7] = [1, 2, 4, 9, 18, 36, 72];
const RAMB18_ADDRESS_BITS: u32 = 14;
const RAMB36_ADDRESS_BITS: u32 = 15;

/// Where a synchronously read ROM of `depth` words of `width` bits goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RomMapping {
    Logic,
    BlockRam { ramb18: usize, ramb36: usize },
}

impl RomMapping {
    /// In RAMB18 units (a RAMB36 is two).
    pub fn bram18(self) -> usize {
        match self {
            RomMapping::Logic => 0,
            RomMapping::BlockRam { ramb18, ramb36 } => ramb18 + 2 * ramb36,
        }
    }
}

/// Blocks needed for `depth` x `width` in one block RAM mode.
fn blocks(depth: usize, width: usize, widths: &[usize], address_bits: u32) -> usize {
    widths
        .iter()
        .map(|&w| {
            // Widths 9, 18, 36, 72 hold 8, 16, 32, 64 address-scaled bits.
            let scaled = if w >= 9 { w / 9 * 8 } else { w };
            let words = (1usize << address_bits) / scaled;
            width.div_ceil(w) * depth.div_ceil(words)
        })
        .min()
        .expect("block RAM widths")
}

/// The mapping `memory_libmap` chooses for a ROM.
pub fn rom_mapping(depth: usize, width: usize) -> RomMapping {
    let logic = (depth * width) as f64 * LOGIC_COST_PER_ROM_BIT;
    let ramb18 = blocks(depth, width, &RAMB18_WIDTHS, RAMB18_ADDRESS_BITS);
    let ramb36 = blocks(depth, width, &RAMB36_WIDTHS, RAMB36_ADDRESS_BITS);
    let (cost18, cost36) = (ramb18 as f64 * RAMB18_COST, ramb36 as f64 * RAMB36_COST);
    if logic <= cost18.min(cost36) {
        RomMapping::Logic
    } else if cost18 <= cost36 {
        RomMapping::BlockRam { ramb18, ramb36: 0 }
    } else {
        RomMapping::BlockRam { ramb18: 0, ramb36 }
    }
}

/// LUTs of soft-logic ROM per non-constant output bit.
pub fn rom_luts_per_bit(depth: usize) -> f64 {
    if depth <= 2 {
        // The bit is an address bit or its complement.
        0.0
    } else {
        depth.div_ceil(64) as f64
    }
}

/// Where a register array goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RamMapping {
    /// Distributed RAM: this many LUTs (4 per RAM32M or RAM64M).
    Distributed { luts: f64 },
    /// Block RAM, in RAMB18 units (only for a registered read).
    BlockRam { bram18: usize },
    /// Flip-flops, one per bit, and a read multiplexer.
    Registers { ffs: f64, mux_luts: f64 },
}

/// The mapping of a `depth` x `width` register array with one write and
/// one read port. A `registered_read` (the MVAU's replay buffer, whose
/// read feeds the chunk register) may also go to block RAM.
pub fn ram_mapping(depth: usize, width: usize, registered_read: bool) -> RamMapping {
    let primitives = if depth <= 32 {
        width.div_ceil(6)
    } else {
        depth.div_ceil(64) * width.div_ceil(3)
    };
    // memory_libmap: 8 per RAM32M/RAM64M against 1 per flip-flop bit.
    let distributed = (primitives * 8) as f64;
    if registered_read {
        let ramb18 = blocks(depth, width, &RAMB18_WIDTHS, RAMB18_ADDRESS_BITS);
        let ramb36 = blocks(depth, width, &RAMB36_WIDTHS, RAMB36_ADDRESS_BITS);
        let (cost18, cost36) = (ramb18 as f64 * RAMB18_COST, ramb36 as f64 * RAMB36_COST);
        if cost18.min(cost36) < distributed.min((depth * width) as f64) {
            let bram18 = if cost18 <= cost36 { ramb18 } else { 2 * ramb36 };
            return RamMapping::BlockRam { bram18 };
        }
    }
    if distributed < (depth * width) as f64 {
        RamMapping::Distributed {
            luts: (primitives * 4) as f64,
        }
    } else {
        RamMapping::Registers {
            ffs: (depth * width) as f64,
            // A LUT6 selects among 4 inputs with 2 select bits.
            mux_luts: if depth <= 1 {
                0.0
            } else {
                (width * depth.div_ceil(4)) as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roms_map_as_yosys_maps_them() {
        let logic = [
            (256, 64),
            (512, 16),
            (1024, 8),
            (2048, 4),
            (128, 128),
            (16, 32),
        ];
        for (depth, width) in logic {
            assert_eq!(
                rom_mapping(depth, width),
                RomMapping::Logic,
                "{depth}x{width}"
            );
        }
        let one18 = [(512, 32), (1024, 16), (4096, 4), (2048, 8)];
        for (depth, width) in one18 {
            assert_eq!(rom_mapping(depth, width).bram18(), 1, "{depth}x{width}");
        }
        let one36 = [
            (1024, 20),
            (384, 48),
            (768, 24),
            (1024, 36),
            (512, 48),
            (1024, 32),
        ];
        for (depth, width) in one36 {
            assert_eq!(
                rom_mapping(depth, width),
                RomMapping::BlockRam {
                    ramb18: 0,
                    ramb36: 1
                },
                "{depth}x{width}"
            );
        }
        assert_eq!(rom_mapping(2048, 32).bram18(), 4);
    }

    #[test]
    fn register_arrays_become_distributed_ram() {
        // The mlp3 example: replay buffers 4 x 16 and 2 x 32, FIFOs 8 x 16
        // and 8 x 4 took 3, 6, 3 and 1 RAM32M.
        let luts = |d, w| match ram_mapping(d, w, false) {
            RamMapping::Distributed { luts } => luts,
            _ => 0.0,
        };
        assert_eq!(luts(4, 16), 12.0);
        assert_eq!(luts(2, 32), 24.0);
        assert_eq!(luts(8, 16), 12.0);
        assert_eq!(luts(8, 4), 4.0);
        assert!(matches!(
            ram_mapping(1, 16, false),
            RamMapping::Registers { .. }
        ));
        // A replay buffer of 128 x 32 bits went to a RAMB18 (measured).
        assert_eq!(
            ram_mapping(128, 32, true),
            RamMapping::BlockRam { bram18: 1 }
        );
        assert!(matches!(
            ram_mapping(128, 32, false),
            RamMapping::Distributed { .. }
        ));
    }
}
