"""Deblur files: images, folders, globs and videos, on a model here (runtime/images/batch.py) or through an
`ifan serve` server (runtime/serving/serve_client.py). Both follow one failed-input policy, FailedInputs:
an expected failure (ifan_trt.failures.describe) of one input among several is logged as skipped
and the others go on; the run then logs `N of M inputs failed` at error level and its result says
so (exit status 1); with a single input the failure is the job's error; anything else is a bug and
propagates."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.progress import Bars
from ifan_trt.failures import MEMORY_HINT, describe, one_line
from ifan_trt.log import SKIPPED, SUMMARY, get as get_logger

from .requests import Naming, RunModel, as_is

log = get_logger(__name__)

# what a local run decides and a server decides for itself, in the order an error names them
_LOCAL_ONLY = ("batch", "tile", "max_pixels", "overlap", "left", "right", "crop_official", "compare")
# in_flight is left out: its default is set by the command too, and a server has its own


@dataclass(frozen=True)
class DeblurRequest:
    """inputs: image files, folders, glob patterns, video files; output: a file for one input file,
    else a folder (None for one image: NAME.deblurred.EXT in the current folder); model: what runs
    (ignored with server); batch: images or frames per run (None: the executor's choice); tile (H, W),
    max_pixels, overlap: tiling; left/right: dual-pixel views of one input; compare: also write input
    | output side by side there (one input); server: an `ifan serve` URL (http://HOST:8000 or
    grpc://HOST:8001) with `concurrency` requests in flight; names: how messages name the fields."""
    inputs: tuple[str | os.PathLike, ...]
    output: str | os.PathLike | None = None
    model: RunModel = RunModel()
    batch: int | None = None
    tile: tuple[int, int] | None = None
    max_pixels: int | None = None
    overlap: int | None = None
    crop_official: bool = False
    left: str | os.PathLike | None = None
    right: str | os.PathLike | None = None
    compare: str | os.PathLike | None = None
    recursive: bool = False
    overwrite: bool = False
    in_flight: int | None = None  # video batches in flight on a TensorRT engine (None: runtime.images.streaming's default)
    server: str | None = None
    concurrency: int = 4
    names: Naming = field(default=as_is, compare=False)


@dataclass(frozen=True)
class DeblurResult:
    written: tuple[Path, ...]  # every output written (the comparison file too)
    failed: tuple[tuple[Path, str], ...]  # (input, why) of each input skipped
    total: int  # inputs of the run
    ran: str  # what ran: MODEL on BACKEND PRECISION, or the server's URL
    output: Path  # the output file or folder
    videos: bool = False  # an input was a video

    @property
    def status(self) -> int:
        """The exit status: 1 when an input failed, else 0."""
        return 1 if self.failed else 0


class FailedInputs:
    """The failed-input policy of every deblur run (local or remote): on_failure(job, exc, size)."""

    def __init__(self, total: int):
        self.total, self.failed = total, []

    def __call__(self, job, exc: Exception, size: tuple[int, int] | None = None) -> None:
        message = describe(exc, str(job.source))
        if message is None:  # a bug: the caller's boundary reports it
            raise exc
        if size and MEMORY_HINT in message:
            message = message.replace(": out of memory", f": out of memory at {size[0]}x{size[1]}", 1)
        if self.total == 1:
            raise IfanError(message) from None
        self.failed.append((Path(job.source), one_line(message)))
        log.error(one_line(message), extra={"verdict": SKIPPED})

    def finish(self) -> tuple[tuple[Path, str], ...]:
        """The failed inputs; `N of M inputs failed` logged at error level when there are any."""
        if self.failed:
            log.error(f"{len(self.failed)} of {self.total} inputs failed", extra={"verdict": SUMMARY})
        return tuple(self.failed)


def default_output(request: DeblurRequest) -> Path:
    """One image file without an output: NAME.deblurred.EXT in the current folder."""
    if request.output is not None:
        return Path(request.output)
    inputs, name = [str(i) for i in request.inputs], request.names
    path = Path(inputs[0]) if inputs else None
    if len(inputs) == 1 and not path.exists() and not any(c in inputs[0] for c in "*?["):
        raise IfanError(f"{path}: no such file or folder")
    if len(inputs) != 1 or not path.is_file():
        raise IfanError(f"{name('output')}: needed for several inputs, folders and globs (a single image may omit it)")
    return Path(path.stem + ".deblurred" + path.suffix)


def _check(request: DeblurRequest, jobs, output: Path) -> None:
    """Every output and option problem, before any model is opened or server asked."""
    from ifan_trt.files import check_not_input
    from ifan_trt.runtime.images.batch import Job, check_targets
    from ifan_trt.runtime.images.video import is_video

    name = request.names
    views = (request.left, request.right)
    check_targets(jobs, request.overwrite, views)
    if request.recursive:  # a later run would read the outputs as inputs
        folders = [item for item in request.inputs if Path(item).is_dir()]
        check_not_input(output, [], folders, what=name("output"))
    if (request.left or request.right or request.compare) and len(jobs) != 1:
        raise IfanError(f"{name('left')}/{name('right')} and {name('compare')} go with exactly one input image")
    if request.compare:
        if is_video(jobs[0].source):
            raise IfanError(f"{name('compare')} writes an image; it does not apply to a video input")
        if Path(request.compare).resolve() == jobs[0].target.resolve():
            raise IfanError(f"{name('compare')} {request.compare}: is the output ({name('output')}); "
                            "choose another file")
        check_targets([Job(jobs[0].source, Path(request.compare))], request.overwrite, views)
    if request.server is None:
        request.model.check(name)
        return
    given = [k for k in ("checkpoint", "onnx", "engine", "plugin") if getattr(request.model, k) is not None]
    given += [k for k in _LOCAL_ONLY if getattr(request, k)]
    given += [k for k in ("in_bit", "iac_mode", "threads") if getattr(request.model, k) is not None]
    given += [k for k in ("backend", "device") if getattr(request.model, k) != "auto"]
    if given:
        raise IfanError(f"{' '.join(name(k) for k in given)}: the server runs its own model and settings; "
                        f"drop them with {name('server')}")
    if any(is_video(j.source) for j in jobs):
        raise IfanError(f"{name('server')} takes images; deblur videos locally (without {name('server')})")
    if request.concurrency < 1:
        raise IfanError(f"{name('concurrency')} {request.concurrency}: must be >= 1")


def _read_view(path, name: str):
    from ifan_trt.imageio import read_image

    if not path:
        return None
    try:
        return read_image(path)
    except IfanError as exc:
        raise IfanError(f"{name} {exc}") from None


def deblur(request: DeblurRequest, progress: Bars | None = None, steps=None) -> DeblurResult:
    """Deblur every input (see DeblurRequest). progress: bars over the inputs and a video's frames
    (ifan_trt.progress; None draws nothing); steps: the long steps of a local run
    (ifan_trt.runtime.images.batch.Steps)."""
    from ifan_trt.runtime.images.batch import collect_jobs
    from ifan_trt.runtime.images.video import is_video

    if not request.inputs:
        raise IfanError(f"{request.names('inputs')}: no input given")
    output = default_output(request)
    jobs = collect_jobs([str(i) for i in request.inputs], str(output), request.recursive)
    _check(request, jobs, output)
    policy = FailedInputs(len(jobs))
    if request.server is not None:
        from ifan_trt.runtime.serving.serve_client import RemoteRun, deblur_remote

        deblur_remote(RemoteRun(request.server, request.concurrency, request.overwrite, request.names("server")),
                      jobs, policy, progress)
        ran, extra = request.server, ()
    else:
        ran, extra = _deblur_here(request, jobs, policy, progress, steps)
    failed = policy.finish()
    bad = {path for path, _ in failed}
    written = tuple(j.target for j in jobs if j.source not in bad) + extra
    return DeblurResult(written, failed, len(jobs), ran, output, any(is_video(j.source) for j in jobs))


def _deblur_here(request: DeblurRequest, jobs, policy: FailedInputs, progress, steps) -> tuple[str, tuple]:
    from ifan_trt.runtime.executors.backends import run_summary
    from ifan_trt.runtime.images.batch import DeblurOptions, Steps, deblur_jobs
    from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS, Tiling
    from ifan_trt.runtime.images.tiling import DEFAULT_OVERLAP
    from ifan_trt.runtime.images.video import is_video

    name = request.names
    tiling = Tiling(tile=request.tile, max_pixels=request.max_pixels or DEFAULT_MAX_PIXELS,
                    overlap=DEFAULT_OVERLAP if request.overlap is None else request.overlap)
    compare = Path(request.compare) if request.compare else None
    options = DeblurOptions(batch=request.batch, tiling=tiling, crop_official=request.crop_official,
                            left=_read_view(request.left, name("left")), right=_read_view(request.right, name("right")),
                            compare=compare, overwrite=request.overwrite,
                            **({} if request.in_flight is None else {"in_flight": request.in_flight}))
    steps = steps or Steps()
    with steps.step("opening the model"):
        executor = request.model.open()
    with executor:
        if (options.left or options.right) and not executor.info.dual:
            raise IfanError(f"{name('left')}/{name('right')}: {executor.info.variant} is not a dual-pixel model "
                            "(IFAN_dual); drop them or pass a dual checkpoint")
        ran = run_summary(executor)
        if options.in_flight > 1 and callable(getattr(executor, "pipeline", None)) and any(is_video(j.source)
                                                                                          for j in jobs):
            ran += f"; video batches {options.in_flight} in flight"
        if compare is not None:  # what ran, under the output in the comparison
            options = replace(options, compare_label=ran)
        deblur_jobs(executor, jobs, options, policy, progress, steps)
    wrote_compare = compare is not None and not policy.failed and compare.is_file()
    return ran, (compare,) if wrote_compare else ()
