"""`ifan export`: a checkpoint to an ONNX graph (IAC as the TensorRT plugin node or standard ops)."""

from __future__ import annotations

import argparse

from ..options import opset, positive_int
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


def peak_line(path, shape, batch: int) -> str:
    """The export's liveness line: at its static shape, else at 720x1280; as exported (FP32) and
    as the FP16 engine will hold it."""
    from ifan_trt.export.graph import load_model
    from ifan_trt.export.liveness import format_peak, peak_report

    model = load_model(path)
    shape = shape or (720, 1280)
    return format_peak(peak_report(model, shape, batch), peak_report(model, shape, batch, "float16"))


def run(args: argparse.Namespace) -> int:
    from ifan_trt.jobs.export import ExportRequest, export
    from ifan_trt.sizes import parse_model_size as parse_shape

    from ifan_trt.errors import IfanError

    if args.channel_order and args.io != "uint8":
        raise IfanError("--channel-order: applies to --io uint8 only")
    shape = parse_shape(args.static_size, "--static-size") if args.static_size else None
    batch = args.static_batch
    split = {"on": True, "off": False, "auto": "auto"}[args.iac_split]  # the export's iac_split values
    done = export(ExportRequest(args.checkpoint or "default", args.output, args.iac, shape, batch, args.opset,
                                split, not args.no_prune, args.in_bit, args.iac_mode, args.overwrite,
                                io=args.io, channel_order=args.channel_order or "bgr"))
    result, loaded = done.result, done.loaded
    cfg = result.config
    dims = "x".join([str(batch or "B"), "3", *(map(str, shape) if shape else ("H", "W"))])
    if args.io == "uint8":
        dims = "x".join([str(batch or "B"), *(map(str, shape) if shape else ("H", "W")), "3"]) + \
            f" uint8 {(args.channel_order or 'bgr').upper()}"
    form = result.iac_form + (", one node per iteration" if result.iac_split else "")
    print(f"{result.path}: {cfg.variant} (N={cfg.n_iters}, {cfg.iac_mode} IAC as {form}, "
          f"{result.filter_layout} filter layout), input {dims}, opset {result.opset}, "
          f"exported in {result.seconds:.1f} s")
    full, ours = result.filter_bytes_full, result.filter_bytes_exported
    note = f"-{100 * (full - ours) / full:.1f}%, pruned losslessly" if ours < full else "not pruned"
    print(f"filter tensor F at 720x1280 (FP32, batch 1): {full / 1e6:.1f} MB full -> {ours / 1e6:.1f} MB ({note})"
          + ("; never written (split IAC)" if result.iac_split else ""))
    print(peak_line(result.path, shape, batch or 1))
    if args.check:
        from ifan_trt.jobs.check import CheckRequest, check

        checked = check(CheckRequest(result.path, loaded, shape, batch))
        for line in checked.lines():
            print(line)
        return 0 if checked.passed else 1
    return 0
