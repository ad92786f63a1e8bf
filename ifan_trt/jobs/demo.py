"""The live demo (`ifan demo`): frames from a camera, a Jetson CSI camera, a stream or a video file,
deblurred and shown side by side or as a wipe (runtime/demo/live.py), optionally recorded to a video
file or streamed; the outputs are checked before any camera opens."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger

from .requests import Naming, RunModel, as_is

log = get_logger(__name__)


@dataclass(frozen=True)
class DemoRequest:
    """source: a camera index ("0"), /dev/videoN, csi[:N], an rtsp://, http:// or rtp:// URL, a
    GStreamer pipeline ending in appsink, or a video file; view: "side" or "wipe"; record: a video
    file of what is shown; stream: rtp://HOST:PORT or a pipeline starting with appsrc; width,
    height, fps: what cameras are asked for; reconnect: reopenings of a lost live source, reconnect_wait
    seconds apart; source_timeout: seconds without a first frame; pace: files at their frame rate."""
    source: str = "0"
    model: RunModel = RunModel()
    view: str = "side"
    headless: bool = False
    record: str | os.PathLike | None = None
    stream: str | None = None
    snapshot_dir: str | os.PathLike = "."
    max_frames: int | None = None
    width: int = 1280
    height: int = 720
    fps: int = 30
    reconnect: int = 10
    reconnect_wait: float = 2.0
    source_timeout: float = 15.0
    pace: bool = True
    tile: tuple[int, int] | None = None
    max_pixels: int | None = None
    frames_in_flight: int | None = None  # TensorRT: frames pipelined (None: the pipeline's default)
    overwrite: bool = False
    names: Naming = field(default=as_is, compare=False)


@dataclass(frozen=True)
class DemoResult:
    stats: object  # runtime.demo.live.DemoStats: counts and latencies
    record: Path | None  # the recording, when one was written
    report: dict  # what `ifan demo --json` writes (runtime.demo.latency.demo_report)
    lost: str | None  # why a live source was given up (None: it ran to its end or was quit)


def _check_outputs(request: DemoRequest) -> Path | None:
    from ifan_trt.files import check_output_file
    from ifan_trt.opencv import GSTREAMER_FIX, opencv_build
    from ifan_trt.runtime.demo.stream_output import output_pipeline
    from ifan_trt.runtime.images.video import is_video

    name = request.names
    record = Path(request.record) if request.record else None
    if record is not None:
        if not is_video(record):
            raise IfanError(f"{record}: {name('record')} needs a video file name (.mp4, .avi, .mkv, .mov, .m4v)")
        check_output_file(record, request.overwrite, what=name("record"))
    if request.stream is not None:
        if output_pipeline(request.stream) is None:
            raise IfanError(f"{name('stream')} {request.stream}: not a stream; give rtp://HOST:PORT or a GStreamer "
                            f"pipeline starting with appsrc (files go to {name('record')})")
        if not opencv_build().gstreamer:
            raise IfanError(f"{name('stream')} {request.stream}: streaming needs an OpenCV built with GStreamer; "
                            f"{GSTREAMER_FIX}")
    return record


def demo(request: DemoRequest, on_start: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo until the source ends, max_frames, or q. on_start(line): what OpenCV build and
    source run, said before the source opens (default: logged)."""
    from ifan_trt.files import check_not_input
    from ifan_trt.opencv import opencv_build
    from ifan_trt.runtime.executors.backends import resolve_backend
    from ifan_trt.runtime.demo.latency import demo_report
    from ifan_trt.runtime.demo.live import Demo, DemoOptions
    from ifan_trt.runtime.images.pipeline import DEFAULT_MAX_PIXELS, Tiling
    from ifan_trt.runtime.demo.sources import parse_source

    name, model = request.names, request.model
    record = _check_outputs(request)
    if request.headless and not (record or request.stream):
        log.warning(f"{name('headless')} without {name('record')} or {name('stream')} shows nothing; "
                    "only the summary is given")
    source = parse_source(request.source, request.width, request.height, request.fps)
    if source.kind == "file" and record is not None:
        check_not_input(record, [source.target], what=name("record"))
    model.check(name)  # option errors before any camera opens
    path = lambda p: None if p is None else str(p)  # noqa: E731
    resolve_backend(model.backend, path(model.checkpoint), path(model.onnx), path(model.engine))
    build = opencv_build()
    (on_start or log.info)(f"{build.describe()}; source: {source.label}")
    depth = {} if request.frames_in_flight is None else {"frames_in_flight": request.frames_in_flight}
    options = DemoOptions(view=request.view, headless=request.headless, record=record, output=request.stream,
                          snapshot_dir=Path(request.snapshot_dir), max_frames=request.max_frames, pace=request.pace,
                          reconnect_wait_s=request.reconnect_wait, reconnect_tries=request.reconnect,
                          source_timeout_s=request.source_timeout,
                          tiling=Tiling(tile=request.tile, max_pixels=request.max_pixels or DEFAULT_MAX_PIXELS),
                          size=(request.width, request.height), fps=request.fps, overwrite=request.overwrite, **depth)
    run = Demo(source, model.open, options)
    stats = run.run()
    report = demo_report(stats, source=request.source, model=model.given or "default (bundled checkpoint)",
                         backend=run.backend_name, precision=run.precision, opencv=build.describe(),
                         memory_path=run.memory_path, frames_in_flight=run.frames_in_flight,
                         device_memory=run.device_memory)
    lost = (f"{source.label}: lost, and {request.reconnect} reconnection attempts did not bring it back to steady "
            "running") if run.gave_up else None
    return DemoResult(stats, record if record is not None and stats.shown else None, report, lost)
