"""FINN's streamlined form of an activation: `MultiThreshold` in place of
`Relu -> Quant`.

Reads `baseline_ts.onnx`, replaces each hidden layer's `Relu -> Quant` by a
qonnx `MultiThreshold` whose float thresholds are the points where the
4-bit ReLU quantizer steps up (`(k - 1/2) * scale`, k = 1..15), and writes
`baseline_multithreshold.onnx` with qonnx's executor outputs on the test split
(`expected/baseline_multithreshold_qonnx.npy`). A value exactly at a
half-step is rounded to even by `Quant` but counted up by `MultiThreshold`,
so the two graphs may differ there; the import reproduces each exactly.

Run from the repository root, after export.py:
    python3 examples/brevitas/multithreshold.py
"""

import os

import numpy as np
import onnx
from onnx import helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "baseline_ts.onnx")
TARGET = os.path.join(HERE, "baseline_multithreshold.onnx")
EXPECTED = os.path.join(HERE, "expected", "baseline_multithreshold_qonnx.npy")
PIXEL_MAX = 16


def main():
    model = onnx.load(SOURCE)
    graph = model.graph
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    nodes = list(graph.node)
    for node in nodes:
        if node.op_type != "Quant" or producers.get(node.input[0]) is None:
            continue
        relu = producers[node.input[0]]
        if relu.op_type != "Relu":
            continue
        scale = float(initializers[node.input[1]])
        bits = int(initializers[node.input[3]])
        steps = np.arange(1, 2**bits, dtype=np.float32)
        thresholds = ((steps - np.float32(0.5)) * np.float32(scale)).astype(np.float32)[None, :]
        name = node.name.replace("export_handler/Quant", "MultiThreshold")
        tensor = numpy_helper.from_array(thresholds, name + "_thresholds")
        graph.initializer.append(tensor)
        threshold = helper.make_node(
            "MultiThreshold",
            [relu.input[0], tensor.name],
            [node.output[0]],
            name=name,
            domain="qonnx.custom_op.general",
            out_dtype=f"UINT{bits}",
            out_scale=scale,
            out_bias=0.0,
        )
        index = list(graph.node).index(relu)
        graph.node.remove(relu)
        graph.node.remove(node)
        graph.node.insert(index, threshold)
    onnx.save(model, TARGET)
    wrapper = ModelWrapper(TARGET).transform(InferShapes())
    test_x = np.load(os.path.join(HERE, "..", "digits", "data", "test_x.npy")).astype(np.float32)
    test_x = test_x * np.float32(1.0 / PIXEL_MAX)
    input_name = wrapper.graph.input[0].name
    output_name = wrapper.graph.output[0].name
    outputs = [
        execute_onnx(wrapper, {input_name: row[None, :]})[output_name].reshape(-1) for row in test_x
    ]
    np.save(EXPECTED, np.stack(outputs).astype(np.float32))


if __name__ == "__main__":
    main()
