"""The accumulator-width study's models: digits MLPs trained with Brevitas.

Trains a float 64-64-32-10 MLP on the split of `examples/digits/data`
(pixels 0..16 scaled by 1/16; Adam, lr 0.01, 60 epochs of 128-image
batches, one thread), then fine-tunes every quantized model from it with
quantization-aware training, all with the same seed and schedule (Adam,
lr 0.01 annealed by a cosine over 300 epochs of 128-image batches):

- an input quantizer with the fixed scale 1/16 (uint5: the integer input is
  the pixel itself),
- 4-bit weights and 4-bit `QuantReLU` activations on the hidden layers, no
  biases,
- weights: the per-tensor baseline (`Int8WeightPerTensorFloat`), A2Q
  (`Int8AccumulatorAwareWeightQuant`) and A2Q+ with zero-centering
  (`Int8AccumulatorAwareZeroCenterWeightQuant`) at P = 8 .. 16.

An A2Q / A2Q+ layer can hold at most floor(T) non-zero integer weights
per output channel, where T = (2^(P-1) - 1) / (2^N - 1) is its integer
L1 budget for N-bit unsigned inputs. Each channel of such a layer starts
from the float weights with all but its floor(T) largest-magnitude entries
zeroed: started from the dense float rows, every entry of a channel whose
budget is spread over 64 inputs rounds to zero at P = 8 and 9, the ReLUs
after it never open, and training never leaves that point.

Each trained model is written as an a2qgen model from its trained integers
(Brevitas 0.13.4's A2Q exports do not reproduce the PyTorch model, see
docs/import.md): the weights are `quant_weight().int()`, each hidden
layer's thresholds are the least accumulator values at which the PyTorch
requantization `clamp(round(acc * s_w * s_in / s_a), 0, 15)` reaches each
level (computed in float64 and checked against float32), and the last
layer's per-channel output scales are `s_w * s_in`. The folding is
PE x SIMD 8 x 8, 8 x 8, 2 x 8 with LUT multipliers and every accumulator
is declared at its least proven width (the exact range of section 3 of
docs/design.md over the input types). `models/accuracy.csv` records the
PyTorch test accuracy and how many of the 540 test predictions the integer
model reproduces.

Run from the repository root (a few minutes on one core):
    pip install -r examples/study/requirements.txt
    python3 examples/study/train.py
"""

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import csv  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

warnings.filterwarnings("ignore")

import brevitas  # noqa: E402
import brevitas.nn as qnn  # noqa: E402
from brevitas.core.scaling import ScalingImplType  # noqa: E402
from brevitas.quant import Uint8ActPerTensorFloat  # noqa: E402
from brevitas.quant.scaled_int import (  # noqa: E402
    Int8AccumulatorAwareWeightQuant,
    Int8AccumulatorAwareZeroCenterWeightQuant,
    Int8WeightPerTensorFloat,
)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "..", "digits", "data")
MODEL_DIR = os.path.join(HERE, "models")
PIXEL_MAX = 16
INPUT_BITS = 5
SIZES = (64, 64, 32, 10)
FOLDING = ((8, 8), (8, 8), (2, 8))  # (PE, SIMD) per layer
WEIGHT_BITS = 4
ACT_BITS = 4
FLOAT_EPOCHS = 60
QAT_EPOCHS = 300
SEED = 11
WIDTHS = range(8, 17)

# (name, weight quantizer, accumulator bits for A2Q / A2Q+ or None, description)
MODELS = [("baseline", Int8WeightPerTensorFloat, None, "per-tensor 4-bit weights")]
MODELS += [
    (f"a2q_p{p}", Int8AccumulatorAwareWeightQuant, p, f"A2Q, trained for {p}-bit accumulators")
    for p in WIDTHS
]
MODELS += [
    (
        f"a2qplus_p{p}",
        Int8AccumulatorAwareZeroCenterWeightQuant,
        p,
        f"A2Q+ (zero-centred), trained for {p}-bit accumulators",
    )
    for p in WIDTHS
]


class InputQuant(Uint8ActPerTensorFloat):
    """uint5 with the fixed scale 1/16: the threshold 31/16 over 31 levels."""

    bit_width = INPUT_BITS
    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 31.0 / 16.0


