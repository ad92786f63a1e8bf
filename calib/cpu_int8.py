"""INT8 for ONNX Runtime's CPU provider (`ifan precision --to int8-cpu`).

The TensorRT graph (calib/int8.py) has Q/DQ on convolution inputs only. ONNX Runtime's CPU
provider runs a convolution in INT8 (QLinearConv) only when its output is quantized too
(DQ -> Conv -> Q); otherwise the conv stays float and the DQs only add work, so that graph is no
faster on a CPU. This graph is laid out for ONNX Runtime instead: first the CPU rewrites
(export/cpu_rewrites.py: standard-op IAC, streamed filter convs, sub-pixel upconvs), then ONNX
Runtime's QDQ quantizer on the convolutions, their LeakyReLUs, the skip Adds and DepthToSpace:
per-channel symmetric INT8 weights, asymmetric UINT8 activations (what its x86 kernels run
fastest), calibrated on images with the same methods as the TensorRT graph.

The IAC's own ops (nodes named iac/...) stay float: a per-pixel product chain INT8 would ruin,
and cheap. The streamed filter convs that feed it are quantized (their outputs are dequantized
before the IAC). The RGB convs at full resolution (3 channels in or out) stay float: ONNX
Runtime's INT8 kernels are slower on them. Zero points are not 0, so TensorRT cannot take this
graph: `ifan build` refuses it (metadata ifan.int8_target = cpu).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ifan_trt.errors import IfanError, backend_error
from ifan_trt.noise import python_prints_silenced
from ifan_trt.log import get as get_logger

from ifan_trt.export import graph as graphs
from ifan_trt.calib import images
from .int8 import _calibration_method, collect_ranges
from .qdq import remove_dead_qdq
from ifan_trt.contract import IAC_NODE_PREFIX, META
from ifan_trt.progress import Bars

log = get_logger(__name__)

TARGET_KEY = META.int8_target
OPS = ["Conv", "LeakyRelu", "Add", "DepthToSpace"]
IAC_PREFIX = IAC_NODE_PREFIX


def thin_convs(model, max_channels: int = 4) -> list[str]:
    """Convs with at most max_channels inputs or outputs (IFAN's RGB in and out convs at full
    resolution): ONNX Runtime's INT8 kernels run them slower than its FP32 ones, so they stay float."""
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    out = []
    for n in model.graph.node:
        dims = shapes.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if dims and (dims[0] <= max_channels or dims[1] <= max_channels):
            out.append(n.name)
    return out


def quantize(model, image_paths: list[Path], make_feeds, method: str = "percentile",
             quantize_filters: bool = True, progress: Bars | None = None):
    """The CPU INT8 graph of an FP32 graph (ModelProto, either IAC form)."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.calibrate import TensorData, TensorsData
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer

    from ifan_trt.export.cpu_rewrites import optimise_for_cpu

    model, _ = optimise_for_cpu(model)
    exclude = [n.name for n in model.graph.node if n.name.startswith(IAC_PREFIX)
               and not (quantize_filters and n.op_type == "Conv")]
    thin = thin_convs(model)
    exclude += thin  # float weights; float_convs below also frees their activations
    with tempfile.TemporaryDirectory(prefix="ifan-int8-cpu-") as work:
        path = Path(work) / "fp32.onnx"
        onnx.save(model, os.fspath(path))
        # the steps of quantize_static, with the calibrator fed in chunks (bounded memory) and
        # TensorRT's histogram settings (calib/int8.py), asymmetric for UINT8
        ranges, served = collect_ranges(path, method, make_feeds, image_paths, Path(work), progress,
                                        op_types=OPS, symmetric=False, wanted=_calibrated_tensors(model, OPS))
        if served != len(image_paths):
            raise IfanError(f"calibration read {served} of {len(image_paths)} images")
        tensors = TensorsData(_calibration_method(method), {
            name: TensorData(lowest=np.array(lo, dtype=np.float32), highest=np.array(hi, dtype=np.float32))
            for name, (lo, hi) in ranges.items()})
        try:
            with python_prints_silenced():
                quantizer = QDQQuantizer(load_model_with_shape_infer(path), True, False, QuantType.QInt8,
                                         QuantType.QUInt8, tensors, [], exclude, OPS,
                                         {"ActivationSymmetric": False, "WeightSymmetric": True})
                quantizer.quantize_model()
        except (IfanError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001  ONNX Runtime's quantizer refused this graph
            raise backend_error(exc, "ONNX Runtime quantizer") from exc
        quantized = quantizer.model.model
    float_convs(quantized, thin)
    graphs.set_metadata(quantized, graphs.PRECISION_KEY, "int8")
    graphs.set_metadata(quantized, TARGET_KEY, "cpu")
    return quantized


def _calibrated_tensors(model, ops) -> set[str]:
    """Activation inputs and outputs of the ops the quantizer may quantize."""
    inits = {t.name for t in model.graph.initializer}
    return {name for n in model.graph.node if n.op_type in ops
            for name in (*n.input, *n.output) if name and name not in inits}


def make_cpu_int8(src: Path, out: Path, image_dir, method: str, count: int, size: tuple[int, int] | None = None,
                  progress: Bars | None = None, size_option: str = "size") -> Path:
    """`ifan precision --to int8-cpu`: read the FP32 export at src, calibrate, write out. size: the
    calibration crop (None: the graph's fixed HxW, or 256x256 where H and W are dynamic)."""
    from .prepare import DEFAULT_CALIB_SIZE, read_fp32

    from ifan_trt.export.uint8_io import float_core, rewrap_like

    graphs.check_output_path(out, src)
    original = read_fp32(src)
    model = float_core(original)  # a uint8 model: its float network is quantized, then wrapped again
    size = images.graph_size(model, size, DEFAULT_CALIB_SIZE, size_option)
    paths = images.find_images(image_dir, count)
    names = graphs.input_names(model)
    start = time.time()
    qdq = quantize(model, paths, lambda p: images.feeds_for(names, p, size), method, progress=progress)
    graphs.save_model(rewrap_like(qdq, original), out)
    log.info(f"wrote {out} (INT8 for ONNX Runtime's CPU provider, {method} on {len(paths)} image(s) at "
         f"{size[0]}x{size[1]}, {time.time() - start:.0f} s)")
    return out


def float_convs(model, names: list[str]) -> int:
    """Take the named convs out of the Q/DQ graph: their input is the float tensor before its
    Q/DQ pair, their output feeds the readers of the Q/DQ pair after them directly (weights
    stay float). Q/DQ nodes nobody reads any more are dropped. Returns how many were freed."""
    producers = {o: n for n in model.graph.node for o in n.output}
    readers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    freed = 0
    for conv in [n for n in model.graph.node if n.name in set(names)]:
        dq = producers.get(conv.input[0])
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear":
            conv.input[0] = q.input[0]
        after = readers.get(conv.output[0], [])
        if len(after) == 1 and after[0].op_type == "QuantizeLinear":
            for dq_after in readers.get(after[0].output[0], []):
                if dq_after.op_type != "DequantizeLinear":
                    continue
                for user in readers.get(dq_after.output[0], []):
                    user.input[:] = [conv.output[0] if i == dq_after.output[0] else i for i in user.input]
        freed += 1
    remove_dead_qdq(model)
    return freed
