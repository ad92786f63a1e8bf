"""Run an exported IFAN graph, either IAC form, in ONNX Runtime on the CPU.

The standard-op form runs as it is. The plugin form's ``IFAN_IAC`` node has no ONNX Runtime
kernel, so it gets one: ``iac_numpy`` registered as an onnxruntime-extensions Python op. Those
ops live in the ``ai.onnx.contrib`` domain, so the node's domain is rewritten in memory only; the
file keeps the domain TensorRT wants. Why a Python op and not a compiled custom-op library: the
ONNX Runtime wheel ships no C headers, and the Python op is exact (the same NumPy arithmetic as
the PyTorch reference) and fast enough for verification (about a second per 1280x720 image).
Torch-free: the runtime imports this on machines without torch.
"""

from __future__ import annotations

import os

import numpy as np

from ifan_trt.contract import PLUGIN_DOMAIN, PLUGIN_OP
from .graph import as_model, plugin_nodes, value_types
from .iac_numpy import iac_numpy

CONTRIB_DOMAIN = "ai.onnx.contrib"  # where onnxruntime-extensions looks Python ops up
_registered = False


def _register_iac_op() -> None:
    """Register the Python kernel once per process (the registry is global in the extension)."""
    global _registered
    if _registered:
        return
    from onnxruntime_extensions import PyCustomOpDef, onnx_op

    int64, f32 = PyCustomOpDef.dt_int64, PyCustomOpDef.dt_float

    @onnx_op(op_type=PLUGIN_OP, inputs=[f32, f32], outputs=[f32],
             attrs={"N": int64, "k": int64, "mode": int64, "layout": int64, "slope": f32})
    def _ifan_iac(x, filters, N, k, mode, layout, slope):  # noqa: N803 (attribute names)
        return iac_numpy(x, filters, N, k, mode, layout, slope)

    _registered = True


def _with_contrib_domain(model):
    """A copy of the model whose IFAN_IAC nodes are in the extension's domain, fed FP32.

    Graphs typed FP16 feed the plugin FP16; the Python kernel is FP32, so such nodes are
    wrapped in Casts (the comparison then measures the rest of the graph's FP16 error).
    """
    from onnx import TensorProto, helper

    model = _copy(model)
    types = value_types(model, infer=False)
    if any(name not in types for n in plugin_nodes(model) for name in n.input):
        # value_info was stripped (e.g. by a precision pass): infer the plugin inputs' types
        types.update(value_types(model))
    new_nodes = []
    for node in model.graph.node:
        if node.op_type != PLUGIN_OP:
            new_nodes.append(node)
            continue
        node.domain = CONTRIB_DOMAIN
        elem = types.get(node.input[0], TensorProto.FLOAT)
        if elem == TensorProto.FLOAT:
            new_nodes.append(node)
            continue
        inputs = [f"{name}/as_fp32" for name in node.input]
        for src, dst in zip(node.input, inputs):
            new_nodes.append(helper.make_node("Cast", [src], [dst], to=TensorProto.FLOAT,
                                              name=f"{dst}/cast"))
        out = node.output[0]
        node.input[:] = inputs
        node.output[0] = f"{out}/fp32"
        new_nodes.append(node)
        new_nodes.append(helper.make_node("Cast", [node.output[0]], [out], to=elem, name=f"{out}/cast"))
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    if not any(o.domain == CONTRIB_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(CONTRIB_DOMAIN, 1))
    return model


def _copy(model):
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def load_model(onnx_path_or_model):
    return as_model(onnx_path_or_model)


def ort_session(onnx_path_or_model, providers=("CPUExecutionProvider",), threads: int | None = None):
    """An onnxruntime.InferenceSession for an exported IFAN graph of either IAC form.

    onnx_path_or_model: a path or an onnx.ModelProto (not modified). providers: ONNX Runtime
    execution providers. threads: intra-op threads (default: ONNX Runtime's choice).
    """
    import onnxruntime as ort

    model = load_model(onnx_path_or_model)
    from ifan_trt.noise import ort_severity

    options = ort.SessionOptions()
    options.log_severity_level = ort_severity()  # warnings only with --verbose
    if threads:
        options.intra_op_num_threads = threads
    if plugin_nodes(model):
        from onnxruntime_extensions import get_library_path

        _register_iac_op()
        options.register_custom_ops_library(get_library_path())
        model = _with_contrib_domain(model)
        payload = model.SerializeToString()
    elif isinstance(onnx_path_or_model, (str, os.PathLike)):
        payload = os.fspath(onnx_path_or_model)  # let ONNX Runtime read the file (external data)
    else:
        payload = model.SerializeToString()
    return ort.InferenceSession(payload, options, providers=list(providers))
