"""Batches of 8-bit BGR frames (a video's, a camera's) through an executor, in order: the one
loop that sends them. Each batch is prepared by runtime/images/streaming.py (`prepare_bgr_frames`: a
uint8-I/O model's frames as they are, else the network's float input) and runs through the
executor's pipeline (TensorRT: several batches in flight); a batch that needs tiles or a split
runs one at a time after the batches already in flight (pipeline.deblur_bgr_frames).
`ifan deblur` on a video (runtime/images/video.py) and the live demo (runtime/demo/live.py) both use it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..interface.executor import Executor
from .pipeline import Tiling, deblur_bgr_frames
from .streaming import DEFAULT_DEPTH, open_pipeline, prepare_bgr_frames


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
        self._order: deque = deque()  # (tag, host ms before the submit, finish), oldest first

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
        prepared = prepare_bgr_frames(self.executor, frames, self.tiling)
        if prepared is None:  # tiles or a split: one at a time, after the batches in flight
            return self.drain() + [Finished(tag, deblur_bgr_frames(self.executor, frames, self.tiling))]
        pre_ms = (time.perf_counter() - start) * 1e3
        pipeline = self.pipeline
        done = [self.collect()] if pipeline.full else []
        pipeline.submit(prepared.input)
        self._order.append((tag, pre_ms, prepared.finish))
        return done

    def collect(self) -> Finished:
        """The oldest batch in flight, waiting for it."""
        tag, pre_ms, finish = self._order.popleft()
        pipeline = self.pipeline
        _, out = pipeline.collect()
        t_out = time.perf_counter()
        frames = finish(out)
        host_ms = pre_ms + (time.perf_counter() - t_out) * 1e3
        stages = pipeline.last_times.as_dict() if pipeline.last_times is not None else self.executor.stage_ms
        return Finished(tag, frames, host_ms, stages.get("device", stages.get("compute")))

    def drain(self) -> list[Finished]:
        return [self.collect() for _ in range(len(self._order))]

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
        self._order.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
