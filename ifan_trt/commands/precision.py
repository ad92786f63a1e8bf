"""`ifan precision MODEL --to NAME`: the graph of one precision of the precision table (fp16,
int8, int8-fp16 for TensorRT; int8-cpu for ONNX Runtime's CPU provider) made from an FP32 export."""

from __future__ import annotations

from pathlib import Path

from ifan_trt import precisions
from ifan_trt.calib.fp16 import DEFAULT_MAX_REL_ERROR
from ifan_trt.errors import IfanError
from ifan_trt.jobs.precision import PrecisionRequest, make_precision
from ifan_trt.commands.options import add_decode_budget, positive_float

from . import args as arg_groups

NEEDS_IMAGES = [p.name for p in precisions.TABLE if p.name in precisions.PREPARED and p.needs_images]
SUFFIXES = " / ".join(f"MODEL.{precisions.BY_NAME[n].suffix}.onnx" for n in precisions.PREPARED)


def register(subparsers) -> None:
    p = arg_groups.add_command(
        subparsers, "precision", "FP16 or INT8 graph of an FP32 export (what `ifan build` and ONNX Runtime run)",
        "Make the graph of one precision from an FP32 export. fp16: FP16 with FP32 I/O, every node measured on "
        "images, nodes whose activations approach the FP16 range or whose FP16 error is large stay FP32. int8, "
        "int8-fp16: TensorRT-style Q/DQ nodes (symmetric INT8, per-channel weights, per-tensor activations, "
        "convolution inputs only, IAC left float; int8-fp16 is FP16 elsewhere) calibrated with ONNX Runtime. "
        "int8-cpu: the graph ONNX Runtime's CPU provider runs in INT8.", run)
    p.add_argument("model", type=Path,
                   help="FP32 ONNX export (either IAC form), a checkpoint (.pth, exported first) or 'default'")
    p.add_argument("--to", required=True, choices=precisions.PREPARED,
                   help=f"the precision to make ({', '.join(NEEDS_IMAGES)} need --calib-images)")
    arg_groups.add_output(p, f"output ONNX (default: {SUFFIXES} beside the model)")
    arg_groups.add_calibration(p, images_help=f"folder of images ({', '.join(NEEDS_IMAGES)}: required; fp16: "
                                              "measured on, default the bundled samples)")
    p.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME",
                   help="fp16, int8-fp16: op types (e.g. IFAN_IAC, ConvTranspose) or node names to keep FP32 in any "
                        "case")
    p.add_argument("--cache", type=Path, help="int8, int8-fp16: calibration cache JSON (default: OUTPUT with "
                                              ".calib.json)")
    fp16 = p.add_argument_group("fp16 measurement")
    fp16.add_argument("--max-rel-error", type=positive_float,
                      help=f"keep a node FP32 when its FP16 relative error exceeds this (default: "
                           f"{DEFAULT_MAX_REL_ERROR:g})")
    fp16.add_argument("--no-measure", action="store_true",
                      help="convert without measuring (only --keep-fp32 stays FP32)")
    fp16.add_argument("--all", action="store_true", help="print every node in the report, not only the worst")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    row = precisions.get(args.to, "--to", precisions.PREPARED)
    if row.needs_images and args.calib_images is None:
        raise IfanError(f"--to {row.name}: needs --calib-images DIR (images to calibrate the INT8 scales on)")
    given = {"--max-rel-error": args.max_rel_error is not None, "--no-measure": args.no_measure, "--all": args.all}
    not_here = [flag for flag, on in given.items() if on and row.name != "fp16"]
    if row.name == "fp16":
        not_here += ["--cache"] if args.cache else []
    elif row.target == "cpu":
        not_here += [flag for flag, on in (("--keep-fp32", args.keep_fp32), ("--cache", args.cache)) if on]
    elif row.name == "int8":
        not_here += ["--keep-fp32"] if args.keep_fp32 else []
    if not_here:
        raise IfanError(f"{', '.join(not_here)}: not used by --to {row.name}")
    make_precision(PrecisionRequest(
        args.model, row.name, args.output, args.calib_images, args.calib_method, args.calib_count,
        arg_groups.calib_size(args), size_option="--calib-size", keep_fp32=tuple(args.keep_fp32),
        max_rel_error=args.max_rel_error, measure=not args.no_measure, show_all=args.all, cache=args.cache,
        overwrite=args.overwrite))  # the precision step logs what it wrote
    return 0
