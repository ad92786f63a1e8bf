"""The standard-op twin of a plugin-form graph: the IFAN_IAC node replaced by plain ONNX ops
(edge Pad, Slice, Mul, Add, LeakyRelu) with the same boundary tensor names.

Calibration runs on the twin because ONNX Runtime's calibrator opens its own session, which
cannot host the plugin's Python kernel; since every tensor outside the IAC keeps its name, the
ranges and Q/DQ nodes found on the twin apply to the plugin form unchanged. The arithmetic is
docs/ARCHITECTURE.md (the IAC), in the order of ifan_trt.iac.iac (the export's standard-op form).
"""

from __future__ import annotations

from ifan_trt.contract import IAC_NODE_PREFIX, META, PLUGIN_OP, filters_per_channel, iteration_channels
from ifan_trt.errors import IfanError

from ifan_trt.export import graph as graphs

_INT64_MAX = 2**63 - 1


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _feature_channels(model, node) -> int:
    """c from the filter count: F has N*c*(2k+1) (full) or N*c*(k+1) (compact) channels."""
    from onnx import numpy_helper

    a = _attrs(node)
    n, k, layout = int(a["N"]), int(a["k"]), int(a.get("layout", 0))
    per_c = filters_per_channel(n, k, layout)
    # the filters come from a 1x1 conv: its weight's first dimension is F's channel count
    producer = {o: p for p in model.graph.node for o in p.output}.get(node.input[1])
    inits = {t.name: t for t in model.graph.initializer}
    if producer is not None and producer.op_type == "Conv" and producer.input[1] in inits:
        channels = int(numpy_helper.to_array(inits[producer.input[1]]).shape[0])
        if channels % per_c == 0:
            return channels // per_c
    raise IfanError(f"{node.name or node.op_type}: cannot tell the IAC's channel count "
                    "(its filters do not come from a Conv); export the standard-op form with --iac onnx")


def iac_nodes(node, c: int, prefix: str):
    """(nodes, initializers) computing the plugin node's output with standard ops."""
    import numpy as np
    from onnx import helper, numpy_helper

    a = _attrs(node)
    n, k, mode, layout, slope = int(a["N"]), int(a["k"]), int(a.get("mode", 0)), int(a.get("layout", 0)), \
        float(a.get("slope", 0.1))
    x_name, f_name = node.input[0], node.input[1]
    nodes, inits, consts = [], [], {}
    count = [0]

    def const(values) -> str:
        key = tuple(values)
        if key not in consts:
            consts[key] = f"{prefix}const_{len(consts)}"
            inits.append(numpy_helper.from_array(np.array(values, dtype=np.int64), consts[key]))
        return consts[key]

    def add(op, inputs, **attrs) -> str:
        count[0] += 1
        out = f"{prefix}{op}_{count[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    p = (k - 1) // 2
    kernels: dict[int, str] = {}

    def directional(x, start, axis):
        xp = add("Pad", [x, const([0, 0, p, 0, 0, 0, p, 0] if axis == 2 else [0, 0, 0, p, 0, 0, 0, p])],
                 mode="edge") if p else x
        out = None
        for t in range(k):
            end = t - 2 * p if t < 2 * p else _INT64_MAX
            shifted = add("Slice", [xp, const([t]), const([end]), const([axis])]) if p else xp
            if start + t not in kernels:  # official mode: both passes read the same taps (as the export does)
                kernels[start + t] = add("Slice", [f_name, const([start + t]), const([start + c * k]), const([1]),
                                                   const([k])])
            kernel = kernels[start + t]
            term = add("Mul", [kernel, shifted])
            out = term if out is None else add("Add", [out, term])
        return out

    x = x_name
    for i in range(n):
        kv, kh, b0 = iteration_channels(i, n, c, k, mode, layout)
        h = directional(directional(x, kv, 2), kh, 3)
        bias = add("Slice", [f_name, const([b0]), const([b0 + c]), const([1])])
        x = add("LeakyRelu", [add("Add", [h, bias])], alpha=slope)
    # the last node writes the plugin node's output tensor (same name as in the plugin form)
    nodes[-1].output[0] = node.output[0]
    return nodes, inits


def standard_twin(model):
    """A copy of model with every IFAN_IAC node replaced by standard ops (model itself if none)."""
    import onnx

    plugins = graphs.plugin_nodes(model)
    if not plugins:
        return model
    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    new_nodes = []
    for idx, node in enumerate(twin.graph.node):
        if node.op_type != PLUGIN_OP:
            new_nodes.append(node)
            continue
        prefix = IAC_NODE_PREFIX if len(plugins) == 1 else f"{IAC_NODE_PREFIX[:-1]}{idx}/"
        nodes, inits = iac_nodes(node, _feature_channels(twin, node), prefix)
        new_nodes.extend(nodes)
        twin.graph.initializer.extend(inits)
    del twin.graph.node[:]
    twin.graph.node.extend(new_nodes)
    # the plugin's domain is no longer used; ONNX Runtime rejects unknown domains it cannot load
    used = {n.domain for n in twin.graph.node}
    keep = [o for o in twin.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del twin.opset_import[:]
    twin.opset_import.extend(keep)
    graphs.set_metadata(twin, META.iac_form, "onnx")
    return twin
