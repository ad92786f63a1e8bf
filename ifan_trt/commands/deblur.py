"""`ifan deblur INPUT... -o OUT`: images, folders, globs and video files through any backend
(PyTorch checkpoint, ONNX model, TensorRT engine), tiled when an input exceeds the engine or a
pixel budget. The work itself is ifan_trt.runtime.images.batch."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ifan_trt.errors import IfanError
from ifan_trt.failures import MEMORY_HINT, describe, one_line
from ifan_trt.log import SKIPPED, get as get_logger
from ifan_trt.files import check_not_input
from ifan_trt.imageio import read_image
from ifan_trt.options import add_decode_budget, positive_int

from . import args as arg_groups
from .progress import Progress
from ifan_trt.runtime.images.video import VIDEO_EXTENSIONS, is_video

if TYPE_CHECKING:
    from ifan_trt.runtime.images.batch import DeblurOptions

log = get_logger(__name__)


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


def _options(args) -> DeblurOptions:
    from ifan_trt.runtime.images.batch import DeblurOptions

    return DeblurOptions(batch=args.batch, tiling=arg_groups.tiling_from(args), crop_official=args.crop_official,
                         left=_read_view(args.left, "--left"), right=_read_view(args.right, "--right"),
                         compare=Path(args.compare) if args.compare else None, overwrite=args.overwrite,
                         in_flight=args.in_flight)


def _read_view(path: str | None, flag: str):
    if not path:
        return None
    try:
        return read_image(path)
    except IfanError as exc:
        raise IfanError(f"{flag} {exc}") from None


def _check_request(args, jobs) -> None:
    """Every output and option problem, before any model is opened."""
    from ifan_trt.runtime.images.batch import Job, check_targets

    views = (args.left, args.right)
    check_targets(jobs, args.overwrite, views)
    if args.recursive:  # a later run would read the outputs as inputs
        folders = [item for item in args.inputs if Path(item).is_dir()]
        check_not_input(args.output, [], folders, what="-o")
    if (args.left or args.right or args.compare) and len(jobs) != 1:
        raise IfanError("--left/--right and --compare go with exactly one input image")
    if args.compare:
        if is_video(jobs[0].source):
            raise IfanError("--compare writes an image; it does not apply to a video input")
        if Path(args.compare).resolve() == jobs[0].target.resolve():
            raise IfanError(f"--compare {args.compare}: is the output (-o); choose another file")
        check_targets([Job(jobs[0].source, Path(args.compare))], args.overwrite, views)
    arg_groups.check_model_options(args)


def _default_output(inputs: list[str]) -> str:
    """One image file without -o: NAME.deblurred.EXT in the current folder."""
    path = Path(inputs[0])
    if len(inputs) == 1 and not path.exists() and not any(c in inputs[0] for c in "*?["):
        raise IfanError(f"{path}: no such file or folder")
    if len(inputs) != 1 or not path.is_file():
        raise IfanError("-o OUT is needed for several inputs, folders and globs (a single image may omit it)")
    return path.stem + ".deblurred" + path.suffix


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ifan_trt.runtime.executors.backends import open_executor, run_summary
    from ifan_trt.runtime.images.batch import Job, collect_jobs, deblur_jobs

    if args.output is None:
        args.output = _default_output(args.inputs)
    jobs = collect_jobs(args.inputs, args.output, args.recursive)
    _check_request(args, jobs)
    if args.server:
        from ifan_trt.runtime.serving.serve_client import deblur_remote

        return deblur_remote(args, jobs)
    options = _options(args)
    steps = Progress("ifan deblur", getattr(args, "verbose", False))
    with steps.step("opening the model"):
        executor = open_executor(args.backend, checkpoint=args.checkpoint, in_bit=args.in_bit,
                                 iac_mode=args.iac_mode, threads=args.threads, onnx=args.onnx, engine=args.engine,
                                 device=args.device, plugin=args.plugin)
    if (options.left or options.right) and not executor.info.dual:
        executor.close()
        raise IfanError(f"--left/--right: {executor.info.variant} is not a dual-pixel model (IFAN_dual); "
                        "drop them or pass a dual checkpoint")
    summary = run_summary(executor)  # said once, after the work (a single failing input gets one error line)
    if args.in_flight > 1 and callable(getattr(executor, "pipeline", None)) and any(is_video(j.source) for j in jobs):
        summary += f"; video batches {args.in_flight} in flight"
    if options.compare is not None:  # what ran, under the output in the comparison
        options = replace(options, compare_label=summary)
    failures = 0

    def fail(job: Job, exc: Exception, size: tuple[int, int] | None = None) -> None:
        nonlocal failures
        message = describe(exc, str(job.source))
        if message is None:  # a bug: the CLI boundary reports it
            raise exc
        if size and MEMORY_HINT in message:
            message = message.replace(": out of memory", f": out of memory at {size[0]}x{size[1]}", 1)
        if len(jobs) == 1:
            raise IfanError(message) from None
        failures += 1
        log.error(one_line(message), extra={"verdict": SKIPPED})

    with executor, tqdm(total=len(jobs), unit="img", disable=len(jobs) < 2 or not sys.stderr.isatty(),
                        file=sys.stderr) as progress:
        try:
            deblur_jobs(executor, jobs, options, fail, progress, steps)
        finally:
            steps.close()
    print(f"ifan deblur: {summary}", file=sys.stderr)
    if failures:
        print(f"ifan deblur: {failures} of {len(jobs)} inputs failed", file=sys.stderr)
        return 1
    if len(jobs) == 1:
        print(f"wrote {jobs[0].target}" + (f" and {args.compare}" if args.compare else ""))
    else:
        kind = "images" if not any(is_video(j.source) for j in jobs) else "files"
        print(f"wrote {len(jobs)} {kind} to {args.output}")
    return 0
