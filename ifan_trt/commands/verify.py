"""`ifan verify`: check an exported ONNX graph and compare ONNX Runtime (CPU) with PyTorch."""

from __future__ import annotations

import argparse
from ifan_trt.contract import META


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify", help="check an exported ONNX graph against PyTorch",
        description="onnx.checker full check, strict shape inference, then ONNX Runtime on the CPU "
                    "(either IAC form) against the PyTorch model: max abs error and PSNR. Exit 1 "
                    "above the tolerance.")
    p.add_argument("onnx", help="ONNX file written by `ifan export`")
    p.add_argument("--checkpoint", help="checkpoint the graph was exported from (default: the "
                                        "bundled model if the graph came from it; otherwise only "
                                        "the checks and a run, no reference)")
    p.add_argument("--shape", metavar="HxW", help="image size to run (multiples of 8; default: the "
                                                  "graph's static size or 120x200)")
    p.add_argument("--batch", type=int, default=1, help="batch size to run (default 1)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (with machine, versions, command)")
    p.add_argument("--tol", type=float, help="max abs error allowed (default by the graph's "
                                             "precision: fp32 1e-4, fp16 5e-2, int8 0.25)")
    p.set_defaults(func=run)


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
    from ifan_trt.errors import IfanError
    from ifan_trt.sizes import parse_model_size as parse_shape

    shape = parse_shape(args.shape) if args.shape else None
    if args.onnx == "default":  # the bundled model's export
        from ifan_trt.weights import default_onnx_path

        args.onnx = str(default_onnx_path())
    if args.batch < 1:
        raise IfanError(f"--batch {args.batch}: must be >= 1")
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
