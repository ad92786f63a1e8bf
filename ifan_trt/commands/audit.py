"""`ifan audit --fp32 A.onnx --candidate B.onnx --images DIR`: accuracy against FP32 on the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

from ifan_trt.calib import images
from ifan_trt.calib.audit import HEADER, audit, write_json, write_plot
from ifan_trt.table import format_table
from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file, same_file
from ifan_trt.options import add_decode_budget, float_range, positive_int
from ifan_trt.sizes import parse_model_size

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "audit", "PSNR/SSIM/max error of a reduced-precision graph against the FP32 graph",
                               "Run both graphs in ONNX Runtime (CPU) on a folder of images and compare outputs. "
                               "Exits 1 when any image is below --min-psnr.", run)
    p.add_argument("--fp32", type=Path, required=True, help="the FP32 reference graph ('default': the bundled one)")
    p.add_argument("--candidate", type=Path, required=True, help="the FP16/INT8 graph to check")
    p.add_argument("--images", type=Path, help="folder of images (default: the bundled samples)")
    p.add_argument("--count", type=positive_int, help="use only the first N images")
    arg_groups.add_size(p, "--size", "centre crop (default: whole image cropped to a multiple of 8)")
    p.add_argument("--min-psnr", type=float_range(0.0, 200.0), default=45.0, help="fail below this PSNR in dB (default: %(default)s)")
    arg_groups.add_json(p, "the results", stdout=True)
    p.add_argument("--plot", type=Path, help="write PSNR per image as a PNG (needs matplotlib)")
    arg_groups.add_overwrite(p)
    add_decode_budget(p)


def run(args) -> int:
    from ifan_trt.runtime.executors.backends import named_model

    args.fp32 = Path(named_model("onnx", args.fp32, "--fp32"))
    args.candidate = Path(named_model("onnx", args.candidate, "--candidate"))
    inputs = [args.fp32, args.candidate]
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            check_not_input(path, inputs, [args.images], what=flag)
            check_output_file(path, args.overwrite, what=flag)
    if args.json is not None and args.plot is not None and same_file(args.json, args.plot):
        raise IfanError(f"--plot {args.plot}: is the --json file; choose another")
    paths = images.find_images(args.images, args.count)
    result = audit(args.fp32, args.candidate, paths, parse_model_size(args.size, "--size") if args.size else None, args.min_psnr)
    print(format_table(HEADER, result.table_rows()))
    if args.json:
        write_json(result, args.json, args.overwrite)
    if args.plot:
        write_plot(result, args.plot, args.overwrite)
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict}: worst PSNR {result.worst_psnr:.2f} dB, mean {result.mean.psnr:.2f} dB "
          f"(threshold {args.min_psnr:g} dB, {len(paths)} image(s), size {result.size})")
    if not result.passed:
        print(f"ifan audit: {args.candidate}: PSNR below {args.min_psnr:g} dB", file=sys.stderr)
        return 1
    return 0
