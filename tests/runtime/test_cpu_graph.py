"""The CPU graph rewrites keep the network's output (ONNX Runtime on tiny graphs)."""

import numpy as np
import pytest

from ifan_trt.export.cpu_rewrites import slice_indices, stream_filters, subpixel_conv_transpose, subpixel_taps

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _run(model, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def test_slice_indices_follow_onnx_clamping():
    assert slice_indices(1, 9, 3, 8) == [1, 4, 7]
    assert slice_indices(2, 2**63 - 1, 1, 5) == [2, 3, 4]
    assert slice_indices(-2, 100, 1, 5) == [3, 4]


def _conv_slices_model(cin=4, cout=12):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((cout, cin, 1, 1)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["iac_filters"], name="conv", kernel_shape=[1, 1])]
    outs = []
    for i, (s, e, st) in enumerate([(0, 9, 3), (1, 9, 3), (9, 2**63 - 1, 1)]):
        for n, v in (("s", [s]), ("e", [e]), ("a", [1]), ("t", [st])):
            inits.append(numpy_helper.from_array(np.array(v, np.int64), f"{n}{i}"))
        nodes.append(helper.make_node("Slice", ["iac_filters", f"s{i}", f"e{i}", f"a{i}", f"t{i}"], [f"y{i}"],
                                      name=f"iac/Slice_{i}"))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 5, 6])],
                              outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def test_stream_filters_same_outputs_and_no_big_tensor():
    model = _conv_slices_model()
    x = np.random.default_rng(1).standard_normal((1, 4, 5, 6)).astype(np.float32)
    streamed, count = stream_filters(model)
    assert count == 3
    assert all("iac_filters" not in n.input and "iac_filters" not in n.output for n in streamed.graph.node)
    assert {t.name for t in streamed.graph.initializer}.isdisjoint({"W", "B", "s0", "e0"})
    for ref, got in zip(_run(model, {"x": x}), _run(streamed, {"x": x})):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_stream_filters_needs_a_conv():
    model = _conv_slices_model()
    with pytest.raises(ValueError, match="not produced by a Conv"):
        stream_filters(model, filters="y0")


def test_subpixel_taps_for_ifan_upconv():
    # stride 2, kernel 4, pad 1: even outputs read offsets -1 (tap 3) and 0 (tap 1); odd ones 0 (tap 2), +1 (tap 0)
    low, taps = subpixel_taps(4, 2, 1)
    assert low == -1
    assert taps == {(0, 0): 3, (0, 1): 1, (1, 1): 2, (1, 2): 0}


@pytest.mark.parametrize("k,stride,pad,act", [(4, 2, 1, True), (4, 2, 1, False), (3, 2, 1, False), (2, 2, 0, True)])
def test_subpixel_conv_transpose_matches_conv_transpose(k, stride, pad, act):
    rng = np.random.default_rng(k + stride + pad)
    cin, cout = 3, 5
    w = rng.standard_normal((cin, cout, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    nodes = [helper.make_node("ConvTranspose", ["x", "W", "B"], ["t" if act else "y"], name="up",
                              kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)]
    if act:
        nodes.append(helper.make_node("LeakyRelu", ["t"], ["y"], alpha=0.1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 6, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    x = rng.standard_normal((1, cin, 6, 7)).astype(np.float32)
    new, count = subpixel_conv_transpose(model)
    if (k - 2 * pad) != stride:  # output not exactly stride x input: left as it is
        assert count == 0 and [n.op_type for n in new.graph.node][0] == "ConvTranspose"
        return
    assert count == 1 and "ConvTranspose" not in [n.op_type for n in new.graph.node]
    (ref,), (got,) = _run(model, {"x": x}), _run(new, {"x": x})
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
