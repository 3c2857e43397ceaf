"""Writes examples/mlp3_inputs.npy: 256 input vectors of 16 uint4 elements
(values 0..15, uint8 on disk) for the README's walkthrough, drawn from a
seeded generator of the standard library, so it needs no numpy.

Run from the repository root: python3 examples/make_mlp3_inputs.py
"""

import random
import struct

VECTORS, LENGTH = 256, 16


def npy_bytes(rows):
    """An .npy file (format 1.0) of a C-order uint8 matrix."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(rows),
        len(rows[0]),
    )
    # The magic, version and header length take 10 bytes; the header is
    # padded with spaces to a multiple of 64 and ends in a newline.
    padded = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    prefix = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(padded))
    return prefix + padded.encode("latin1") + bytes(v for row in rows for v in row)


def main():
    rng = random.Random(20261203)
    rows = [[rng.randrange(16) for _ in range(LENGTH)] for _ in range(VECTORS)]
    with open("examples/mlp3_inputs.npy", "wb") as f:
        f.write(npy_bytes(rows))


if __name__ == "__main__":
    main()
