"""Writes the integer arrays of the bundled example models.

The weights are random but shaped like accumulator-aware quantization output:
each output channel's L1 norm is projected (toward zero) onto the A2Q budget
for a target accumulator width, which makes them sparse. Thresholds implement
a uniform quantized ReLU over each channel's reachable accumulator range.

Run from the repository root: python3 examples/make_examples.py
It prints the exact accumulator range and minimum width of every layer, which
are the widths written by hand into the example TOML files.
"""

import os

import numpy as np

RNG = np.random.default_rng(20261124)


def project_l1(w, budget):
    """Shrink a row toward zero, one unit at a time on the largest magnitude,
    until its L1 norm is within budget (rounding toward zero, as A2Q does)."""
    w = w.copy()
    while np.abs(w).sum() > budget:
        i = np.argmax(np.abs(w))
        w[i] -= np.sign(w[i])
    return w


def weights(out_f, in_f, bits, budget):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    w = RNG.integers(lo, hi + 1, size=(out_f, in_f))
    return np.stack([project_l1(row, budget) for row in w]).astype(np.int8 if bits <= 8 else np.int32)


def exact_range(w, b, xlo, xhi):
    """Per-channel [lo, hi] of b + w.x with x_i in [xlo_i, xhi_i]."""
    a, c = w * xlo, w * xhi
    return b + np.minimum(a, c).sum(axis=1), b + np.maximum(a, c).sum(axis=1)


def min_width(lo, hi):
    p = 2
    while not (-(2 ** (p - 1)) <= lo.min() and hi.max() <= 2 ** (p - 1) - 1):
        p += 1
    return p


def relu_thresholds(lo, hi, count):
    """Ascending thresholds splitting [0, hi_c] into count + 1 equal steps."""
    rows = []
    for h in hi:
        step = max(1, int(h) // (count + 1))
        rows.append([step * (k + 1) - step // 2 for k in range(count)])
    return np.array(rows, dtype=np.int32)


def save(folder, name, array):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, name), array)


def mlp3():
    folder = "examples/mlp3"
    x = (np.zeros(16, dtype=np.int64), np.full(16, 15))  # uint4 inputs
    w0 = weights(16, 16, 4, budget=31)
    b0 = RNG.integers(-20, 21, size=16).astype(np.int32)
    lo, hi = exact_range(w0, b0, *x)
    print("mlp3 fc0 range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    save(folder, "fc0_weights.npy", w0)
    save(folder, "fc0_bias.npy", b0)
    save(folder, "fc0_thresholds.npy", relu_thresholds(lo, hi, 15))

    x = (np.zeros(16, dtype=np.int64), np.full(16, 15))  # uint4 activations
    w1 = weights(8, 16, 4, budget=24)
    lo, hi = exact_range(w1, 0, *x)
    print("mlp3 fc1 range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    save(folder, "fc1_weights.npy", w1)
    save(folder, "fc1_thresholds.npy", relu_thresholds(lo, hi, 3))

    x = (np.zeros(8, dtype=np.int64), np.full(8, 3))  # uint2 activations
    w2 = weights(4, 8, 8, budget=300)
    b2 = RNG.integers(-100, 101, size=4).astype(np.int32)
    lo, hi = exact_range(w2, b2, *x)
    print("mlp3 fc2 range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    save(folder, "fc2_weights.npy", w2)
    save(folder, "fc2_bias.npy", b2)


def hadamard_tiled():
    folder = "examples/hadamard_tiled"
    # Hadamard of int4 inputs in blocks of 8, >> 1 with rounding, into int6.
    w0 = weights(8, 16, 4, budget=20)
    xlo, xhi = np.full(16, -32), np.full(16, 31)
    tiles = [exact_range(w0[:, t : t + 8], 0, xlo[t : t + 8], xhi[t : t + 8]) for t in (0, 8)]
    for t, (lo, hi) in enumerate(tiles):
        print("hadamard_tiled fc0 tile", t, "range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    lo, hi = exact_range(w0, 0, xlo, xhi)
    print("hadamard_tiled fc0 range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    save(folder, "fc0_weights.npy", w0)
    t = relu_thresholds(lo, hi, 7) - hi[:, None] // 4
    save(folder, "fc0_thresholds.npy", t)

    x = (np.full(8, -4), np.full(8, 3))  # int3 activations
    w1 = weights(4, 8, 4, budget=16)
    b1 = RNG.integers(-8, 9, size=4).astype(np.int16)
    lo, hi = exact_range(w1, b1, *x)
    print("hadamard_tiled fc1 range", lo.min(), hi.max(), "min width", min_width(lo, hi))
    save(folder, "fc1_weights.npy", w1)
    save(folder, "fc1_bias.npy", b1)


if __name__ == "__main__":
    mlp3()
    hadamard_tiled()
