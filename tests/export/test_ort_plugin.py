"""ort_session runs the IFAN_IAC plugin node on the CPU, FP32 and FP16 graphs, without torch."""

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ifan_trt.contract import PLUGIN_DOMAIN, PLUGIN_OP
from ifan_trt.export.iac_numpy import iac_numpy
from ifan_trt.export.ort_plugin import ort_session


def plugin_graph(elem_type, c=4, n=2, k=3, mode=0, layout=1, slope=0.1, with_value_info=True):
    """features -> Identity -> IFAN_IAC(features, filters) -> Identity -> out, like the export."""
    node = helper.make_node(PLUGIN_OP, ["feat", "filters"], ["iac"], domain=PLUGIN_DOMAIN, name="iac",
                            plugin_version="1", plugin_namespace="", N=n, k=k, mode=mode,
                            layout=layout, slope=slope)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["feat"]), node, helper.make_node("Identity", ["iac"], ["out"])],
        "g", [helper.make_tensor_value_info("x", elem_type, ["b", c, "h", "w"]),
              helper.make_tensor_value_info("filters", elem_type, ["b", None, "h", "w"])],
        [helper.make_tensor_value_info("out", elem_type, ["b", c, "h", "w"])],
        value_info=[helper.make_tensor_value_info("feat", elem_type, ["b", c, "h", "w"])] if with_value_info else [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid(PLUGIN_DOMAIN, 1)])


@pytest.mark.parametrize("mode,layout,slope", [(0, 1, 0.1), (0, 0, 0.2), (1, 0, 0.1)])
def test_fp32_plugin_node(mode, layout, slope):
    rng = np.random.default_rng(0)
    channels = 2 * 4 * (4 if layout else 7)
    x = rng.normal(size=(2, 4, 5, 6)).astype(np.float32)
    filters = rng.normal(size=(2, channels, 5, 6)).astype(np.float32) * 0.5
    model = plugin_graph(TensorProto.FLOAT, mode=mode, layout=layout, slope=slope)
    got = ort_session(model).run(None, {"x": x, "filters": filters})[0]
    assert np.array_equal(got, iac_numpy(x, filters, 2, 3, mode, layout, slope))
    assert model.graph.node[1].domain == PLUGIN_DOMAIN  # the caller's model is not modified


def test_fp16_plugin_node_runs_through_casts():
    """A graph typed FP16 (after the precision pass, value_info stripped) feeds the node FP16."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 4, 8)).astype(np.float16)
    filters = (rng.normal(size=(1, 32, 4, 8)) * 0.5).astype(np.float16)
    model = plugin_graph(TensorProto.FLOAT16, with_value_info=False)
    got = ort_session(model).run(None, {"x": x, "filters": filters})[0]
    want = iac_numpy(x.astype(np.float32), filters.astype(np.float32), 2, 3, 0, 1, 0.1)
    assert got.dtype == np.float16
    assert np.abs(got.astype(np.float32) - want).max() <= 1e-3 * max(1.0, np.abs(want).max())


def test_runtime_imports_need_no_torch():
    code = ("import sys, ifan_trt.export, ifan_trt.export.ort_plugin, ifan_trt.export.verify; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
