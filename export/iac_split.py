"""The split IAC form: each iteration its own one-iteration IAC, fed by its own 1x1 conv.

The filter predictor's last 1x1 conv makes F (N*c*(k+1) channels at 1/8 resolution in the
compact layout, the largest tensor of the network), and iteration i reads only its own rows of
F. Conv(x, W, b)[rows] == Conv(x, W[rows], b[rows]), so the split form computes each iteration's
rows just before that iteration: F is never written, and only one iteration's filters are live
at a time. Each output channel is the same dot product as in the one-node form.

Torch-free: ``ifan build`` uses ``split_plugin_graph`` on an exported ONNX graph (to say what a
split export would save) on machines without torch; the export makes the form from the module
in export/iac_op.py with the rows given here.
"""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import IAC_FILTERS, IAC_NODE_PREFIX, META, PLUGIN_OP

from .graph import plugin_nodes


def iteration_rows(n_iters: int, c: int, k: int, layout: str, i: int) -> list[int]:
    """Channels of F that iteration i reads, in the order of a one-iteration F of that layout:
    its kernels (kernel1, plus kernel2 in the full layout), then its bias."""
    per_iter = c * k * (2 if layout == "full" else 1)
    bias0 = n_iters * per_iter + i * c
    return [*range(i * per_iter, (i + 1) * per_iter), *range(bias0, bias0 + c)]


def split_filters_name(i: int) -> str:
    """Name of iteration i's filters in the split form (the one-node form has one IAC_FILTERS)."""
    return f"{IAC_FILTERS}_{i}"


def split_state_name(i: int) -> str:
    """Name of the features between iteration i - 1 and i in the split form (i >= 1)."""
    return f"{IAC_NODE_PREFIX}x{i}"


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _filter_conv(model):
    """(plugin node, its attributes, the Conv making its filters, weight, bias or None) of a
    one-node plugin graph; ValueError when the graph is not of that form."""
    from onnx import numpy_helper

    plugins = plugin_nodes(model)
    if len(plugins) != 1:
        raise ValueError(f"expected one {PLUGIN_OP} node, found {len(plugins)}")
    node = plugins[0]
    attrs = _attributes(node)
    if attrs["N"] < 2:
        raise ValueError(f"the {PLUGIN_OP} node has N={attrs['N']}: nothing to split")
    filters = node.input[1]
    conv = next((n for n in model.graph.node if filters in n.output), None)
    readers = [n for n in model.graph.node if filters in n.input]
    inits = {t.name: t for t in model.graph.initializer}
    if conv is None or conv.op_type != "Conv" or len(readers) != 1 or conv.input[1] not in inits:
        raise ValueError(f"{filters}: not a Conv with initializer weights read by the IAC alone")
    weight = numpy_helper.to_array(inits[conv.input[1]])
    bias = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 else None
    if weight.shape[2:] != (1, 1):
        raise ValueError(f"{filters}: made by a {weight.shape[2]}x{weight.shape[3]} conv, not 1x1")
    return node, attrs, conv, weight, bias


def _iteration_nodes(graph, node, attrs, conv, weight, bias) -> list:
    """Conv over iteration i's rows, then IFAN_IAC with N=1, for each i; new weights go into graph."""
    from onnx import helper, numpy_helper

    n_iters, k, layout = attrs["N"], attrs["k"], ("full", "compact")[attrs["layout"]]
    c = weight.shape[0] // (n_iters * (k * (2 if layout == "full" else 1) + 1))
    nodes, state = [], node.input[0]
    for i in range(n_iters):
        rows = iteration_rows(n_iters, c, k, layout, i)
        name = split_filters_name(i)
        params = [(weight, f"{name}/W")] + ([(bias, f"{name}/B")] if bias is not None else [])
        for array, key in params:
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array[rows]), key))
        part = helper.make_node("Conv", [conv.input[0], *(key for _, key in params)], [name], name=f"{name}/Conv")
        part.attribute.extend(conv.attribute)
        result = node.output[0] if i == n_iters - 1 else split_state_name(i + 1)
        nodes += [part, helper.make_node(PLUGIN_OP, [state, name], [result], name=f"{node.name or PLUGIN_OP}/{i}",
                                         domain=node.domain, **{**attrs, "N": 1})]
        state = result
    return nodes


def split_plugin_graph(model):
    """A copy of a one-node plugin graph (IFAN_IAC with N > 1 fed by a 1x1 Conv with initializer
    weights) in the split form, same tensor names outside the IAC; ValueError for other graphs."""
    import onnx

    node, attrs, conv, weight, bias = _filter_conv(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    new_nodes = []
    for n in graph.node:
        if n.op_type == PLUGIN_OP:
            new_nodes += _iteration_nodes(graph, n, attrs, conv, weight, bias)
        elif n.output != conv.output:
            new_nodes.append(n)
    del graph.node[:]
    graph.node.extend(new_nodes)
    for field, drop in ((graph.initializer, set(conv.input[1:])), (graph.value_info, {node.input[1]})):
        keep = [t for t in field if t.name not in drop]
        del field[:]
        field.extend(keep)
    _set_split_metadata(out)
    return out


def _set_split_metadata(model) -> None:
    for p in model.metadata_props:
        if p.key == META.iac_split:
            p.value = "true"
            return
    model.metadata_props.add(key=META.iac_split, value="true")
