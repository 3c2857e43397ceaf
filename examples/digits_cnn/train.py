"""A small float CNN on the digits images, for `a2qgen quantize`.

Reads the fixed split of `examples/digits/data` (8x8 images, pixels 0..16,
written by `examples/digits/train.py`), trains

    conv0: 3x3, 1 -> 8 channels, stride 1, padding 1, ReLU     (8x8x8)
    conv1: 3x3, 8 -> 16 channels, stride 2, padding 1, ReLU    (4x4x16)
    pool:  max 2x2, stride 2                                   (2x2x16)
    fc0:   64 -> 10

on the pixels scaled by 1/16, and writes in float/:

- architecture.toml: the input shape [8, 8, 1] and the layers in order;
- {conv0,conv1}_weight.npy ([out, kh, kw, in], float32, the model format's
  NHWC orientation), fc0_weight.npy ([out, in] over the NHWC-flattened
  map), {conv0,conv1,fc0}_bias.npy;
- metrics.json: sizes, epochs, accuracies, library versions.

Run from the repository root:
    pip install -r examples/digits_cnn/requirements.txt
    python3 examples/digits_cnn/train.py
Every output is byte-identical on a rerun on the same machine (fixed seeds,
one thread, deterministic algorithms).
"""

import json
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "..", "digits", "data")
FLOAT_DIR = os.path.join(HERE, "float")

SEED = 20261203
PIXEL_MAX = 16
EPOCHS = 60
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4

ARCHITECTURE = """\
# The float CNN of examples/digits_cnn/train.py, read by `a2qgen quantize
# --float`: weights in <name>_weight.npy, biases in <name>_bias.npy; ReLU
# after every conv and dense layer but the last.
input_shape = [8, 8, 1]

[[layers]]
name = "conv0"
kind = "conv"
kernel = [3, 3]
stride = [1, 1]
padding = [1, 1, 1, 1]

[[layers]]
name = "conv1"
kind = "conv"
kernel = [3, 3]
stride = [2, 2]
padding = [1, 1, 1, 1]

[[layers]]
name = "pool"
kind = "maxpool"
kernel = [2, 2]
stride = [2, 2]

[[layers]]
name = "fc0"
kind = "dense"
"""


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 8, 3, stride=1, padding=1)
        self.conv1 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.fc0 = nn.Linear(64, 10)

    def forward(self, x):
        # x: [n, 1, 8, 8] (NCHW for torch)
        x = torch.relu(self.conv0(x))
        x = torch.relu(self.conv1(x))
        x = self.pool(x)
        # Flatten in NHWC order, channel fastest, as the model format does.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.fc0(x)


def load(name):
    return np.load(os.path.join(DATA_DIR, name))


def images(x):
    return torch.tensor(x.reshape(-1, 1, 8, 8).astype(np.float32) / PIXEL_MAX)


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(images(x)).argmax(1).numpy() == y).mean())


def save(name, array):
    np.save(os.path.join(FLOAT_DIR, name), np.ascontiguousarray(array, dtype=np.float32))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train_x, train_y = load("train_x.npy"), load("train_y.npy")
    test_x, test_y = load("test_x.npy"), load("test_y.npy")
    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    x, y = images(train_x), torch.tensor(train_y)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    os.makedirs(FLOAT_DIR, exist_ok=True)
    for name in ("conv0", "conv1"):
        layer = getattr(model, name)
        # torch: [out, in, kh, kw] -> the model format's [out, kh, kw, in].
        save(f"{name}_weight.npy", layer.weight.detach().numpy().transpose(0, 2, 3, 1))
        save(f"{name}_bias.npy", layer.bias.detach().numpy())
    save("fc0_weight.npy", model.fc0.weight.detach().numpy())
    save("fc0_bias.npy", model.fc0.bias.detach().numpy())
    with open(os.path.join(FLOAT_DIR, "architecture.toml"), "w") as f:
        f.write(ARCHITECTURE)
    metrics = {
        "layers": "conv3x3(1->8, pad 1) relu, conv3x3(8->16, stride 2, pad 1) relu, maxpool 2x2, dense 64->10",
        "input_shape": [8, 8, 1],
        "input_scale": f"1/{PIXEL_MAX}",
        "train_samples": int(len(train_y)),
        "test_samples": int(len(test_y)),
        "epochs": EPOCHS,
        "train_accuracy": round(accuracy(model, train_x, train_y), 6),
        "test_accuracy": round(accuracy(model, test_x, test_y), 6),
        "numpy": np.__version__,
        "torch": torch.__version__.split("+")[0],
    }
    with open(os.path.join(FLOAT_DIR, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    print(
        f"float CNN: train accuracy {metrics['train_accuracy']:.4f} "
        f"({metrics['train_samples']} samples), test accuracy "
        f"{metrics['test_accuracy']:.4f} ({metrics['test_samples']} samples)"
    )


if __name__ == "__main__":
    main()
