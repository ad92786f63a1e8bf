"""Batches of 8-bit BGR frames (a video's, a camera's) through an executor, in order: the one
place that decides how each batch is sent. A uint8 model that runs the frames whole takes them
as they are; otherwise they become the network's float input and run whole through the
executor's pipeline (TensorRT: several batches in flight, runtime/streaming.py), or, when they
need tiles or a split batch, one at a time after the batches already in flight.
`ifan deblur` on a video (runtime/video.py) and the live demo (runtime/live.py) both use it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from .executor import Executor
from .pipeline import (Tiling, bgr_to_rgb_float, choose_tile, deblur_bgr_frames, deblur_frames, network_input,
                       network_output, rgb_float_to_bgr, takes_frames)
from .streaming import DEFAULT_DEPTH, fits_whole, open_pipeline


@dataclass
class Finished:
    """One batch done: its tag, its deblurred BGR frames in the order given, and for a batch that
    went through the pipeline the host's time around it (conversions, ms) and the device's."""

    tag: object
    frames: list[np.ndarray]
    host_ms: float | None = None
    device_ms: float | None = None


class FrameFlow:
    """put() batches of same-size BGR uint8 frames; each call returns the batches it finished,
    oldest first; drain() the rest. The pipeline (`depth` batches in flight) is opened when first
    needed; close() (or the with block) waits for what is in flight and releases it."""

    def __init__(self, executor: Executor, depth: int = DEFAULT_DEPTH, tiling: Tiling | None = None):
        self.executor, self.depth, self.tiling = executor, depth, tiling or Tiling()
        self._pipeline = None
        self._order: deque = deque()  # (tag, h, w, host ms before the submit), oldest first

    @property
    def pipeline(self):
        if self._pipeline is None:
            self._pipeline = open_pipeline(self.executor, self.depth)
        return self._pipeline

    @property
    def in_flight(self) -> int:
        return len(self._order)

    def put(self, frames: list[np.ndarray], tag=None) -> list[Finished]:
        start = time.perf_counter()
        executor, tiling = self.executor, self.tiling
        h, w = frames[0].shape[:2]
        if takes_frames(executor, h, w, tiling):  # a uint8 model: the frames as they are
            return self.drain() + [Finished(tag, deblur_bgr_frames(executor, frames, tiling))]
        rgb = [bgr_to_rgb_float(f) for f in frames]
        x = network_input(executor, rgb)
        if not self._whole(x):  # tiled or split: one at a time, after the batches ahead
            return self.drain() + [Finished(tag, [rgb_float_to_bgr(o) for o in deblur_frames(executor, rgb, tiling)])]
        pre_ms = (time.perf_counter() - start) * 1e3
        pipeline = self.pipeline
        done = [self.collect()] if pipeline.full else []
        pipeline.submit(x)
        self._order.append((tag, h, w, pre_ms))
        return done

    def collect(self) -> Finished:
        """The oldest batch in flight, waiting for it."""
        tag, h, w, pre_ms = self._order.popleft()
        pipeline = self.pipeline
        _, out = pipeline.collect()
        t_out = time.perf_counter()
        frames = [rgb_float_to_bgr(o) for o in network_output(out, h, w)]
        host_ms = pre_ms + (time.perf_counter() - t_out) * 1e3
        stages = pipeline.last_times.as_dict() if pipeline.last_times is not None else self.executor.stage_ms
        return Finished(tag, frames, host_ms, stages.get("device", stages.get("compute")))

    def drain(self) -> list[Finished]:
        return [self.collect() for _ in range(len(self._order))]

    def _whole(self, x: np.ndarray) -> bool:
        """The input runs in one enqueue: no tiling asked for or needed, no split batch."""
        t = self.tiling
        return fits_whole(self.executor, x) and choose_tile(x.shape[2], x.shape[3], self.executor.limits, t.tile,
                                                            t.max_pixels, self.executor.info.size_multiple) is None

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
        self._order.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