class Mlp(torch.nn.Module):
    def __init__(self, weight_quant, acc_bits):
        super().__init__()
        self.input_quant = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        self.linears = torch.nn.ModuleList()
        self.relus = torch.nn.ModuleList()
        count = len(SIZES) - 1
        for index in range(count):
            last = index == count - 1
            extra = {} if acc_bits is None else {"weight_accumulator_bit_width": acc_bits}
            self.linears.append(
                qnn.QuantLinear(
                    SIZES[index],
                    SIZES[index + 1],
                    bias=False,
                    weight_quant=weight_quant,
                    weight_bit_width=WEIGHT_BITS,
                    return_quant_tensor=not last,
                    **extra,
                )
            )
            if not last:
                self.relus.append(qnn.QuantReLU(bit_width=ACT_BITS, return_quant_tensor=True))

    def forward(self, x):
        x = self.input_quant(x)
        for index, linear in enumerate(self.linears):
            x = linear(x)
            if index < len(self.relus):
                x = self.relus[index](x)
        return x

    def quant_inputs(self, example):
        """The quant tensor every linear layer reads in one forward pass
        (its scale and bit width; A2Q's weight quantizer needs it)."""
        with torch.no_grad():
            x = self.input_quant(example)
            inputs = [x]
            for index, linear in enumerate(self.linears[:-1]):
                x = self.relus[index](linear(x))
                inputs.append(x)
        return inputs


class FloatMlp(torch.nn.Module):
    """The float network every quantized model is fine-tuned from."""

    def __init__(self):
        super().__init__()
        self.linears = torch.nn.ModuleList(
            torch.nn.Linear(a, b, bias=False) for a, b in zip(SIZES[:-1], SIZES[1:])
        )

    def forward(self, x):
        for index, linear in enumerate(self.linears):
            x = linear(x)
            if index + 1 < len(self.linears):
                x = torch.relu(x)
        return x


def l1_budget(acc_bits, input_bits):
    """A2Q's integer L1 budget per output channel for unsigned inputs."""
    return (2 ** (acc_bits - 1) - 1) / (2**input_bits - 1)


def start_from_float(model, float_model, acc_bits):
    """Copy the float weights into the quantized model and re-initialize
    its weight quantizers from them; under an L1 budget, keep each
    channel's floor(T) largest entries only (see the module's text)."""
    input_bits = INPUT_BITS
    with torch.no_grad():
        for linear, source in zip(model.linears, float_model.linears):
            weights = source.weight.clone()
            if acc_bits is not None:
                keep = max(1, int(l1_budget(acc_bits, input_bits)))
                if keep < weights.shape[1]:
                    largest = weights.abs().topk(keep, dim=1).indices
                    weights *= torch.zeros_like(weights).scatter_(1, largest, 1.0)
            linear.weight.copy_(weights)
            linear.weight_quant.init_tensor_quant()
            input_bits = ACT_BITS


def load_split():
    def load(name):
        return np.load(os.path.join(DATA_DIR, name))

    scale = np.float32(1.0 / PIXEL_MAX)
    train_x = load("train_x.npy").astype(np.float32) * scale
    return train_x, load("train_y.npy"), load("test_x.npy"), load("test_y.npy")


def train(model, x, y, epochs, anneal):
    torch.manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs) if anneal else None
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 128):
            batch = order[start : start + 128]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        if schedule is not None:
            schedule.step()
    model.eval()


def trained_weights(linear, quant_input):
    """The integer weights [out, in] and the per-channel scale [out]."""
    with torch.no_grad():
        quant = linear.quant_weight(quant_input=quant_input)
        integers = quant.int().numpy().astype(np.int64)
        scale = quant.scale.detach().numpy().astype(np.float64).reshape(-1)
    if scale.size == 1:
        scale = np.full(integers.shape[0], scale[0])
    assert np.all(np.abs(integers) <= 2 ** (WEIGHT_BITS - 1)), "weights exceed their bits"
    return integers, scale


def accumulator_range(weights, input_max):
    """The exact accumulator range per channel for inputs in [0, input_max]."""
    lo = np.minimum(weights, 0).sum(axis=1) * input_max
    hi = np.maximum(weights, 0).sum(axis=1) * input_max
    return lo, hi


def least_width(lo, hi):
    bits = 2
    while not (-(2 ** (bits - 1)) <= lo.min() and hi.max() <= 2 ** (bits - 1) - 1):
        bits += 1
    return bits


def thresholds(weights, step, act_scale, input_max):
    """Per channel, the least accumulator value reaching each output level
    1..15 under round-half-even of `acc * step / act_scale`, clamped to one
    past the channel's exact range (which changes no output)."""
    levels = 2**ACT_BITS - 1
    lo, hi = accumulator_range(weights, input_max)
    rows = []
    for channel in range(weights.shape[0]):
        row = []
        for level in range(1, levels + 1):
            boundary = (level - 0.5) * act_scale / step[channel]
            t = int(np.ceil(boundary))
            # Exactly on the half: round half to even reaches `level` only when even.
            if t == boundary and level % 2 == 1:
                t += 1
            row.append(min(max(t, int(lo[channel])), int(hi[channel]) + 1))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def integer_forward(layers, x):
    """The a2qgen semantics of the written model on integer inputs: the
    final accumulators times the output scales."""
    values = x.astype(np.int64)
    for layer in layers:
        acc = values @ layer["weights"].T
        if "thresholds" in layer:
            values = (acc[:, :, None] >= layer["thresholds"][None, :, :]).sum(axis=2)
        else:
            return acc * layer["output_scale"][None, :]
    raise AssertionError("the last layer has no thresholds")


