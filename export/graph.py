"""The ONNX toolkit every floor uses: load (the only `onnx.load` of the product), save atomically,
hash, metadata, the graph's inputs, the IAC plugin nodes, tensor element types and precision.

Everything here works on ``onnx.ModelProto``; nothing needs ONNX Runtime or TensorRT.
"""

from __future__ import annotations

import os
from pathlib import Path

from ifan_trt.contract import META, META_PREFIX, PLUGIN_OP
from ifan_trt.precisions import ENGINE as ENGINE_PRECISIONS
from ifan_trt.errors import IfanError
from ifan_trt.files import require_regular_file, check_not_input, check_output_file, sha256_bytes, sha256_file, write_bytes  # noqa: F401  (sha256_file re-exported)

PRECISION_KEY = META.precision


def load_model(path: str | os.PathLike, external_data: bool = True):
    """The ONNX model at path, with a one-line error for a missing or unreadable file
    (external_data=False: tensors stored beside the file are not read)."""
    import onnx

    path = Path(path)
    if not path.exists():
        raise IfanError(f"{path}: no such ONNX file")
    require_regular_file(path)
    try:
        return onnx.load(os.fspath(path), load_external_data=external_data)
    except Exception as exc:  # protobuf raises several unrelated types for a corrupt file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise IfanError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {first})") from None


def save_model(model, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write model to path through the one atomic writer (the commands check --overwrite first)."""
    path = Path(path)
    write_bytes(path, model.SerializeToString(), overwrite)
    return path


def check_output_path(output: str | os.PathLike, *inputs: str | os.PathLike, overwrite: bool = True) -> Path:
    """Refuse an output that is any input (under any name) or cannot be written."""
    out = Path(output)
    check_not_input(out, inputs)
    check_output_file(out, overwrite)
    return out


def model_hash(model) -> str:
    """SHA-256 of the serialised graph: the identity of what was calibrated or measured."""
    return sha256_bytes(model.SerializeToString(deterministic=True))


def metadata(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def set_metadata(model, key: str, value: str) -> None:
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    model.metadata_props.add(key=key, value=value)


def name_nodes(model) -> None:
    """Give unnamed (or duplicate-named) nodes a stable name: block lists, reports and the Q/DQ
    transfer between IAC forms refer to nodes by name."""
    seen = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def as_model(path_or_model, external_data: bool = True):
    """A ModelProto: path_or_model itself, or the model loaded from that path."""
    if isinstance(path_or_model, (str, os.PathLike)):
        return load_model(path_or_model, external_data)
    return path_or_model


def plugin_nodes(model) -> list:
    """The IAC plugin nodes (plugin form); empty for the standard-op form."""
    return [n for n in model.graph.node if n.op_type == PLUGIN_OP]


def mentions_plugin(path: str | os.PathLike) -> bool:
    """True when the file names the IAC plugin op (a cheap check without parsing the graph: a
    graph without a plugin node never holds the name)."""
    with open(path, "rb") as fh:
        return PLUGIN_OP.encode() in fh.read()


def graph_inputs(model) -> list:
    """The graph's inputs (ValueInfoProto) that are not initializers: what a run feeds."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def input_names(model) -> list[str]:
    return [i.name for i in graph_inputs(model)]


def input_dims(model, unknown=None) -> list[tuple[str, list]]:
    """(name, dims) of the graph inputs; a dim is an int, or its symbolic name when dynamic
    (unknown when it has neither)."""
    return [(i.name, [d.dim_value if d.HasField("dim_value") else (d.dim_param or unknown)
                      for d in i.type.tensor_type.shape.dim]) for i in graph_inputs(model)]


def opset(model, domain: str = "") -> int:
    for entry in model.opset_import:
        if entry.domain in (domain, "ai.onnx" if domain == "" else domain):
            return entry.version
    return 0


def value_types(model, infer: bool = True) -> dict[str, int]:
    """Element type (onnx.TensorProto enum) of every tensor whose type ONNX shape inference knows
    (infer=False: only the types the file declares)."""
    import onnx

    inferred = model
    if infer:
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
        except Exception:  # custom ops or oversize models: fall back to what the file declares
            inferred = model
    types = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.output) + list(inferred.graph.value_info):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:  # 0: declared without a type
            types[vi.name] = vi.type.tensor_type.elem_type
    for init in model.graph.initializer:
        types[init.name] = init.data_type
    return types


def has_qdq(model) -> bool:
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)


def graph_precision(model) -> str:
    """The graph's precision: its ifan.precision metadata, else what its nodes show."""
    from onnx import TensorProto

    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get(META.precision) in ENGINE_PRECISIONS:
        return meta[META.precision]
    qdq = has_qdq(model)
    half = any(t.data_type == TensorProto.FLOAT16 for t in model.graph.initializer)
    return ("int8-fp16" if half else "int8") if qdq else ("fp16" if half else "fp32")


def read_metadata(model) -> dict[str, str]:
    """The ``ifan.*`` metadata of an ONNX file path or ModelProto (weights are not loaded)."""
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, external_data=False)
    return {p.key: p.value for p in model.metadata_props if p.key.startswith(META_PREFIX)}


def topological_sort(model) -> None:
    """Reorder nodes so each comes after the producers of its inputs (ONNX requires it)."""
    nodes = list(model.graph.node)
    available = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer} | {""}
    ordered, pending = [], nodes
    while pending:
        rest = []
        for n in pending:
            if all(i in available for i in n.input):
                ordered.append(n)
                available.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise IfanError(f"graph has a cycle or a missing input near node {rest[0].name}")
        pending = rest
    del model.graph.node[:]
    model.graph.node.extend(ordered)
