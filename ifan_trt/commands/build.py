"""`ifan build` (and `build_engine.py`): a strongly typed TensorRT engine from an IFAN ONNX export.

The flags become a BuildRequest and ifan_trt.jobs.engine.build_engine does the work; --help and
the option checks work without TensorRT.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ifan_trt.jobs.engine import BuildRequest, build_engine
from ifan_trt.models import ModelRef
from ifan_trt.commands.options import add_decode_budget, int_range
from ifan_trt.precisions import ENGINE as PRECISIONS
from ifan_trt.sizes import parse_bytes
from ifan_trt.runtime.model_files.optimization_profiles import DEFAULT_SHAPES

from . import args as arg_groups
from .progress import bars


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "build", "build a TensorRT engine (FP32/FP16/INT8) from an ONNX export",
                               __doc__.split("\n\n")[0], run)
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", required=True, metavar="MODEL", help="IFAN ONNX export (FP32, or already FP16/INT8)")
    arg_groups.add_output(p, "engine file to write (a .json sidecar goes beside it)", required=True)
    p.add_argument("--precision", choices=PRECISIONS,
                   help="engine precision; an FP32 graph is converted first (default: the graph's own)")
    arg_groups.add_calibration(p, images_help="images for INT8 calibration (and FP16 measurement; default "
                                              "there: the bundled samples)")
    p.add_argument("--shapes", action="append", metavar="min=NxCxHxW,opt=...,max=...",
                   help=f"one optimisation profile (repeat for more); HxW means batch 1 (default: {DEFAULT_SHAPES})")
    arg_groups.add_plugin(p)
    p.add_argument("--workspace", default="2G", help="builder workspace limit, e.g. 512M, 4G (default: %(default)s)")
    arg_groups.add_json(p, "the build report (the sidecar)", stdout=True)
    p.add_argument("--timing-cache", type=Path, help="timing cache file: read if present, updated after the build")
    p.add_argument("--builder-optimization-level", type=int_range(0, 5), metavar="0-5",
                   help="TensorRT builder optimisation level (TensorRT's default: 3)")
    p.add_argument("--version-compatible", action="store_true",
                   help="version-compatible engine; the plugin library is serialised into the plan")
    arg_groups.add_iac_split(p, "build", default="auto")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)
    p.add_argument("--dla-core", type=int_range(0, 15), metavar="N",
                   help="build for DLA core N (Jetson AGX Orin, Orin NX) with GPU fallback: layers the DLA cannot "
                        "run (the IFAN_IAC plugin, FP32 layers) run on the GPU; refused where the device has no DLA")
    p.add_argument("--no-tf32", dest="tf32", action="store_false",
                   help="FP32 layers without TF32 math (Ampere and newer use TF32 by default, as TensorRT does)")


def request_from(args) -> BuildRequest:
    return BuildRequest(
        onnx=ModelRef.parse(args.onnx, "onnx", "--onnx").path, output=args.output, precision=args.precision, shapes=tuple(args.shapes or ()) or None,
        calib_images=args.calib_images, calib_method=args.calib_method, calib_count=arg_groups.calib_count(args),
        calib_size=arg_groups.calib_size(args), size_option="--calib-size", workspace=parse_bytes(args.workspace, "--workspace"),
        plugin=args.plugin, timing_cache=args.timing_cache, optimization_level=args.builder_optimization_level,
        version_compatible=args.version_compatible, iac_split=args.iac_split, tf32=args.tf32,
        overwrite=getattr(args, "overwrite", False), report=getattr(args, "json", None),
        dla_core=getattr(args, "dla_core", None), names=arg_groups.flag, progress=bars())


def run(args) -> int:
    result = build_engine(request_from(args))  # --json is checked with the outputs, before any work
    if getattr(args, "json", None):
        from ifan_trt.reports import write_json

        write_json(args.json, {"engine": str(result.engine), **result.sidecar})
    return 0
