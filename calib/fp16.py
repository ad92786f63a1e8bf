"""FP16 graphs with FP32 I/O, where the nodes that stay FP32 are chosen by measurement.

Measurement (``measure``): the FP32 graph runs in ONNX Runtime on real images with every node
output exposed. Beside every float node the measuring graph holds a twin that reads the same
inputs rounded to FP16 (weights rounded the way the converter rounds them) and whose output is
rounded to FP16: what that node alone does to its own output when it runs in FP16. Per node we
record the largest |activation| of the FP32 graph (FP16 overflows above 65504) and the twin's
relative L2 error against the FP32 output. One session run per image gives all of it.

On the CPU ONNX Runtime computes an FP16 node in FP32 between FP16 roundings; TensorRT, too,
accumulates FP16 convolutions in FP32. The measure therefore covers what FP16 changes on the
GPU (storage rounding, overflow, cancellation after rounding) but not a kernel's own FP16
accumulation order.

Conversion (``convert``): onnxconverter-common's float16 conversion with keep_io_types, the
default op block list plus the kept nodes and op types; then kept nodes get their FP32 weights
back and exchange FP32 tensors (the converter alone rounds both through FP16).

The IAC plugin node is measured like any node and, unless the measurement flags it, runs in FP16
like its neighbours (the plugin supports FP32 and FP16). Decided by measurement: in the
standard-op form, where every intermediate of the IAC's iterations is stored in FP16, the
output's PSNR against FP32 equals that of the graph with the IAC kept FP32 to 0.01 dB (trained
ch=16, N=8 model, 8 held-out images), and FP16 halves F, the largest tensor of the network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ifan_trt.contract import PLUGIN_OP
from ifan_trt.errors import IfanError
from ifan_trt.optional import require
from ifan_trt.progress import Bars, bar

from ifan_trt.export import graph as graphs

FP16_MAX = 65504.0
# A node whose values reach half the FP16 range on these images may overflow on others.
OVERFLOW_MARGIN = 0.5
# onnxconverter-common clamps FP16 initializers to +-1e4 by default, which silently changes
# weights between 1e4 and the real FP16 limit: we pass the real limit
MAX_FINITE = FP16_MAX
DEFAULT_MAX_REL_ERROR = 1e-2  # FP16 rounding alone gives ~3e-4; 30x that is cancellation
_SUFFIX = "/fp16_alone"
_NO_MEASURE_OPS = {"Constant", "Shape", "Size", "ConstantOfShape"}


@dataclass
class NodeStats:
    name: str
    op_type: str
    output: str
    max_abs: float = 0.0
    rel_error: float = 0.0  # relative L2 error of the node alone in FP16 (max over images)
    max_abs_error: float = 0.0
    keep_fp32: bool = False
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _round_fp16_array(a: np.ndarray) -> np.ndarray:
    """FP32 -> FP16 -> FP32 as onnxconverter-common rounds initializers (it clamps to its range)."""
    import warnings

    from onnxconverter_common.float16 import convert_np_to_float16

    shape = a.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "truncated to 1e-07": expected rounding
        half = convert_np_to_float16(np.atleast_1d(a), max_finite_val=MAX_FINITE)
    return half.astype(np.float32).reshape(shape)


def _float_outputs(model, session_factory, feeds) -> dict[str, np.dtype]:
    """Run once with every node output exposed; keep the names whose values are float32."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    known = graphs.value_types(model)  # typed where inference knows (the plugin session reads types)
    names = [o for n in probe.graph.node if n.op_type not in _NO_MEASURE_OPS for o in n.output if o]
    for name in names:
        if name not in existing:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(name, known[name], None)
                                      if known.get(name) else onnx.ValueInfoProto(name=name))
    session = session_factory(probe)
    out_names = [o.name for o in session.get_outputs()]
    values = session.run(out_names, feeds)
    return {n: v.dtype for n, v in zip(out_names, values) if isinstance(v, np.ndarray) and v.dtype == np.float32}


