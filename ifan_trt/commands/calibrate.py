"""`ifan calibrate MODEL.onnx --calib-images DIR -o OUT.onnx`: INT8 Q/DQ graph for TensorRT, or with
--target cpu for ONNX Runtime's CPU provider."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.commands.progress import bars
from ifan_trt.calib import prepare
from ifan_trt.errors import IfanError
from ifan_trt.jobs.precision import PrecisionRequest, make_precision
from ifan_trt.options import add_decode_budget

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "calibrate", "INT8 Q/DQ graph calibrated on images (optionally FP16 elsewhere)",
                               "Insert TensorRT-style Q/DQ nodes (symmetric INT8, per-channel weights, per-tensor "
                               "activations, convolution inputs only, IAC left float) calibrated with ONNX Runtime.",
                               run)
    p.add_argument("model", type=Path,
                   help="FP32 ONNX export (either IAC form), a checkpoint (.pth, exported first) or 'default'")
    arg_groups.add_calibration(p, images_help="folder of calibration images", count=prepare.DEFAULT_CALIB_COUNT,
                               required=True, short=True)
    p.add_argument("--target", choices=("tensorrt", "cpu"), default="tensorrt",
                   help="tensorrt: symmetric Q/DQ on conv inputs (for `ifan build`); cpu: the graph ONNX Runtime's "
                        "CPU provider runs in INT8 (CPU rewrites, DQ -> op -> Q units, UINT8 activations)")
    arg_groups.add_output(p, "output ONNX (default: MODEL.int8.onnx / MODEL.int8-fp16.onnx / MODEL.int8-cpu.onnx)")
    p.add_argument("--cache", type=Path, help="calibration cache JSON (default: OUTPUT with .calib.json)")
    p.add_argument("--fp16", action="store_true", help="the int8-fp16 graph: FP16 outside the Q/DQ")
    p.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME",
                   help="with --fp16: op types or node names kept FP32")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    if args.target == "cpu" and (args.fp16 or args.keep_fp32 or args.cache):
        raise IfanError("--fp16, --keep-fp32 and --cache are for the TensorRT graph, not --target cpu")
    precision = "int8-cpu" if args.target == "cpu" else "int8-fp16" if args.fp16 else "int8"
    make_precision(PrecisionRequest(
        args.model, precision, args.output, args.calib_images, args.calib_method, args.calib_count,
        arg_groups.calib_size(args), size_option="--calib-size", keep_fp32=tuple(args.keep_fp32), cache=args.cache,
        overwrite=args.overwrite, progress=bars()))
    return 0
