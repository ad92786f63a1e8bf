"""Liveness of an ONNX graph's activations: the largest set of tensors alive at once.

The naive count, the same for every runtime: nodes run in the graph's order, a tensor lives from
its producer until its last consumer (a graph input from the start, a graph output until the
end, a tensor nobody reads only at its producer), every tensor has its own buffer (no in-place
reuse, no fusion). At each node the bytes of the tensors alive there are summed, inputs and
outputs of that node included; the peak is the largest sum. Weights (initializers) are constant
memory and are reported apart. Runtimes that fuse a conv with its activation or reuse buffers
need less; the count is an upper bound that ranks graph forms the same way.

Shapes come from ONNX shape inference at concrete input shapes, on a copy whose large
initializers carry no data (fast on a 600 MB graph); the IFAN_IAC plugin node, which has no
inference function, gets its features' shape. Pure onnx + NumPy: no ONNX Runtime, no torch.
Subgraphs (If/Loop) are counted as their node's inputs and outputs only.
"""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import PLUGIN_OP

from .graph import plugin_nodes

_SMALL = 64  # initializers up to this many elements keep their data (Reshape/Slice parameters)


def _dtype(elem_type: int) -> np.dtype:
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def _load(model):
    from .graph import as_model

    return as_model(model)


def strip_weights(model, keep=()):
    """A copy whose large initializers (all but those named in keep) have dims and type but no
    data, without value_info: enough for shape inference and this analysis, cheap to copy."""
    import onnx

    out = onnx.ModelProto()
    out.ir_version = model.ir_version
    out.opset_import.extend(model.opset_import)
    out.metadata_props.extend(model.metadata_props)
    out.graph.name = model.graph.name
    out.graph.node.extend(model.graph.node)
    out.graph.input.extend(model.graph.input)
    out.graph.output.extend(model.graph.output)
    for t in model.graph.initializer:
        light = out.graph.initializer.add()
        if int(np.prod(t.dims)) <= _SMALL or t.name in keep:
            light.CopyFrom(t)
        else:
            light.name, light.data_type = t.name, t.data_type
            light.dims.extend(t.dims)
    return out


def _skeleton(model, input_dims: dict[str, list[int]]):
    """What inference needs: no weight data, no value_info, concrete input dims."""
    from onnx import helper

    out = strip_weights(model)
    inputs = [helper.make_tensor_value_info(v.name, v.type.tensor_type.elem_type, input_dims[v.name])
              for v in out.graph.input if v.name in input_dims]
    del out.graph.input[:]
    out.graph.input.extend(inputs)
    return out


def input_dims(model, shape: tuple[int, int], batch: int = 1) -> dict[str, list[int]]:
    """Concrete dims of every graph input: (batch, C, H, W) for the 4-D image inputs, fixed dims
    kept; ValueError when a fixed dim disagrees with the shape asked for."""
    inits = {t.name for t in model.graph.initializer}
    dims = {}
    for v in model.graph.input:
        if v.name in inits:
            continue
        declared = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        if len(declared) != 4:
            raise ValueError(f"{v.name}: expected a 4-D NCHW input, got rank {len(declared)}")
        want = [batch, declared[1], *shape]
        for axis, (have, new) in enumerate(zip(declared, want)):
            if have is not None and new is not None and have != new:
                raise ValueError(f"{v.name}: dim {axis} is fixed at {have}, cannot analyse it at {new}")
        if want[1] is None:
            raise ValueError(f"{v.name}: the channel dim is dynamic; cannot size the graph")
        dims[v.name] = want
    return dims


def tensor_types(model, dims: dict[str, list[int]]) -> dict[str, tuple[tuple[int, ...], int]]:
    """name -> (concrete shape, ONNX element type) for every tensor of the graph at these input dims."""
    import onnx
    from onnx import helper

    skeleton = _skeleton(model, dims)
    while True:
        inferred = onnx.shape_inference.infer_shapes(skeleton, data_prop=True)
        known = {}
        for v in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            tt = v.type.tensor_type
            if tt.elem_type and tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
                known[v.name] = (tuple(d.dim_value for d in tt.shape.dim), tt.elem_type)
        known.update({t.name: (tuple(t.dims), t.data_type) for t in inferred.graph.initializer})
        added = 0
        for node in inferred.graph.node:  # the plugin keeps its features' shape and type
            if node.op_type == PLUGIN_OP and node.output[0] not in known and node.input[0] in known:
                shape, elem = known[node.input[0]]
                skeleton.graph.value_info.append(helper.make_tensor_value_info(node.output[0], elem, shape))
                known[node.output[0]] = known[node.input[0]]
                added += 1
        if not added:
            break
    missing = [o for n in model.graph.node for o in n.output if o and o not in known]
    if missing:
        raise ValueError(f"cannot infer the shape of {len(missing)} tensor(s), first {missing[0]!r}")
    return known