def measuring_graph(model, float_tensors: set[str]):
    """model plus, for every node with a float output, its FP16-alone twin; returns (graph,
    [(node, output, twin output)])."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = onnx.ModelProto()
    g.CopyFrom(model)
    inits = {t.name: t for t in g.graph.initializer}
    rounded: dict[str, str] = {}  # tensor -> its FP16-rounded copy
    new_nodes, new_inits, pairs = [], [], []

    def rounded_name(name: str) -> str:
        if name in rounded:
            return rounded[name]
        if name in inits and inits[name].data_type == TensorProto.FLOAT:
            arr = _round_fp16_array(numpy_helper.to_array(inits[name]))
            new_inits.append(numpy_helper.from_array(arr, name + "/fp16_rounded"))
        elif name in float_tensors or name in graph_inputs:
            half = name + "/fp16"
            new_nodes.append(helper.make_node("Cast", [name], [half], to=TensorProto.FLOAT16, name=half + "_cast"))
            new_nodes.append(helper.make_node("Cast", [half], [name + "/fp16_rounded"], to=TensorProto.FLOAT,
                                              name=name + "/fp16_rounded_cast"))
        else:  # integer shape data, optional empty inputs: used as they are
            rounded[name] = name
            return name
        rounded[name] = name + "/fp16_rounded"
        return rounded[name]

    graph_inputs = {i.name for i in g.graph.input if i.type.tensor_type.elem_type == TensorProto.FLOAT}
    for node in list(g.graph.node):
        outs = [o for o in node.output if o in float_tensors]
        if node.op_type in _NO_MEASURE_OPS or not outs:
            continue
        twin = onnx.NodeProto()
        twin.CopyFrom(node)
        twin.name = node.name + _SUFFIX
        twin.input[:] = [rounded_name(i) if i else i for i in node.input]
        twin.output[:] = [o + _SUFFIX if o else o for o in node.output]
        new_nodes.append(twin)
        out = node.output[0] if node.output[0] in float_tensors else outs[0]
        half = out + _SUFFIX + "/fp16"
        new_nodes.append(helper.make_node("Cast", [out + _SUFFIX], [half], to=TensorProto.FLOAT16, name=half + "_cast"))
        new_nodes.append(helper.make_node("Cast", [half], [half + "/fp32"], to=TensorProto.FLOAT, name=half + "_back"))
        pairs.append((node, out, half + "/fp32"))
    g.graph.node.extend(new_nodes)
    g.graph.initializer.extend(new_inits)
    existing = {o.name for o in g.graph.output}
    for _, out, twin_out in pairs:
        for name in (out, twin_out):
            if name not in existing:
                g.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
                existing.add(name)
    return g, pairs


def measure(model, image_feeds, session_factory=None, max_rel_error: float = DEFAULT_MAX_REL_ERROR,
            progress: Bars | None = None) -> list[NodeStats]:
    """Per-node FP16 statistics of an FP32 graph over image_feeds (a list of feed dicts);
    progress: bars for the images (ifan_trt.progress)."""
    require("onnxconverter_common")
    require("onnxruntime")
    if session_factory is None:
        session_factory = default_session
    graphs.name_nodes(model)
    if not image_feeds:
        raise IfanError("FP16 measurement needs at least one image")
    floats = set(_float_outputs(model, session_factory, image_feeds[0]))
    g, pairs = measuring_graph(model, floats)
    session = session_factory(g)
    wanted = sorted({n for _, a, b in pairs for n in (a, b)})
    stats = {node.name: NodeStats(node.name, node.op_type, out) for node, out, _ in pairs}
    for feeds in bar(progress, image_feeds, desc="fp16 measure", unit="img"):
        values = dict(zip(wanted, session.run(wanted, feeds)))
        for node, out, twin_out in pairs:
            ref, sim = values[out].astype(np.float64), values[twin_out].astype(np.float64)
            s = stats[node.name]
            s.max_abs = max(s.max_abs, float(np.max(np.abs(ref))) if ref.size else 0.0)
            diff = sim - ref
            if not np.all(np.isfinite(sim)):
                s.rel_error = float("inf")
                s.max_abs_error = float("inf")
                continue
            denom = float(np.linalg.norm(ref))
            rel = float(np.linalg.norm(diff)) / denom if denom > 0 else float(np.linalg.norm(diff) > 0)
            s.rel_error = max(s.rel_error, rel)
            s.max_abs_error = max(s.max_abs_error, float(np.max(np.abs(diff))) if diff.size else 0.0)
    result = list(stats.values())
    readers: dict[str, list[str]] = {}
    for node in model.graph.node:
        for i in node.input:
            readers.setdefault(i, []).append(node.name)
    for s in result:
        if s.max_abs >= FP16_MAX * OVERFLOW_MARGIN:
            s.keep_fp32 = True
            s.reasons.append(f"|x| up to {s.max_abs:.3g} (FP16 max {FP16_MAX:g})")
            # the tensor must reach its readers in FP32 too, so they stay FP32 with it
            for reader in readers.get(s.output, []):
                if reader in stats and s.name != reader:
                    stats[reader].keep_fp32 = True
                    stats[reader].reasons.append(f"reads {s.output} (|x| up to {s.max_abs:.3g})")
        if s.rel_error > max_rel_error:
            s.keep_fp32 = True
            s.reasons.append(f"rel. error {s.rel_error:.2e} > {max_rel_error:.0e}")
    return result


def default_session(model):
    """ONNX Runtime CPU session that also runs the IAC plugin node (the export's Python op)."""
    from ifan_trt.export.ort_plugin import ort_session

    return ort_session(model)


def resolve_keep(model, names: list[str]) -> tuple[list[str], list[str]]:
    """User's --keep-fp32 entries -> (op types, node names); an unknown entry is an error."""
    ops = {n.op_type for n in model.graph.node}
    nodes = {n.name for n in model.graph.node}
    op_list, node_list = [], []
    for name in names:
        if name in ops:
            op_list.append(name)
        elif name in nodes:
            node_list.append(name)
        else:
            raise IfanError(f"--keep-fp32 {name}: neither an op type nor a node name of this graph "
                            f"(op types: {', '.join(sorted(ops))})")
    return op_list, node_list


def convert(model, keep_ops: list[str] = (), keep_nodes: list[str] = ()):
    """FP16 graph with FP32 inputs and outputs; keep_ops / keep_nodes stay FP32."""
    import warnings

    import onnx

    float16 = require("onnxconverter_common.float16")

    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)  # the converter edits its argument
    model = model_copy
    graphs.name_nodes(model)
    block_ops = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(keep_ops))
    try:
        with warnings.catch_warnings():
            # the converter warns for every weight below 1e-7 it rounds up: expected, not news
            warnings.simplefilter("ignore", UserWarning)
            out = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block_ops,
                                                   node_block_list=list(keep_nodes), max_finite_val=MAX_FINITE)
    except Exception as exc:
        raise IfanError(f"FP16 conversion failed ({type(exc).__name__}: {exc})") from None
    drop_cast_roundtrips(out)
    restore_fp32_weights(out, model)
    graphs.set_metadata(out, graphs.PRECISION_KEY, "fp16")
    return out


