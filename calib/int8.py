"""INT8 graphs with Q/DQ nodes as TensorRT wants them, calibrated on the CPU.

Recipe (DESIGN.md section 4): ONNX Runtime's static quantizer in QDQ format, symmetric INT8 for
activations (per tensor) and weights (per output channel), zero points 0, bias left float,
weights kept float behind a Q/DQ pair, and only Conv/ConvTranspose quantized, so the Q/DQ sit on
convolution inputs and the IAC stays float (TensorRT does not fuse DQ -> plugin -> Q).

Calibration runs on the standard-op twin (same tensor names) and its Q/DQ nodes are copied into
the plugin form. We call the steps of ``onnxruntime.quantization.quantize_static`` ourselves
(create_calibrator -> collect_data -> compute_data -> QDQQuantizer) so that the tensor ranges can
be cached and reused across runs and ONNX Runtime versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.files import read_input_bytes, write_bytes

from ifan_trt.export import graph as graphs
from ifan_trt.export.twin import standard_twin
from ifan_trt.contract import META

METHODS = ("entropy", "percentile", "minmax")
QUANTIZED_OPS = ("Conv", "ConvTranspose")
CACHE_FORMAT = "ifan-trt calibration cache 1"
CHUNK = 4  # images per calibrator pass: the calibrator holds every exposed tensor of a pass in memory
# the options TensorRT needs, in ONNX Runtime's words
EXTRA_OPTIONS = {
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "QuantizeBias": False,
    "AddQDQPairToWeight": True,
    "OpTypesToExcludeOutputQuantization": list(QUANTIZED_OPS),  # Q/DQ on conv inputs only
}
WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1}  # output channels (group 1)


@dataclass
class CalibrationInfo:
    method: str
    size: tuple[int, int]
    images: list[str]
    key: str
    from_cache: bool
    seconds: float
    ranges: dict[str, tuple[float, float]] = field(repr=False, default_factory=dict)

    def summary(self) -> str:
        h, w = self.size
        src = "reused from the cache" if self.from_cache else f"calibrated in {self.seconds:.1f} s"
        return f"{self.method} calibration on {len(self.images)} image(s) at {h}x{w}: {src}"


class ImageReader:
    """ONNX Runtime CalibrationDataReader over feed dicts made lazily from image paths."""

    def __init__(self, make_feeds, paths, progress=None):
        self._make_feeds, self._paths, self._i = make_feeds, list(paths), 0
        self._progress = progress
        self.served = 0  # how many images went through the calibrator (tests assert cache reuse)

    def get_next(self):
        if self._i >= len(self._paths):
            return None
        feeds = self._make_feeds(self._paths[self._i])
        self._i += 1
        self.served += 1
        if self._progress is not None:
            self._progress.update(1)
        return feeds

    def __len__(self):
        return len(self._paths)


# ---------------------------------------------------------------- cache

def cache_key(twin_hash: str, method: str, size: tuple[int, int], image_paths: list[Path]) -> str:
    """Graph hash + method + resolution + the images' names and contents."""
    h = hashlib.sha256()
    h.update(f"{twin_hash}|{method}|{size[0]}x{size[1]}|".encode())
    for p in image_paths:
        h.update(p.name.encode() + b"|" + graphs.sha256_file(p).encode() + b"|")
    return h.hexdigest()


def read_cache(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {"format": CACHE_FORMAT, "entries": {}}
    try:
        data = json.loads(read_input_bytes(path, "--cache"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IfanError(f"{path}: not a readable calibration cache ({str(exc).splitlines()[0]}); delete it to "
                        "recalibrate") from None
    if (not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict)
            or not all(isinstance(v, dict) for v in data["entries"].values())):
        raise IfanError(f"{path}: not an ifan-trt calibration cache; delete it or pass another --cache")
    return data


def _cached_ranges(entry: dict, path: Path | None) -> dict[str, tuple[float, float]]:
    """A cache entry's ranges, each a finite (low, high) pair; else the cache is refused."""
    import math

    ranges = entry.get("ranges")
    ok = isinstance(ranges, dict) and all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                   and math.isfinite(x) for x in v) and v[0] <= v[1]
        for v in ranges.values())
    if not ok:
        raise IfanError(f"{path}: malformed calibration cache entry (ranges); delete it to recalibrate")
    return {str(k): (float(v[0]), float(v[1])) for k, v in ranges.items()}


