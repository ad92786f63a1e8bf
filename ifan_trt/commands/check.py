"""`ifan check MODEL [--against REFERENCE]`: an ONNX graph against the checkpoint it was exported
from, or a reduced-precision graph against the FP32 graph (ifan_trt.jobs.check does the work)."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.jobs.check import DEFAULT_MIN_PSNR, CheckRequest, check
from ifan_trt.commands.options import add_decode_budget, float_range, nonneg_float, positive_int

from . import args as arg_groups
from .progress import bars

EXPORT_FLAGS = {"--batch": "batch", "--tol": "tol"}
PRECISION_FLAGS = {"--images": "images", "--limit": "limit", "--min-psnr": "min_psnr", "--plot": "plot"}


def register(subparsers) -> None:
    p = arg_groups.add_command(
        subparsers, "check", "check a model against a reference: its checkpoint, or the FP32 graph",
        "Against a checkpoint (none given: the bundled one, when the graph was exported from it): onnx.checker, "
        "strict shape inference, then ONNX Runtime (CPU) against PyTorch on synthetic images: max abs error and "
        "PSNR. Against an FP32 ONNX graph: both run in ONNX Runtime (CPU) on a folder of images; PSNR, SSIM and "
        "max error per image. Exit 1 above the tolerance or below --min-psnr.", run)
    p.add_argument("model", help="the ONNX graph to check (an export, or its FP16/INT8 graph), or 'default' (the "
                                 "bundled model's export)")
    p.add_argument("--against", metavar="REFERENCE",
                   help="a checkpoint (.pth): the export is compared with PyTorch; an FP32 ONNX graph or 'default' "
                        "(the bundled export): the graph is scored against it on images")
    arg_groups.add_size(p, "--size", "image size to run (multiples of 8; default: the graph's static size, else "
                                     "120x200 against a checkpoint and each image cropped to a multiple of 8 "
                                     "against a graph)")
    exported = p.add_argument_group("against a checkpoint")
    exported.add_argument("--batch", type=positive_int, help="images per run (default 1)")
    exported.add_argument("--tol", type=nonneg_float, help="max abs error allowed (default by the graph's "
                                                           "precision: fp32 1e-4, fp16 5e-2, int8 0.25)")
    graph = p.add_argument_group("against an FP32 graph")
    graph.add_argument("--images", type=Path, metavar="DIR", help="folder of images (default: the bundled samples)")
    graph.add_argument("--limit", type=positive_int, metavar="N", help="only the first N images")
    graph.add_argument("--min-psnr", type=float_range(0.0, 200.0),
                       help=f"fail below this PSNR in dB on any image (default: {DEFAULT_MIN_PSNR:g})")
    graph.add_argument("--plot", type=Path, metavar="FILE", help="write PSNR per image as a PNG (needs matplotlib)")
    arg_groups.add_json(p, stdout=True)
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    from ifan_trt.errors import IfanError
    from ifan_trt.files import check_not_input, check_output_file, same_file
    from ifan_trt.jobs.check import check_kind
    from ifan_trt.sizes import parse_model_size

    kind = check_kind(args.against)
    other = PRECISION_FLAGS if kind == "export" else EXPORT_FLAGS
    given = [flag for flag, dest in other.items() if getattr(args, dest) is not None]
    if given:
        needs = "an FP32 ONNX graph (--against MODEL.onnx)" if kind == "export" else "a checkpoint (--against .pth)"
        raise IfanError(f"{', '.join(given)}: for a check against {needs}")
    from ifan_trt.models import is_default

    inputs = [p for p in (args.model, args.against) if p is not None and not is_default(p)]
    arg_groups.check_json(args, inputs, [args.images])
    if args.plot is not None:
        check_not_input(args.plot, inputs, [args.images], what="--plot")
        check_output_file(args.plot, args.overwrite, what="--plot")
        if args.json is not None and same_file(args.json, args.plot):
            raise IfanError(f"--plot {args.plot}: is the --json file; choose another")
    result = check(CheckRequest(args.model, args.against, parse_model_size(args.size, "--size") if args.size else None,
                                args.batch, args.tol, args.images, args.limit, args.min_psnr, progress=bars()))
    for line in result.lines():
        print(line)
    if args.json:
        from ifan_trt.reports import write_json

        write_json(args.json, result.to_dict())
    if args.plot:
        from ifan_trt.calib.audit import write_plot

        write_plot(result.report, args.plot, args.overwrite)
    if not result.passed:
        from ifan_trt.log import SUMMARY, get as get_logger

        get_logger(__name__).error(f"{result.model}: " + ("above the tolerance" if kind == "export"
                                                          else f"PSNR below {result.report.min_psnr:g} dB"),
                                   extra={"verdict": SUMMARY})  # a verdict: it survives --quiet
        return 1
    return 0
