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
from ifan_trt.failures import MEMORY_HINT, describe, one_line
from ifan_trt.files import check_not_input, check_output_file, is_temp, write_bytes
from ifan_trt.imageio import EXTENSIONS, encode_image, read_image, side_by_side, write_image
from ifan_trt.options import add_decode_budget, nonneg_int, positive_int, threads
from ifan_trt.runtime.pipeline import DEFAULT_MAX_PIXELS
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
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    p.add_argument("--checkpoint", help="official IFAN or ifan-trt checkpoint (default: the bundled model)")
    p.add_argument("--onnx", help="exported ONNX model (run with ONNX Runtime)")
    p.add_argument("--engine", help="TensorRT engine (its .json sidecar beside it)")
    p.add_argument("--backend", default="auto",
                   help="auto, tensorrt, onnxruntime or torch (default auto: TensorRT for an engine on a GPU, "
                        "else ONNX Runtime, else PyTorch for a checkpoint)")
    p.add_argument("--device", default="auto", help="ONNX Runtime device: auto, cpu, cuda, tensorrt")
    p.add_argument("--plugin", metavar="LIB", help="IFAN_IAC plugin library for engines (default: the installed one)")
    p.add_argument("--batch", type=positive_int,
                   help="video frames or same-size images per run (default: the engine's largest batch, up to 8; "
                        "1 on CPU backends)")
    p.add_argument("--tile", metavar="HxW", help="run in tiles of this size (multiples of 8), blended over --overlap")
    p.add_argument("--max-pixels", type=positive_int, metavar="N",
                   help=f"tile inputs larger than N pixels (memory budget; default {DEFAULT_MAX_PIXELS})")
    add_decode_budget(p)
    p.add_argument("--overlap", type=nonneg_int, help=f"tile overlap in pixels (default {DEFAULT_OVERLAP}: tiled output "
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
    p.add_argument("--threads", type=threads, help="CPU threads for the backend")
    p.set_defaults(func=run)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def _listed(path: Path) -> bool:
    """A folder or glob entry to process: an image name, not a sub-folder, not a hidden file or a
    temp of an unfinished write. Special files (FIFOs, devices) are kept, so they are reported."""
    return _is_image(path) and not path.is_dir() and not path.name.startswith(".") and not is_temp(path)


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if _listed(p))


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
        elif path.exists() or path.is_symlink():
            found.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive) if _listed(Path(m)) or is_video(m))
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


def _check_targets(jobs: list[Job], overwrite: bool, extra_inputs: tuple = ()) -> None:
    """Before any work: no output is an input (any name of it), exists without --overwrite, is a
    special file, or lies where no file can be written."""
    sources = [job.source for job in jobs] + [p for p in extra_inputs if p]
    for job in jobs:
        check_not_input(job.target, sources)
        check_output_file(job.target, overwrite, create_parent=True)
        if is_video(job.source):
            if not is_video(job.target):
                raise IfanError(f"{job.target}: a video input needs a video output; use one of {', '.join(VIDEO_EXTENSIONS)}")
        elif job.target.suffix.lower() not in EXTENSIONS:
            raise IfanError(f"{job.target}: unsupported output format; use one of {', '.join(EXTENSIONS)}")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ifan_trt.runtime.backends import open_executor
    from ifan_trt.runtime.pipeline import Tiling
    from ifan_trt.runtime.tiling import parse_tile

    jobs = collect_jobs(args.inputs, args.output, args.recursive)
    _check_request(args, jobs)
    tiling = Tiling(tile=parse_tile(args.tile) if args.tile else None, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
                    overlap=DEFAULT_OVERLAP if args.overlap is None else args.overlap)
    left = _read_view(args.left, "--left")
    right = _read_view(args.right, "--right")

    executor = open_executor(args.backend, checkpoint=args.checkpoint, in_bit=args.in_bit,
                             iac_mode=args.iac_mode, threads=args.threads, onnx=args.onnx, engine=args.engine,
                             device=args.device, plugin=args.plugin)
    if (left or right) and not executor.info.dual:
        executor.close()
        raise IfanError(f"--left/--right: {executor.info.variant} is not a dual-pixel model (IFAN_dual); "
                        "drop them or pass a dual checkpoint")
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
        progress.write(f"ifan deblur: skipped {one_line(message)}", file=sys.stderr)

    with executor, tqdm(total=len(jobs), unit="img", disable=len(jobs) < 2 or not sys.stderr.isatty(),
                              file=sys.stderr) as progress:
        single = bool(left or right or args.compare) or executor.info.dual
        for chunk in _chunks(jobs, 1 if single else _batch_size(executor, args.batch)):
            if is_video(chunk[0].source):
                try:
                    chunk[0].target.parent.mkdir(parents=True, exist_ok=True)
                    _deblur_video(executor, chunk[0], args.batch, tiling, args.overwrite)
                except Exception as exc:  # noqa: BLE001  expected kinds skip the file; fail() re-raises bugs
                    fail(chunk[0], exc)
            else:
                _deblur_image_jobs(executor, chunk, args, left, right, tiling, fail)
            progress.update(len(chunk))
    if failures:
        print(f"ifan deblur: {failures} of {len(jobs)} inputs failed", file=sys.stderr)
        return 1
    if len(jobs) == 1:
        print(f"wrote {jobs[0].target}")
    else:
        kind = "images" if not any(is_video(j.source) for j in jobs) else "files"
        print(f"wrote {len(jobs)} {kind} to {args.output}")
    return 0


