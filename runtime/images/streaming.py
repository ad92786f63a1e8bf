"""Frames through an executor as a stream: with up to `depth` frames in flight when the executor
offers a pipeline (TensorRT: tensorrt/pipelined.py), one at a time otherwise (ONNX Runtime,
PyTorch). Both have one interface: submit() and collect() in order, or map() over an iterable."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from ifan_trt.errors import IfanError

from ..interface.executor import Executor

DEFAULT_DEPTH = 2  # frames in flight on a GPU: enough to overlap upload, compute and download


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
        self._done.append((tag, self.executor.run_filled(input)))

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

