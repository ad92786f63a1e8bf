"""`ifan fp16 MODEL.onnx`: an FP16 graph with FP32 I/O; what stays FP32 is measured."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.commands.progress import bars
from ifan_trt.calib import prepare
from ifan_trt.calib.fp16 import DEFAULT_MAX_REL_ERROR
from ifan_trt.jobs.precision import PrecisionRequest, make_precision
from ifan_trt.options import add_decode_budget, positive_float

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "fp16", "FP16 graph with FP32 I/O, sensitive nodes kept FP32 by measurement",
                               "Convert an FP32 IFAN export to FP16 (inputs/outputs stay FP32). Every node is "
                               "measured on real images: nodes whose activations approach the FP16 range or whose "
                               "FP16 rounding error is large stay FP32.", run)
    p.add_argument("model", type=Path,
                   help="FP32 ONNX export (either IAC form), a checkpoint (.pth, exported first) or 'default'")
    arg_groups.add_output(p, "output ONNX (default: MODEL.fp16.onnx)")
    p.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME",
                   help="op types (e.g. IFAN_IAC, ConvTranspose) or node names to keep FP32 in any case")
    arg_groups.add_calibration(p, images_help="folder of images to measure on (default: the bundled samples)",
                               count=prepare.DEFAULT_MEASURE_COUNT, method=False, short=True, what="measurement")
    p.add_argument("--max-rel-error", type=positive_float, default=DEFAULT_MAX_REL_ERROR,
                   help="keep a node FP32 when its FP16 relative error exceeds this (default: %(default)g)")
    p.add_argument("--no-measure", action="store_true", help="convert without measuring (only --keep-fp32 stays FP32)")
    p.add_argument("--all", action="store_true", help="print every node in the report, not only the worst")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    make_precision(PrecisionRequest(
        args.model, "fp16", args.output, args.calib_images, calib_count=args.calib_count,
        calib_size=arg_groups.calib_size(args), size_option="--calib-size", keep_fp32=tuple(args.keep_fp32),
        max_rel_error=args.max_rel_error, measure=not args.no_measure, show_all=args.all, overwrite=args.overwrite,
        progress=bars()))
    return 0
