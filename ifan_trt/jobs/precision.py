"""Prepare a precision: the graph of one precision of ifan_trt.precisions (fp16, int8, int8-fp16 for
TensorRT; int8-cpu for ONNX Runtime's CPU provider) made from an FP32 export, a checkpoint (exported
first) or the bundled model. FP16 measures which nodes stay FP32; INT8 calibrates on images."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt import precisions
from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file
from ifan_trt.models import DEFAULT, is_default
from ifan_trt.progress import Bars


@dataclass(frozen=True)
class PrecisionRequest:
    """model: an FP32 ONNX export, a checkpoint (.pth) or `default`; precision: fp16, int8,
    int8-fp16 or int8-cpu; output: default MODEL.SUFFIX.onnx beside the model (the current folder for
    `default`); calib_images: a folder of images (INT8 needs them; FP16 measures on the bundled
    samples without); calib_count: None for 8 (FP16) or 32 (INT8)."""
    model: str | os.PathLike
    precision: str
    output: str | os.PathLike | None = None
    calib_images: str | os.PathLike | None = None
    calib_method: str = "percentile"
    calib_count: int | None = None
    calib_size: tuple[int, int] | None = None  # None: a fixed-size graph's own HxW, else 256x256
    size_option: str = field(default="calib_size", compare=False)  # how errors name calib_size (the CLI: its flag)
    keep_fp32: tuple[str, ...] = ()
    max_rel_error: float | None = None  # FP16: a node whose FP16 relative error exceeds it stays FP32
    measure: bool = True  # FP16: measure on images (False: only keep_fp32 stays FP32)
    show_all: bool = False  # FP16: every node in the logged report
    cache: str | os.PathLike | None = None  # INT8 for TensorRT: calibration cache (default OUTPUT.calib.json)
    overwrite: bool = False
    inputs: tuple = field(default=(), compare=False)  # more files the output must not be (checked too)
    progress: Bars | None = field(default=None, compare=False)  # bars for the images (ifan_trt.progress)


@dataclass(frozen=True)
class PrecisionResult:
    path: Path
    precision: str
    source: Path  # the FP32 export it was made from


def output_for(request: PrecisionRequest) -> Path:
    if request.output is not None:
        return Path(request.output)
    source = Path(f"{DEFAULT}.onnx") if is_default(request.model) else Path(request.model)
    return precisions.graph_file(source, request.precision)


def make_precision(request: PrecisionRequest) -> PrecisionResult:
    from ifan_trt.calib import prepare

    row = precisions.get(request.precision, "precision", precisions.PREPARED)
    if row.needs_images and request.calib_images is None:
        raise IfanError(f"precision {row.name}: needs calib_images (a folder of calibration images)")
    if row.name == "fp16" and request.cache is not None:
        raise IfanError("cache: is for INT8 calibration, not precision fp16")
    if row.target == "cpu" and (request.keep_fp32 or request.cache):
        raise IfanError("keep_fp32 and cache are for the TensorRT graphs, not precision int8-cpu")
    out = output_for(request)
    model_inputs = [request.model, *request.inputs] if not is_default(request.model) else list(request.inputs)
    cache = None
    if row.target == "tensorrt" and row.needs_images:
        cache = Path(request.cache) if request.cache is not None else out.with_name(f"{out.stem}.calib.json")
        model_inputs.append(cache)
    check_not_input(out, model_inputs, [request.calib_images])
    check_output_file(out, request.overwrite)
    if cache is not None:
        check_not_input(cache, [request.model], [request.calib_images], what="cache")
    source = prepare.source_onnx(Path(request.model), out, request.overwrite)
    if row.name == "fp16":
        from ifan_trt.calib.fp16 import DEFAULT_MAX_REL_ERROR

        prepare.make_fp16(source, out, request.calib_images, list(request.keep_fp32), request.calib_size,
                          request.calib_count or prepare.DEFAULT_MEASURE_COUNT,
                          request.max_rel_error or DEFAULT_MAX_REL_ERROR, request.measure, request.show_all,
                          progress=request.progress, size_option=request.size_option)
    elif row.target == "cpu":
        from ifan_trt.calib.cpu_int8 import make_cpu_int8

        make_cpu_int8(source, out, request.calib_images, request.calib_method,
                      request.calib_count or prepare.DEFAULT_CALIB_COUNT, request.calib_size,
                      progress=request.progress, size_option=request.size_option)
    else:
        prepare.make_int8(source, out, request.calib_images, request.calib_method,
                          request.calib_count or prepare.DEFAULT_CALIB_COUNT, request.calib_size, cache,
                          row.name == "int8-fp16", list(request.keep_fp32), progress=request.progress,
                          size_option=request.size_option)
    return PrecisionResult(out, row.name, Path(source))