def _intervals(model):
    """name -> (first node index alive, last node index alive) of every activation."""
    graph = model.graph
    last = len(graph.node) - 1
    inits = {t.name for t in graph.initializer}
    life = {v.name: [0, 0] for v in graph.input if v.name not in inits}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name in life:
                life[name][1] = i
        for name in node.output:
            if name:
                life[name] = [i, i]
    for v in graph.output:
        if v.name in life:
            life[v.name][1] = last
    return life


def analyse(model, shape: tuple[int, int], batch: int = 1, activation_dtype: str | None = None):
    """(live bytes at each node, {name: (shape, dtype, bytes, (first, last))}) of the activations.
    activation_dtype: count every floating-point activation as this dtype (e.g. "float16" to
    size an FP32 graph as the FP16 engine it will become); None: as the graph types them."""
    model = _load(model)
    types = tensor_types(model, input_dims(model, shape, batch))
    override = np.dtype(activation_dtype) if activation_dtype else None
    tensors = {}
    live = np.zeros(len(model.graph.node) + 1, np.int64)
    for name, (first, last) in _intervals(model).items():
        dims, elem = types[name]
        dtype = _dtype(elem)
        if override is not None and dtype.kind == "f":
            dtype = override
        size = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
        tensors[name] = (dims, dtype.name, size, (first, last))
        live[first] += size
        live[last + 1] -= size
    return np.cumsum(live)[:-1], tensors


def peak_report(model, shape: tuple[int, int], batch: int = 1, activation_dtype: str | None = None,
                top: int = 5) -> dict:
    """The peak of simultaneously live activations (JSON-serialisable): bytes in all and by dtype,
    the node where it occurs, the largest tensors alive there; the weights' bytes by dtype."""
    model = _load(model)
    per_node, tensors = analyse(model, shape, batch, activation_dtype)
    at = int(np.argmax(per_node)) if len(per_node) else 0
    alive = [(name, t) for name, t in tensors.items() if t[3][0] <= at <= t[3][1]]
    by_dtype: dict[str, int] = {}
    for _, (_, dtype, size, _) in alive:
        by_dtype[dtype] = by_dtype.get(dtype, 0) + size
    weights: dict[str, int] = {}
    for t in model.graph.initializer:
        dtype = _dtype(t.data_type)
        weights[dtype.name] = weights.get(dtype.name, 0) + int(np.prod(t.dims, dtype=np.int64)) * dtype.itemsize
    node = model.graph.node[at] if len(model.graph.node) else None
    producers = {o: n.name or n.op_type for n in model.graph.node for o in n.output}
    largest = sorted(alive, key=lambda item: -item[1][2])[:top]
    return {
        "input_shape": next(iter(input_dims(model, shape, batch).values()), [batch, 0, *shape]),
        "activation_dtype": activation_dtype or "as typed",
        "peak_bytes": int(per_node[at]) if len(per_node) else 0,
        "peak_by_dtype": by_dtype,
        "peak_node": {"index": at, "name": node.name if node else "", "op_type": node.op_type if node else ""},
        "largest_live": [{"name": n, "shape": list(t[0]), "dtype": t[1], "bytes": t[2],
                          "producer": producers.get(n, "graph input")} for n, t in largest],
        "initializer_bytes": weights,
        "nodes": len(model.graph.node),
    }


def format_peak(report: dict, fp16: dict | None = None) -> str:
    """One line: the peak in MB (10^6 bytes) at the shape, where, and the largest tensors there;
    with fp16 (the same graph's report with activation_dtype="float16"), that figure too."""
    dims = "x".join(map(str, report["input_shape"]))
    node = report["peak_node"]
    dtype = "" if report["activation_dtype"] == "as typed" else f" as {report['activation_dtype']}"
    half = f" ({fp16['peak_bytes'] / 1e6:.1f} MB as FP16)" if fp16 else ""
    largest = ", ".join(f"{t['name']} {t['bytes'] / 1e6:.1f}" for t in report["largest_live"][:3])
    return (f"peak live activations at {dims}: {report['peak_bytes'] / 1e6:.1f} MB{dtype}{half} "
            f"at node {node['name'] or node['index']} ({node['op_type']}); largest there: {largest} MB")


def split_gain(model, shape: tuple[int, int], batch: int = 1, activation_dtype: str | None = None) -> dict:
    """Whether the split IAC form (export/iac_split.py) lowers the peak of this one-node plugin
    graph: {"lowers", "one_node", "split"} (the two peak reports), or {"lowers": False, "why"}."""
    from .iac_split import split_plugin_graph

    model = _load(model)
    filters = {n.input[1] for n in plugin_nodes(model)}
    conv_weights = {i for n in model.graph.node if set(n.output) & filters for i in n.input[1:]}
    model = strip_weights(model, keep=conv_weights)  # the rewrite copies the graph: keep it light
    try:
        split = split_plugin_graph(model)
    except ValueError as exc:
        return {"lowers": False, "why": str(exc)}
    one, two = (peak_report(m, shape, batch, activation_dtype) for m in (model, split))
    return {"lowers": two["peak_bytes"] < one["peak_bytes"], "one_node": one, "split": two}
