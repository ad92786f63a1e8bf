"""Q/DQ as TensorRT takes it, in the ONNX graph: on conv inputs only, per-channel weight scales
on the output-channel axis, symmetric INT8; checks of a graph against these rules, the transfer of
Q/DQ nodes from the standard-op twin to the plugin form, and the int8-fp16 graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.export import graph as graphs

log = get_logger(__name__)


QUANTIZED_OPS = ("Conv", "ConvTranspose")


WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1}  # output channels (group 1)


def conv_inputs(model_path: Path) -> set[str]:
    """Activation inputs of the convolutions of the graph file (the tensors that get Q/DQ)."""
    from ifan_trt.export.graph import load_model

    return conv_inputs_of(load_model(model_path, external_data=False))


def conv_inputs_of(model) -> set[str]:
    inits = {t.name for t in model.graph.initializer}
    return {n.input[0] for n in model.graph.node if n.op_type in QUANTIZED_OPS and n.input[0] not in inits}


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def keep_qdq_on_conv_inputs(model) -> int:
    """Rewire every non-convolution consumer of a DQ output back to the float tensor the Q read
    (ONNX Runtime shares one Q/DQ pair among all consumers of a quantized tensor, e.g. the
    residual Adds), then drop Q/DQ nodes left without consumers. Returns the rewired inputs."""
    producers = {o: n for n in model.graph.node for o in n.output}
    rewired = 0
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for idx, name in enumerate(node.input):
            dq = producers.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producers.get(dq.input[0])
            if q is None or q.op_type != "QuantizeLinear":
                continue
            node.input[idx] = q.input[0]
            rewired += 1
    remove_dead_qdq(model)
    return rewired


def remove_dead_qdq(model) -> None:
    """Drop Q/DQ nodes whose outputs nobody reads (repeatedly: a Q feeding only a dead DQ), then
    the initializers left unused."""
    graph_outputs = {o.name for o in model.graph.output}
    while True:
        used = {i for n in model.graph.node for i in n.input} | graph_outputs
        dead = [n for n in model.graph.node
                if n.op_type in ("QuantizeLinear", "DequantizeLinear") and not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            model.graph.node.remove(n)
    used = {i for n in model.graph.node for i in n.input}
    for t in [t for t in model.graph.initializer if t.name not in used]:
        model.graph.initializer.remove(t)


def fix_weight_axes(model) -> list[str]:
    """Per-channel weight Q/DQ must run along output channels: Conv axis 0, ConvTranspose axis 1.
    Where the quantizer chose another axis, recompute the scales from the float weight along the
    right one. Returns the weights it fixed."""
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    fixed = []
    for conv in model.graph.node:
        if conv.op_type not in WEIGHT_AXIS or len(conv.input) < 2:
            continue
        dq = producers.get(conv.input[1])
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        q = producers.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear" or q.input[0] not in inits:
            continue
        want = WEIGHT_AXIS[conv.op_type]
        axis = next((helper.get_attribute_value(a) for a in dq.attribute if a.name == "axis"), 1)
        scale = numpy_helper.to_array(inits[dq.input[1]])
        weight = numpy_helper.to_array(inits[q.input[0]])
        if axis == want and scale.size == weight.shape[want]:
            continue
        others = tuple(i for i in range(weight.ndim) if i != want)
        new_scale = (np.abs(weight).max(axis=others) / 127.0).astype(scale.dtype)
        new_scale[new_scale == 0] = 1.0
        for name in {q.input[1], dq.input[1]}:
            inits[name].CopyFrom(numpy_helper.from_array(new_scale, name))
        zp_name = dq.input[2] if len(dq.input) > 2 else None
        if zp_name and zp_name in inits:
            zp = numpy_helper.to_array(inits[zp_name])
            inits[zp_name].CopyFrom(numpy_helper.from_array(np.zeros(new_scale.shape, zp.dtype), zp_name))
        for node in (q, dq):
            kept = [a for a in node.attribute if a.name != "axis"]
            del node.attribute[:]
            node.attribute.extend(kept + [helper.make_attribute("axis", want)])
        fixed.append(q.input[0])
    return fixed


def qdq_problems(model) -> list[str]:
    """What violates TensorRT's Q/DQ conventions (empty list: none). Checks zero points 0 and
    INT8, weight axes, Q/DQ only feeding convolutions (or each other), and scale types matching
    the Q input / DQ output types."""
    from onnx import TensorProto, helper, numpy_helper

    problems = []
    inits = {t.name: t for t in model.graph.initializer}
    consumers = _consumers(model)
    types = graphs.value_types(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if len(node.input) > 2 and node.input[2]:
            zp = inits.get(node.input[2])
            if zp is None:
                problems.append(f"{node.name}: zero point is not a constant")
            else:
                if zp.data_type != TensorProto.INT8:
                    problems.append(f"{node.name}: zero point type {zp.data_type} is not INT8")
                if np.any(numpy_helper.to_array(zp) != 0):
                    problems.append(f"{node.name}: zero point is not 0 (asymmetric)")
        scale = inits.get(node.input[1])
        if scale is None:
            problems.append(f"{node.name}: scale is not a constant")
            continue
        if np.any(numpy_helper.to_array(scale) <= 0):
            problems.append(f"{node.name}: scale not positive")
        float_side = node.input[0] if node.op_type == "QuantizeLinear" else node.output[0]
        ftype = types.get(float_side)
        if ftype is not None and ftype != scale.data_type:
            problems.append(f"{node.name}: scale type {TensorProto.DataType.Name(scale.data_type)} differs from "
                            f"its float tensor's {TensorProto.DataType.Name(ftype)}")
        if node.op_type == "DequantizeLinear":
            for user in consumers.get(node.output[0], []):
                if user.op_type not in QUANTIZED_OPS:
                    problems.append(f"{node.name}: feeds {user.op_type} {user.name}, not a convolution")
                    continue
                if user.input[1] == node.output[0]:
                    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
                    if scale.dims and axis != WEIGHT_AXIS[user.op_type]:
                        problems.append(f"{node.name}: weight axis {axis} for {user.op_type} "
                                        f"(want {WEIGHT_AXIS[user.op_type]})")
                elif scale.dims and int(np.prod(scale.dims)) != 1:
                    problems.append(f"{node.name}: activation scale is not per tensor")
        else:
            src = producers.get(node.input[0])
            if src is not None and src.op_type == "DequantizeLinear":
                problems.append(f"{node.name}: Q after DQ")
    return problems


def transfer_qdq(qdq_twin, target):
    """Copy the Q/DQ nodes (and their constants) of the quantized twin into target, a graph
    with the same tensor names outside the IAC (the plugin form). Returns the new graph."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(target)
    have_inits = {t.name for t in out.graph.initializer}
    twin_inits = {t.name: t for t in qdq_twin.graph.initializer}
    qdq = [n for n in qdq_twin.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    qdq_outputs = {o for n in qdq for o in n.output}
    for n in qdq:
        for name in n.input:
            if name in twin_inits and name not in have_inits:
                out.graph.initializer.append(twin_inits[name])
                have_inits.add(name)
    by_name = {n.name: n for n in out.graph.node}
    for n in qdq_twin.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") or not any(i in qdq_outputs for i in n.input):
            continue
        node = by_name.get(n.name)
        if node is None or node.op_type != n.op_type or list(node.output) != list(n.output):
            raise IfanError(f"{n.name}: quantized node has no counterpart in the plugin form; "
                            "both forms must come from the same export")
        node.input[:] = list(n.input)
    out.graph.node.extend(qdq)
    graphs.topological_sort(out)
    return out


def _subnormal_fp16_scales(model) -> list[str]:
    """Names of FP16 scale initializers with values below the smallest normal FP16 number."""
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    names = {n.input[1] for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
    return sorted(name for name in names if name in inits and inits[name].data_type == TensorProto.FLOAT16
                  and float(np.abs(numpy_helper.to_array(inits[name]).astype(np.float32)).min()) < 6.1e-5)


def to_int8_fp16(qdq_model, keep_nodes: list[str] = (), keep_ops: list[str] = ()):
    """The Q/DQ graph with FP16 elsewhere: Q/DQ scales become FP16 where their float tensor is
    FP16 (TensorRT 10.3 wants the scale type to equal the Q input type; opset 19 allows FP16
    scales). Q/DQ nodes that only feed nodes kept in FP32 stay FP32 with them."""
    from .fp16 import convert

    model = qdq_model
    if graphs.opset(model) < 19:
        from onnx import version_converter

        try:
            model = version_converter.convert_version(model, 19)
        except Exception as exc:
            raise IfanError(f"opset {graphs.opset(qdq_model)} -> 19 (FP16 Q/DQ scales) failed: {exc}; "
                            "re-export with opset 19") from None
    consumers = _consumers(model)
    keep = set(keep_nodes) | {n.name for n in model.graph.node if n.op_type in set(keep_ops)}
    extra = []
    for n in model.graph.node:  # DQ feeding only kept nodes, and their Q
        if n.op_type == "DequantizeLinear":
            users = consumers.get(n.output[0], [])
            if users and all(u.name in keep for u in users):
                extra.append(n.name)
                producers = {o: p for p in model.graph.node for o in p.output}
                q = producers.get(n.input[0])
                if q is not None and q.op_type == "QuantizeLinear":
                    extra.append(q.name)
    out = convert(model, keep_ops=list(keep_ops), keep_nodes=sorted(keep | set(extra)))
    graphs.set_metadata(out, graphs.PRECISION_KEY, "int8-fp16")
    tiny = _subnormal_fp16_scales(out)
    if tiny:
        log.warning(f"{len(tiny)} Q/DQ scale(s) below FP16's normal range (6.1e-5), e.g. {tiny[0]}: "
                    "they lose precision in FP16; keep their convolutions FP32 with --keep-fp32")
    problems = qdq_problems(out)
    if problems:
        raise IfanError("INT8+FP16 graph breaks TensorRT's conventions: " + "; ".join(problems[:5]))
    return out
