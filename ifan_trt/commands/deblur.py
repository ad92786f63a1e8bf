"""`ifan deblur INPUT... -o OUT`: images, folders, globs and video files through any backend
(PyTorch checkpoint, ONNX model, TensorRT engine), tiled when an input exceeds the engine or a
pixel budget."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.imageio import EXTENSIONS, encode_image, read_image, side_by_side, write_bytes_atomic, write_image
from ifan_trt.runtime.tiling import DEFAULT_OVERLAP
from ifan_trt.runtime.video import VIDEO_EXTENSIONS, is_video


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def register(subparsers) -> None:
    p = subparsers.add_parser("deblur", help="deblur images and videos (files, folders, globs)",
                              description="Deblur images and videos. OUT is a file for a single input file, "
                                          "else a folder. Videos keep their frame count, size and frame rate.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=f"image files, folders or glob patterns; video files ({', '.join(VIDEO_EXTENSIONS)})")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output file (one input) or folder (default for one image: NAME.deblurred.EXT in the "
                        "current folder)")
    p.add_argument("--checkpoint", help="official IFAN or ifan-trt checkpoint, or 'default' (the bundled model)")
    p.add_argument("--onnx", help="exported ONNX model (run with ONNX Runtime), or 'default' (the bundled "
                                  "model's export; also what runs when no model is given and ONNX Runtime is installed)")
    p.add_argument("--engine", help="TensorRT engine (its .json sidecar beside it)")
    p.add_argument("--backend", default="auto",
                   help="auto, tensorrt, onnxruntime or torch (default auto: TensorRT for an engine on a GPU, "
                        "else ONNX Runtime, else PyTorch for a checkpoint)")
    p.add_argument("--device", default="auto", help="ONNX Runtime device: auto, cpu, cuda, tensorrt")
    p.add_argument("--plugin", metavar="LIB", help="IFAN_IAC plugin library for engines (default: the installed one)")
    p.add_argument("--batch", type=int,
                   help="video frames or same-size images per run (default: the engine's largest batch, up to 8; "
                        "1 on CPU backends)")
    p.add_argument("--tile", metavar="HxW", help="run in tiles of this size (multiples of 8), blended over --overlap")
    p.add_argument("--max-pixels", type=int, metavar="N", help="tile inputs larger than N pixels (memory budget)")
    p.add_argument("--overlap", type=int, help=f"tile overlap in pixels (default {DEFAULT_OVERLAP}: tiled output "
                                                "within 40 dB PSNR of the full frame, measured)")
    p.add_argument("--in-bit", type=int, choices=(8, 16), help="the model's input depth: 16 for IFAN_16bit")
    p.add_argument("--iac-mode", choices=("official", "corrected"),
                   help="IAC mode for official checkpoints (default: official, what they were trained with)")
    p.add_argument("--left", help="left dual-pixel view (IFAN_dual, one input)")
    p.add_argument("--right", help="right dual-pixel view (IFAN_dual, one input)")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs never are)")
    p.add_argument("--crop-official", action="store_true",
                   help="crop to a multiple of 8 as the official evaluation does, instead of pad and crop back")
    p.add_argument("--compare", metavar="FILE",
                   help="also write input and output side by side to FILE (one input)")
    p.add_argument("--threads", type=int, help="CPU threads for the backend")
    p.set_defaults(func=run)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    """The folder's images; a paired set (source/target, DPDD, RealDOF, `ifan synth`) gives its
    blurry source images (ifan_trt.datasets owns the layouts)."""
    from ifan_trt.datasets import find_images, layout_of

    if not recursive and layout_of(folder).name != "plain":
        return find_images(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and _is_image(p) and not p.name.startswith("."))


def collect_jobs(inputs: list[str], output: str, recursive: bool) -> list[Job]:
    """Map every input image to its output path. A single file may go to a file; else OUT is a folder."""
    found: list[tuple[Path, Path]] = []  # (image, path relative to the output folder)
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = _folder_images(path, recursive)
            if not images:
                raise IfanError(f"{path}: no images ({', '.join(EXTENSIONS)}) in this folder"
                                + ("" if recursive else "; add --recursive for sub-folders"))
            found += [(p, p.relative_to(path)) for p in images]
        elif path.exists():
            found.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive) if Path(m).is_file())
            if not matches:
                raise IfanError(f"{item}: the pattern matches no file")
            found += [(p, Path(p.name)) for p in matches]
        else:
            raise IfanError(f"{path}: no such file or folder")

    out = Path(output)
    # one input file and an OUT with an extension: OUT is the output file (its format is checked later)
    single = len(found) == 1 and not Path(inputs[0]).is_dir() and not out.is_dir() and bool(out.suffix)
    if single:
        return [Job(found[0][0], out)]
    if out.exists() and not out.is_dir():
        raise IfanError(f"{out}: exists and is not a folder; several inputs need an output folder")
    jobs = [Job(src, out / rel) for src, rel in found]
    targets: dict[Path, Path] = {}
    for job in jobs:
        key = job.target.resolve()
        if key in targets:
            raise IfanError(f"{job.source} and {targets[key]} would both be written to {job.target}")
        targets[key] = job.source
    return jobs


def _default_output(inputs: list[str]) -> str:
    """One image file without -o: NAME.deblurred.EXT in the current folder."""
    path = Path(inputs[0])
    if len(inputs) != 1 or not path.is_file():
        raise IfanError("-o OUT is needed for several inputs, folders and globs (a single image may omit it)")
    return path.stem + ".deblurred" + path.suffix


def _check_targets(jobs: list[Job], overwrite: bool) -> None:
    sources = {job.source.resolve() for job in jobs}
    for job in jobs:
        if job.target.resolve() in sources:
            raise IfanError(f"{job.target}: is an input; choose another output (inputs are never overwritten)")
        if job.target.exists() and not overwrite:
            raise IfanError(f"{job.target}: exists; pass --overwrite to replace it")
        if is_video(job.source):
            if not is_video(job.target):
                raise IfanError(f"{job.target}: a video input needs a video output; use one of {', '.join(VIDEO_EXTENSIONS)}")
        elif job.target.suffix.lower() not in EXTENSIONS:
            raise IfanError(f"{job.target}: unsupported output format; use one of {', '.join(EXTENSIONS)}")


def _checked_jobs(args: argparse.Namespace) -> list[Job]:
    """The jobs, with every option and output path checked before any model is opened."""
    if args.output is None:
        args.output = _default_output(args.inputs)
    jobs = collect_jobs(args.inputs, args.output, args.recursive)
    _check_targets(jobs, args.overwrite)
    if (args.left or args.right or args.compare) and len(jobs) != 1:
        raise IfanError("--left/--right and --compare go with exactly one input image")
    if args.compare:
        if is_video(jobs[0].source):
            raise IfanError("--compare writes an image; it does not apply to a video input")
        _check_targets([Job(jobs[0].source, Path(args.compare))], args.overwrite)
    if args.batch is not None and args.batch < 1:
        raise IfanError(f"--batch {args.batch}: must be >= 1")
    if args.overlap is not None and args.overlap < 0:
        raise IfanError(f"--overlap {args.overlap}: must be >= 0")
    return jobs


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ifan_trt.runtime.backends import open_executor, run_summary
    from ifan_trt.runtime.pipeline import Tiling
    from ifan_trt.runtime.tiling import parse_tile

    jobs = _checked_jobs(args)
    tiling = Tiling(tile=parse_tile(args.tile) if args.tile else None, max_pixels=args.max_pixels,
                    overlap=DEFAULT_OVERLAP if args.overlap is None else args.overlap)
    left = read_image(args.left) if args.left else None
    right = read_image(args.right) if args.right else None

    executor = open_executor(args.backend, checkpoint=args.checkpoint, in_bit=args.in_bit,
                             iac_mode=args.iac_mode, threads=args.threads, onnx=args.onnx, engine=args.engine,
                             device=args.device, plugin=args.plugin)
    summary = run_summary(executor)  # said once, after the work (a single failing input gets one error line)
    failures = 0

    def fail(job: Job, exc: Exception) -> None:
        nonlocal failures
        message = getattr(exc, "strerror", None) or str(exc)
        if not message.startswith(str(job.source)) and not message.startswith(str(job.target)):
            message = f"{job.source}: {message}"
        if len(jobs) == 1:
            raise IfanError(message) from None
        failures += 1
        progress.write(f"ifan deblur: skipped {message}", file=sys.stderr)

    with executor, tqdm(total=len(jobs), unit="img", disable=len(jobs) < 2, file=sys.stderr) as progress:
        single = bool(left or right or args.compare) or executor.info.dual
        for chunk in _chunks(jobs, 1 if single else _batch_size(executor, args.batch)):
            if is_video(chunk[0].source):
                try:
                    chunk[0].target.parent.mkdir(parents=True, exist_ok=True)
                    _deblur_video(executor, chunk[0], args.batch, tiling)
                except ERRORS as exc:
                    fail(chunk[0], exc)
            else:
                _deblur_image_jobs(executor, chunk, args, left, right, tiling, fail)
            progress.update(len(chunk))
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


ERRORS = (IfanError, ValueError, OSError)  # reported per input; anything else is a bug and shows its traceback


def _batch_size(executor, requested: int | None, h: int | None = None, w: int | None = None) -> int:
    """Frames or same-size images per run: as asked, else the engine's largest batch (up to 8);
    CPU backends gain nothing from batching, so 1 there. With a size, also within what the engine
    takes at that size (images are split further by the pipeline when larger)."""
    from ifan_trt.runtime.padding import padded_size

    if h is not None:
        limit = executor.max_batch(*padded_size(h, w, executor.info.size_multiple))
    else:
        limit = executor.limits.max_batch or 1 << 16
    if requested:
        return max(1, min(requested, limit))
    return max(1, min(8, limit)) if executor.limits.max_batch is not None else 1


def _chunks(jobs: list[Job], size: int):
    """Videos one at a time; images in runs of up to `size` consecutive jobs."""
    run: list[Job] = []
    for job in jobs:
        if is_video(job.source):
            if run:
                yield run
                run = []
            yield [job]
            continue
        run.append(job)
        if len(run) == size:
            yield run
            run = []
    if run:
        yield run


def _deblur_image_jobs(executor, jobs: list[Job], args, left, right, tiling, fail) -> None:
    """Read the images, run those of equal size as one batch, write each; a failure skips only
    the inputs it concerns."""
    from ifan_trt.runtime.pipeline import deblur_images

    same_size: dict[tuple[int, int], list] = {}
    for job in jobs:
        try:
            image = read_image(job.source)
        except ERRORS as exc:
            fail(job, exc)
            continue
        same_size.setdefault(image.size, []).append((job, image))
    for group in same_size.values():
        try:
            results = deblur_images(executor, [image for _, image in group], left, right,
                                    crop_official=args.crop_official, tiling=tiling)
        except ERRORS as exc:
            for job, _ in group:
                fail(job, exc)
            continue
        for (job, image), result in zip(group, results):
            try:
                data = encode_image(result, job.target)
                job.target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(job.target, data)
                if args.compare:
                    write_image(args.compare, side_by_side(image, result))
            except ERRORS as exc:
                fail(job, exc)


def _deblur_video(executor, job: Job, batch: int | None, tiling) -> None:
    """Every frame through the executor, in batches; written to a temporary file, then renamed."""
    from tqdm import tqdm

    from ifan_trt.runtime.pipeline import deblur_frames
    from ifan_trt.runtime.video import AtomicVideoWriter, VideoReader, bgr_to_rgb_float, rgb_float_to_bgr

    with VideoReader(job.source) as reader:
        size = _batch_size(executor, batch, *reader.size)
        with AtomicVideoWriter(job.target, reader.fps, reader.size) as writer, \
                tqdm(total=reader.frame_count or None, unit="frame", desc=job.source.name, leave=False,
                     file=sys.stderr, disable=not sys.stderr.isatty()) as frames_bar:
            for frames in reader.batches(size):
                for out in deblur_frames(executor, [bgr_to_rgb_float(f) for f in frames], tiling):
                    writer.write(rgb_float_to_bgr(out))
                frames_bar.update(len(frames))
            if writer.frames == 0:
                raise IfanError(f"{job.source}: no frame could be decoded")