def write_cache(path: Path, data: dict) -> None:
    write_bytes(path, json.dumps(data, indent=1, sort_keys=True) + "\n", overwrite=True)  # a cache: rewritten


# ---------------------------------------------------------------- calibration

def _calibration_method(method: str):
    if method not in METHODS:
        raise IfanError(f"--method {method}: expected one of {', '.join(METHODS)}")
    from onnxruntime.quantization import CalibrationMethod

    return {"entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile,
            "minmax": CalibrationMethod.MinMax}[method]


def _calibrator_options(method: str, symmetric: bool = True) -> dict:
    if method == "minmax":
        return {"symmetric": symmetric}
    if method == "percentile":
        return {"symmetric": symmetric, "num_bins": 2048, "percentile": 99.999}
    # entropy: TensorRT's recipe (2048 bins, 128 quantized levels); ONNX Runtime's default of
    # 128 bins leaves nothing to search and degenerates to min/max
    return {"symmetric": symmetric, "num_bins": 2048, "num_quantized_bins": 128}


def collect_ranges(twin_path: Path, method: str, make_feeds, image_paths: list[Path], workdir: Path,
                   progress: bool = True, op_types=QUANTIZED_OPS, symmetric: bool = True,
                   wanted: set[str] | None = None) -> tuple[dict[str, tuple[float, float]], int]:
    """Calibrate the input/output tensors of the op_types of the (standard-op) graph at twin_path,
    keeping those in `wanted` (default: the conv inputs). Returns (ranges, images served)."""
    from onnxruntime.quantization.calibrate import create_calibrator
    from tqdm import tqdm

    calibrator = create_calibrator(
        twin_path, list(op_types), augmented_model_path=os.fspath(workdir / "augmented.onnx"),
        calibrate_method=_calibration_method(method), extra_options=_calibrator_options(method, symmetric))
    served = 0
    with tqdm(total=len(image_paths), desc=f"calibrate ({method})", unit="img", disable=None if progress else True) as bar:
        for start in range(0, len(image_paths), CHUNK):
            reader = ImageReader(make_feeds, image_paths[start:start + CHUNK], bar)
            calibrator.collect_data(reader)
            served += reader.served
    # the TensorRT quantizer only reads the ranges of conv inputs; histogram methods spend about
    # a second per tensor, so drop the others (half the tensors) before the search
    wanted = conv_inputs(twin_path) if wanted is None else wanted
    histograms = getattr(getattr(calibrator, "collector", None), "histogram_dict", None)
    if isinstance(histograms, dict):
        for name in [n for n in histograms if n not in wanted]:
            del histograms[name]
    data = calibrator.compute_data()
    ranges = {}
    for name, td in data.data.items():
        if name not in wanted:
            continue
        lo, hi = td.range_value
        ranges[name] = (float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0]))
    return ranges, served


def conv_inputs(model_path: Path) -> set[str]:
    """Activation inputs of the convolutions of the graph file (the tensors that get Q/DQ)."""
    import onnx

    return conv_inputs_of(onnx.load(os.fspath(model_path), load_external_data=False))


def conv_inputs_of(model) -> set[str]:
    inits = {t.name for t in model.graph.initializer}
    return {n.input[0] for n in model.graph.node if n.op_type in QUANTIZED_OPS and n.input[0] not in inits}