def drop_cast_roundtrips(model) -> int:
    """The converter casts every output of an FP32-kept node to FP16 and back for the next
    kept node: a tensor that overflows FP16 would still pass through FP16. Remove such
    FP32 -> FP16 -> FP32 round trips so that kept neighbours exchange FP32. Returns how many."""
    from onnx import TensorProto, helper

    def cast_to(node):
        return next((helper.get_attribute_value(a) for a in node.attribute if a.name == "to"), None)

    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    producers = {o: n for n in model.graph.node for o in n.output}
    graph_outputs = {o.name for o in model.graph.output}
    types = graphs.value_types(model)
    removed = 0
    for down in list(model.graph.node):
        if down.op_type != "Cast" or cast_to(down) != TensorProto.FLOAT16:
            continue
        src = down.input[0]
        if types.get(src) != TensorProto.FLOAT and (producers.get(src) is None or producers[src].op_type == "Cast"):
            continue
        users = consumers.get(down.output[0], [])
        ups = [u for u in users if u.op_type == "Cast" and cast_to(u) == TensorProto.FLOAT]
        for up in ups:
            if up.output[0] in graph_outputs:
                continue
            for user in consumers.get(up.output[0], []):
                user.input[:] = [src if i == up.output[0] else i for i in user.input]
            model.graph.node.remove(up)
            removed += 1
        if len(ups) == len(users) and down.output[0] not in graph_outputs and \
                all(u.output[0] not in graph_outputs for u in ups):
            model.graph.node.remove(down)
    return removed


def restore_fp32_weights(converted, original) -> int:
    """The converter turns every float initializer to FP16 and casts it back for FP32-kept
    nodes, so a kept node would still see FP16-rounded weights. Give such nodes the original
    FP32 initializer instead. Returns how many casts it replaced."""
    from onnx import TensorProto, helper

    fp32 = {t.name: t for t in original.graph.initializer if t.data_type == TensorProto.FLOAT}
    half = {t.name: t for t in converted.graph.initializer if t.data_type == TensorProto.FLOAT16}
    consumers: dict[str, list] = {}
    for n in converted.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    have = {t.name for t in converted.graph.initializer}
    replaced = 0
    for cast in list(converted.graph.node):
        if cast.op_type != "Cast" or cast.input[0] not in half or cast.input[0] not in fp32:
            continue
        if next((helper.get_attribute_value(a) for a in cast.attribute if a.name == "to"), None) != TensorProto.FLOAT:
            continue
        name = cast.input[0]
        restored = f"{name}/fp32"
        if restored not in have:
            t = type(fp32[name])()
            t.CopyFrom(fp32[name])
            t.name = restored
            converted.graph.initializer.append(t)
            have.add(restored)
        for user in consumers.get(cast.output[0], []):
            user.input[:] = [restored if i == cast.output[0] else i for i in user.input]
        converted.graph.node.remove(cast)
        replaced += 1
    used = {i for n in converted.graph.node for i in n.input}
    for t in [t for t in converted.graph.initializer if t.name in half and t.name not in used]:
        converted.graph.initializer.remove(t)
    return replaced


def report_rows(stats: list[NodeStats], limit: int | None = 25) -> list[list[str]]:
    """Table rows, worst first: every kept node, then the largest errors up to limit rows."""
    order = sorted(stats, key=lambda s: (not s.keep_fp32, -s.rel_error))
    if limit is not None:
        # kept nodes and the IAC (the decision the measurement exists for) always appear
        kept = [s for s in order if s.keep_fp32 or s.op_type == PLUGIN_OP]
        shown = {id(s) for s in kept}
        order = kept + [s for s in order if id(s) not in shown][: max(0, limit - len(kept))]
    return [[s.name, s.op_type, f"{s.max_abs:.4g}", f"{s.rel_error:.2e}", f"{s.max_abs_error:.2e}",
             "FP32" if s.keep_fp32 else "FP16", "; ".join(s.reasons)] for s in order]


REPORT_HEADER = ["node", "op", "max |x|", "rel err", "max abs err", "keeps", "why"]
