"""Tiny IFAN-shaped ONNX graphs for the build tests (named I/O and metadata, a few ops)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_graph(path: Path, plugin: bool = False, static: tuple[int, int] | None = None, n_iters: int = 1) -> Path:
    """input [B,3,H,W] -> Conv 3->8 -> LeakyRelu -> [IFAN_IAC(x, F)] -> Conv 8->3 -> + input -> output."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    dims = ["batch", 3, *(static or ("height", "width"))]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)
    inits = [numpy_helper.from_array(rng.normal(0, 0.2, (8, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.2, (3, 8, 3, 3)).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(0, 0.1, (32 * n_iters, 8, 1, 1)).astype(np.float32), "wf")]
    nodes = [helper.make_node("Conv", ["input", "w1"], ["a"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("LeakyRelu", ["a"], ["feat"], alpha=0.1, name="act1")]
    mid = "feat"
    opsets = [helper.make_opsetid("", 19)]
    if plugin:  # k=3, compact layout: N*c*(k+1) = 32 * N filter channels
        nodes.append(helper.make_node("Conv", ["feat", "wf"], ["filters"], name="filter_conv"))
        nodes.append(helper.make_node("IFAN_IAC", ["feat", "filters"], ["iac_output"], name="iac",
                                      domain="trt.plugins", plugin_version="1", plugin_namespace="",
                                      N=n_iters, k=3, mode=0, layout=1, slope=0.1))
        opsets.append(helper.make_opsetid("trt.plugins", 1))
        mid = "iac_output"
    nodes += [helper.make_node("Conv", [mid, "w2"], ["r"], pads=[1, 1, 1, 1], name="conv2"),
              helper.make_node("Add", ["r", "input"], ["output"], name="residual")]
    model = helper.make_model(helper.make_graph(nodes, "tiny", [x], [y], inits), opset_imports=opsets)
    for key, value in {"ifan.variant": "IFAN_tiny", "ifan.n_iters": str(n_iters), "ifan.in_bit": "8",
                       "ifan.iac_form": "plugin" if plugin else "onnx", "ifan.normalization": "rgb/255",
                       "ifan.checkpoint_sha256": "ab" * 32}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path
