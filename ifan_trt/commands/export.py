"""`ifan export`: a checkpoint to an ONNX graph (IAC as the TensorRT plugin node or standard ops)."""

from __future__ import annotations

import argparse

from .options import opset, positive_int
from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "export", "export a checkpoint to ONNX",
                               "Export an IFAN checkpoint (official or ifan-trt) to ONNX with dynamic batch, height "
                               "and width, named I/O (input[, left, right] -> output) and ifan.* metadata.", run)
    arg_groups.add_model(p, kinds=("checkpoint",), backend=False, device=None, threads_option=False,
                         description="none given: the bundled model")
    arg_groups.add_output(p, "ONNX file to write", required=True)
    p.add_argument("--iac", choices=("plugin", "onnx"), default="plugin",
                   help="IAC as one IFAN_IAC plugin node (TensorRT plugin) or as standard ONNX ops "
                        "(runs anywhere) (default: plugin)")
    arg_groups.add_iac_split(p, "export", default="off")
    p.add_argument("--io", choices=("float", "uint8"), default="float",
                   help="float: the network's own I/O (Bx3xHxW float in [0, 1], H and W multiples of 8); uint8: "
                        "frames as they arrive (BxHxWx3 uint8, any H and W), converted, padded and cropped back "
                        "inside the graph (default: float)")
    p.add_argument("--channel-order", choices=("bgr", "rgb"), default=None,
                   help="with --io uint8: the frames' channel order (default: bgr, OpenCV's)")
    arg_groups.add_size(p, "--static-size", "fix the graph's height and width (multiples of 8; default: dynamic)")
    p.add_argument("--static-batch", type=positive_int, metavar="N", help="fix the graph's batch (default: dynamic)")
    p.add_argument("--no-prune", action="store_true",
                   help="keep the filter predictor's never-read kernel2 rows (full filter layout)")
    p.add_argument("--opset", type=opset, default=None, help="ONNX opset (18 to 23; default 19)")
    arg_groups.add_overwrite(p)
    p.add_argument("--check", action="store_true",
                   help="then check the file and compare ONNX Runtime with PyTorch (as `ifan check`)")


def run(args: argparse.Namespace) -> int:
    from ifan_trt.errors import IfanError
    from ifan_trt.jobs.export import ExportRequest, export
    from ifan_trt.sizes import parse_model_size as parse_shape

    if args.channel_order and args.io != "uint8":
        raise IfanError("--channel-order: applies to --io uint8 only")
    shape = parse_shape(args.static_size, "--static-size") if args.static_size else None
    split = {"on": True, "off": False, "auto": "auto"}[args.iac_split]  # the export's iac_split values
    done = export(ExportRequest(args.checkpoint or "default", args.output, args.iac, shape, args.static_batch,
                                args.opset, split, not args.no_prune, args.in_bit, args.iac_mode, args.overwrite,
                                io=args.io, channel_order=args.channel_order or "bgr"))
    print("\n".join(done.lines()))
    if args.check:
        from ifan_trt.jobs.check import CheckRequest, check

        checked = check(CheckRequest(done.path, done.loaded, shape, args.static_batch))
        print("\n".join(checked.lines()))
        return 0 if checked.passed else 1
    return 0
