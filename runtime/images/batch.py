"""Deblurring many inputs: map inputs to outputs, check the outputs before any work, run
same-size images as one batch and videos frame by frame, and report a failed input without
stopping the others. `ifan deblur`, the Python API and evaluation all go through here."""

from __future__ import annotations

import contextlib
import glob
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from ifan_trt.datasets import is_listed
from ifan_trt.errors import IfanError
from ifan_trt.failures import describe, one_line
from ifan_trt.log import get as get_logger
from ifan_trt.files import check_not_input, check_output_file, write_bytes
from ifan_trt.imageio import EXTENSIONS, encode_image, read_image, side_by_side, write_image
from ifan_trt.progress import Bars, bar

from ..interface.executor import Executor
from .pipeline import Tiling
from .streaming import DEFAULT_DEPTH
from .video import VIDEO_EXTENSIONS, is_video

log = get_logger(__name__)


@dataclass(frozen=True)
class Job:
    """One input and where its result goes (None: the caller uses the result, e.g. evaluation);
    left/right: its own dual-pixel views (a DPDD pair), else DeblurOptions' are used."""
    source: Path
    target: Path | None
    left: Path | None = None
    right: Path | None = None


@dataclass(frozen=True)
class Deblurred:
    job: Job
    image: object  # the input as read (ifan_trt.imageio.Image)
    result: object  # the output, same size and format
    seconds: float  # the run's time shared among the images of its batch


@dataclass(frozen=True)
class DeblurOptions:
    """How each input runs: batch size (None: the executor's choice), tiling, the official crop,
    dual-pixel views (one input), a side-by-side comparison file (one input)."""
    batch: int | None = None
    tiling: Tiling = Tiling()
    crop_official: bool = False
    left: object = None
    right: object = None
    compare: Path | None = None
    compare_label: str = ""  # what ran, under the output in the comparison (default: the backend and precision)
    overwrite: bool = False  # replace existing outputs (checked before, refused at the rename otherwise)
    in_flight: int = DEFAULT_DEPTH  # video batches in flight on a TensorRT engine (1: one at a time)


class Steps:
    """How deblur_jobs reports long work: tiles(name, done, total) after each run of tiles of an
    image, step(text) around each step (reading, deblurring, writing one input). This one shows
    nothing; the CLI passes one that draws progress (ifan_trt.commands.progress)."""

    def tiles(self, name: str, done: int, total: int) -> None:
        pass

    @contextlib.contextmanager
    def step(self, text: str):
        yield


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    """The folder's images; a paired set (source/target, DPDD, RealDOF, `ifan synth`) gives its
    blurry source images (ifan_trt.datasets owns the layouts and the listing rule)."""
    from ifan_trt.datasets import images_in, layout_of

    return images_in(folder if recursive else layout_of(folder).source, recursive)


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
            matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive) if is_listed(Path(m)) or is_video(m))
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


def check_targets(jobs: list[Job], overwrite: bool, extra_inputs: tuple = ()) -> None:
    """Before any work: no output is an input (under any name), exists without overwrite, is a
    special file, lies where no file can be written, or has the wrong format."""
    sources = [job.source for job in jobs] + [p for p in extra_inputs if p]
    for job in jobs:
        check_not_input(job.target, sources)
        check_output_file(job.target, overwrite, create_parent=True)
        if is_video(job.source):
            if not is_video(job.target):
                raise IfanError(f"{job.target}: a video input needs a video output; use one of {', '.join(VIDEO_EXTENSIONS)}")
        elif job.target.suffix.lower() not in EXTENSIONS:
            raise IfanError(f"{job.target}: unsupported output format; use one of {', '.join(EXTENSIONS)}")


def batch_size(executor: Executor, requested: int | None, h: int | None = None, w: int | None = None) -> int:
    """Frames or same-size images per run: as asked, else the engine's largest batch (up to 8);
    CPU backends gain nothing from batching, so 1 there. With a size, also within what the engine
    takes at that size (images are split further by the pipeline when larger)."""
    from .padding import padded_size

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


