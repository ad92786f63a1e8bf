"""`ifan calibrate MODEL.onnx --images DIR -o OUT.onnx`: INT8 Q/DQ graph for TensorRT."""

from __future__ import annotations

from pathlib import Path

from ifan_trt.calib import images, int8, prepare


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="INT8 Q/DQ graph calibrated on images (optionally FP16 elsewhere)",
        description="Insert TensorRT-style Q/DQ nodes (symmetric INT8, per-channel weights, per-tensor "
                    "activations, convolution inputs only, IAC left float) calibrated with ONNX Runtime.")
    p.add_argument("model", type=Path,
                   help="FP32 ONNX export (either IAC form), a checkpoint (.pth, exported first) or 'default'")
    p.add_argument("--images", type=Path, required=True, help="folder of calibration images")
    p.add_argument("-o", "--output", type=Path, help="output ONNX (default: MODEL.int8.onnx / MODEL.int8-fp16.onnx)")
    p.add_argument("--method", choices=int8.METHODS, default="percentile",
                   help="range method (default: %(default)s, the most accurate and fastest measured here)")
    p.add_argument("--count", type=int, default=prepare.DEFAULT_CALIB_COUNT,
                   help="number of images (first by name, default: %(default)s)")
    p.add_argument("--size", default="256x256", help="calibration crop HxW (default: %(default)s)")
    p.add_argument("--cache", type=Path, help="calibration cache JSON (default: OUTPUT with .calib.json)")
    p.add_argument("--fp16", action="store_true", help="the int8-fp16 graph: FP16 outside the Q/DQ")
    p.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME",
                   help="with --fp16: op types or node names kept FP32")
    p.set_defaults(func=run)


def run(args) -> int:
    out = args.output or args.model.with_name(f"{args.model.stem}.{'int8-fp16' if args.fp16 else 'int8'}.onnx")
    cache = args.cache or out.with_name(f"{out.stem}.calib.json")
    source = prepare.source_onnx(args.model, out)
    prepare.make_int8(source, out, args.images, args.method, args.count, images.parse_size(args.size), cache,
                      args.fp16, args.keep_fp32)
    return 0
