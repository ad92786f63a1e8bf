"""`ifan verify`: check an exported ONNX graph and compare ONNX Runtime (CPU) with PyTorch."""

from __future__ import annotations

import argparse

from ifan_trt.contract import META
from ifan_trt.options import nonneg_float, positive_int

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "verify", "check an exported ONNX graph against PyTorch",
                               "onnx.checker full check, strict shape inference, then ONNX Runtime on the CPU (either "
                               "IAC form) against the PyTorch model: max abs error and PSNR. Exit 1 above the "
                               "tolerance.", run)
    p.add_argument("onnx", help="ONNX file written by `ifan export`, or 'default' (the bundled model's export)")
    arg_groups.add_model(p, kinds=("checkpoint",), backend=False, device=None, threads_option=False,
                         checkpoint_options=False, title="reference",
                         description="the checkpoint the graph was exported from (none given: the bundled model if "
                                     "the graph came from it; otherwise only the checks and a run, no reference)")
    arg_groups.add_size(p, "--shape", "image size to run (multiples of 8; default: the graph's static size or 120x200)")
    p.add_argument("--batch", type=positive_int, default=1, help="batch size to run (default 1)")
    arg_groups.add_json(p)
    arg_groups.add_overwrite(p)
    p.add_argument("--tol", type=nonneg_float, help="max abs error allowed (default by the graph's "
                                                    "precision: fp32 1e-4, fp16 5e-2, int8 0.25)")


def report_and_status(path, reference, shape, batch: int, tol: float | None, json_path=None) -> int:
    """Run the verification, print its report, return the exit status (1 above tolerance)."""
    from ifan_trt.export.verify import verify_onnx

    report = verify_onnx(path, reference, shape=shape, batch=batch, tolerance=tol)
    for line in report.lines():
        print(line)
    if json_path:
        from ifan_trt.reports import write_json

        write_json(json_path, {"onnx": str(report.path), "metadata": report.metadata, "shape": list(report.shape),
                               "checks": report.checks, "max_abs_error": report.max_abs_error,
                               "psnr_db": report.psnr_db, "tolerance": report.tolerance, "passed": report.passed})
    return 0 if report.passed else 1


def run(args: argparse.Namespace) -> int:
    from ifan_trt.sizes import parse_model_size as parse_shape

    shape = parse_shape(args.shape) if args.shape else None
    from ifan_trt.models import ModelRef, is_default

    if is_default(args.onnx):  # the bundled model's export
        args.onnx = str(ModelRef.parse(args.onnx, "onnx", "--onnx").path)
    arg_groups.check_json(args, [args.onnx, args.checkpoint])
    return report_and_status(args.onnx, args.checkpoint or _bundled_if_source(args.onnx), shape,
                             args.batch, args.tol, args.json)


def _bundled_if_source(path) -> str | None:
    """The bundled checkpoint when the graph's recorded SHA-256 is its, else None."""
    from ifan_trt.errors import IfanError
    from ifan_trt.export.graph import read_metadata

    try:
        from ifan_trt.files import sha256_file
        from ifan_trt.weights import default_checkpoint_path

        bundled = default_checkpoint_path()
    except (ImportError, IfanError):  # no torch or no bundled model in this install
        return None
    try:
        recorded = read_metadata(path).get(META.checkpoint_sha256)
    except Exception:  # missing or unreadable file: verify_onnx reports it with its reason
        return None
    return str(bundled) if recorded == sha256_file(bundled) else None