def write_model(name, description, layers, input_scale):
    folder = os.path.join(MODEL_DIR, name)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    out = [
        f"# Model `{name}`, written by examples/study/train.py. Array paths are relative to this file.",
        "",
        "[model]",
        f'name = "{name}"',
        f'description = "digits 64-64-32-10, W4A4, {description}; Brevitas {brevitas.__version__}"',
        "",
        "[input]",
        f"length = {SIZES[0]}",
        f"bits = {INPUT_BITS}",
        "signed = false",
        f"scale = {input_scale!r}",
        "",
        "[output]",
        "scale = [" + ", ".join(repr(float(s)) for s in layers[-1]["output_scale"]) + "]",
    ]
    for index, layer in enumerate(layers):
        layer_name = f"fc{index}"
        weights = f"{name}/{layer_name}_weights.npy"
        np.save(os.path.join(MODEL_DIR, weights), layer["weights"].astype(np.int8))
        pe, simd = FOLDING[index]
        out += [
            "",
            "[[layers]]",
            'kind = "dense"',
            f'name = "{layer_name}"',
            f"in_features = {SIZES[index]}",
            f"out_features = {SIZES[index + 1]}",
            f"weight_bits = {WEIGHT_BITS}",
            f'weights = "{weights}"',
            "",
            "[layers.accumulator]",
            f"bits = {layer['bits']}",
            'overflow = "wrap"',
            "allow_overflow = false",
            "",
        ]
        if "thresholds" in layer:
            path = f"{name}/{layer_name}_thresholds.npy"
            np.save(os.path.join(MODEL_DIR, path), layer["thresholds"].astype(np.int32))
            out += [
                "[layers.activation]",
                'kind = "thresholds"',
                f"bits = {ACT_BITS}",
                "signed = false",
                f'thresholds = "{path}"',
            ]
        else:
            out += ["[layers.activation]", 'kind = "none"']
        out += ["", "[layers.hardware]", f"pe = {pe}", f"simd = {simd}", 'multiplier = "lut"']
    with open(os.path.join(MODEL_DIR, f"{name}.toml"), "w") as handle:
        handle.write("\n".join(out) + "\n")


def integer_layers(model, example):
    quant_inputs = model.quant_inputs(example)
    scales = [float(x.scale) for x in quant_inputs]
    layers = []
    input_max = 2**INPUT_BITS - 1
    for index, linear in enumerate(model.linears):
        weights, weight_scale = trained_weights(linear, quant_inputs[index])
        step = weight_scale * scales[index]
        lo, hi = accumulator_range(weights, input_max)
        layer = {"weights": weights, "bits": least_width(lo, hi)}
        if index + 1 < len(scales):
            # The next layer's input scale is this layer's activation scale.
            layer["thresholds"] = thresholds(weights, step, scales[index + 1], input_max)
        else:
            layer["output_scale"] = step
        layers.append(layer)
        input_max = 2**ACT_BITS - 1
    return layers, scales[0]


def main():
    torch.set_num_threads(1)
    os.makedirs(MODEL_DIR, exist_ok=True)
    train_x, train_y, test_pixels, test_y = load_split()
    test_x = torch.from_numpy(test_pixels.astype(np.float32) / PIXEL_MAX)
    torch.manual_seed(SEED)
    float_model = FloatMlp()
    train(float_model, train_x, train_y, FLOAT_EPOCHS, anneal=False)
    with torch.no_grad():
        float_accuracy = (float_model(test_x).numpy().argmax(axis=1) == test_y).mean()
    print(f"float model: test accuracy {float_accuracy:.6f}", flush=True)
    rows = []
    for name, weight_quant, acc_bits, description in MODELS:
        torch.manual_seed(SEED)
        model = Mlp(weight_quant, acc_bits)
        start_from_float(model, float_model, acc_bits)
        train(model, train_x, train_y, QAT_EPOCHS, anneal=True)
        with torch.no_grad():
            torch_out = model(test_x).numpy()
        layers, input_scale = integer_layers(model, test_x[:1])
        write_model(name, description, layers, input_scale)
        integer_out = integer_forward(layers, test_pixels)
        torch_pred = torch_out.argmax(axis=1)
        row = {
            "model": name,
            "method": "baseline" if acc_bits is None else name.split("_")[0],
            "target_bits": "" if acc_bits is None else acc_bits,
            "torch_accuracy": f"{(torch_pred == test_y).mean():.6f}",
            "integer_accuracy": f"{(integer_out.argmax(axis=1) == test_y).mean():.6f}",
            "predictions_agree": int((integer_out.argmax(axis=1) == torch_pred).sum()),
            "test_images": len(test_y),
            "proven_bits": "/".join(str(layer["bits"]) for layer in layers),
        }
        rows.append(row)
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    with open(os.path.join(MODEL_DIR, "accuracy.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
