"""Several frames in flight through one TensorRT engine, so that the upload of frame n+1, the
compute of frame n and the download of frame n-1 overlap (video files, the demo, serving batches).

Each slot of the pipeline has its own execution context (TensorRT runs one enqueue at a time per
context), stream, buffer set and four events (start, uploaded, computed, done). A frame's upload,
compute and download are ordered by its stream; its compute also waits for the previous frame's
"computed" event, so computes stay in frame order; the host waits only for the "done" event of
the oldest frame, and outputs come back in submission order. The profile/shape decisions are the
executor's (apply_shapes, trt_plan); the memory path (copy or zero-copy) is the executor's too.

Activation memory: a context created the default way (kSTATIC) holds its own block of the
engine's device memory size, so depth slots would cost depth blocks. The slots' contexts are
created with kUSER_MANAGED instead and all run in ONE block (setDeviceMemoryV2), which TensorRT
allows for contexts that do not execute at the same time: a block is in use from enqueueV3 until
that execution ends, and each compute here waits for the previous frame's "computed" event. The
cost of a slot is then its buffer set alone (its I/O tensors at the largest profile shape).
Both calls, and the engine's device_memory_size_v2, are the same in TensorRT 10.3 and 11.x.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ifan_trt.contract import INPUT, OUTPUT
from ifan_trt.errors import IfanError

from ifan_trt.runtime.interface.executor import backend_boundary
from ifan_trt.runtime.images.streaming import MAX_DEPTH

from .buffers import BufferSet
from .executor import TrtExecutor, _ok, apply_shapes


@dataclass
class _Slot:
    context: object
    stream: object
    buffers: BufferSet
    events: list
    profile: int = 0
    shapes: dict | None = None
    busy: bool = False
    tag: object = None
    out_shape: tuple = ()
    submitted: float = 0.0


@dataclass
class FrameTimes:
    """One frame's times (ms): device stages from its events, the device-side wait behind earlier
    frames ("queue") and the host's wall time from submit to collect ("in_flight")."""

    h2d: float
    compute: float
    d2h: float
    queue: float
    in_flight: float
    extra: dict = field(default_factory=dict)

    @property
    def device(self) -> float:
        return self.h2d + self.compute + self.d2h

    def as_dict(self) -> dict[str, float]:
        return {"h2d": self.h2d, "compute": self.compute, "gpu_compute": self.compute, "d2h": self.d2h,
                "device": self.device, "queue": self.queue, "in_flight": self.in_flight}