def quantize_with_ranges(twin, ranges: dict[str, tuple[float, float]], method: str, workdir: Path):
    """Q/DQ graph of twin (ModelProto) from tensor ranges, with ONNX Runtime's QDQ quantizer."""
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.calibrate import TensorData, TensorsData
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer

    path = workdir / "twin_for_quantizer.onnx"
    onnx.save(twin, os.fspath(path))
    model = load_model_with_shape_infer(path)
    tensors = TensorsData(_calibration_method(method), {
        name: TensorData(lowest=np.array(lo, dtype=np.float32), highest=np.array(hi, dtype=np.float32))
        for name, (lo, hi) in ranges.items()})
    quantizer = QDQQuantizer(model, True, False, QuantType.QInt8, QuantType.QInt8, tensors,
                             [], [], list(QUANTIZED_OPS), dict(EXTRA_OPTIONS))
    quantizer.quantize_model()
    return quantizer.model.model


# ---------------------------------------------------------------- Q/DQ conventions

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


# ---------------------------------------------------------------- plugin form

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
    topological_sort(out)
    return out


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


# ---------------------------------------------------------------- the whole step

def calibrate(model, image_paths: list[Path], make_feeds, method: str = "percentile",
              size: tuple[int, int] = (256, 256), cache_path: Path | None = None, progress: bool = True):
    """INT8 Q/DQ version of model (either IAC form). Returns (graph, CalibrationInfo)."""
    graphs.require("onnxruntime")
    _calibration_method(method)
    if graphs.opset(model) < 13:
        raise IfanError(f"opset {graphs.opset(model)}: per-channel Q/DQ needs opset 13 or newer; re-export")
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node):
        raise IfanError("this graph already has Q/DQ nodes; calibrate the FP32 export")
    graphs.name_nodes(model)
    twin = standard_twin(model)
    key = cache_key(graphs.model_hash(twin), method, size, image_paths)
    cache = read_cache(cache_path)
    entry = cache["entries"].get(key)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="ifan-calib-") as tmp:
        workdir = Path(tmp)
        if entry is None:
            import onnx

            twin_path = workdir / "twin.onnx"
            onnx.save(twin, os.fspath(twin_path))
            ranges, served = collect_ranges(twin_path, method, make_feeds, image_paths, workdir, progress)
            if served != len(image_paths):
                raise IfanError(f"calibration read {served} of {len(image_paths)} images")
            entry = {"method": method, "size": list(size), "images": [p.name for p in image_paths],
                     "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "ranges": {k: list(v) for k, v in sorted(ranges.items())}}
            if cache_path is not None:
                cache["entries"][key] = entry
                write_cache(cache_path, cache)
            from_cache = False
        else:
            from_cache = True
        ranges = _cached_ranges(entry, cache_path)
        qdq_twin = quantize_with_ranges(twin, ranges, method, workdir)
    keep_qdq_on_conv_inputs(qdq_twin)
    fix_weight_axes(qdq_twin)
    result = transfer_qdq(qdq_twin, model) if graphs.plugin_nodes(model) else qdq_twin
    info = CalibrationInfo(method, tuple(size), [p.name for p in image_paths], key, from_cache,
                           time.time() - start, ranges)
    _restore_metadata(result, model)
    graphs.set_metadata(result, graphs.PRECISION_KEY, "int8")
    graphs.set_metadata(result, META.calibration, json.dumps(
        {"method": method, "size": f"{size[0]}x{size[1]}", "images": len(image_paths), "key": key[:16]}))
    problems = qdq_problems(result)
    if problems:
        raise IfanError("Q/DQ graph breaks TensorRT's conventions: " + "; ".join(problems[:5]))
    return result, info


def _restore_metadata(model, source) -> None:
    """Keep the export's metadata (the quantizer drops or keeps it depending on its version)."""
    for key, value in graphs.metadata(source).items():
        graphs.set_metadata(model, key, value)
    if not model.producer_name:
        model.producer_name = source.producer_name


# ---------------------------------------------------------------- int8 + fp16

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
        import sys

        print(f"warning: {len(tiny)} Q/DQ scale(s) below FP16's normal range (6.1e-5), e.g. {tiny[0]}: "
              "they lose precision in FP16; keep their convolutions FP32 with --keep-fp32", file=sys.stderr)
    problems = qdq_problems(out)
    if problems:
        raise IfanError("INT8+FP16 graph breaks TensorRT's conventions: " + "; ".join(problems[:5]))
    return out
