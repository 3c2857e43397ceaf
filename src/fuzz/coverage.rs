//! What a model exercises: the features the coverage table counts, read
//! from the model and (for stream and ROM word widths) from its plan.

use super::model_gen::is_prime;
use crate::arch::{Plan, Unit};
use crate::model::{
    Activation, IntType, LayerKind, Model, MultiplierStyle, OverflowMode, WeightsHint,
};
use crate::table::{Align, Table};
use std::collections::BTreeSet;
use std::fmt;

/// One feature of the coverage table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    InputOneBit,
    InputSixteenBits,
    SignedInput,
    WeightOneBit,
    WeightSixteenBits,
    ExtremeWeight,
    ZeroRow,
    ZeroLayer,
    PrimeSize,
    LayerOver100,
    PeOne,
    PeFull,
    SimdOne,
    SimdFull,
    Dsp,
    Hardwired,
    HardwiredFolded,
    AutoWeights,
    AutoChoseHardwired,
    Bias,
    Tiled,
    Accumulator64,
    AccumulatorAboveMinimum,
    WrapOverflow,
    Saturate,
    RawOutput,
    ThresholdOneBit,
    ThresholdsElevenPlus,
    SignedOutput,
    ThresholdOutsideAccumulator,
    RepeatedThreshold,
    HadamardShift,
    HadamardNoShift,
    HadamardClamp,
    HadamardBlock32Plus,
    WordOver128,
    NarrowRomTree,
    ThresholdSearch,
    FloatScales,
    Conv,
    ConvStride2Plus,
    ConvOneSidedPadding,
    ConvOneByOne,
    ConvWholeMapKernel,
    MaxPool,
    Layers(usize),
}

impl Feature {
    /// Every feature, in table order.
    pub fn all() -> Vec<Feature> {
        use Feature::*;
        let mut all = vec![
            InputOneBit,
            InputSixteenBits,
            SignedInput,
            WeightOneBit,
            WeightSixteenBits,
            ExtremeWeight,
            ZeroRow,
            ZeroLayer,
            PrimeSize,
            LayerOver100,
            PeOne,
            PeFull,
            SimdOne,
            SimdFull,
            Dsp,
            Hardwired,
            HardwiredFolded,
            AutoWeights,
            AutoChoseHardwired,
            Bias,
            Tiled,
            Accumulator64,
            AccumulatorAboveMinimum,
            WrapOverflow,
            Saturate,
            RawOutput,
            ThresholdOneBit,
            ThresholdsElevenPlus,
            SignedOutput,
            ThresholdOutsideAccumulator,
            RepeatedThreshold,
            HadamardShift,
            HadamardNoShift,
            HadamardClamp,
            HadamardBlock32Plus,
            WordOver128,
            NarrowRomTree,
            ThresholdSearch,
            FloatScales,
            Conv,
            ConvStride2Plus,
            ConvOneSidedPadding,
            ConvOneByOne,
            ConvWholeMapKernel,
            MaxPool,
        ];
        all.extend((1..=5).map(Layers));
        all
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Feature::*;
        let text = match self {
            InputOneBit => "1-bit inputs",
            InputSixteenBits => "16-bit inputs",
            SignedInput => "signed inputs",
            WeightOneBit => "1-bit weights",
            WeightSixteenBits => "16-bit weights",
            ExtremeWeight => "extreme weights (-2^(W-1))",
            ZeroRow => "all-zero rows",
            ZeroLayer => "all-zero layers",
            PrimeSize => "prime sizes (>= 3)",
            LayerOver100 => "sizes over 100",
            PeOne => "PE = 1",
            PeFull => "PE = out_features (> 1)",
            SimdOne => "SIMD = 1",
            SimdFull => "SIMD = in_features (> 1)",
            Dsp => "dsp multipliers",
            Hardwired => "hardwired weights",
            HardwiredFolded => "folded hardwired weights (NF x SF > 1)",
            AutoWeights => "auto weights",
            AutoChoseHardwired => "auto weights built hardwired",
            Bias => "bias",
            Tiled => "tiled accumulators",
            Accumulator64 => "64-bit accumulators",
            AccumulatorAboveMinimum => "accumulators above the proven minimum",
            WrapOverflow => "wrap below the proven width (allow_overflow)",
            Saturate => "saturate (allow_overflow)",
            RawOutput => "raw-accumulator outputs",
            ThresholdOneBit => "1-bit thresholded outputs",
            ThresholdsElevenPlus => "11+ threshold bits",
            SignedOutput => "signed thresholded outputs",
            ThresholdOutsideAccumulator => "thresholds outside the accumulator range",
            RepeatedThreshold => "repeated thresholds",
            HadamardShift => "Hadamard with shift",
            HadamardNoShift => "Hadamard without shift",
            HadamardClamp => "Hadamard with clamp",
            HadamardBlock32Plus => "Hadamard blocks of 32+",
            WordOver128 => "words over 128 bits",
            NarrowRomTree => "ROM products narrower than their types",
            ThresholdSearch => "binary-search threshold banks",
            FloatScales => "float scales (input, output)",
            Conv => "convolutions",
            ConvStride2Plus => "convolutions of stride 2+",
            ConvOneSidedPadding => "convolutions padded on one side",
            ConvOneByOne => "1x1 convolutions",
            ConvWholeMapKernel => "kernels as large as the padded map",
            MaxPool => "max pools",
            Layers(n) => return write!(f, "{n} layer{}", if *n == 1 { "" } else { "s" }),
        };
        f.write_str(text)
    }
}

