"""One executor's pipeline fed from many threads (serving: Triton calls each model instance from a
thread of its own). A worker thread owns the pipeline: it opens it, makes every CUDA call of it and
closes it, so the executor's CUDA context is used by one thread at a time whichever thread asks.
Callers prepare their batch on their own thread (streaming.Prepared), hand the worker its input
and wait for its output; while they wait, up to `depth` batches are in flight. A batch that needs
the serial path (tiles, a split) runs on the worker thread too, once the batches ahead are done.

The loop (run_jobs) collects the oldest batch when the pipeline is full or when no new batch is
waiting, so a lone request is answered at once and a loaded server keeps `depth` batches in flight.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ifan_trt.errors import IfanError

from ..interface.executor import Executor
from .streaming import DEFAULT_DEPTH, open_pipeline


class Job:
    """One caller's request: a pipeline input, or a function to run on the worker thread."""

    def __init__(self, input: np.ndarray | None = None, call: Callable[[], Any] | None = None):
        self.input, self.call = input, call
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    def resolve(self, result=None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error
        self._done.set()

    def wait(self):
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


_STOP = object()


def run_jobs(pipe, next_job: Callable[[bool], Any]) -> None:
    """The worker's loop over one open pipeline: next_job(block) gives the next Job, None when
    block is False and none is waiting, or _STOP. Each Job is resolved with its output (or its
    error); outputs come back in submission order. Returns at _STOP, after the jobs in flight."""
    pending: deque[Job] = deque()

    def collect_oldest() -> None:
        job = pending.popleft()
        try:
            job.resolve(pipe.collect()[1])
        except BaseException as exc:  # noqa: BLE001  the caller re-raises it
            job.resolve(error=exc)

    while True:
        job = next_job(not pending)
        if job is None:  # nothing new waiting: answer the oldest in flight
            collect_oldest()
            continue
        if job is _STOP:
            break
        if job.call is not None:  # the serial path: after the batches in flight
            while pending:
                collect_oldest()
            try:
                job.resolve(job.call())
            except BaseException as exc:  # noqa: BLE001
                job.resolve(error=exc)
            continue
        if pipe.full:
            collect_oldest()
        try:
            pipe.submit(job.input)
        except BaseException as exc:  # noqa: BLE001
            job.resolve(error=exc)
            continue
        pending.append(job)
    while pending:
        collect_oldest()


class PipelineWorker:
    """The executor's pipeline (depth batches in flight) behind a thread; run() and call() from
    any thread. close() stops the thread after the work it has; the executor stays open."""

    def __init__(self, executor: Executor, depth: int = DEFAULT_DEPTH, name: str = "ifan-pipeline"):
        self.executor, self.depth = executor, depth
        self._jobs: queue.Queue = queue.Queue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self.memory: dict = {}
        self.description = ""
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _next(self, block: bool):
        try:
            return self._jobs.get(block=block)
        except queue.Empty:
            return None

    def _work(self) -> None:
        try:
            pipe = open_pipeline(self.executor, self.depth)  # on this thread: its CUDA calls stay here
        except BaseException as exc:  # noqa: BLE001  raised by the constructor
            self._error = exc
            self._opened.set()
            return
        self.description = pipe.describe()
        memory = getattr(pipe, "memory", None)
        self.memory = memory() if callable(memory) else {}
        self._opened.set()
        try:
            run_jobs(pipe, self._next)  # jobs are queued before the stop (close() holds the lock)
        finally:
            pipe.close()

    def run(self, input: np.ndarray) -> np.ndarray:
        """The pipeline's output for one prepared input (waits for it)."""
        return self._hand(Job(input=input))

    def call(self, fn: Callable[[], Any]):
        """fn() on the worker thread, after the batches in flight (the serial path)."""
        return self._hand(Job(call=fn))

    def _hand(self, job: Job):
        with self._lock:
            if self._closed:
                raise IfanError("the pipeline is closed: the server is stopping")
            self._jobs.put(job)
        return job.wait()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(_STOP)
        self._thread.join()
