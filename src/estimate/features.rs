//! Structural quantities of every unit of a plan — the logic the RTL
//! generator writes for it (see `crate::rtl`): ROM bits that are not
//! constant, multiplier partial products, adder widths, accumulator and
//! comparator widths, register bits. The estimator multiplies them by
//! fitted constants; DSP48E1 and block RAM counts follow exact rules.

use super::memory::{RamMapping, RomMapping, ram_mapping, rom_luts_per_bit, rom_mapping};
use crate::arch::{
    ActivationPlan, ConstantDot, ConstantProduct, Converter, Fifo, HadamardUnit, LutProduct,
    MaxPoolUnit, Mvau, SelectedLane, SlidingWindowUnit, ThresholdStyle, Unit,
};
use crate::model::{MultiplierStyle, OverflowMode, WeightStorage, min_signed_bits};
use crate::rtl::verilog::index_bits;
use serde::Serialize;

/// The block types, each with its own fitted constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Block {
    Mvau,
    /// An MVAU whose weights are constants in the Verilog: the same parts
    /// in another proportion, so it is fitted and banded on its own.
    HardwiredMvau,
    Hadamard,
    Fifo,
    Converter,
}

impl Block {
    pub const ALL: [Block; 5] = [
        Block::Mvau,
        Block::HardwiredMvau,
        Block::Hadamard,
        Block::Fifo,
        Block::Converter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Block::Mvau => "mvau",
            Block::HardwiredMvau => "hardwired_mvau",
            Block::Hadamard => "hadamard",
            Block::Fifo => "fifo",
            Block::Converter => "converter",
        }
    }

    pub fn of(unit: &Unit) -> Self {
        match unit {
            Unit::Mvau(m) if m.storage == WeightStorage::Hardwired => Block::HardwiredMvau,
            Unit::Mvau(_) => Block::Mvau,
            Unit::Hadamard(_) => Block::Hadamard,
            Unit::Fifo(_) => Block::Fifo,
            Unit::Converter(_) => Block::Converter,
            // A line buffer with counters, counted at unit costs.
            Unit::SlidingWindow(_) | Unit::MaxPool(_) => Block::Fifo,
        }
    }
}

/// The part of a unit a feature belongs to, for the report's breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    WeightRom,
    Multipliers,
    AdderTree,
    Accumulator,
    Comparators,
    /// The thresholds each comparator reads, selected by the neuron fold.
    ThresholdSelect,
    Output,
    Control,
    Butterflies,
    Requantizer,
    Fifo,
    Converter,
}

/// The resources that are fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Lut,
    Ff,
    Carry4,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Lut, Resource::Ff, Resource::Carry4];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Lut => "lut",
            Resource::Ff => "ff",
            Resource::Carry4 => "carry4",
        }
    }
}

/// One structural quantity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Feature {
    pub name: &'static str,
    pub component: Component,
    pub value: f64,
}

/// Everything the estimator knows about one unit.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnitFeatures {
    pub lut: Vec<Feature>,
    pub ff: Vec<Feature>,
    pub carry4: Vec<Feature>,
    /// Exact: one DSP48E1 per DSP-mapped product (more beyond 25 x 18).
    pub dsp: f64,
    /// Exact: the block RAMs of the weight ROMs, in RAMB18 units.
    pub bram18: f64,
}

impl UnitFeatures {
    pub fn of(&self, resource: Resource) -> &[Feature] {
        match resource {
            Resource::Lut => &self.lut,
            Resource::Ff => &self.ff,
            Resource::Carry4 => &self.carry4,
        }
    }

    fn add(&mut self, resource: Resource, name: &'static str, component: Component, value: f64) {
        let list = match resource {
            Resource::Lut => &mut self.lut,
            Resource::Ff => &mut self.ff,
            Resource::Carry4 => &mut self.carry4,
        };
        match list
            .iter_mut()
            .find(|f| f.name == name && f.component == component)
        {
            Some(f) => f.value += value,
            None => list.push(Feature {
                name,
                component,
                value,
            }),
        }
    }
}

/// The features of any unit.
pub fn unit_features(unit: &Unit) -> UnitFeatures {
    match unit {
        Unit::Mvau(m) => mvau_features(m),
        Unit::Hadamard(h) => hadamard_features(h),
        Unit::Fifo(f) => fifo_features(f),
        Unit::Converter(c) => converter_features(c),
        Unit::SlidingWindow(w) => window_features(w),
        Unit::MaxPool(p) => pool_features(p),
    }
}

/// Whether bit `bit` is zero in every value.
fn bit_is_always_zero(values: &[i64], bit: usize) -> bool {
    values.iter().all(|&v| (v >> bit.min(63)) & 1 == 0)
}

/// A bit of every value of a table column: the column's pattern.
type BitColumn = Vec<bool>;

/// The bit columns of `width`-bit two's complement values.
fn bit_columns(values: &[i64], width: usize) -> impl Iterator<Item = BitColumn> + '_ {
    (0..width).map(move |b| values.iter().map(|&v| (v >> b.min(63)) & 1 == 1).collect())
}

