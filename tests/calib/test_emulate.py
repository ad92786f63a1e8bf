"""The CPU emulation of FP16 graphs rounds every FP16 tensor, as a GPU stores it."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.helpers.calib import run_graph  # noqa: E402
from ifan_trt.calib import emulate


def _half_graph():
    """FP32 in -> Cast FP16 -> Mul by an FP16 constant -> Add 1 (FP16) -> Cast FP32 out."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [4])
    inits = [numpy_helper.from_array(np.array([3.0], np.float16), "k"),
             numpy_helper.from_array(np.array([1.0], np.float16), "one")]
    nodes = [helper.make_node("Cast", ["input"], ["h"], to=TensorProto.FLOAT16, name="in_cast"),
             helper.make_node("Mul", ["h", "k"], ["m"], name="mul"),
             helper.make_node("Add", ["m", "one"], ["a"], name="add"),
             helper.make_node("Cast", ["a"], ["output"], to=TensorProto.FLOAT, name="out_cast")]
    return helper.make_model(helper.make_graph(nodes, "half", [x], [y], inits),
                             opset_imports=[helper.make_opsetid("", 19)])


def test_every_fp16_tensor_is_rounded_and_overflow_shows():
    model = _half_graph()
    assert emulate.has_fp16(model)
    em = emulate.emulate_fp16(model)
    assert all(t.data_type == TensorProto.FLOAT for t in em.graph.initializer)
    x = np.array([1.0 / 3.0, 3.0e4, 2049.0, -1e-3], np.float32)
    got = run_graph(em, {"input": x})
    # reference: NumPy FP16 arithmetic of the same steps (each result rounded to FP16)
    h = x.astype(np.float16)
    with np.errstate(over="ignore"):  # the overflow to inf is the point
        want = ((h.astype(np.float32) * 3.0).astype(np.float16).astype(np.float32) + 1.0).astype(np.float16)
    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert np.isinf(got[1])  # 3e4 * 3 = 9e4 > 65504: inf in FP16
    assert got[2] == 6144.0  # 2049 -> 2048 in FP16 (spacing 2), * 3 = 6144, + 1 -> 6144 (spacing 4)
    # ONNX Runtime alone computes the FP16 nodes in FP32 and shows neither
    plain = run_graph(model, {"input": x})
    assert np.isfinite(plain[1])
