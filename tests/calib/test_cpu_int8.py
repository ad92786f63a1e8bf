"""`ifan precision --to int8-cpu`'s recipe on a tiny graph: RGB convs stay float, the middle conv is fused to
QLinearConv by ONNX Runtime, the IAC-named nodes stay float, and the output stays close."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxruntime.quantization")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ifan_trt.calib.cpu_int8 import quantize, thin_convs  # noqa: E402


def _model(path):
    rng = np.random.default_rng(0)
    shapes = {"w1": (16, 3, 3, 3), "w2": (16, 16, 3, 3), "w3": (3, 16, 3, 3)}
    inits = [numpy_helper.from_array((rng.standard_normal(s) * 0.2).astype(np.float32), n) for n, s in shapes.items()]
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="conv_in", pads=[1] * 4),
        helper.make_node("LeakyRelu", ["c1"], ["r1"], name="act1", alpha=0.1),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv_mid", pads=[1] * 4),
        helper.make_node("LeakyRelu", ["c2"], ["r2"], name="act2", alpha=0.1),
        helper.make_node("Mul", ["r2", "r2"], ["m"], name="iac/Mul_0"),
        helper.make_node("Add", ["m", "r2"], ["a"], name="iac/Add_1"),
        helper.make_node("Conv", ["a", "w3"], ["output"], name="conv_out", pads=[1] * 4),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 16, 16])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return path


def _run(path, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def test_thin_convs_are_the_rgb_ones(tmp_path):
    model = onnx.load(str(_model(tmp_path / "f.onnx")))
    assert thin_convs(model) == ["conv_in", "conv_out"]


def test_int8_graph_keeps_thin_convs_and_iac_float(tmp_path):
    fp32 = _model(tmp_path / "f.onnx")
    rng = np.random.default_rng(1)
    calib = [rng.random((1, 3, 16, 16), dtype=np.float32) for _ in range(4)]
    model = quantize(onnx.load(str(fp32)), list(range(4)), lambda i: {"input": calib[i]}, "minmax", progress=False)
    out = tmp_path / "q.onnx"
    onnx.save(model, str(out))
    producers = {o: n for n in model.graph.node for o in n.output}
    by_name = {n.name: n for n in model.graph.node}
    # RGB convs read float tensors and float weights; the middle conv reads Q/DQ'd ones
    assert by_name["conv_in"].input[0] == "input"
    assert producers.get(by_name["conv_out"].input[1]) is None  # weight is a float initializer
    assert producers[by_name["conv_mid"].input[1]].op_type == "DequantizeLinear"
    readers = {i: n for n in model.graph.node for i in n.input}
    for name in ("iac/Mul_0", "iac/Add_1"):  # float arithmetic, nothing quantizes their outputs
        assert by_name[name].op_type in ("Mul", "Add")
        assert readers[by_name[name].output[0]].op_type != "QuantizeLinear", name
    x = rng.random((1, 3, 16, 16), dtype=np.float32)
    ref, got = _run(fp32, x), _run(out, x)
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()