/// Distinct columns that are not constant: Yosys merges the flip-flops
/// (and the ROM logic) of identical columns into one.
fn distinct_varying(columns: impl Iterator<Item = BitColumn>) -> usize {
    columns
        .filter(|c| c.windows(2).any(|w| w[0] != w[1]))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Inputs of an xc7 LUT.
const LUT_INPUTS: usize = 6;

/// Accumulator bits whose comparison with a constant folds into the
/// comparator's other logic.
const COMPARED_PER_LUT: u32 = 5;

/// DSP48E1 slices for a signed `a` x `b` product (25 x 18 per slice; wider
/// operands are split by Yosys's `mul2dsp` into 24- and 17-bit pieces).
pub fn dsps_per_product(a: u32, b: u32) -> usize {
    let pieces = |width: u32, max: u32| {
        if width <= max {
            1
        } else {
            1 + (width - max).div_ceil(max - 1) as usize
        }
    };
    (pieces(a, 25) * pieces(b, 18)).min(pieces(b, 25) * pieces(a, 18))
}

/// The bits of the dot product the accumulator reads. A wrapping
/// accumulator keeps only its low `P` bits (the inner one when tiled), so
/// Yosys's `wreduce` trims every product and adder above them; a
/// saturating one needs the whole sum.
pub fn datapath_bits(m: &Mvau) -> u32 {
    match m.accumulator.overflow {
        OverflowMode::Saturate => m.dot_bits,
        OverflowMode::Wrap => {
            let first = m
                .accumulator
                .inner
                .as_ref()
                .map_or(m.accumulator.bits, |i| i.bits);
            m.dot_bits.min(first)
        }
    }
}

/// [`datapath_bits`] of PE `pe`, whose dot product is as wide as its own
/// exact range (`Mvau::pe_dot_bits`).
pub fn pe_datapath_bits(m: &Mvau, pe: usize) -> u32 {
    datapath_bits(m).min(m.pe_dot_bits(pe))
}

/// Width of one product as synthesized (see [`datapath_bits`]).
pub fn effective_product_bits(m: &Mvau) -> u32 {
    m.product_bits.min(datapath_bits(m))
}

/// Whether Yosys 0.23 puts a product on a DSP48E1: both operands at least
/// 2 bits and the product, after width reduction, at least 9 bits
/// (`docs/design.md#8-toolchain-facts`).
pub fn product_uses_dsp(m: &Mvau) -> bool {
    let input = multiplier_input_bits(m);
    m.multiplier == MultiplierStyle::Dsp
        && m.weight.bits >= 2
        && input >= 2
        && effective_product_bits(m) >= 9
}

/// Width of the input operand of a DSP product (unsigned inputs get a
/// zero sign bit).
fn multiplier_input_bits(m: &Mvau) -> u32 {
    m.input.bits + u32::from(!m.input.signed)
}

fn carry4s(width: u32) -> f64 {
    f64::from(width.div_ceil(4))
}

fn mvau_features(m: &Mvau) -> UnitFeatures {
    if m.storage == WeightStorage::Hardwired {
        return hardwired_mvau_features(m);
    }
    let mut f = UnitFeatures::default();
    let depth = m.nf * m.sf;
    let word_bits = m.simd * m.weight.bits as usize;
    let rom = rom_mapping(depth, word_bits);
    f.bram18 = (rom.bram18() * m.pe) as f64;
    let on_dsp = product_uses_dsp(m);
    weight_rom_features(&mut f, m, rom);
    for pe in 0..m.pe {
        multiplier_features(&mut f, m, pe, on_dsp);
        accumulator_features(&mut f, m, pe);
        activation_features(&mut f, m, pe);
    }
    adder_tree_features(&mut f, m, on_dsp);
    control_features(&mut f, m, on_dsp);
    f
}

/// Features of the window and pool units, counted at one LUT per adder
/// bit and per memory LUT, one flip-flop per register bit and one CARRY4
/// per four adder bits: structural counts, not fitted
/// (`docs/estimator.md#sliding-window-and-max-pool-units`).
pub const UNIT_COST_FEATURES: [&str; 4] = [
    "window_adder_bits",
    "window_register_bits",
    "window_carry4",
    "window_memory_luts",
];

/// LUTs of a function of `inputs` bits: one LUT6 up to six, each further
/// input doubling it (LUT6 pairs joined by MUXF7 and MUXF8).
fn function_luts(inputs: u32) -> f64 {
    if inputs <= LUT_INPUTS as u32 {
        1.0
    } else {
        2f64.powi((inputs - LUT_INPUTS as u32).min(40) as i32)
    }
}

/// Inputs up to this width have their lanes' bit functions enumerated;
/// a wider lane is counted with every input and address bit in every
/// output bit.
const ENUMERATED_INPUT_BITS: u32 = 10;

/// One output bit of a value, as a function of the input's bit pattern:
/// its truth table over every pattern.
type BitFunction = Vec<bool>;

/// The input bits a function depends on, as a mask.
fn support(f: &BitFunction, input_bits: u32) -> u32 {
    (0..input_bits)
        .filter(|&i| (0..f.len()).any(|r| f[r] != f[r ^ (1 << i)]))
        .fold(0, |mask, i| mask | 1 << i)
}

/// AND-OR inputs of a lane's output bit that can share a LUT with the
/// adder that reads it.
const NARROW_SELECT_INPUTS: u32 = 3;

/// How synthesis builds a lane that selects among its products.
struct LaneSelect {
    /// LUTs of the selection: per output bit and the choice decoders.
    luts: f64,
    /// Output bits whose selection is a select and a product bit (or a
    /// select alone) and so fits beside the sum's own inputs in its LUTs.
    narrow_bits: f64,
    /// Whether some bit reads a product's shift-and-add rather than
    /// taking the input and the address in one LUT.
    reads_products: bool,
}

/// A lane that selects among its products, bit by bit: bit `b` is a
/// function of the input bits that bit `b` of some choice depends on and
/// of which of the bit's distinct functions the address selects. Where
/// those input bits and the address fit one LUT6, the bit is that LUT
/// (ABC collapses it, products and all); where every choice agrees, it
/// needs no selection. Otherwise it is an AND-OR of the choices that are
/// not zero at that bit, each a decoded select and a product bit (a select
/// alone where the bit is one), five more inputs per LUT after the first,
/// and the lane decodes each choice but its default from the address once.
/// When fewer, the lane is instead one table per bit of its input bits
/// and all the address bits (products and decoders inside), as for a
/// short fold over a narrow input.
fn lane_select(
    m: &Mvau,
    lane: &SelectedLane,
    products: &[ConstantProduct],
    bits: u32,
    address_bits: u32,
) -> LaneSelect {
    let n = m.input.bits;
    if n > ENUMERATED_INPUT_BITS {
        return LaneSelect {
            luts: function_luts(n + address_bits) * f64::from(bits),
            narrow_bits: 0.0,
            reads_products: false,
        };
    }
    let inputs: Vec<i64> = (0..1i64 << n)
        .map(|r| {
            if m.input.signed && r >> (n - 1) == 1 {
                r - (1 << n)
            } else {
                r
            }
        })
        .collect();
    let mut choices = lane.choice.clone();
    choices.sort_unstable();
    choices.dedup();
    let weights: Vec<i64> = choices
        .iter()
        .map(|c| c.map_or(0, |i| products[i].weight))
        .collect();
    let (mut luts, mut narrow_bits, mut decoded, mut reads_products) = (0.0, 0.0, false, false);
    // The other way to build it: every bit one table of its input bits
    // and the address bits, the products and decoders inside the tables.
    let mut table = 0.0;
    for b in 0..bits.min(63) {
        let mut functions: Vec<BitFunction> = weights
            .iter()
            .map(|&w| inputs.iter().map(|&x| (w * x) >> b & 1 == 1).collect())
            .collect();
        functions.sort_unstable();
        functions.dedup();
        let supports: Vec<u32> = functions.iter().map(|f| support(f, n)).collect();
        let read = supports.iter().fold(0, |mask, s| mask | s).count_ones();
        if functions.len() == 1 {
            reads_products |= read > 1;
            table += if read > 1 { function_luts(read) } else { 0.0 };
            continue;
        }
        table += function_luts(read + address_bits);
        if read + address_bits <= LUT_INPUTS as u32 {
            luts += 1.0;
            continue;
        }
        let and_or_inputs: u32 = functions
            .iter()
            .zip(&supports)
            .map(|(f, &s)| match (s, f[0]) {
                (0, false) => 0,
                (0, true) => 1,
                _ => 2,
            })
            .sum();
        if and_or_inputs <= NARROW_SELECT_INPUTS {
            narrow_bits += 1.0;
        } else {
            luts += f64::from(and_or_inputs.saturating_sub(1).div_ceil(5));
        }
        decoded = true;
        reads_products |= supports.iter().any(|s| s.count_ones() > 1);
    }
    if decoded {
        luts += (lane.inputs() - 1) as f64 * function_luts(address_bits);
    }
    let product_adder_bits: u32 = choices
        .iter()
        .flatten()
        .map(|&i| products[i].adders() as u32 * products[i].bits.min(bits))
        .sum();
    let built = luts
        + if reads_products {
            f64::from(product_adder_bits)
        } else {
            0.0
        };
    if table < built {
        return LaneSelect {
            luts: table,
            narrow_bits: 0.0,
            reads_products: false,
        };
    }
    LaneSelect {
        luts,
        narrow_bits,
        reads_products,
    }
}

/// A hardwired MVAU: no ROM, no multipliers. Yosys merges each PE's
/// constant shift-and-adds and adder tree into one multi-operand sum
/// (`alumacc`) and builds it as rows of full adders that reduce the summand
/// bits to two rows, then one carry-chain adder (`maccmap`): about one full
/// adder per summand bit beyond two rows of the sum's width. Folded, a lane
/// that selects among products by the fold address cannot merge: its
/// selection is counted bit by bit ([`lane_select`]), its products'
/// shift-and-adds where a bit reads them, and the selected value is one
/// summand of the sum.
fn hardwired_mvau_features(m: &Mvau) -> UnitFeatures {
    let mut f = UnitFeatures::default();
    let datapath = datapath_bits(m);
    let address_bits = index_bits(m.nf * m.sf) as u32;
    for (pe, dot) in m.constant_dots.iter().enumerate() {
        if let Some(root) = dot.root() {
            hardwired_dot_features(&mut f, m, dot, root.bits.min(datapath), address_bits);
        }
        accumulator_features(&mut f, m, pe);
        activation_features(&mut f, m, pe);
    }
    if m.constant_dots.iter().any(ConstantDot::selects) {
        // The registered fold address (one, shared by the PEs).
        f.add(
            Resource::Ff,
            "register_bits",
            Component::AdderTree,
            f64::from(address_bits),
        );
    }
    control_features(&mut f, m, false);
    f
}

/// One PE's hardwired dot product whose root is `width` bits as the
/// accumulator reads it (a dot product that is the constant zero has no
/// features).
fn hardwired_dot_features(
    f: &mut UnitFeatures,
    m: &Mvau,
    dot: &ConstantDot,
    width: u32,
    address_bits: u32,
) {
    let (mut summands, mut terms, mut negated) = (0u32, 0usize, false);
    for lane in &dot.lanes {
        let products: Vec<&ConstantProduct> = dot
            .products
            .iter()
            .filter(|p| p.lane == lane.lane)
            .collect();
        if lane.inputs() == 1 {
            // The same product at every address: its digits join the sum.
            let p = products[0];
            summands += p.summand_bits(m.input, width);
            terms += p.digits.len();
            negated |= p.digits.iter().any(|d| d.negative);
            continue;
        }
        let bits = lane.bits.min(width);
        let select = lane_select(m, lane, &dot.products, bits, address_bits);
        f.add(
            Resource::Lut,
            "hardwired_select_luts",
            Component::Multipliers,
            select.luts,
        );
        f.add(
            Resource::Lut,
            "hardwired_narrow_select_bits",
            Component::Multipliers,
            select.narrow_bits,
        );
        if select.reads_products {
            let adder_bits: u32 = products
                .iter()
                .map(|p| p.adders() as u32 * p.bits.min(width))
                .sum();
            let carry: f64 = products
                .iter()
                .map(|p| p.adders() as f64 * carry4s(p.bits.min(width)))
                .sum();
            f.add(
                Resource::Lut,
                "hardwired_product_adder_bits",
                Component::Multipliers,
                f64::from(adder_bits),
            );
            f.add(
                Resource::Carry4,
                "hardwired_carry4",
                Component::Multipliers,
                carry,
            );
        }
        // A selected value adds its own bits (its sign extension is a
        // constant correction of the sum).
        summands += bits;
        terms += 1;
    }
    let final_adder = if terms >= 2 || negated { width } else { 0 };
    let full_adders = if terms >= 3 {
        summands.saturating_sub(2 * width)
    } else {
        0
    };
    f.add(
        Resource::Lut,
        "hardwired_full_adders",
        Component::AdderTree,
        f64::from(full_adders),
    );
    f.add(
        Resource::Lut,
        "hardwired_final_adder_bits",
        Component::AdderTree,
        f64::from(final_adder),
    );
    f.add(
        Resource::Carry4,
        "hardwired_carry4",
        Component::AdderTree,
        carry4s(final_adder),
    );
    f.add(
        Resource::Ff,
        "register_bits",
        Component::AdderTree,
        f64::from(width),
    );
}

/// Whether synthesis removes a lane's product: its weights are all zero
/// and it is built from LUTs. Yosys maps DSP48E1 products before the
/// weight ROM becomes logic, so it never sees their weights are constant.
fn lane_is_removed(m: &Mvau, pe: usize, lane: usize, on_dsp: bool) -> bool {
    !on_dsp && m.lane_is_zero(pe, lane)
}

/// The balanced adder tree of every PE at its exact widths (`RomDot`),
/// trimmed to the bits the accumulator reads, and its output register.
fn adder_tree_features(f: &mut UnitFeatures, m: &Mvau, on_dsp: bool) {
    // DSP48E1 slices can absorb the adds (post-adder) and the dot-product
    // register (PREG).
    // Products from LUTs merge into the first adders' LUTs; products from
    // DSP48E1 slices arrive as plain operands.
    let (lut_name, carry_name, register_name) = if on_dsp {
        ("dsp_adder_bits", "tree_carry4_dsp", "dsp_register_bits")
    } else {
        ("adder_bits", "adder_carry4", "register_bits")
    };
    for pe in 0..m.pe {
        let present: Vec<bool> = (0..m.simd)
            .map(|lane| !lane_is_removed(m, pe, lane, on_dsp))
            .collect();
        let datapath = pe_datapath_bits(m, pe);
        let tree: Vec<u32> = m.rom_dots[pe].adders().map(|w| w.min(datapath)).collect();
        let bits: f64 = tree.iter().map(|&w| f64::from(w)).sum();
        let carry: f64 = tree.iter().map(|&w| carry4s(w)).sum();
        f.add(Resource::Lut, lut_name, Component::AdderTree, bits);
        f.add(Resource::Carry4, carry_name, Component::AdderTree, carry);
        // The register of a dot product that is the constant zero is
        // removed.
        let register = if present.contains(&true) { datapath } else { 0 };
        f.add(
            Resource::Ff,
            register_name,
            Component::AdderTree,
            f64::from(register),
        );
    }
}

/// The weight ROMs of all PEs share their address, so identical bit
/// columns anywhere in the layer become one flip-flop and one ROM
/// function.
fn weight_rom_features(f: &mut UnitFeatures, m: &Mvau, rom: RomMapping) {
    if rom != RomMapping::Logic {
        return;
    }
    let w = m.weight.bits as usize;
    let columns = (0..m.pe).flat_map(|pe| {
        (0..m.simd).flat_map(move |lane| {
            let values: Vec<i64> = m.weights[pe].iter().map(|word| word[lane]).collect();
            bit_columns(&values, w).collect::<Vec<_>>()
        })
    });
    let active = distinct_varying(columns) as f64;
    let depth = m.nf * m.sf;
    f.add(
        Resource::Lut,
        "rom_luts",
        Component::WeightRom,
        active * rom_luts_per_bit(depth),
    );
    // The word register stays a ROM read register: `memory_dff` takes it
    // into the ROM before DSP mapping could absorb it.
    f.add(Resource::Ff, "rom_ffs", Component::WeightRom, active);
}

fn multiplier_features(f: &mut UnitFeatures, m: &Mvau, pe: usize, on_dsp: bool) {
    use Component::Multipliers;
    if on_dsp {
        let per_product = dsps_per_product(m.weight.bits, multiplier_input_bits(m));
        f.dsp += (m.simd * per_product) as f64;
        f.add(Resource::Lut, "dsp_products", Multipliers, m.simd as f64);
        return;
    }
    let n = m.input.bits;
    let datapath = pe_datapath_bits(m, pe);
    for lane in 0..m.simd {
        if lane_is_removed(m, pe, lane, on_dsp) {
            continue;
        }
        // The product's exact width over the lane's weights (`RomDot`).
        let kept = m.rom_dots[pe].products[lane].bits.min(datapath);
        let carry_per_product = carry4s(kept);
        let values: Vec<i64> = m.lane_weights(pe, lane).collect();
        // Few enough distinct signals for one LUT6 per product bit: the
        // input's bits and the lane's distinct varying weight columns, or
        // the ROM's address bits when fewer (every weight bit is a
        // function of the address).
        let weight_signals = distinct_varying(bit_columns(&values, m.weight.bits as usize))
            .min(index_bits(m.nf * m.sf));
        let signals = n as usize + weight_signals;
        if signals <= LUT_INPUTS {
            // Up to four signals leave a LUT6 two inputs to spare, so the
            // product bit can merge into the first adder's LUT.
            let name = if signals <= LUT_INPUTS - 2 {
                "small_lut_product_bits"
            } else {
                "lut_product_bits"
            };
            f.add(Resource::Lut, name, Multipliers, f64::from(kept));
            continue;
        }
        if signals <= LUT_INPUTS + 2 && m.multiplier == MultiplierStyle::Lut {
            // One or two signals more than a LUT6 takes: ABC still maps
            // each product bit as a small function of its signals (two
            // LUTs, or LUTs and a MUXF7), not as adders.
            f.add(
                Resource::Lut,
                "mid_lut_product_bits",
                Multipliers,
                f64::from(kept),
            );
            continue;
        }
        // The generator's shift-and-add (`Mvau::lut_product`) takes one
        // partial product per selecting bit: the lane's weight bits that
        // are not zero in every word, or every input bit. (Yosys's soft
        // `$mul` is counted by the declared weight bits, as it was
        // measured.)
        let LutProduct {
            weight_bits: lane_bits,
            by_weight,
        } = match m.multiplier {
            MultiplierStyle::Lut => m.lut_product(pe, lane),
            MultiplierStyle::Dsp => LutProduct {
                weight_bits: m.weight.bits,
                by_weight: true,
            },
        };
        let (active, operand_bits): (Vec<u32>, u32) = if by_weight {
            let bits = (0..lane_bits)
                .filter(|&b| !bit_is_always_zero(&values, b as usize))
                .collect();
            (bits, n)
        } else {
            ((0..n).collect(), lane_bits)
        };
        // Partial product `b` is the other operand shifted by `b`; every
        // one after the first spans bits `b..kept` (the zero low bits of
        // the shift and everything above the kept width are trimmed). Two
        // partial products make one carry-chain adder; from the third on,
        // Yosys's `maccmap` sums them in carry-save rows (two LUT outputs
        // per bit) before that adder.
        let span = |b: u32| kept.saturating_sub(b);
        let adder_bits: u32 = active.iter().skip(1).take(1).map(|&b| span(b)).sum();
        let carry_save_bits: u32 = active.iter().skip(2).map(|&b| span(b)).sum();
        let partial_products = active.len() as f64;
        // A `dsp` product left to LUTs is Yosys's soft `$mul`, not the
        // generator's shift-and-add: its own constant.
        // A signed operand is sign-extended across the whole product, so
        // its partial products are full-width.
        let signed_operand = !by_weight || m.input.signed;
        let name = match (m.multiplier, signed_operand) {
            (MultiplierStyle::Lut, false) => "mul_adder_bits",
            (MultiplierStyle::Lut, true) => "signed_mul_adder_bits",
            (MultiplierStyle::Dsp, _) => "soft_mul_adder_bits",
        };
        f.add(Resource::Lut, name, Multipliers, f64::from(adder_bits));
        let carry_save = match m.multiplier {
            MultiplierStyle::Lut => "mul_carry_save_bits",
            MultiplierStyle::Dsp => "soft_mul_carry_save_bits",
        };
        f.add(
            Resource::Lut,
            carry_save,
            Multipliers,
            f64::from(carry_save_bits),
        );
        f.add(
            Resource::Lut,
            "mul_partial_product_bits",
            Multipliers,
            partial_products * f64::from(operand_bits),
        );
        f.add(
            Resource::Carry4,
            "mul_carry4",
            Multipliers,
            (partial_products - 1.0).max(0.0) * carry_per_product,
        );
    }
}

/// Widths of the accumulator adders of one PE.
fn accumulator_adders(m: &Mvau, pe: usize) -> Vec<u32> {
    let dot_bits = m.pe_dot_bits(pe);
    let acc = m.accumulator.bits;
    let width = |bits: u32, addend: u32| match m.accumulator.overflow {
        OverflowMode::Wrap => bits,
        OverflowMode::Saturate => bits.max(addend) + 1,
    };
    match &m.accumulator.inner {
        None => vec![width(acc, dot_bits)],
        Some(inner) => vec![width(inner.bits, dot_bits), width(acc, inner.bits)],
    }
}

fn accumulator_features(f: &mut UnitFeatures, m: &Mvau, pe: usize) {
    use Component::Accumulator;
    let saturating = m.accumulator.overflow == OverflowMode::Saturate;
    // With one synapse fold (untiled) the accumulator only adds the bias
    // to the dot product: no feedback path.
    let adder = if m.sf == 1 && m.accumulator.inner.is_none() {
        "bias_adder_bits"
    } else {
        "accumulator_bits"
    };
    for width in accumulator_adders(m, pe) {
        f.add(Resource::Lut, adder, Accumulator, f64::from(width));
        f.add(
            Resource::Carry4,
            "adder_carry4",
            Accumulator,
            carry4s(width),
        );
        if saturating {
            f.add(
                Resource::Lut,
                "saturate_bits",
                Accumulator,
                f64::from(width),
            );
            f.add(
                Resource::Carry4,
                "sat_carry4",
                Accumulator,
                2.0 * carry4s(width),
            );
        }
    }
    let acc = m.accumulator.bits;
    let inner = m.accumulator.inner.as_ref().map_or(0, |i| i.bits);
    // With one synapse fold every step starts and ends a vector: the
    // running register is never read and merges with the finished one.
    let registers = if m.sf == 1 && inner == 0 {
        acc
    } else {
        2 * acc + inner
    };
    f.add(
        Resource::Ff,
        "register_bits",
        Accumulator,
        f64::from(registers),
    );
    if let Some(bias) = &m.bias {
        // Each distinct varying bit column of the biases the fold selects
        // (`rtl::verilog::constant_select`) is a function of the fold's
        // index bits, which merges into the LUT of the adder that reads it.
        let columns = distinct_varying(bit_columns(&bias[pe], acc as usize));
        f.add(
            Resource::Lut,
            "bias_select_bits",
            Accumulator,
            columns as f64,
        );
    }
}

/// Bits of the fold index a comparator's LUT takes beside its two
/// accumulator bits; each further index bit costs per compared bit.
const FREE_SELECT_BITS: usize = 3;

fn activation_features(f: &mut UnitFeatures, m: &Mvau, pe: usize) {
    use Component::*;
    let ActivationPlan::Thresholds {
        output,
        count,
        compare_bits,
        style,
    } = m.activation
    else {
        f.add(
            Resource::Ff,
            "register_bits",
            Output,
            f64::from(m.accumulator.bits),
        );
        return;
    };
    // Thresholds are usually far narrower than the comparators: above
    // their own width (and a sign bit) every threshold bit repeats the
    // sign, and the comparators share one check that the accumulator's
    // upper bits do too (a few LUTs, below what the fit resolves).
    let thresholds = &m.thresholds.as_ref().expect("thresholds")[pe];
    let (lo, hi) = thresholds
        .iter()
        .flatten()
        .fold((0i128, 0i128), |(lo, hi), &t| {
            (lo.min(t.into()), hi.max(t.into()))
        });
    // Non-negative thresholds compare only the accumulator's low bits
    // (their own width); its sign and upper bits go to the shared check.
    let own_bits = if lo >= 0 {
        128 - hi.leading_zeros()
    } else {
        min_signed_bits(lo, hi) + 1
    };
    let significant = own_bits.min(compare_bits);
    // The comparators are as wide as the accumulator
    // (`docs/design.md#4-hardware-plan`): bits above the thresholds' own width only repeat their sign.
    let upper = compare_bits - significant;
    let select_bits = index_bits(m.nf);
    if style == ThresholdStyle::Search {
        search_features(f, thresholds, output.bits, compare_bits);
        return;
    }
    let (mut variable, mut constant) = (0usize, 0usize);
    for k in 0..count {
        let first = thresholds[0][k];
        if thresholds.iter().all(|row| row[k] == first) {
            // Against a constant, ABC folds the comparator (and its share
            // of the count) into a function of the accumulator's bits:
            // the low five cost next to nothing, each further bit about
            // half a LUT (measured on standalone comparator banks).
            let folded = significant.saturating_sub(COMPARED_PER_LUT);
            f.add(
                Resource::Lut,
                "cmp_const_bits",
                Comparators,
                f64::from(folded),
            );
            f.add(
                Resource::Carry4,
                "cmp_const_carry4",
                Comparators,
                carry4s(significant),
            );
            constant += 1;
            continue;
        }
        // Against a threshold selected by the neuron fold: a carry chain
        // whose LUTs take two accumulator bits and the fold index while it
        // is at most three bits wide; a wider index costs per bit.
        variable += 1;
        f.add(
            Resource::Lut,
            "cmp_var_bits",
            Comparators,
            f64::from(significant),
        );
        f.add(
            Resource::Lut,
            "cmp_wide_select_bits",
            ThresholdSelect,
            f64::from(significant) * select_bits.saturating_sub(FREE_SELECT_BITS) as f64,
        );
        f.add(
            Resource::Carry4,
            "cmp_var_carry4",
            Comparators,
            carry4s(significant),
        );
    }
    // Whether the accumulator's bits above the thresholds' width all
    // repeat its sign is decided once per PE, not per comparator (measured
    // with the hierarchy kept): against constants, one check of those
    // bits; against thresholds selected by the fold, a check whose cost
    // grows with the fold index's width.
    if constant > 0 {
        f.add(
            Resource::Lut,
            "cmp_const_upper_bits",
            Comparators,
            f64::from(upper),
        );
    }
    if variable > 0 {
        f.add(
            Resource::Lut,
            "cmp_var_upper_bits",
            Comparators,
            f64::from(upper) * select_bits.max(1) as f64,
        );
    }
    // The comparisons with selected thresholds are counted by an adder
    // tree of their one-bit results.
    f.add(
        Resource::Lut,
        "popcount_bits",
        Output,
        variable as f64 * f64::from(output.bits),
    );
    f.add(
        Resource::Ff,
        "register_bits",
        Output,
        f64::from(output.bits),
    );
}

/// A binary-search comparator bank (`ThresholdStyle::Search`), counted
/// structurally and fitted (`docs/estimator.md#threshold-search`): per
/// stage, one carry-chain comparator LUT per significant bit of the
/// thresholds that stage selects, and one LUT per distinct varying bit
/// column of them (the selection by the fold index and the bits above).
fn search_features(f: &mut UnitFeatures, thresholds: &[Vec<i64>], stages: u32, compare_bits: u32) {
    use Component::*;
    for stage in 0..stages {
        let b = stages - 1 - stage;
        let selected: Vec<i64> = thresholds
            .iter()
            .flat_map(|row| (0..1usize << stage).map(move |p| row[(p << (b + 1)) + (1 << b) - 1]))
            .collect();
        let significant = significant_bits(&selected, compare_bits);
        let columns = distinct_varying(bit_columns(&selected, compare_bits as usize));
        f.add(
            Resource::Lut,
            "search_compare_luts",
            Comparators,
            f64::from(significant),
        );
        f.add(
            Resource::Lut,
            "search_select_luts",
            ThresholdSelect,
            columns as f64,
        );
        f.add(
            Resource::Carry4,
            "search_carry4",
            Comparators,
            carry4s(significant),
        );
    }
    f.add(Resource::Ff, "register_bits", Output, f64::from(stages));
}

/// The bits of `compare_bits`-bit comparisons with `thresholds` that are
/// not only a repeated sign: a non-negative threshold's own width, else
/// its signed width and the sign.
fn significant_bits(thresholds: &[i64], compare_bits: u32) -> u32 {
    let (lo, hi) = thresholds.iter().fold((0i128, 0i128), |(lo, hi), &t| {
        (lo.min(t.into()), hi.max(t.into()))
    });
    let own_bits = if lo >= 0 {
        128 - hi.leading_zeros()
    } else {
        min_signed_bits(lo, hi) + 1
    };
    own_bits.min(compare_bits)
}

fn control_features(f: &mut UnitFeatures, m: &Mvau, on_dsp: bool) {
    use Component::Control;
    let (sf_bits, nf_bits, address_bits) =
        (index_bits(m.sf), index_bits(m.nf), index_bits(m.nf * m.sf));
    let chunk = m.simd * m.input.bits as usize;
    let tiled = m.accumulator.inner.is_some();
    let tag_bits = if tiled { 4 } else { 2 } + nf_bits;
    let thresholds = matches!(m.activation, ActivationPlan::Thresholds { .. });
    // tags1, tags2 (identical in every lane: Yosys merges them), nf3, the
    // three counters, and valid1..3, out_valid, last1, last2.
    let mut registers = 2 * tag_bits + sf_bits + nf_bits + address_bits + 6;
    // The chunk register x1: with one PE (no fan-out) the DSP48E1 slices
    // absorb it (AREG); with a replay buffer Yosys may fold it into the
    // buffer's read port.
    let chunk_register = if on_dsp && m.pe == 1 {
        "dsp_register_bits"
    } else if m.nf > 1 {
        "replayed_chunk_bits"
    } else {
        "register_bits"
    };
    f.add(Resource::Ff, chunk_register, Control, chunk as f64);
    if thresholds {
        registers += nf_bits;
    }
    let counters = (sf_bits + nf_bits + address_bits) as f64;
    f.add(Resource::Lut, "control_bits", Control, counters);
    f.add(
        Resource::Carry4,
        "counter_carry4",
        Control,
        carry4s((sf_bits + nf_bits + address_bits) as u32),
    );
    f.add(Resource::Lut, "unit", Control, 1.0);
    if m.nf > 1 {
        f.add(Resource::Lut, "control_bits", Control, chunk as f64);
        match ram_mapping(m.sf, chunk, true) {
            RamMapping::Distributed { luts } => {
                f.add(Resource::Lut, "lutram_luts", Control, luts);
            }
            RamMapping::BlockRam { bram18 } => f.bram18 += bram18 as f64,
            RamMapping::Registers { ffs, mux_luts } => {
                registers += ffs as usize;
                f.add(Resource::Lut, "control_bits", Control, mux_luts);
            }
        }
    }
    f.add(Resource::Ff, "register_bits", Control, registers as f64);
}

fn hadamard_features(h: &HadamardUnit) -> UnitFeatures {
    use Component::*;
    use Resource::*;
    let mut f = UnitFeatures::default();
    let n = h.block as f64;
    for &wo in &h.stage_bits[1..] {
        f.add(Lut, "butterfly_bits", Butterflies, n * f64::from(wo));
        f.add(Carry4, "butterfly_carry4", Butterflies, n * carry4s(wo));
        f.add(Ff, "stage_ffs", Butterflies, n * f64::from(wo) + 1.0);
    }
    let y_bits = *h.stage_bits.last().expect("stage widths");
    let work = (y_bits + 1)
        .max(h.output.bits)
        .max(h.shift.unwrap_or(0) + 1);
    if h.shift.is_some() {
        f.add(Lut, "round_bits", Requantizer, n * f64::from(work));
        f.add(Carry4, "round_carry4", Requantizer, n * carry4s(work));
    }
    // The clamp only costs when the rounded value can leave its range:
    // a check that the bits above the clamp's width repeat its sign, and
    // a multiplexer of the clamp's width.
    let rounded_bits = y_bits + 1 - h.shift.unwrap_or(0).min(y_bits);
    if let Some(clamp) = h.clamp.filter(|c| rounded_bits > c.bits) {
        f.add(
            Lut,
            "clamp_check_bits",
            Requantizer,
            n * f64::from(rounded_bits - clamp.bits + 1),
        );
        f.add(
            Lut,
            "clamp_mux_bits",
            Requantizer,
            n * f64::from(clamp.bits),
        );
        f.add(
            Carry4,
            "clamp_carry4",
            Requantizer,
            2.0 * n * carry4s(rounded_bits),
        );
    }
    f.add(
        Ff,
        "out_ffs",
        Requantizer,
        n * f64::from(h.output.bits) + 1.0,
    );
    f.add(Lut, "unit", Requantizer, 1.0);
    f
}

fn fifo_features(fifo: &Fifo) -> UnitFeatures {
    use Component::Fifo as Part;
    let mut f = UnitFeatures::default();
    let width = fifo.beat.bits();
    let pointer = index_bits(fifo.depth);
    let count = index_bits(fifo.depth + 1);
    let control = (2 * pointer + count) as f64;
    f.add(Resource::Lut, "pointer_bits", Part, control);
    f.add(
        Resource::Carry4,
        "pointer_carry4",
        Part,
        carry4s((2 * pointer + count) as u32),
    );
    f.add(Resource::Ff, "pointer_ffs", Part, control);
    f.add(Resource::Lut, "unit", Part, 1.0);
    match ram_mapping(fifo.depth, width, false) {
        RamMapping::Distributed { luts } => f.add(Resource::Lut, "lutram_luts", Part, luts),
        RamMapping::BlockRam { bram18 } => f.bram18 += bram18 as f64,
        RamMapping::Registers { ffs, mux_luts } => {
            f.add(Resource::Ff, "memory_ffs", Part, ffs);
            f.add(Resource::Lut, "memory_mux_luts", Part, mux_luts);
        }
    }
    f
}

/// The window unit as `rtl::window` writes it, counted structurally at
/// unit costs (`docs/estimator.md#sliding-window-and-max-pool-units`): the
/// line buffer by Yosys's mapping of a memory with a registered read (block
/// RAM absorbs the read register); one LUT per bit of every adder and
/// comparator (row and column positions, the padding and read tests, the
/// held-row count, three address wraps) and per bit of every control
/// register (its next-state multiplexer); one flip-flop per register bit;
/// one CARRY4 per four adder bits.
fn window_features(w: &SlidingWindowUnit) -> UnitFeatures {
    let mut f = UnitFeatures::default();
    let (oh, ow) = w.output();
    let address = w.address_bits();
    let arithmetic = w.arithmetic_bits();
    // Write, base and kernel-row addresses; write beat; window row, column.
    let counters = 3 * address + index_bits(w.row_beats()) + index_bits(oh) + index_bits(ow);
    // Held rows, kernel row, beat in the row, row and column starts; the
    // valid and padding flags.
    let control = counters + 5 * arithmetic + 2;
    // row_top, row_end, row, col, the read test, four padding tests,
    // held's update: one adder or comparator each; the address sum and
    // its wrap, the two wraps of the next addresses.
    let adders = 10 * arithmetic + 4 * (address + 1);
    f.add(
        Resource::Lut,
        "window_adder_bits",
        Component::Control,
        adders as f64,
    );
    f.add(
        Resource::Lut,
        "window_register_bits",
        Component::Control,
        control as f64,
    );
    f.add(
        Resource::Carry4,
        "window_carry4",
        Component::Control,
        carry4s(adders as u32),
    );
    f.add(
        Resource::Ff,
        "window_register_bits",
        Component::Control,
        control as f64,
    );
    memory_features(
        &mut f,
        ram_mapping(w.buffer_words(), w.word_bits(), true),
        w.word_bits(),
    );
    f
}

/// A line buffer or running-maximum memory of `word`-bit words: LUT RAM,
/// block RAM (which holds the read register), or flip-flops and a read
/// multiplexer; the registered read word otherwise in flip-flops.
fn memory_features(f: &mut UnitFeatures, mapping: RamMapping, word: usize) {
    use Component::Fifo as Part;
    match mapping {
        RamMapping::Distributed { luts } => {
            f.add(Resource::Lut, "window_memory_luts", Part, luts);
            f.add(Resource::Ff, "window_register_bits", Part, word as f64);
        }
        RamMapping::BlockRam { bram18 } => f.bram18 += bram18 as f64,
        RamMapping::Registers { ffs, mux_luts } => {
            f.add(
                Resource::Ff,
                "window_register_bits",
                Part,
                ffs + word as f64,
            );
            f.add(Resource::Lut, "window_memory_luts", Part, mux_luts);
        }
    }
}

/// The max-pool unit: its window unit, then the reducer: per element a
/// comparator and a multiplexer, the running maxima (a memory of one word
/// per beat of a pixel, read asynchronously), the output register and the
/// pixel and beat counters.
fn pool_features(p: &MaxPoolUnit) -> UnitFeatures {
    let mut f = window_features(&p.window());
    let word = p.shape().bits();
    let cb = p.window().beats_per_pixel();
    let counters = index_bits(p.pool_pixels()) + index_bits(cb);
    f.add(
        Resource::Lut,
        "window_adder_bits",
        Component::Comparators,
        (2 * word + counters) as f64,
    );
    f.add(
        Resource::Carry4,
        "window_carry4",
        Component::Comparators,
        p.simd as f64 * carry4s(p.element.bits),
    );
    f.add(
        Resource::Ff,
        "window_register_bits",
        Component::Comparators,
        (word + counters + 1) as f64,
    );
    match ram_mapping(cb, word, false) {
        RamMapping::Distributed { luts } => {
            f.add(Resource::Lut, "window_memory_luts", Component::Fifo, luts)
        }
        RamMapping::BlockRam { bram18 } => f.bram18 += bram18 as f64,
        RamMapping::Registers { ffs, mux_luts } => {
            f.add(Resource::Ff, "window_register_bits", Component::Fifo, ffs);
            f.add(
                Resource::Lut,
                "window_memory_luts",
                Component::Fifo,
                mux_luts,
            );
        }
    }
    f
}

fn converter_features(c: &Converter) -> UnitFeatures {
    use Component::Converter as Part;
    let mut f = UnitFeatures::default();
    let element = c.element.bits as f64;
    let buffer = c.capacity() as f64 * element;
    let fill = index_bits(c.capacity() + 1);
    // Element `p` of the buffer keeps its value, takes element `p + out`
    // (an output beat left) or one of the input elements that an insert
    // at `k = 0..=out` puts there.
    let (input, output) = (c.input_elements, c.output_elements);
    let choices: usize = (0..c.capacity())
        .map(|p| {
            let shifted = usize::from(p + output < c.capacity());
            let inserts = (p.saturating_sub(input - 1)..=p.min(output)).count();
            1 + shifted + inserts
        })
        .sum();
    f.add(Resource::Lut, "buffer_bits", Part, buffer);
    f.add(
        Resource::Lut,
        "mux_input_bits",
        Part,
        choices as f64 * element,
    );
    f.add(Resource::Lut, "fill_bits", Part, fill as f64);
    f.add(Resource::Lut, "unit", Part, 1.0);
    f.add(
        Resource::Carry4,
        "fill_carry4",
        Part,
        2.0 * carry4s(fill as u32),
    );
    f.add(Resource::Ff, "buffer_ffs", Part, buffer);
    f.add(Resource::Ff, "fill_ffs", Part, fill as f64);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsp_slices_per_product() {
        assert_eq!(dsps_per_product(8, 5), 1);
        assert_eq!(dsps_per_product(25, 18), 1);
        assert_eq!(dsps_per_product(18, 25), 1);
        assert_eq!(dsps_per_product(8, 33), 2);
    }

    #[test]
    fn identical_columns_count_once() {
        let varying = |values: &[i64], width| distinct_varying(bit_columns(values, width));
        assert_eq!(varying(&[3, 3, 3], 4), 0);
        assert_eq!(varying(&[0, 1], 4), 1);
        // -1 = 1111, 0 = 0000: every bit is the same varying column.
        assert_eq!(varying(&[-1, 0], 4), 1);
        // 0101 and 1010: two columns, each other's complement.
        assert_eq!(varying(&[5, 10], 4), 2);
        assert!(bit_is_always_zero(&[2, 4], 0));
    }
}