/// The features `model` exercises; those of stream and ROM words need its
/// plan (left out without one).
pub fn features(model: &Model, plan: Option<&Plan>) -> BTreeSet<Feature> {
    use Feature::*;
    let mut set = BTreeSet::new();
    let mut add = |present: bool, feature: Feature| {
        if present {
            set.insert(feature);
        }
    };
    add(model.input.bits == 1, InputOneBit);
    add(model.input.bits == 16, InputSixteenBits);
    add(model.input.signed, SignedInput);
    add(
        model.input_scale.is_some() || model.output_scale.is_some(),
        FloatScales,
    );
    add(true, Layers(model.layers.len()));
    let bounds = crate::bounds::analyze(model);
    for (index, layer) in model.layers.iter().enumerate() {
        if let Some(window) = layer.window() {
            let conv = matches!(layer.kind, LayerKind::Conv(_));
            let p = window.padding;
            add(conv, Conv);
            add(!conv, MaxPool);
            add(
                conv && window.stride.iter().any(|&s| s >= 2),
                ConvStride2Plus,
            );
            add(
                conv && p.iter().filter(|&&x| x > 0).count() == 1,
                ConvOneSidedPadding,
            );
            add(conv && window.kernel == [1, 1], ConvOneByOne);
            add(
                conv && window.kernel[0] == window.input.height + p[0] + p[2]
                    && window.kernel[1] == window.input.width + p[1] + p[3],
                ConvWholeMapKernel,
            );
        }
        let Some(dense) = layer.accumulating() else {
            if let LayerKind::Hadamard(h) = &layer.kind {
                add(h.shift.is_some(), HadamardShift);
                add(h.shift.is_none(), HadamardNoShift);
                add(h.out_bits.is_some(), HadamardClamp);
                add(h.block >= 32, HadamardBlock32Plus);
            }
            continue;
        };
        let weight = dense.weight_type();
        add(dense.weight_bits == 1, WeightOneBit);
        add(dense.weight_bits == 16, WeightSixteenBits);
        add(
            dense.weights.iter().any(|&w| i128::from(w) == weight.min()),
            ExtremeWeight,
        );
        add(
            dense
                .weights
                .rows()
                .into_iter()
                .any(|r| r.iter().all(|&w| w == 0)),
            ZeroRow,
        );
        add(dense.weights.iter().all(|&w| w == 0), ZeroLayer);
        let sizes = [dense.in_features, dense.out_features];
        add(sizes.iter().any(|&n| n >= 3 && is_prime(n)), PrimeSize);
        add(sizes.iter().any(|&n| n > 100), LayerOver100);
        let hw = dense.hardware;
        add(hw.pe == Some(1), PeOne);
        add(
            dense.out_features > 1 && hw.pe == Some(dense.out_features),
            PeFull,
        );
        add(hw.simd == Some(1), SimdOne);
        add(
            dense.in_features > 1 && hw.simd == Some(dense.in_features),
            SimdFull,
        );
        add(hw.multiplier == MultiplierStyle::Dsp, Dsp);
        let hardwired = hw.weights == WeightsHint::Hardwired;
        add(hardwired, Hardwired);
        let unfolded = hw.pe.unwrap_or(dense.out_features) == dense.out_features
            && hw.simd.unwrap_or(dense.in_features) == dense.in_features;
        add(hardwired && !unfolded, HardwiredFolded);
        add(hw.weights == WeightsHint::Auto, AutoWeights);
        add(dense.bias.is_some(), Bias);
        let acc = dense.accumulator;
        add(acc.tile.is_some(), Tiled);
        add(acc.bits == 64, Accumulator64);
        let proof = bounds.layers[index].dense.as_ref().expect("dense bounds");
        add(acc.bits > proof.min_bits, AccumulatorAboveMinimum);
        let narrow = !(proof.outer_proven() && proof.inner_proven());
        add(narrow && acc.overflow == OverflowMode::Wrap, WrapOverflow);
        add(acc.overflow == OverflowMode::Saturate, Saturate);
        match &dense.activation {
            Activation::None => add(true, RawOutput),
            Activation::Thresholds { output, thresholds } => {
                add(output.bits == 1, ThresholdOneBit);
                add(output.bits >= 11, ThresholdsElevenPlus);
                add(output.signed, SignedOutput);
                let a = IntType::signed(acc.bits);
                add(
                    thresholds.iter().any(|&t| !a.contains(t.into())),
                    ThresholdOutsideAccumulator,
                );
                add(
                    thresholds
                        .rows()
                        .into_iter()
                        .any(|r| r.iter().zip(r.iter().skip(1)).any(|(a, b)| a == b)),
                    RepeatedThreshold,
                );
            }
        }
    }
    if let Some(plan) = plan {
        let wide_stream = plan
            .units
            .iter()
            .any(|u| u.input_shape().bits() > 128 || u.output_shape().bits() > 128);
        let wide_rom = plan.units.iter().any(|u| match u {
            Unit::Mvau(m) => m.simd * m.weight.bits as usize > 128,
            _ => false,
        });
        add(wide_stream || wide_rom, WordOver128);
        add(
            plan.mvaus().any(|m| {
                m.storage_choice.is_some() && m.storage == crate::model::WeightStorage::Hardwired
            }),
            AutoChoseHardwired,
        );
        let mvaus: Vec<&crate::arch::Mvau> = plan.mvaus().collect();
        add(
            mvaus.iter().any(|m| {
                let typed = crate::arch::LaneProduct::new(m.weight.min(), m.weight.max(), m.input);
                m.rom_dots
                    .iter()
                    .flat_map(|d| &d.products)
                    .any(|p| p.bits < typed.bits)
            }),
            NarrowRomTree,
        );
        add(
            mvaus.iter().any(|m| {
                matches!(
                    m.activation,
                    crate::arch::ActivationPlan::Thresholds {
                        style: crate::arch::ThresholdStyle::Search,
                        ..
                    }
                )
            }),
            ThresholdSearch,
        );
    }
    set
}

/// How many models had each feature.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    pub models: usize,
    counts: std::collections::BTreeMap<Feature, usize>,
}

impl Coverage {
    pub fn add(&mut self, features: &BTreeSet<Feature>) {
        self.models += 1;
        for &f in features {
            *self.counts.entry(f).or_default() += 1;
        }
    }

    pub fn count(&self, feature: Feature) -> usize {
        self.counts.get(&feature).copied().unwrap_or(0)
    }

    /// Features drawn fewer than `least` times.
    pub fn rare(&self, least: usize) -> Vec<Feature> {
        Feature::all()
            .into_iter()
            .filter(|&f| self.count(f) < least)
            .collect()
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut table = Table::new(&[("feature", Align::Left), ("models", Align::Right)]);
        for feature in Feature::all() {
            table.row([feature.to_string(), self.count(feature).to_string()]);
        }
        write!(f, "{table}")
    }
}
