"""`ifan build` (and `build_engine.py`): a strongly typed TensorRT engine from an IFAN ONNX export.

The flags become a BuildRequest and ifan_trt.jobs.engine.build_engine does the work; --help and
the option checks work without TensorRT.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.jobs.engine import IAC_SPLIT_MODES, BuildRequest, build_engine
from ifan_trt.models import ModelRef
from ifan_trt.options import add_decode_budget, int_range
from ifan_trt.precisions import ENGINE as PRECISIONS
from ifan_trt.runtime.model_files.optimization_profiles import DEFAULT_SHAPES

from . import args as arg_groups

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "build", "build a TensorRT engine (FP32/FP16/INT8) from an ONNX export",
                               __doc__.split("\n\n")[0], run)
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", required=True, help="IFAN ONNX export (FP32, or already FP16/INT8)")
    arg_groups.add_output(p, "engine file to write (a .json sidecar goes beside it)", required=True, metavar="ENGINE")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="engine precision; an FP32 graph is converted first (default: the graph's own)")
    arg_groups.add_calibration(p, images_help="images for INT8 calibration (and FP16 measurement; default "
                                              "there: the bundled samples)", count=32)
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
    p.add_argument("--iac-split", choices=IAC_SPLIT_MODES, default="auto",
                   help="build the IAC as one IFAN_IAC layer per iteration, each fed by its own slice of the "
                        "filter conv, so the filters F are never written: auto when that lowers the peak of "
                        "live activations at the largest profile shape, on, off (default: %(default)s)")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)
    p.add_argument("--dla-core", type=int_range(0, 15), metavar="N",
                   help="build for DLA core N (Jetson AGX Orin, Orin NX) with GPU fallback: layers the DLA cannot "
                        "run (the IFAN_IAC plugin, FP32 layers) run on the GPU; refused where the device has no DLA")
    p.add_argument("--no-tf32", dest="tf32", action="store_false",
                   help="FP32 layers without TF32 math (Ampere and newer use TF32 by default, as TensorRT does)")


def parse_workspace(text: str) -> int:
    """'512M', '4G', '1.5g', plain numbers in MiB -> bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise IfanError(f"--workspace {text!r}: expected a size such as 512M or 4G")
    value, unit = float(m.group(1)), (m.group(2) or "m").lower()
    size = int(value * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])
    if size < (1 << 20):
        raise IfanError(f"--workspace {text}: at least 1M")
    return size


def request_from(args) -> BuildRequest:
    return BuildRequest(
        onnx=ModelRef.parse(args.onnx, "onnx", "--onnx").path, output=args.output, precision=args.precision, shapes=tuple(args.shapes or ()) or None,
        calib_images=args.calib_images, calib_method=args.calib_method, calib_count=args.calib_count,
        calib_size=arg_groups.calib_size(args), size_option="--calib-size", workspace=parse_workspace(args.workspace),
        plugin=args.plugin, timing_cache=args.timing_cache, optimization_level=args.builder_optimization_level,
        version_compatible=args.version_compatible, iac_split=args.iac_split, tf32=args.tf32,
        overwrite=getattr(args, "overwrite", False), report=getattr(args, "json", None),
        dla_core=getattr(args, "dla_core", None))


def run(args) -> int:
    request = request_from(args)
    if args.json and Path(args.json).resolve() == Path(f"{args.output}.json").resolve():
        raise IfanError(f"--json {args.json}: is the engine's sidecar; choose another file")
    arg_groups.check_json(args, [args.onnx, args.plugin, args.timing_cache, args.output], [args.calib_images])
    result = build_engine(request)
    if getattr(args, "json", None):
        from ifan_trt.reports import write_json

        write_json(args.json, {"engine": str(result.engine), **result.sidecar})
    return 0
