"""Brevitas's own AXE (accumulator-aware OPTQ/GPTQ and GPFQ) on the digits MLP.

Runs on the same float model (examples/digits/float/*.npy), the same
calibration data (the training split) and the same integer formats as
`a2qgen quantize`: uint5 inputs at scale 1/16, int4 per-channel weights
(narrow range), uint4 hidden activations scaled at the 99.9th percentile of
the calibration activations, and AXE's accumulator bound at P bits on every
layer. Writes the test accuracies to examples/digits/axe/brevitas_axe.csv,
which `tests/ptq.rs` compares against a2qgen's own AXE on every run.

Reproduce from the repository root (about a minute on one core):

    pip install -r examples/digits/axe/requirements.txt
    python3 examples/digits/axe/axe_brevitas.py
"""

import argparse
import csv
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import brevitas  # noqa: E402
import brevitas.nn as qnn  # noqa: E402
from brevitas.core.scaling import ScalingImplType  # noqa: E402
from brevitas.graph.calibrate import calibration_mode  # noqa: E402
from brevitas.quant.scaled_int import Int8WeightPerChannelFloat  # noqa: E402
from brevitas.quant.scaled_int import Uint8ActPerTensorFloat  # noqa: E402
from brevitas_examples.common.axe import a2gpfq_mode, a2gptq_mode  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits"
WIDTHS = [8, 9, 10, 11, 12, 14, 16]
INPUT_SCALE = 1.0 / 16.0


class InputQuant(Uint8ActPerTensorFloat):
    """uint5 at the fixed scale 1/16: pixels 0..16 exactly."""

    bit_width = 5
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 31.0 * INPUT_SCALE  # threshold = scale * (2^5 - 1)
    max_val = 31.0 * INPUT_SCALE


class WeightQuant(Int8WeightPerChannelFloat):
    """int4 per output channel, scale max|w| / 7."""

    bit_width = 4


class ActQuant(Uint8ActPerTensorFloat):
    """uint4 hidden outputs, scale from the 99.9th percentile."""

    bit_width = 4
    high_percentile_q = 99.9


class DigitsMlp(nn.Module):
    def __init__(self, float_dir: Path):
        super().__init__()
        self.input_quant = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        layers, relus = [], []
        index = 0
        while (float_dir / f"fc{index}_weight.npy").exists():
            weight = np.load(float_dir / f"fc{index}_weight.npy").astype(np.float32)
            bias = np.load(float_dir / f"fc{index}_bias.npy").astype(np.float32)
            layer = qnn.QuantLinear(
                weight.shape[1], weight.shape[0], bias=True, weight_quant=WeightQuant,
                return_quant_tensor=False)
            layer.weight.data = torch.from_numpy(weight)
            layer.bias.data = torch.from_numpy(bias)
            layers.append(layer)
            index += 1
        self.layers = nn.ModuleList(layers)
        self.relus = nn.ModuleList(
            qnn.QuantReLU(act_quant=ActQuant, return_quant_tensor=True)
            for _ in range(len(layers) - 1))

    def forward(self, x):
        x = self.input_quant(x)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.relus):
                x = self.relus[index](x)
        return x


def accuracy(model, x, y):
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    return float((predicted == y).float().mean()) * 100.0


def calibrate_activations(model, calibration):
    model.eval()
    with torch.no_grad(), calibration_mode(model):
        model(calibration)


def run_axe(mode, model, calibration, bits):
    with torch.no_grad():
        with mode(model, use_quant_activations=True, max_accumulator_bit_width=bits,
                  create_weight_orig=True) as algorithm:
            for _ in range(algorithm.num_layers):
                algorithm.model(calibration)
                algorithm.update()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DIGITS / "axe" / "brevitas_axe.csv")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = DIGITS / "data"
    calibration = torch.from_numpy(np.load(data / "train_x.npy").astype(np.float32)) * INPUT_SCALE
    test_x = torch.from_numpy(np.load(data / "test_x.npy").astype(np.float32)) * INPUT_SCALE
    test_y = torch.from_numpy(np.load(data / "test_y.npy").astype(np.int64))
    rows = []
    for name, mode in [("axe-optq", a2gptq_mode), ("axe-gpfq", a2gpfq_mode)]:
        for bits in WIDTHS:
            model = DigitsMlp(DIGITS / "float")
            calibrate_activations(model, calibration)
            run_axe(mode, model, calibration, bits)
            model.eval()
            percent = accuracy(model, test_x, test_y)
            rows.append((name, bits, percent))
            print(f"{name} P={bits}: {percent:.2f}%", flush=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["method", "acc_bits", "accuracy_percent", "brevitas", "torch"])
        for name, bits, percent in rows:
            writer.writerow([name, bits, f"{percent:.2f}", brevitas.__version__, torch.__version__])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
