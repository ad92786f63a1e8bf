"""`ifan export`: a checkpoint to an ONNX graph (IAC as the TensorRT plugin node or standard ops)."""

from __future__ import annotations

import argparse

from ..files import check_not_input, check_output_file
from ..options import opset, positive_int
from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "export", "export a checkpoint to ONNX",
                               "Export an IFAN checkpoint (official or ifan-trt) to ONNX with dynamic batch, height "
                               "and width, named I/O (input[, left, right] -> output) and ifan.* metadata.", run)
    arg_groups.add_model(p, kinds=("checkpoint",), backend=False, device=None, threads_option=False,
                         description="none given: the bundled model")
    arg_groups.add_output(p, "ONNX file to write", required=True)
    p.add_argument("--iac", "--iac-form", dest="iac", choices=("plugin", "onnx"), default="plugin",
                   help="IAC as one IFAN_IAC plugin node (TensorRT plugin) or as standard ONNX ops "
                        "(runs anywhere) (default: plugin)")
    p.add_argument("--iac-split", action="store_true",
                   help="one IAC node per iteration, each fed by its own slice of the filter predictor's "
                        "1x1 conv, so the filter tensor F is never written (lower peak memory)")
    arg_groups.add_size(p, "--shape", "static height and width (multiples of 8); default dynamic")
    p.add_argument("--batch", type=positive_int, metavar="B", help="static batch size; default dynamic")
    p.add_argument("--no-prune", action="store_true",
                   help="keep the filter predictor's never-read kernel2 rows (full filter layout)")
    p.add_argument("--opset", type=opset, default=None, help="ONNX opset (18 to 23; default 19)")
    arg_groups.add_overwrite(p)
    p.add_argument("--verify", action="store_true",
                   help="then check the file and compare ONNX Runtime with PyTorch (as `ifan verify`)")


def peak_line(path, shape, batch: int) -> str:
    """The export's liveness line: at its static shape, else at 720x1280; as exported (FP32) and
    as the FP16 engine will hold it."""
    from ifan_trt.export.graph import load_model
    from ifan_trt.export.liveness import format_peak, peak_report

    model = load_model(path)
    shape = shape or (720, 1280)
    return format_peak(peak_report(model, shape, batch), peak_report(model, shape, batch, "float16"))


def run(args: argparse.Namespace) -> int:
    from ifan_trt.checkpoint import load_checkpoint
    from ifan_trt.contract import DEFAULT_OPSET
    from ifan_trt.models import ModelRef
    from ifan_trt.sizes import parse_model_size as parse_shape
    from ifan_trt.export.onnx_export import export_onnx

    shape = parse_shape(args.shape) if args.shape else None
    if args.checkpoint is None:
        args.checkpoint = "default"
    args.checkpoint = str(ModelRef.parse(args.checkpoint, "checkpoint", "--checkpoint").path)
    check_not_input(args.output, [args.checkpoint])
    check_output_file(args.output, args.overwrite, create_parent=True)
    loaded = load_checkpoint(args.checkpoint, in_bit=args.in_bit, iac_mode=args.iac_mode)
    result = export_onnx(loaded, args.output, iac_form=args.iac, shape=shape, prune=not args.no_prune,
                         opset=args.opset or DEFAULT_OPSET, batch=args.batch, iac_split=args.iac_split,
                         overwrite=args.overwrite)
    cfg = result.config
    dims = "x".join([str(args.batch or "B"), "3", *(map(str, shape) if shape else ("H", "W"))])
    form = result.iac_form + (", one node per iteration" if result.iac_split else "")
    print(f"{result.path}: {cfg.variant} (N={cfg.n_iters}, {cfg.iac_mode} IAC as {form}, "
          f"{result.filter_layout} filter layout), input {dims}, opset {result.opset}, "
          f"exported in {result.seconds:.1f} s")
    full, ours = result.filter_bytes_full, result.filter_bytes_exported
    note = f"-{100 * (full - ours) / full:.1f}%, pruned losslessly" if ours < full else "not pruned"
    print(f"filter tensor F at 1280x720 (FP32, batch 1): {full / 1e6:.1f} MB full -> {ours / 1e6:.1f} MB ({note})"
          + ("; never written (split IAC)" if result.iac_split else ""))
    print(peak_line(result.path, shape, args.batch or 1))
    if args.verify:
        from .verify import report_and_status

        return report_and_status(result.path, loaded, shape, args.batch or 1, None)
    return 0