class TrtPipeline:
    """submit() frames (network inputs [B,3,H,W]), collect() outputs in the same order; or map()
    over an iterable. Not thread-safe: one thread submits and collects (the one that opened it).
    Its public calls are the executor's boundary: what TensorRT or CUDA raises leaves as BackendError."""

    backend = "tensorrt"

    @backend_boundary
    def __init__(self, executor: TrtExecutor, depth: int = 2):
        if not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            raise IfanError(f"depth={depth!r}: frames in flight must be an integer from 1 to {MAX_DEPTH}")
        self.executor, self.depth = executor, depth
        self.cuda = executor.cuda
        self.memory_path = executor.memory_path
        self._slots: list[_Slot] = []
        self._order: deque[_Slot] = deque()  # in flight, oldest first
        self._next = 0
        self._last_computed = None  # the previous frame's "computed" event
        self.last_times: FrameTimes | None = None
        self._io_dtype = {t.name: t.dtype for t in executor.tensors}
        self._activation = None  # the one activation block every slot's context runs in
        self.activation_bytes = int(executor.engine.device_memory_size_v2)
        with self.cuda.current():
            try:
                if self.activation_bytes > 0:
                    self._activation = self.cuda.device_alloc(self.activation_bytes)
                for _ in range(depth):
                    self._slots.append(self._open_slot())
            except BaseException:
                self._release()
                raise

    def _open_slot(self) -> _Slot:
        cuda, ex = self.cuda, self.executor
        stream = cuda.new_stream()
        events, buffers, context = [], None, None
        try:
            events = [cuda.event() for _ in range(4)]
            buffers = BufferSet(cuda, ex._sizes, self.memory_path)
            strategy = ex.trt.ExecutionContextAllocationStrategy.USER_MANAGED
            context = _ok(ex.engine.create_execution_context(strategy), "creating an execution context")
            if self._activation is not None:
                context.set_device_memory(self._activation, self.activation_bytes)  # void: checked at enqueue
            for name, ptr in buffers.device.items():
                _ok(context.set_tensor_address(name, ptr), f"set_tensor_address({name})")
        except BaseException:
            context = None
            if buffers is not None:
                buffers.release()
            for event in events:
                cuda.free(event)
            cuda.free(stream)
            raise
        return _Slot(context, stream, buffers, events)

    @property
    def in_flight(self) -> int:
        return len(self._order)

    @property
    def full(self) -> bool:
        return len(self._order) == self.depth

    def describe(self) -> str:
        return f"{self.executor.describe()}, {self.depth} frames in flight"

    def memory(self) -> dict:
        """What the pipeline holds on the device, for reports: the memory path, the activation
        block its slots share and the I/O buffers of each slot (bytes)."""
        io = sum(self.executor._sizes.values())
        return {"memory_path": self.memory_path, "frames_in_flight": self.depth,
                "activation_bytes": self.activation_bytes, "activation_shared_by_slots": True,
                "io_bytes_per_slot": io}

    @backend_boundary
    def submit(self, input: np.ndarray, tag=None) -> None:
        """Queue one network input; returns at once (after copying it into the slot's pinned
        memory). When `full`, collect() first."""
        if not self._slots:
            raise IfanError("the pipeline is closed")
        if self.full:
            raise IfanError(f"{self.depth} frames are already in flight: collect() one first")
        if self.executor.info.dual:
            raise IfanError(f"{self.executor.info.variant} needs dual-pixel views; the pipeline takes single inputs")
        slot = self._slots[self._next % self.depth]
        with self.cuda.current():
            self._enqueue(slot, np.asarray(input))
        slot.busy, slot.tag, slot.submitted = True, tag, time.perf_counter()
        self._order.append(slot)
        self._next += 1

    def _enqueue(self, slot: _Slot, input: np.ndarray) -> None:
        ex, cuda = self.executor, self.cuda
        handle = cuda.handle_of(slot.stream)
        slot.profile, slot.shapes = apply_shapes(slot.context, handle, ex.tensors, ex.profiles,
                                                 (slot.profile, slot.shapes), {INPUT: tuple(input.shape)})
        out_shape = tuple(slot.context.get_tensor_shape(OUTPUT))
        if any(d < 0 for d in out_shape):
            raise RuntimeError(f"TensorRT could not infer the output shape for {list(input.shape)}")
        spec = {t.name: t for t in ex.tensors}
        host_in = slot.buffers.view(INPUT, spec[INPUT].dtype, input.shape)
        host_in[...] = input  # the slot is idle: its previous frame was collected
        out_nbytes = int(np.prod(out_shape)) * spec[OUTPUT].dtype.itemsize
        start, uploaded, computed, done = slot.events
        cuda.record(start, slot.stream)
        slot.buffers.upload(INPUT, host_in.nbytes, slot.stream)
        cuda.record(uploaded, slot.stream)
        if self._last_computed is not None:  # computes in frame order, one at a time
            cuda.wait_event(self._last_computed, slot.stream)
        _ok(slot.context.execute_async_v3(handle), "execute_async_v3")
        cuda.record(computed, slot.stream)
        slot.buffers.download(OUTPUT, out_nbytes, slot.stream)
        cuda.record(done, slot.stream)
        slot.out_shape = out_shape
        self._last_computed = computed

    @backend_boundary
    def collect(self):
        """(tag, output) of the oldest frame in flight, waiting for it; output [B,3,H,W] float32
        (a uint8-I/O engine: its [B,H,W,3] uint8 frames)."""
        if not self._order:
            raise IfanError("no frame in flight: submit() one first")
        slot = self._order.popleft()
        cuda = self.cuda
        with cuda.current():
            start, uploaded, computed, done = slot.events
            cuda.event_synchronize(done)
            dtype = self._io_dtype[OUTPUT]
            out = slot.buffers.view(OUTPUT, dtype, slot.out_shape)
            out = out.copy() if dtype == np.uint8 else out.astype(np.float32, copy=True)
            h2d, compute = cuda.elapsed_ms(start, uploaded), cuda.elapsed_ms(uploaded, computed)
            d2h, span = cuda.elapsed_ms(computed, done), cuda.elapsed_ms(start, done)
        in_flight = (time.perf_counter() - slot.submitted) * 1e3
        self.last_times = FrameTimes(h2d, compute, d2h, max(0.0, span - h2d - compute - d2h), in_flight)
        self.executor._stage_ms = self.last_times.as_dict()
        slot.busy, tag, slot.tag = False, slot.tag, None
        return tag, out

    def map(self, inputs: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Outputs of the inputs, in order, with up to depth of them in flight."""
        for x in inputs:
            if self.full:
                yield self.collect()[1]
            self.submit(x)
        while self._order:
            yield self.collect()[1]

    @backend_boundary
    def close(self) -> None:
        """Wait for the frames in flight, then release every context, stream, event and buffer."""
        if not self._slots:
            return
        if self.executor.cuda is None:  # the executor closed first: its close freed everything
            self._slots, self._order = [], deque()
            return
        with self.cuda.current():
            for slot in self._order:
                self.cuda.event_synchronize(slot.events[3])
            self._order.clear()
            self._release()
        owned = getattr(self.executor, "_pipelines", [])
        if self in owned:  # closed here: the executor's close has nothing left to do for it
            owned.remove(self)

    def _release(self) -> None:
        for slot in self._slots:
            slot.context = None  # before the memory it points at
            slot.buffers.release()
            for event in slot.events:
                self.cuda.free(event)
            self.cuda.free(slot.stream)
        self._slots = []
        if self._activation is not None:
            self.cuda.free(self._activation)
            self._activation = None
        self._last_computed = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
