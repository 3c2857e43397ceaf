"""Small Brevitas MLPs on the digits data set, exported to QONNX.

Trains 64-32-16-10 MLPs with quantization-aware training on the split of
`examples/digits/data` (pixels 0..16 scaled by 1/16), with

- an input quantizer with a fixed scale of 1/16 (uint5: the integer input is
  the pixel itself),
- 4-bit `QuantReLU` activations on the hidden layers,
- 4-bit weights: per-tensor baseline (`Int8WeightPerTensorFloat`), A2Q
  (`Int8AccumulatorAwareWeightQuant`) and A2Q+
  (`Int8AccumulatorAwareZeroCenterWeightQuant`) at a few accumulator widths,
  and one A2Q model with biases (float on the hidden layers, `Int32Bias` on the
  last).

Each model is exported with both of Brevitas's QONNX exporters (TorchScript:
`<name>_ts.onnx`; dynamo: `<name>_dynamo.onnx` with its weights in
`<name>_dynamo.onnx.data`, see `keep_tensors_external`), and the outputs on the test split are recorded as
float32 `.npy`: the PyTorch model's (`expected/<name>_torch.npy`) and qonnx's
own executor's on each export (`expected/<name>_<exporter>_qonnx.npy`).
`expected/summary.json` states, per export, how far qonnx's outputs are from
PyTorch's and whether the predictions agree.

Run from the repository root (about a minute on one core):
    pip install -r examples/brevitas/requirements.txt
    python3 examples/brevitas/export.py
"""

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import importlib.metadata  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

warnings.filterwarnings("ignore")

import brevitas  # noqa: E402
import brevitas.nn as qnn  # noqa: E402
from brevitas.core.scaling import ScalingImplType  # noqa: E402
from brevitas.export import export_qonnx  # noqa: E402
from brevitas.quant import Int32Bias, Uint8ActPerTensorFloat  # noqa: E402
from brevitas.quant.scaled_int import (  # noqa: E402
    Int8AccumulatorAwareWeightQuant,
    Int8AccumulatorAwareZeroCenterWeightQuant,
    Int8WeightPerTensorFloat,
)
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402
from qonnx.transformation.infer_shapes import InferShapes  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "..", "digits", "data")
EXPECTED_DIR = os.path.join(HERE, "expected")
PIXEL_MAX = 16
SIZES = (64, 32, 16, 10)
WEIGHT_BITS = 4
ACT_BITS = 4
EPOCHS = 60
SEED = 11

# (name, weight quantizer, accumulator bits for A2Q / A2Q+ or None, biases)
MODELS = [
    ("baseline", Int8WeightPerTensorFloat, None, False),
    ("a2q_p16", Int8AccumulatorAwareWeightQuant, 16, False),
    ("a2q_p12", Int8AccumulatorAwareWeightQuant, 12, False),
    ("a2qplus_p12", Int8AccumulatorAwareZeroCenterWeightQuant, 12, False),
    ("a2q_p14_bias", Int8AccumulatorAwareWeightQuant, 14, True),
]
EXPORTERS = [("ts", False), ("dynamo", True)]


class InputQuant(Uint8ActPerTensorFloat):
    """uint5 with the fixed scale 1/16: the threshold 31/16 over 31 levels."""

    bit_width = 5
    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 31.0 / 16.0


class Mlp(torch.nn.Module):
    def __init__(self, weight_quant, acc_bits, biases):
        super().__init__()
        self.input_quant = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        layers = []
        count = len(SIZES) - 1
        for index in range(count):
            last = index == count - 1
            extra = {}
            if acc_bits is not None:
                extra["weight_accumulator_bit_width"] = acc_bits
            if biases:
                extra["bias_quant"] = Int32Bias if last else None
            layers.append(
                qnn.QuantLinear(
                    SIZES[index],
                    SIZES[index + 1],
                    bias=biases,
                    weight_quant=weight_quant,
                    weight_bit_width=WEIGHT_BITS,
                    return_quant_tensor=not last,
                    **extra,
                )
            )
            if not last:
                layers.append(qnn.QuantReLU(bit_width=ACT_BITS, return_quant_tensor=True))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(self.input_quant(x))


def load_split():
    def load(name):
        return np.load(os.path.join(DATA_DIR, name))

    scale = np.float32(1.0 / PIXEL_MAX)
    train_x = load("train_x.npy").astype(np.float32) * scale
    test_x = load("test_x.npy").astype(np.float32) * scale
    return train_x, load("train_y.npy"), test_x, load("test_y.npy")


def train(model, x, y):
    torch.manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 128):
            batch = order[start:start + 128]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    model.eval()


def keep_tensors_external(path):
    """The dynamo exporter writes the tensors to `<name>.onnx.data`; Brevitas
    (0.13.4) then loads the graph and saves it again with every tensor inline,
    leaving a stale data file beside it. Save it back the way the exporter
    wrote it: tensors of 1 KiB and more in the data file."""
    location = os.path.basename(path) + ".data"
    data = os.path.join(os.path.dirname(path), location)
    if os.path.exists(data):
        os.remove(data)
    model = onnx.load(path)
    onnx.save_model(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=1024,
    )


def qonnx_outputs(path, test_x):
    # Shapes only: the graph itself is executed as exported.
    wrapper = ModelWrapper(path).transform(InferShapes())
    input_name = wrapper.graph.input[0].name
    output_name = wrapper.graph.output[0].name
    outputs = []
    for row in test_x:
        result = execute_onnx(wrapper, {input_name: row[None, :]})
        outputs.append(result[output_name].reshape(-1))
    return np.stack(outputs).astype(np.float32)


def main():
    torch.set_num_threads(1)
    os.makedirs(EXPECTED_DIR, exist_ok=True)
    train_x, train_y, test_x, test_y = load_split()
    summary = {
        "versions": {
            "torch": torch.__version__,
            "brevitas": brevitas.__version__,
            "onnx": onnx.__version__,
            "qonnx": importlib.metadata.version("qonnx"),
        },
        "models": {},
    }
    for name, weight_quant, acc_bits, biases in MODELS:
        torch.manual_seed(SEED)
        model = Mlp(weight_quant, acc_bits, biases)
        train(model, train_x, train_y)
        with torch.no_grad():
            torch_out = model(torch.from_numpy(test_x)).numpy().astype(np.float32)
        np.save(os.path.join(EXPECTED_DIR, f"{name}_torch.npy"), torch_out)
        entry = {
            "torch_accuracy": float((torch_out.argmax(1) == test_y).mean()),
            "exports": {},
        }
        example = torch.from_numpy(test_x[:1])
        for exporter, dynamo in EXPORTERS:
            path = os.path.join(HERE, f"{name}_{exporter}.onnx")
            extra = {"optimize": True} if dynamo else {}
            export_qonnx(model, input_t=example, export_path=path, dynamo=dynamo, **extra)
            if dynamo:
                keep_tensors_external(path)
            out = qonnx_outputs(path, test_x)
            np.save(os.path.join(EXPECTED_DIR, f"{name}_{exporter}_qonnx.npy"), out)
            entry["exports"][exporter] = {
                "file": os.path.basename(path),
                "qonnx_accuracy": float((out.argmax(1) == test_y).mean()),
                "max_abs_diff_to_torch": float(np.abs(out - torch_out).max()),
                "argmax_agrees_with_torch": int((out.argmax(1) == torch_out.argmax(1)).sum()),
                "test_inputs": int(len(test_x)),
            }
        summary["models"][name] = entry
        print(name, json.dumps(entry))
    with open(os.path.join(EXPECTED_DIR, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
