"""INT8 graphs with Q/DQ nodes as TensorRT wants them, calibrated on the CPU.

Recipe (docs/ARCHITECTURE.md, facts about TensorRT): ONNX Runtime's static quantizer in QDQ format, symmetric INT8 for
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

from ifan_trt.errors import IfanError, backend_error
from ifan_trt.failures import is_memory
from ifan_trt.noise import python_prints_silenced
from ifan_trt.files import read_input_bytes, write_bytes
from ifan_trt.optional import require

from ifan_trt.contract import META
from ifan_trt.progress import Bars, bar
from ifan_trt.export import graph as graphs
from ifan_trt.export.twin import standard_twin

from .qdq import QUANTIZED_OPS, conv_inputs, fix_weight_axes, keep_qdq_on_conv_inputs, qdq_problems, transfer_qdq

METHODS = ("entropy", "percentile", "minmax")
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
        raise IfanError(f"calibration method {method!r}: expected one of {', '.join(METHODS)}")
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
                   progress: Bars | None = None, op_types=QUANTIZED_OPS, symmetric: bool = True,
                   wanted: set[str] | None = None) -> tuple[dict[str, tuple[float, float]], int]:
    """Calibrate the input/output tensors of the op_types of the (standard-op) graph at twin_path,
    keeping those in `wanted` (default: the conv inputs). Returns (ranges, images served)."""
    try:
        with python_prints_silenced():  # the quantizer prints its histogram settings
            return _collect_ranges(twin_path, method, make_feeds, image_paths, workdir, progress, op_types,
                                   symmetric, wanted)
    except (IfanError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  ONNX Runtime's calibrator refused this graph or these images
        if is_memory(exc):
            raise
        raise backend_error(exc, "ONNX Runtime calibrator") from exc


def _collect_ranges(twin_path, method, make_feeds, image_paths, workdir, progress, op_types, symmetric, wanted):
    from onnxruntime.quantization.calibrate import create_calibrator

    calibrator = create_calibrator(
        twin_path, list(op_types), augmented_model_path=os.fspath(workdir / "augmented.onnx"),
        calibrate_method=_calibration_method(method), extra_options=_calibrator_options(method, symmetric))
    served = 0
    with bar(progress, total=len(image_paths), desc=f"calibrate ({method})", unit="img") as images_bar:
        for start in range(0, len(image_paths), CHUNK):
            reader = ImageReader(make_feeds, image_paths[start:start + CHUNK], images_bar)
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











# ---------------------------------------------------------------- plugin form





# ---------------------------------------------------------------- the whole step

def calibrate(model, image_paths: list[Path], make_feeds, method: str = "percentile",
              size: tuple[int, int] = (256, 256), cache_path: Path | None = None, progress: Bars | None = None):
    """INT8 Q/DQ version of model (either IAC form). Returns (graph, CalibrationInfo)."""
    require("onnxruntime")
    _calibration_method(method)
    if graphs.opset(model) < 13:
        raise IfanError(f"opset {graphs.opset(model)}: per-channel Q/DQ needs opset 13 or newer; re-export")
    if graphs.has_qdq(model):
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



