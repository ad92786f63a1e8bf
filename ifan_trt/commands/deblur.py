"""`ifan deblur INPUT... -o OUT`: images, folders, globs and video files through any backend
(PyTorch checkpoint, ONNX model, TensorRT engine), tiled when an input exceeds the engine or a
pixel budget, or through an `ifan serve` server. The job: ifan_trt.jobs.deblur."""

from __future__ import annotations

import argparse
import sys

from ifan_trt.commands.options import add_decode_budget, positive_int
from ifan_trt.runtime.images.video import VIDEO_EXTENSIONS

from . import args as arg_groups
from .progress import Progress, bars


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "deblur", "deblur images and videos (files, folders, globs)",
                               "Deblur images and videos. OUT is a file for a single input file, else a folder. "
                               "Videos keep their frame count, size and frame rate.", run)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=f"image files, folders or glob patterns; video files ({', '.join(VIDEO_EXTENSIONS)})")
    arg_groups.add_output(p, "output file (one input) or folder (default for one image: NAME.deblurred.EXT in "
                             "the current folder)")
    arg_groups.add_model(p)
    arg_groups.add_batch(p)
    arg_groups.add_in_flight(p)
    arg_groups.add_tiling(p)
    add_decode_budget(p)
    p.add_argument("--left", help="left dual-pixel view (IFAN_dual, one input)")
    p.add_argument("--right", help="right dual-pixel view (IFAN_dual, one input)")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    arg_groups.add_overwrite(p)
    arg_groups.add_crop_official(p)
    p.add_argument("--compare", metavar="FILE",
                   help="also write input and output side by side to FILE (one input)")
    p.add_argument("--server", metavar="URL",
                   help="send the images to an `ifan serve` server (http://HOST:8000 or grpc://HOST:8001)")
    p.add_argument("--concurrency", type=positive_int, default=4, metavar="K",
                   help="requests in flight with --server (default 4)")


def request_from(args: argparse.Namespace):
    from ifan_trt.jobs.deblur import DeblurRequest

    return DeblurRequest(tuple(args.inputs), args.output, arg_groups.run_model_from(args), args.batch,
                         **arg_groups.tiling_fields(args), crop_official=args.crop_official, left=args.left,
                         right=args.right, compare=args.compare, recursive=args.recursive, overwrite=args.overwrite,
                         in_flight=args.in_flight, server=args.server, concurrency=args.concurrency,
                         names=arg_groups.flag)


def run(args: argparse.Namespace) -> int:
    from ifan_trt.jobs.deblur import deblur

    arg_groups.check_model_options(args)
    request = request_from(args)
    steps = Progress("ifan deblur", getattr(args, "verbose", False))
    try:
        result = deblur(request, bars(), steps)
    finally:
        steps.close()
    if request.server is None:
        print(f"ifan deblur: {result.ran}", file=sys.stderr)  # said once, after the work
    if result.failed:  # each failed input and the count: already said (errors, kept under --quiet)
        return result.status
    if result.total == 1:
        print(f"wrote {result.written[0]}" + (f" and {args.compare}" if args.compare else ""))
    else:
        print(f"wrote {result.total} {'files' if result.videos else 'images'} to {result.output}")
    return 0