def _check_request(args, jobs: list[Job]) -> None:
    """Every output and option problem, before any model is opened."""
    views = (args.left, args.right)
    _check_targets(jobs, args.overwrite, views)
    if (args.left or args.right or args.compare) and len(jobs) != 1:
        raise IfanError("--left/--right and --compare go with exactly one input image")
    if args.compare:
        if is_video(jobs[0].source):
            raise IfanError("--compare writes an image; it does not apply to a video input")
        if Path(args.compare).resolve() == jobs[0].target.resolve():
            raise IfanError(f"--compare {args.compare}: is the output (-o); choose another file")
        _check_targets([Job(jobs[0].source, Path(args.compare))], args.overwrite, views)
    _check_model_options(args)


def _check_model_options(args) -> None:
    """Options that only a checkpoint takes: exported models record their input depth and IAC mode."""
    if args.plugin and not args.engine:
        raise IfanError("--plugin: applies to TensorRT engines only (--engine FILE)")
    if args.onnx or args.engine:
        for flag, value in (("--in-bit", args.in_bit), ("--iac-mode", args.iac_mode)):
            if value is not None:
                raise IfanError(f"{flag}: applies to checkpoints only; an ONNX model or engine records it "
                                "(export again with the checkpoint to change it)")


def _read_view(path: str | None, flag: str):
    if not path:
        return None
    try:
        return read_image(path)
    except IfanError as exc:
        raise IfanError(f"{flag} {exc}") from None


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
        except Exception as exc:  # noqa: BLE001  expected kinds skip the file; fail() re-raises bugs
            fail(job, exc)
            continue
        for note in image.notes:
            print(f"ifan deblur: warning: {one_line(note)}", file=sys.stderr)
        same_size.setdefault(image.size, []).append((job, image))
    for group in same_size.values():
        try:
            results = deblur_images(executor, [image for _, image in group], left, right,
                                    crop_official=args.crop_official, tiling=tiling)
        except Exception as exc:  # noqa: BLE001
            for job, image in group:
                fail(job, exc, image.size)
            continue
        for (job, image), result in zip(group, results):
            try:
                data = encode_image(result, job.target)
                job.target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes(job.target, data, args.overwrite)
                if args.compare:
                    write_image(args.compare, side_by_side(image, result), args.overwrite)
            except Exception as exc:  # noqa: BLE001
                fail(job, exc)


def _deblur_video(executor, job: Job, batch: int | None, tiling, overwrite: bool = False) -> None:
    """Every frame through the executor, in batches; written to a temporary file, then renamed."""
    from tqdm import tqdm

    from ifan_trt.runtime.pipeline import deblur_frames
    from ifan_trt.runtime.video import AtomicVideoWriter, VideoReader, bgr_to_rgb_float, rgb_float_to_bgr

    with VideoReader(job.source) as reader:
        size = _batch_size(executor, batch, *reader.size)
        with AtomicVideoWriter(job.target, reader.fps, reader.size, overwrite) as writer, \
                tqdm(total=reader.frame_count or None, unit="frame", desc=job.source.name, leave=False,
                     file=sys.stderr, disable=not sys.stderr.isatty()) as frames_bar:
            for frames in reader.batches(size):
                for out in deblur_frames(executor, [bgr_to_rgb_float(f) for f in frames], tiling):
                    writer.write(rgb_float_to_bgr(out))
                frames_bar.update(len(frames))
            if writer.frames == 0:
                raise IfanError(f"{job.source}: no frame could be decoded")
            expected = reader.frame_count
            if expected and expected - writer.frames > expected // 100:  # containers may round the count
                raise IfanError(f"{job.source}: only {writer.frames} of {expected} frames could be decoded "
                                "(truncated or corrupt video); nothing written")