def raise_failure(job: Job, exc: Exception, size: tuple[int, int] | None = None) -> None:
    """on_failure for callers that stop at the first failed input (evaluation, the Python API)."""
    message = describe(exc, f"{job.source} ({size[0]}x{size[1]})" if size else str(job.source))
    if message is None:  # a bug: the caller's boundary reports it
        raise exc
    raise IfanError(message) from None


def _run_size(executor: Executor, jobs: list[Job], options: DeblurOptions) -> int:
    """Images per run: one where each has its own views or a comparison file, else batch_size."""
    single = options.left is not None or options.right is not None or options.compare is not None \
        or executor.info.dual or any(job.left or job.right for job in jobs)
    return 1 if single else batch_size(executor, options.batch)


def comparison(before, after, label: str):
    """Input | output side by side (ifan_trt.imageio.side_by_side) with a caption strip below:
    "input" under the input, "deblurred: LABEL" (model, backend, precision) under the output."""
    import cv2
    import numpy as np

    from ifan_trt.imageio import Image

    pair = side_by_side(before, after)
    h, w = pair.size
    gap = w - before.size[1] - after.size[1]
    strip_h = max(16, round(w / 1280 * 40))
    strip = np.full((strip_h, w, 3), 40, np.uint8)  # dark: the captions stay apart from the pictures
    for text, x0, x1 in (("input", 0, before.size[1]), (f"deblurred: {label}" if label else "deblurred",
                                                        before.size[1] + gap, w)):
        scale, thickness = strip_h / 40, max(1, round(strip_h / 40 * 2))
        room = x1 - x0 - 2 * (strip_h // 4 + thickness)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        if tw > room:  # a narrow picture: smaller type
            scale *= room / tw
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.putText(strip, text, (x0 + (x1 - x0 - tw) // 2, (strip_h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thickness, cv2.LINE_AA)
    rgb = np.concatenate([pair.rgb, strip.astype(np.float32) / 255])
    return Image(rgb, pair.dtype, False, None)


def deblur_jobs(executor: Executor, jobs: list[Job], options: DeblurOptions,
                on_failure: Callable[[Job, Exception], None], progress: Bars | None = None,
                steps: Steps | None = None) -> None:
    """Run every job and write its output; a failed input is passed to on_failure (which may raise
    to stop). progress: bars for several jobs and for a video's frames (ifan_trt.progress); steps:
    see Steps."""
    steps = steps or Steps()
    if options.compare is not None and not options.compare_label:
        options = replace(options, compare_label=executor.describe())
    with bar(progress if len(jobs) > 1 else None, total=len(jobs), unit="img") as jobs_bar:
        for chunk in _chunks(jobs, _run_size(executor, jobs, options)):
            if is_video(chunk[0].source):
                try:
                    chunk[0].target.parent.mkdir(parents=True, exist_ok=True)
                    deblur_video(executor, chunk[0], options, progress)
                except Exception as exc:  # noqa: BLE001  on_failure re-raises what is not an expected failure
                    on_failure(chunk[0], exc)
            else:
                for done in _deblur_chunk(executor, chunk, options, on_failure, steps):
                    with steps.step(f"writing {done.job.target.name}"):
                        write_result(done, options, on_failure)
            jobs_bar.update(len(chunk))


def deblurred_images(executor: Executor, jobs: list[Job], options: DeblurOptions,
                     on_failure: Callable[[Job, Exception], None]) -> Iterator[Deblurred]:
    """Each image job's input and output, batched as deblur_jobs batches them, for callers that
    use the results (evaluation scores them, then writes them with write_result if asked)."""
    for chunk in _chunks(jobs, _run_size(executor, jobs, options)):
        yield from _deblur_chunk(executor, chunk, options, on_failure)


def _tiling(options: DeblurOptions) -> Tiling:
    """The tiling with --batch as its tiles per run (when the tiling does not set its own)."""
    if options.tiling.batch is None and options.batch is not None:
        return replace(options.tiling, batch=options.batch)
    return options.tiling


def _read_views(job: Job, options: DeblurOptions) -> tuple:
    if job.left is None and job.right is None:
        return options.left, options.right
    return tuple(read_image(p) if p else None for p in (job.left, job.right))


def _deblur_chunk(executor: Executor, jobs: list[Job], options: DeblurOptions, fail,
                  steps: Steps | None = None) -> Iterator[Deblurred]:
    """Read the images, run those of equal size as one batch; a failure skips only the inputs it
    concerns."""
    import time

    from .pipeline import deblur_images

    steps = steps or Steps()
    groups: dict[tuple, list] = {}  # same size and the same views: one batch
    views_of: dict[tuple, tuple] = {}
    for job in jobs:
        try:
            with steps.step(f"reading {job.source.name}"):
                image, views = read_image(job.source), _read_views(job, options)
        except Exception as exc:  # noqa: BLE001  fail() re-raises what is not an expected failure
            fail(job, exc)
            continue
        for note in image.notes:
            log.warning(one_line(note))
        multiple = executor.info.size_multiple
        if options.crop_official and min(image.size) < multiple:
            fail(job, IfanError(f"{job.source}: {image.size[0]}x{image.size[1]} is smaller than {multiple}x{multiple}: "
                                "--crop-official would leave nothing; drop it (inputs are then padded)"))
            continue
        key = (image.size, id(views[0]), id(views[1]))
        views_of[key] = views
        groups.setdefault(key, []).append((job, image))
    for key, group in groups.items():
        try:
            start = time.perf_counter()
            name = group[0][0].source.name + (f" and {len(group) - 1} more" if len(group) > 1 else "")
            tiling = replace(_tiling(options), progress=lambda done, total: steps.tiles(name, done, total))
            with steps.step(f"deblurring {name} ({key[0][0]}x{key[0][1]})"):
                results = deblur_images(executor, [image for _, image in group], *views_of[key],
                                        crop_official=options.crop_official, tiling=tiling)
            seconds = (time.perf_counter() - start) / len(group)
        except Exception as exc:  # noqa: BLE001
            for job, image in group:
                fail(job, exc, image.size)
            continue
        for (job, image), result in zip(group, results):
            yield Deblurred(job, image, result, seconds)


def write_result(done: Deblurred, options: DeblurOptions, fail) -> None:
    """The output to its job's target (and the comparison file), each written atomically."""
    if done.job.target is None:
        return
    try:
        data = encode_image(done.result, done.job.target)
        for target in (done.job.target, options.compare):  # folders as -o's (checked before any work)
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(done.job.target, data, options.overwrite)
        if options.compare is not None:
            write_image(options.compare, comparison(done.image, done.result, options.compare_label),
                        options.overwrite)
    except Exception as exc:  # noqa: BLE001
        fail(done.job, exc)


def deblur_video(executor: Executor, job: Job, options: DeblurOptions, progress: Bars | None = None) -> None:
    """Every frame through the executor, in batches; written to a temporary file, then renamed."""
    from .video import AtomicVideoWriter, VideoReader, deblur_stream

    with VideoReader(job.source) as reader:
        size = batch_size(executor, options.batch, *reader.size)
        with AtomicVideoWriter(job.target, reader.fps, reader.size, options.overwrite, audio_from=job.source) as writer, \
                bar(progress, total=reader.frame_count or None, unit="frame", desc=job.source.name) as frames_bar:
            for outs in deblur_stream(executor, reader.batches(size), _tiling(options), options.in_flight):
                for out in outs:
                    writer.write(out)
                frames_bar.update(len(outs))
            if writer.frames == 0:
                raise IfanError(f"{job.source}: no frame could be decoded")
            expected = reader.frame_count
            if expected and expected - writer.frames > expected // 100:  # containers may round the count
                raise IfanError(f"{job.source}: only {writer.frames} of {expected} frames could be decoded "
                                "(truncated or corrupt video); nothing written")

