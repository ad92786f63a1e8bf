"""Frames through an executor as a stream: with up to `depth` frames in flight when the executor
offers a pipeline (TensorRT: tensorrt/pipelined.py), one at a time otherwise (ONNX Runtime,
PyTorch). Both have one interface: submit() and collect() in order, or map() over an iterable.

What goes in is a `Prepared` batch: the network's input (float [B,3,H,W], or a uint8-I/O model's
[B,H,W,3] frames) and how its output becomes the caller's frames or images again; batches that
need tiles, a split or filling are not prepared (None) and run one at a time on the serial path."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ifan_trt.errors import IfanError

from ..interface.executor import Executor

DEFAULT_DEPTH = 2  # frames in flight on a GPU: enough to overlap upload, compute and download
MAX_DEPTH = 8  # each slot holds a buffer set: more only costs memory once the engines overlap


@dataclass(frozen=True)
class Prepared:
    """One batch ready for a pipeline: `input` for submit(), `finish` turns its output into the
    caller's results (in the order of the batch)."""

    input: np.ndarray
    finish: Callable[[np.ndarray], list]


def _runs_whole(executor: Executor, x: np.ndarray, tiling) -> bool:
    from .pipeline import choose_tile

    return fits_whole(executor, x) and choose_tile(x.shape[2], x.shape[3], executor.limits, tiling.tile,
                                                   tiling.max_pixels, executor.info.size_multiple) is None


def _frames_fit(executor: Executor, n: int, h: int, w: int) -> bool:
    """n frames of H x W run as one uint8 batch (no split, no filling)."""
    return executor.limits.min_batch <= n <= executor.max_batch(h, w)


def prepare_bgr_frames(executor: Executor, frames: list[np.ndarray], tiling=None) -> Prepared | None:
    """Same-size 8-bit BGR frames (video, camera) as one pipeline batch giving 8-bit BGR frames:
    as they are for a uint8-I/O model that runs them whole, else RGB float; None when the batch
    runs on the serial path (pipeline.deblur_bgr_frames)."""
    from .pipeline import (Tiling, batch_to_frames, bgr_to_rgb_float, frames_to_batch, network_input, network_output,
                           rgb_float_to_bgr, takes_frames)

    tiling = tiling or Tiling()
    h, w = frames[0].shape[:2]
    if takes_frames(executor, h, w, tiling):
        if not _frames_fit(executor, len(frames), h, w):
            return None
        return Prepared(frames_to_batch(executor, frames, "bgr"), lambda out: batch_to_frames(executor, out, "bgr"))
    if not executor.float_reachable:
        return None  # the serial path says why the frames cannot run
    x = network_input(executor, [bgr_to_rgb_float(f) for f in frames])
    if not _runs_whole(executor, x, tiling):
        return None
    return Prepared(x, lambda out: [rgb_float_to_bgr(o) for o in network_output(out, h, w)])


def prepare_images(executor: Executor, images: list, tiling=None) -> Prepared | None:
    """Same-size images (ifan_trt.imageio.Image, as serving receives them) as one pipeline batch
    giving the deblurred images in their own formats, exactly as pipeline.deblur_images makes
    them; None when they run on the serial path (tiles, a split batch, a dual model, or what a
    uint8-I/O model cannot take as frames)."""
    from dataclasses import replace

    from .pipeline import (Tiling, _codes, _eight_bit_rgb, batch_to_frames, frames_to_batch, network_input,
                           network_output, takes_frames)

    tiling = tiling or Tiling()
    if executor.info.dual or len({image.size for image in images}) != 1:
        return None
    h, w = images[0].size
    if executor.info.io == "uint8":
        if not (all(map(_eight_bit_rgb, images)) and takes_frames(executor, h, w, tiling)
                and _frames_fit(executor, len(images), h, w)):
            return None
        x = frames_to_batch(executor, [_codes(image.rgb) for image in images], "rgb")
        return Prepared(x, lambda out: [replace(image, rgb=o.astype(np.float32) / np.float32(255.0))
                                        for image, o in zip(images, batch_to_frames(executor, out, "rgb"))])
    x = network_input(executor, [image.rgb for image in images])
    if not _runs_whole(executor, x, tiling):
        return None
    return Prepared(x, lambda out: [replace(image, rgb=o) for image, o in zip(images, network_output(out, h, w))])


class SerialPipeline:
    """The pipeline interface over any executor: each submit() runs the frame at once."""

    depth = 1
    memory_path = None

    def __init__(self, executor: Executor):
        self.executor = executor
        self._done: deque = deque()
        self.last_times = None

    @property
    def in_flight(self) -> int:
        return len(self._done)

    @property
    def full(self) -> bool:
        return bool(self._done)

    def describe(self) -> str:
        return self.executor.describe()

    def submit(self, input: np.ndarray, tag=None) -> None:
        if self.full:
            raise IfanError("1 frame is already in flight: collect() it first")
        frames = input.dtype == np.uint8 and self.executor.info.io == "uint8"  # a uint8-I/O model's frames
        self._done.append((tag, self.executor.run_frames(input) if frames else self.executor.run_filled(input)))

    def collect(self):
        if not self._done:
            raise IfanError("no frame in flight: submit() one first")
        return self._done.popleft()

    def map(self, inputs: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for x in inputs:
            self.submit(x)
            yield self.collect()[1]

    def close(self) -> None:
        self._done.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_pipeline(executor: Executor, depth: int = DEFAULT_DEPTH):
    """The executor's own pipeline with `depth` frames in flight where it has one (and depth > 1),
    else the serial adapter."""
    make = getattr(executor, "pipeline", None)
    if depth > 1 and callable(make):
        return make(depth)
    return SerialPipeline(executor)


def fits_whole(executor: Executor, x: np.ndarray) -> bool:
    """The network input runs in one enqueue (no tiling, no split batch, no filling)."""
    b, _, h, w = x.shape
    limits = executor.limits
    return limits.fits_hw(h, w) and limits.min_batch <= b <= executor.max_batch(h, w)

