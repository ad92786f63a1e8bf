"""A stand-in for the two CUDA bindings the runtime uses, for tests on machines without a GPU:
cuda-python's runtime module (``cuda.bindings.runtime`` / ``from cuda import cudart``) and
``pycuda.driver``. Written from their documented APIs; it computes on host memory and refuses what
CUDA refuses:

- cuda-python calls return ``(cudaError_t, *values)``; pycuda raises ``pycuda.driver.Error``
  subclasses (``LogicError`` for a call without a current context, as ``cuMemAlloc failed:
  invalid device context``).
- Device memory and page-locked host memory are distinct kinds. Device pointers live outside the
  process's address space, so a device pointer used as host memory (or the reverse) is refused
  with cudaErrorInvalidValue instead of being read; a copy touches only bytes that belong to one
  allocation of the right kind (pageable host memory is accepted, as CUDA accepts it, and counted).
- cuda-python's current device is per thread (a new thread starts on device 0, as the runtime
  API does); a pycuda context is current only in the thread that pushed it.
- Work is queued on a stream: it runs at once, except while the stream is being captured, when
  it becomes a node of the graph (replayed by cudaGraphLaunch). During a capture the
  synchronising and allocating calls fail with cudaErrorStreamCaptureUnsupported and invalidate
  the capture, as the runtime does in the global and thread-local capture modes.
- Every allocation, pinned buffer, stream, event, graph and graph exec is counted (``live()``)
  so a test can assert that nothing leaks, and ``launches``/``captures`` count graph use;
  ``copies`` counts the copies by direction ("h2d", "d2h", "d2d", "h2h").
- Mapped pinned memory (cudaHostAlloc with cudaHostAllocMapped, pycuda's pagelocked_empty with
  host_alloc_flags.DEVICEMAP) has a device pointer (cudaHostGetDevicePointer / get_device_pointer)
  through which kernels read and write the host bytes; plain pinned memory has none (the call
  fails with cudaErrorInvalidValue), and its host pointer is not a device pointer. The device
  pointer differs from the host pointer, as it may on a real system, so code must ask for it.
  ``integrated`` is the device property (True on Jetson: the GPU shares the host's memory).
- Simulated time (``FakeGpu(simulated=SimulatedTime(...))``): work is deferred, as on a GPU,
  until the host waits for it (stream, event or device synchronisation, a synchronous copy, a
  free), so a program that reads a result before waiting or refills a buffer still in use gets
  wrong bytes. Each copy and kernel takes its given time on its engine (one copy engine each way,
  one compute engine, as on GPUs with two async engines), starting when its stream, its engine
  and the host that issued it are ready; events record those simulated times, and the host's
  clock advances only through ``spend_host(ms)`` and waits. Throughput is then computed, never
  measured with wall clocks.

The fake TensorRT (tests/helpers/fake_tensorrt.py) runs its network through ``FakeGpu.enqueue``
on the stream it is given and reads and writes the device buffers its tensor addresses name.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import sys
import threading
import time
import types
import weakref
from dataclasses import dataclass, field

import numpy as np

# cudaError_t values (driver_types.h)
SUCCESS, INVALID_VALUE, INSUFFICIENT, NO_DEVICE, INVALID_DEVICE = 0, 1, 35, 100, 101
INVALID_HANDLE, NOT_READY, CAPTURE_UNSUPPORTED, CAPTURE_INVALIDATED = 400, 600, 900, 901
CAPTURE_UNMATCHED, CAPTURE_WRONG_THREAD = 903, 908
ERROR_NAMES = {SUCCESS: "cudaSuccess", INVALID_VALUE: "cudaErrorInvalidValue",
               INSUFFICIENT: "cudaErrorInsufficientDriver", NO_DEVICE: "cudaErrorNoDevice",
               INVALID_DEVICE: "cudaErrorInvalidDevice", INVALID_HANDLE: "cudaErrorInvalidResourceHandle",
               NOT_READY: "cudaErrorNotReady", CAPTURE_UNSUPPORTED: "cudaErrorStreamCaptureUnsupported",
               CAPTURE_INVALIDATED: "cudaErrorStreamCaptureInvalidated",
               CAPTURE_UNMATCHED: "cudaErrorStreamCaptureUnmatched",
               CAPTURE_WRONG_THREAD: "cudaErrorStreamCaptureWrongThread"}

DRIVER_MESSAGES = {INVALID_VALUE: "invalid argument", INVALID_HANDLE: "invalid resource handle",
                   CAPTURE_UNSUPPORTED: "operation not permitted when stream is capturing",
                   CAPTURE_INVALIDATED: "operation failed due to a previous error during capture"}

DEVICE_BASE = 0xFFFF_9000_0000_0000  # never a user-space address: a device pointer read as host memory fails
DEVICE_SPAN = 1 << 40  # each device's pointers in their own range
ALIGN = 256  # cudaMalloc returns 256-byte aligned pointers


class CudaFailure(Exception):
    """A failed call inside the stand-in: carries the cudaError_t value."""

    def __init__(self, status: int, what: str = ""):
        super().__init__(f"{what}: {ERROR_NAMES.get(status, status)}")
        self.status = status


@dataclass
class Allocation:
    kind: str  # "device" or "host" (page-locked)
    device: int
    buffer: np.ndarray  # the bytes
    ptr: int
    mapped_ptr: int | None = None  # a mapped host allocation's device pointer


@dataclass(frozen=True)
class SimulatedTime:
    """How long each piece of device work takes in simulated time (ms)."""

    h2d_ms: float = 0.0
    compute_ms: float = 0.0
    d2h_ms: float = 0.0


@dataclass
class Stream:
    handle: int
    device: int
    capture: list | None = None  # the nodes recorded while capturing
    capture_mode: int = 0
    capture_thread: int | None = None
    invalidated: bool = False
    ready: float = 0.0  # simulated time (ms) at which the work queued so far ends
    pending: list = field(default_factory=list)  # deferred work (simulated mode)
    enqueued: int = 0
    executed: int = 0


@dataclass
class Event:
    handle: int
    device: int
    time: float | None = None
    stream: Stream | None = None  # where it was last recorded, and the position there (simulated mode)
    position: int = 0


@dataclass
class Graph:
    handle: int
    nodes: list = field(default_factory=list)


class FakeGpu:
    """The machine: devices, memory, streams, events and graphs, shared by both bindings."""

    def __init__(self, devices: int = 1, name: str = "NVIDIA Stand-in GPU", capability=(8, 7), *,
                 integrated: bool = False, can_map_host_memory: bool = True,
                 simulated: SimulatedTime | None = None):
        self.devices, self.name, self.capability = devices, name, capability
        self.integrated, self.can_map_host_memory = integrated, can_map_host_memory
        self.simulated = simulated
        self.host_ms = 0.0  # the host's simulated clock
        self._engine_free = {"h2d": 0.0, "compute": 0.0, "d2h": 0.0}
        self.copies = {"h2d": 0, "d2h": 0, "d2d": 0, "h2h": 0}
        self.kernels = 0
        self.allocations: dict[int, Allocation] = {}
        self._mapped: dict[int, Allocation] = {}  # device pointer -> mapped host allocation
        self.streams: dict[int, Stream] = {}
        self.events: dict[int, Event] = {}
        self.graphs: dict[int, Graph] = {}
        self.graph_execs: dict[int, Graph] = {}
        self._handles = itertools.count(0x1000, 0x10)
        self._next_device_ptr = [DEVICE_BASE + d * DEVICE_SPAN for d in range(max(devices, 1))]
        self._thread = threading.local()
        self.launches = self.captures = self.pageable_copies = 0
        self.lock = threading.RLock()
        # TensorRT's own activation memory (contexts created with the STATIC or ON_PROFILE_CHANGE
        # strategy): context id -> bytes; fake_tensorrt books and releases it
        self.context_memory: dict[int, int] = {}
        # user-managed activation blocks (setDeviceMemoryV2): device pointer -> simulated time at
        # which the last execution using it ends, and the uses that were not ordered after it
        self.block_busy_until: dict[int, float] = {}
        self.unordered_block_uses: list[str] = []

    # ---------------------------------------------------------------- threads and devices
    @property
    def _state(self):
        t = self._thread
        if not hasattr(t, "device"):
            t.device, t.contexts = None, []  # runtime device (None: not set), pycuda context stack
        return t

    def runtime_device(self) -> int:
        """The device the runtime API (and TensorRT) uses in this thread: the current driver
        context's, else the one cudaSetDevice chose, else device 0."""
        s = self._state
        if s.contexts:
            return s.contexts[-1].device
        return 0 if s.device is None else s.device

    def set_device(self, device: int) -> None:
        if not 0 <= device < self.devices:
            raise CudaFailure(INVALID_DEVICE, f"cudaSetDevice({device})")
        s = self._state
        s.device = device
        if s.contexts:  # cudaSetDevice replaces the thread's current context by the device's primary one
            s.contexts[-1] = PrimaryContext(self, device)

    def driver_context(self):
        """pycuda's current context in this thread (None when nothing was pushed)."""
        s = self._state
        return s.contexts[-1] if s.contexts else None

    # ---------------------------------------------------------------- memory
    def allocate(self, kind: str, nbytes: int, mapped: bool = False) -> Allocation:
        self.refuse_during_capture(f"cuda{'Malloc' if kind == 'device' else 'MallocHost'}")
        if mapped and not self.can_map_host_memory:
            raise CudaFailure(INVALID_VALUE, "cudaHostAllocMapped on a device that cannot map host memory")
        nbytes = int(nbytes)
        if nbytes <= 0:
            raise CudaFailure(INVALID_VALUE, "allocation of 0 bytes")
        device = self.runtime_device()
        with self.lock:
            if kind == "device":
                ptr = self._next_device_ptr[device]
                self._next_device_ptr[device] += (nbytes + ALIGN - 1) // ALIGN * ALIGN + ALIGN
                buffer = np.zeros(nbytes, np.uint8)
            else:
                buffer = np.zeros(nbytes + ALIGN, np.uint8)
                offset = -buffer.ctypes.data % ALIGN
                buffer = buffer[offset:offset + nbytes]
                ptr = buffer.ctypes.data
            allocation = Allocation(kind, device, buffer, ptr)
            if mapped:  # the device's view of it: an address of its own in the device range
                allocation.mapped_ptr = self._next_device_ptr[device]
                self._next_device_ptr[device] += (nbytes + ALIGN - 1) // ALIGN * ALIGN + ALIGN
                self._mapped[allocation.mapped_ptr] = allocation
            self.allocations[ptr] = allocation
        return allocation

    def mapped_pointer(self, host_ptr: int) -> int:
        """cudaHostGetDevicePointer: only for the start of a mapped allocation... or inside one."""
        a = self.find(int(host_ptr), 1)
        if a is None or a.kind != "host" or a.mapped_ptr is None:
            raise CudaFailure(INVALID_VALUE, f"cudaHostGetDevicePointer({int(host_ptr):#x}): not mapped pinned memory")
        return a.mapped_ptr + (int(host_ptr) - a.ptr)

    def free(self, kind: str, ptr: int, what: str) -> None:
        self.refuse_during_capture(what)
        with self.lock:
            allocation = self.allocations.get(int(ptr))
            if allocation is None or allocation.kind != kind:
                raise CudaFailure(INVALID_VALUE, f"{what}({ptr:#x})")
            self.drain_all()  # cudaFree and cudaFreeHost wait for the device
            del self.allocations[int(ptr)]
            if allocation.mapped_ptr is not None:
                del self._mapped[allocation.mapped_ptr]

    def find(self, ptr: int, nbytes: int) -> Allocation | None:
        """The allocation holding [ptr, ptr + nbytes), or None."""
        ptr = int(ptr)
        for a in self.allocations.values():
            if a.ptr <= ptr and ptr + nbytes <= a.ptr + a.buffer.nbytes:
                return a
        return None

    def device_bytes(self, ptr: int, nbytes: int, device: int | None = None) -> np.ndarray:
        """The bytes of device memory at ptr (a view: writes land in the allocation)."""
        ptr = int(ptr)
        for base, m in self._mapped.items():  # mapped host memory, through its device pointer
            if base <= ptr and ptr + nbytes <= base + m.buffer.nbytes and (device is None or m.device == device):
                return m.buffer[ptr - base:ptr - base + nbytes]
        a = self.find(ptr, nbytes)
        if a is None or a.kind != "device" or (device is not None and a.device != device):
            raise CudaFailure(INVALID_VALUE, f"device memory at {int(ptr):#x} ({nbytes} bytes)")
        return a.buffer[int(ptr) - a.ptr:int(ptr) - a.ptr + nbytes]

    def host_bytes(self, ptr: int, nbytes: int) -> np.ndarray:
        """Host memory at ptr: a pinned allocation, or pageable memory of this process."""
        ptr = int(ptr)
        a = self.find(ptr, nbytes)
        if a is not None:
            if a.kind != "host":
                raise CudaFailure(INVALID_VALUE, f"host memory at {ptr:#x} is device memory")
            return a.buffer[ptr - a.ptr:ptr - a.ptr + nbytes]
        if ptr == 0 or ptr >= DEVICE_BASE:
            raise CudaFailure(INVALID_VALUE, f"host memory at {ptr:#x}")
        self.pageable_copies += 1
        return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr))

    def copy(self, dst: int, src: int, nbytes: int, kind: int, stream: Stream | None) -> None:
        """cudaMemcpyKind: 0 host->host, 1 host->device, 2 device->host, 3 device->device, 4 default."""
        if kind == 4:  # cudaMemcpyDefault: the direction from where the pointers are
            kind = (2 if self._is_device(src) else 0) + (1 if self._is_device(dst) else 0)
        if kind not in (0, 1, 2, 3):
            raise CudaFailure(INVALID_VALUE, f"cudaMemcpyKind {kind}")
        target = self.device_bytes(dst, nbytes) if kind in (1, 3) else self.host_bytes(dst, nbytes)
        source = self.device_bytes(src, nbytes) if kind in (2, 3) else self.host_bytes(src, nbytes)

        def run():
            target[...] = source

        direction = ("h2h", "h2d", "d2h", "d2d")[kind]
        self.enqueue(stream, run, "cudaMemcpyAsync", op=direction)
        self.copies[direction] += 1

    def _is_device(self, ptr: int) -> bool:
        if any(base <= int(ptr) < base + m.buffer.nbytes for base, m in self._mapped.items()):
            return True
        a = self.find(ptr, 1)
        return a is not None and a.kind == "device"

    # ---------------------------------------------------------------- streams, capture, graphs
    def new_handle(self) -> int:
        with self.lock:
            return next(self._handles)

    def create_stream(self) -> Stream:
        stream = Stream(self.new_handle(), self.runtime_device())
        self.streams[stream.handle] = stream
        return stream

    def stream(self, handle) -> Stream | None:
        """The stream a handle names (0: the legacy default stream, None here)."""
        handle = int(handle)
        if handle == 0:
            return None
        if handle not in self.streams:
            raise CudaFailure(INVALID_HANDLE, f"stream {handle:#x}")
        return self.streams[handle]

    def enqueue(self, stream: Stream | None, work, what: str, op: str | None = None) -> None:
        """Run work on stream now (simulated mode: when the host waits for it), or record it when
        the stream is being captured. op: the engine it occupies ("h2d", "d2h", "d2d", "h2h",
        "compute", "marker"); by default a kernel, an event record a marker."""
        if stream is not None and stream.device != self.runtime_device() and what != "cudaMemcpyAsync":
            raise CudaFailure(INVALID_HANDLE, f"{what}: stream of device {stream.device} used on device "
                                              f"{self.runtime_device()}")
        if stream is not None and stream.capture is not None:
            stream.capture.append(work)
            return
        if stream is None:  # the legacy default stream synchronises with every stream, a capturing one too
            self.refuse_during_capture(what)
        if op is None:
            op = "marker" if what == "cudaEventRecord" else "compute"
        if op == "compute":
            self.kernels += 1
        if self.simulated is None:
            work()
            return
        self._advance(stream, op)
        if stream is None:  # the legacy default stream waits for every other stream
            self.drain_all()
            work()
            return
        stream.pending.append(work)
        stream.enqueued += 1

    # ---------------------------------------------------------------- simulated time
    def _duration(self, op: str) -> float:
        sim = self.simulated
        return {"h2d": sim.h2d_ms, "d2h": sim.d2h_ms, "compute": sim.compute_ms}.get(op, 0.0)

    def _advance(self, stream: Stream | None, op: str) -> None:
        """The simulated end of a piece of work: after its stream's earlier work, its engine's
        earlier work and the moment the host issued it."""
        ready = stream.ready if stream is not None else max([s.ready for s in self.streams.values()] + [0.0])
        start = max(ready, self.host_ms)
        engine = {"h2d": "h2d", "d2h": "d2h", "compute": "compute"}.get(op)
        if engine is not None:
            start = max(start, self._engine_free[engine])
        end = start + self._duration(op)
        if engine is not None:
            self._engine_free[engine] = end
        if stream is not None:
            stream.ready = end
        else:
            for s in self.streams.values():
                s.ready = max(s.ready, end)

    def spend_host(self, ms: float) -> None:
        """Host work of the given simulated duration (decode, pre- and post-processing)."""
        self.host_ms += float(ms)

    def drain(self, stream: Stream, upto: int) -> None:
        """Run a stream's deferred work up to position upto (a wait pulls in the other stream's)."""
        while stream.executed < upto and stream.pending:
            work = stream.pending.pop(0)
            stream.executed += 1
            work()

    def drain_all(self) -> None:
        for s in list(self.streams.values()):
            self.drain(s, s.enqueued)

    def host_waits_for_stream(self, stream: Stream | None) -> None:
        if stream is None:
            self.host_waits_for_device()
            return
        self.drain(stream, stream.enqueued)
        self.host_ms = max(self.host_ms, stream.ready)

    def host_waits_for_device(self) -> None:
        self.drain_all()
        self.host_ms = max([self.host_ms] + [s.ready for s in self.streams.values()])

    def host_waits_for_event(self, event: Event) -> None:
        if event.stream is not None:
            self.drain(event.stream, event.position)
        if self.simulated is not None and event.time is not None:
            self.host_ms = max(self.host_ms, event.time)

    def wait_event(self, stream: Stream | None, event: Event) -> None:
        """cudaStreamWaitEvent: the stream's later work starts after the event's recorded work."""
        if stream is not None and stream.capture is not None:
            return  # captured as a dependency: the graph runs in order here anyway
        if self.simulated is None:
            return  # work runs at once, in issue order: already after the event
        source, position, time_ = event.stream, event.position, event.time

        def wait():
            if source is not None:
                self.drain(source, position)

        if stream is None:
            self.drain_all()
            return
        stream.ready = max(stream.ready, time_ or 0.0)
        stream.pending.append(wait)
        stream.enqueued += 1

    def capturing(self) -> list[Stream]:
        return [s for s in self.streams.values() if s.capture is not None]

    def refuse_during_capture(self, what: str) -> None:
        """Global mode: no thread may make an unsafe call while a capture is on; thread-local mode:
        not the capturing thread. The capture is invalidated (EndCapture then fails)."""
        me = threading.get_ident()
        for s in self.capturing():
            if s.capture_mode == 0 or s.capture_thread == me:
                s.invalidated = True
                raise CudaFailure(CAPTURE_UNSUPPORTED, f"{what} during stream capture")

    def begin_capture(self, stream: Stream | None, mode: int) -> None:
        if stream is None:
            raise CudaFailure(CAPTURE_UNSUPPORTED, "capture of the legacy default stream")
        if stream.capture is not None:
            raise CudaFailure(INVALID_VALUE, "stream is already capturing")
        stream.capture, stream.capture_mode = [], int(mode)
        stream.capture_thread, stream.invalidated = threading.get_ident(), False

    def end_capture(self, stream: Stream | None) -> Graph:
        if stream is None or stream.capture is None:
            raise CudaFailure(INVALID_VALUE if stream is None else CAPTURE_UNMATCHED, "cudaStreamEndCapture")
        if stream.capture_mode == 1 and stream.capture_thread != threading.get_ident():
            raise CudaFailure(CAPTURE_WRONG_THREAD, "cudaStreamEndCapture")
        nodes, invalid = stream.capture, stream.invalidated
        stream.capture, stream.invalidated = None, False
        if invalid:
            raise CudaFailure(CAPTURE_INVALIDATED, "cudaStreamEndCapture")
        graph = Graph(self.new_handle(), nodes)
        self.graphs[graph.handle] = graph
        self.captures += 1
        return graph

    def instantiate(self, graph_handle) -> Graph:
        graph = self.graphs.get(int(graph_handle))
        if graph is None:
            raise CudaFailure(INVALID_VALUE, "cudaGraphInstantiate")
        exe = Graph(self.new_handle(), list(graph.nodes))
        self.graph_execs[exe.handle] = exe
        return exe

    def launch(self, exec_handle, stream: Stream | None) -> None:
        exe = self.graph_execs.get(int(exec_handle))
        if exe is None:
            raise CudaFailure(INVALID_HANDLE, "cudaGraphLaunch")

        def run():
            for node in exe.nodes:
                node()

        self.launches += 1
        self.enqueue(stream, run, "cudaGraphLaunch")

    def synchronize(self, what: str) -> None:
        self.refuse_during_capture(what)

    def record(self, event: Event, stream: Stream | None) -> None:
        if stream is not None and stream.device != event.device:
            raise CudaFailure(INVALID_HANDLE, "event and stream of different devices")
        if self.simulated is not None and (stream is None or stream.capture is None):
            self.enqueue(stream, lambda: None, "cudaEventRecord")
            event.time = stream.ready if stream is not None else self.host_ms  # simulated ms
            event.stream, event.position = stream, (stream.enqueued if stream is not None else 0)
            return

        def stamp():
            event.time = time.perf_counter()

        self.enqueue(stream, stamp, "cudaEventRecord")

    def elapsed_ms(self, start: Event, end: Event) -> float:
        if start.time is None or end.time is None:
            raise CudaFailure(INVALID_HANDLE, "cudaEventElapsedTime of an unrecorded event")
        if self.simulated is not None:
            if any(e.stream is not None and e.stream.executed < e.position for e in (start, end)):
                raise CudaFailure(NOT_READY, "cudaEventElapsedTime of an event not yet completed")
            return end.time - start.time
        return (end.time - start.time) * 1e3

    def dependency_ready(self, stream: Stream | None) -> float:
        """When work queued now on stream may start by its dependencies alone (its stream, its
        event waits, the host), ignoring that the engine it needs is busy: on a GPU that runs
        kernels of several streams at once, only the dependencies order them."""
        ready = stream.ready if stream is not None else max([s.ready for s in self.streams.values()] + [0.0])
        return max(ready, self.host_ms)

    # ---------------------------------------------------------------- accounting
    def activation_bytes(self) -> int:
        """Activation memory TensorRT holds for its contexts (not user-managed blocks)."""
        return sum(self.context_memory.values())

    def live(self) -> dict[str, int]:
        """What is still allocated, by kind (empty: nothing leaked)."""
        counts = {"device": sum(a.kind == "device" for a in self.allocations.values()),
                  "host": sum(a.kind == "host" for a in self.allocations.values()),
                  "stream": len(self.streams), "event": len(self.events), "graph": len(self.graphs),
                  "graph_exec": len(self.graph_execs)}
        return {k: v for k, v in counts.items() if v}


# ==================================================================== cuda-python

class _Handle:
    """cuda-python's handle types (cudaStream_t, cudaEvent_t, ...): int() and getPtr() give the address."""

    def __init__(self, value: int = 0):
        self._value = int(value)

    def __int__(self):
        return self._value

    def getPtr(self):  # noqa: N802 (cuda-python's name)
        return self._value

    def __eq__(self, other):
        return type(other) is type(self) and int(other) == self._value

    def __hash__(self):
        return hash(self._value)

    def __repr__(self):
        return f"<{type(self).__name__} {self._value:#x}>"


def cudart_module(gpu: FakeGpu, runtime: int = 12060, driver: int = 12060, status: int = SUCCESS,
                  name: str = "cuda.bindings.runtime") -> types.ModuleType:
    """cuda-python's runtime module over gpu. status other than cudaSuccess: every call except the
    version queries and cudaGetErrorName fails with it (an insufficient driver, no device)."""
    rt = types.ModuleType(name)
    rt.cudaError_t = enum.IntEnum("cudaError_t", {v: k for k, v in ERROR_NAMES.items()})
    rt.cudaMemcpyKind = enum.IntEnum("cudaMemcpyKind", {
        "cudaMemcpyHostToHost": 0, "cudaMemcpyHostToDevice": 1, "cudaMemcpyDeviceToHost": 2,
        "cudaMemcpyDeviceToDevice": 3, "cudaMemcpyDefault": 4})
    rt.cudaStreamCaptureMode = enum.IntEnum("cudaStreamCaptureMode", {
        "cudaStreamCaptureModeGlobal": 0, "cudaStreamCaptureModeThreadLocal": 1, "cudaStreamCaptureModeRelaxed": 2})
    rt.cudaStreamCaptureStatus = enum.IntEnum("cudaStreamCaptureStatus", {
        "cudaStreamCaptureStatusNone": 0, "cudaStreamCaptureStatusActive": 1,
        "cudaStreamCaptureStatusInvalidated": 2})
    handle_types = {n: type(n, (_Handle,), {}) for n in ("cudaStream_t", "cudaEvent_t", "cudaGraph_t",
                                                         "cudaGraphExec_t")}
    vars(rt).update(handle_types)
    err = rt.cudaError_t

    def call(fn):
        def wrapper(*args):
            if status != SUCCESS:
                return (err(status), None) if fn.__name__ in _RETURNS_VALUE else (err(status),)
            try:
                result = fn(*args)
            except CudaFailure as exc:
                return (err(exc.status), None) if fn.__name__ in _RETURNS_VALUE else (err(exc.status),)
            return (err.cudaSuccess,) + (result if isinstance(result, tuple) else ((result,) if result is not None
                                                                                   else ()))
        wrapper.__name__ = fn.__name__
        return wrapper

    def stream_of(s):
        return gpu.stream(int(s) if s is not None else 0)

    def event_of(e):
        event = gpu.events.get(int(e))
        if event is None:
            raise CudaFailure(INVALID_HANDLE, "event")
        return event

    def cudaGetDeviceCount():
        if gpu.devices == 0:
            raise CudaFailure(NO_DEVICE, "cudaGetDeviceCount")
        return gpu.devices

    def cudaSetDevice(device):
        gpu.set_device(int(device))

    def cudaGetDevice():
        return gpu.runtime_device()

    def cudaGetDeviceProperties(device):
        if not 0 <= int(device) < gpu.devices:
            raise CudaFailure(INVALID_DEVICE, "cudaGetDeviceProperties")
        return types.SimpleNamespace(name=gpu.name.encode() + b"\x00" * 8, major=gpu.capability[0],
                                     minor=gpu.capability[1], integrated=int(gpu.integrated),
                                     canMapHostMemory=int(gpu.can_map_host_memory), asyncEngineCount=2,
                                     unifiedAddressing=1)

    def cudaMalloc(size):
        return gpu.allocate("device", size).ptr

    def cudaMallocHost(size):
        return gpu.allocate("host", size).ptr

    def cudaHostAlloc(size, flags):
        if int(flags) & ~0x7:
            raise CudaFailure(INVALID_VALUE, f"cudaHostAlloc flags {int(flags):#x}")
        return gpu.allocate("host", size, mapped=bool(int(flags) & 0x2)).ptr

    def cudaHostGetDevicePointer(host, flags):
        if int(flags) != 0:
            raise CudaFailure(INVALID_VALUE, "cudaHostGetDevicePointer flags must be 0")
        return gpu.mapped_pointer(int(host))

    def cudaFree(ptr):
        gpu.free("device", int(ptr), "cudaFree")

    def cudaFreeHost(ptr):
        gpu.free("host", int(ptr), "cudaFreeHost")

    def cudaMemcpyAsync(dst, src, count, kind, stream):
        gpu.copy(int(dst), int(src), int(count), int(kind), stream_of(stream))

    def cudaMemcpy(dst, src, count, kind):
        gpu.synchronize("cudaMemcpy")
        gpu.host_waits_for_device()
        gpu.copy(int(dst), int(src), int(count), int(kind), None)

    def cudaStreamCreate():
        return handle_types["cudaStream_t"](gpu.create_stream().handle)

    def cudaStreamDestroy(stream):
        s = stream_of(stream)
        if s is None:
            raise CudaFailure(INVALID_HANDLE, "cudaStreamDestroy")
        gpu.drain(s, s.enqueued)  # its queued work still completes
        del gpu.streams[s.handle]

    def cudaStreamSynchronize(stream):
        s = stream_of(stream)
        if s is not None and s.capture is not None:
            s.invalidated = True
            raise CudaFailure(CAPTURE_UNSUPPORTED, "cudaStreamSynchronize of a capturing stream")
        gpu.synchronize("cudaStreamSynchronize")
        gpu.host_waits_for_stream(s)

    def cudaStreamWaitEvent(stream, event, flags=0):
        gpu.wait_event(stream_of(stream), event_of(event))

    def cudaDeviceSynchronize():
        gpu.synchronize("cudaDeviceSynchronize")
        gpu.host_waits_for_device()

    def cudaEventCreate():
        event = Event(gpu.new_handle(), gpu.runtime_device())
        gpu.events[event.handle] = event
        return handle_types["cudaEvent_t"](event.handle)

    def cudaEventDestroy(event):
        del gpu.events[event_of(event).handle]

    def cudaEventRecord(event, stream):
        gpu.record(event_of(event), stream_of(stream))

    def cudaEventSynchronize(event):
        e = event_of(event)
        gpu.synchronize("cudaEventSynchronize")
        gpu.host_waits_for_event(e)

    def cudaEventQuery(event):
        e = event_of(event)
        if e.stream is not None and e.stream.executed < e.position:
            raise CudaFailure(NOT_READY, "cudaEventQuery")

    def cudaEventElapsedTime(start, end):
        return gpu.elapsed_ms(event_of(start), event_of(end))

    def cudaStreamBeginCapture(stream, mode):
        gpu.begin_capture(stream_of(stream), int(mode))

    def cudaStreamEndCapture(stream):
        return handle_types["cudaGraph_t"](gpu.end_capture(stream_of(stream)).handle)

    def cudaStreamIsCapturing(stream):
        s = stream_of(stream)
        state = 0 if s is None or s.capture is None else (2 if s.invalidated else 1)
        return rt.cudaStreamCaptureStatus(state)

    def cudaGraphInstantiate(graph, flags):
        return handle_types["cudaGraphExec_t"](gpu.instantiate(graph).handle)

    def cudaGraphLaunch(graph_exec, stream):
        gpu.launch(graph_exec, stream_of(stream))

    def cudaGraphDestroy(graph):
        if gpu.graphs.pop(int(graph), None) is None:
            raise CudaFailure(INVALID_VALUE, "cudaGraphDestroy")

    def cudaGraphExecDestroy(graph_exec):
        if gpu.graph_execs.pop(int(graph_exec), None) is None:
            raise CudaFailure(INVALID_VALUE, "cudaGraphExecDestroy")

    calls = [cudaGetDeviceCount, cudaSetDevice, cudaGetDevice, cudaGetDeviceProperties, cudaMalloc,
             cudaMallocHost, cudaFree, cudaFreeHost, cudaMemcpyAsync, cudaMemcpy, cudaStreamCreate,
             cudaStreamDestroy, cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventCreate, cudaEventDestroy,
             cudaEventRecord, cudaEventSynchronize, cudaEventElapsedTime, cudaStreamBeginCapture,
             cudaStreamEndCapture, cudaStreamIsCapturing, cudaGraphInstantiate, cudaGraphLaunch,
             cudaGraphDestroy, cudaGraphExecDestroy, cudaHostAlloc, cudaHostGetDevicePointer, cudaStreamWaitEvent,
             cudaEventQuery]
    for fn in calls:
        setattr(rt, fn.__name__, call(fn))
    vars(rt).update(cudaHostAllocDefault=0, cudaHostAllocPortable=1, cudaHostAllocMapped=2,
                    cudaHostAllocWriteCombined=4, cudaEventDefault=0)
    rt.cudaGetErrorName = lambda s: (err.cudaSuccess, ERROR_NAMES.get(int(s), "cudaErrorUnknown").encode())
    rt.cudaRuntimeGetVersion = lambda: (err.cudaSuccess, runtime)
    rt.cudaDriverGetVersion = lambda: (err.cudaSuccess, driver)
    return rt


_RETURNS_VALUE = {"cudaGetDeviceCount", "cudaGetDevice", "cudaGetDeviceProperties", "cudaMalloc", "cudaMallocHost",
                  "cudaHostAlloc", "cudaHostGetDevicePointer",
                  "cudaStreamCreate", "cudaEventCreate", "cudaEventElapsedTime", "cudaStreamEndCapture",
                  "cudaStreamIsCapturing", "cudaGraphInstantiate"}


# ==================================================================== pycuda

class PrimaryContext:
    """A device's primary context as pycuda hands it out (Device.retain_primary_context())."""

    def __init__(self, gpu: FakeGpu, device: int):
        self.gpu, self.device = gpu, device

    def push(self):
        self.gpu._state.contexts.append(self)

    def get_device(self):
        return self.device

    def __eq__(self, other):
        return isinstance(other, PrimaryContext) and (other.gpu, other.device) == (self.gpu, self.device)

    __hash__ = None


def pycuda_module(gpu: FakeGpu, init_error: str | None = None) -> types.ModuleType:
    """pycuda.driver over gpu. init_error: cuInit's failure text (raised as pycuda.driver.Error)."""
    drv = types.ModuleType("pycuda.driver")
    drv.Error = type("Error", (Exception,), {"__module__": "pycuda._driver"})
    drv.LogicError = type("LogicError", (drv.Error,), {"__module__": "pycuda._driver"})
    drv.RuntimeError = type("RuntimeError", (drv.Error,), {"__module__": "pycuda._driver"})
    initialised = []

    def guarded(what: str):
        """The current context in this thread, or pycuda's error for a call without one."""
        if not initialised:
            raise drv.LogicError(f"{what} failed: initialization error")
        ctx = gpu.driver_context()
        if ctx is None:
            raise drv.LogicError(f"{what} failed: invalid device context")
        return ctx

    def failing(what: str, exc: CudaFailure):  # pycuda words errors with the driver's cuGetErrorString
        text = DRIVER_MESSAGES.get(exc.status, ERROR_NAMES.get(exc.status, str(exc.status)))
        return drv.LogicError(f"{what} failed: {text}")

    def init(flags=0):
        if init_error:
            raise drv.Error(init_error)
        initialised.append(True)

    class Context(PrimaryContext):
        @staticmethod
        def pop():
            contexts = gpu._state.contexts
            if not contexts:
                raise drv.LogicError("cuCtxPopCurrent failed: invalid device context")
            contexts.pop()

        @staticmethod
        def get_current():
            return gpu.driver_context()

        def detach(self):
            pass

    class Device:
        def __init__(self, index):
            if not initialised:
                raise drv.LogicError("cuDeviceGet failed: initialization error")
            if not 0 <= index < gpu.devices:
                raise drv.LogicError("cuDeviceGet failed: invalid device ordinal")
            self.index = index

        @staticmethod
        def count():
            if not initialised:
                raise drv.LogicError("cuDeviceGetCount failed: initialization error")
            return gpu.devices

        def name(self):
            return gpu.name

        def compute_capability(self):
            return gpu.capability

        def get_attribute(self, attribute):
            values = {device_attribute.INTEGRATED: int(gpu.integrated),
                      device_attribute.CAN_MAP_HOST_MEMORY: int(gpu.can_map_host_memory),
                      device_attribute.ASYNC_ENGINE_COUNT: 2, device_attribute.UNIFIED_ADDRESSING: 1}
            return values[attribute]

        def __getattr__(self, name):  # pycuda: dev.integrated is get_attribute(device_attribute.INTEGRATED)
            try:
                return self.get_attribute(getattr(device_attribute, name.upper()))
            except AttributeError:
                raise AttributeError(name) from None

        def retain_primary_context(self):
            return Context(gpu, self.index)

    class DeviceAllocation:
        def __init__(self, nbytes):
            guarded("cuMemAlloc")
            try:
                self._allocation = gpu.allocate("device", nbytes)
            except CudaFailure as exc:
                raise failing("cuMemAlloc", exc) from None
            self._freed = False

        def __int__(self):
            return self._allocation.ptr

        __index__ = __int__

        def free(self):  # pycuda activates the allocation's own context to free it
            if not self._freed:
                gpu.free("device", self._allocation.ptr, "cuMemFree")
                self._freed = True

        def __del__(self):
            if getattr(self, "_freed", True) is False:
                try:
                    self.free()
                except Exception:
                    pass

    class HostAllocation:
        """The base of a pagelocked_empty array, as in pycuda (the array's .base, with free())."""

        def __init__(self, shape, dtype, mem_flags=0):
            guarded("cuMemHostAlloc")
            self._shape, self._dtype = tuple(np.atleast_1d(shape).tolist()) if np.ndim(shape) else (int(shape),), dtype
            nbytes = int(np.prod(self._shape)) * dtype.itemsize
            try:
                self._allocation = gpu.allocate("host", max(nbytes, 1), mapped=bool(mem_flags & host_alloc_flags.DEVICEMAP))
            except CudaFailure as exc:
                raise failing("cuMemHostAlloc", exc) from None
            self._freed = False

        def get_device_pointer(self):
            guarded("cuMemHostGetDevicePointer")
            try:
                return gpu.mapped_pointer(self._allocation.ptr)
            except CudaFailure as exc:
                raise failing("cuMemHostGetDevicePointer", exc) from None

        @property
        def __array_interface__(self):
            return {"shape": self._shape, "typestr": self._dtype.str, "data": (self._allocation.ptr, False),
                    "version": 3}

        def free(self):
            if not self._freed:
                gpu.free("host", self._allocation.ptr, "cuMemFreeHost")
                self._freed = True

        def __del__(self):
            if getattr(self, "_freed", True) is False:
                try:
                    self.free()
                except Exception:
                    pass

    def pagelocked_empty(shape, dtype, order="C", mem_flags=0):
        return np.asarray(HostAllocation(shape, np.dtype(dtype), mem_flags))  # its .base is the allocation

    class Stream:
        def __init__(self, flags=0):
            guarded("cuStreamCreate")
            self._stream = gpu.create_stream()
            weakref.finalize(self, gpu.streams.pop, self._stream.handle, None)

        @property
        def handle(self):
            return self._stream.handle

        def synchronize(self):
            guarded("cuStreamSynchronize")
            if self._stream.capture is not None:
                self._stream.invalidated = True
                raise drv.LogicError("cuStreamSynchronize failed: operation not permitted when stream is capturing")
            try:
                gpu.synchronize("cuStreamSynchronize")
            except CudaFailure as exc:
                raise failing("cuStreamSynchronize", exc) from None
            gpu.host_waits_for_stream(self._stream)

        def wait_for_event(self, event):
            guarded("cuStreamWaitEvent")
            gpu.wait_event(self._stream, event._event)

        def is_done(self):
            return self._stream.executed >= self._stream.enqueued

    class Event:
        def __init__(self, flags=0):
            guarded("cuEventCreate")
            self._event = _new_event(gpu)
            weakref.finalize(self, gpu.events.pop, self._event.handle, None)

        def record(self, stream=None):
            guarded("cuEventRecord")
            try:
                gpu.record(self._event, None if stream is None else stream._stream)
            except CudaFailure as exc:
                raise failing("cuEventRecord", exc) from None
            return self

        def synchronize(self):
            guarded("cuEventSynchronize")
            gpu.host_waits_for_event(self._event)
            return self

        def query(self):
            guarded("cuEventQuery")
            e = self._event
            return e.stream is None or e.stream.executed >= e.position

        def time_since(self, start):
            guarded("cuEventElapsedTime")
            try:
                return gpu.elapsed_ms(start._event, self._event)
            except CudaFailure as exc:
                raise failing("cuEventElapsedTime", exc) from None

        def time_till(self, end):
            return end.time_since(self)

    def mem_alloc(nbytes):
        return DeviceAllocation(nbytes)

    host_alloc_flags = types.SimpleNamespace(PORTABLE=1, DEVICEMAP=2, WRITECOMBINED=4)
    device_attribute = types.SimpleNamespace(INTEGRATED="INTEGRATED", CAN_MAP_HOST_MEMORY="CAN_MAP_HOST_MEMORY",
                                             ASYNC_ENGINE_COUNT="ASYNC_ENGINE_COUNT",
                                             UNIFIED_ADDRESSING="UNIFIED_ADDRESSING")

    def _stream(stream):
        return None if stream is None else stream._stream

    def memcpy_htod_async(dest, src, stream=None):
        guarded("cuMemcpyHtoDAsync")
        src = np.asarray(src)
        try:
            gpu.copy(int(dest), src.ctypes.data, src.nbytes, 1, _stream(stream))
        except CudaFailure as exc:
            raise failing("cuMemcpyHtoDAsync", exc) from None

    def memcpy_dtoh_async(dest, src, stream=None):
        guarded("cuMemcpyDtoHAsync")
        try:
            gpu.copy(dest.ctypes.data, int(src), dest.nbytes, 2, _stream(stream))
        except CudaFailure as exc:
            raise failing("cuMemcpyDtoHAsync", exc) from None

    def memcpy_htod(dest, src):
        memcpy_htod_async(dest, src)

    def memcpy_dtoh(dest, src):
        memcpy_dtoh_async(dest, src)

    vars(drv).update(init=init, Context=Context, Device=Device, DeviceAllocation=DeviceAllocation,
                     HostAllocation=HostAllocation, PagelockedHostAllocation=HostAllocation,
                     pagelocked_empty=pagelocked_empty, Stream=Stream, Event=Event, mem_alloc=mem_alloc,
                     memcpy_htod_async=memcpy_htod_async, memcpy_dtoh_async=memcpy_dtoh_async,
                     memcpy_htod=memcpy_htod, memcpy_dtoh=memcpy_dtoh, host_alloc_flags=host_alloc_flags,
                     device_attribute=device_attribute)
    return drv


def _new_event(gpu: FakeGpu) -> Event:
    event = Event(gpu.new_handle(), gpu.runtime_device())
    gpu.events[event.handle] = event
    return event


# ==================================================================== installing

def install(monkeypatch, gpu: FakeGpu | None = None, bindings=("cuda-python", "pycuda"), *, runtime: int = 12060,
            driver: int = 12060, status: int = SUCCESS, init_error: str | None = None, old_layout: bool = False
            ) -> FakeGpu:
    """Put the stand-in bindings in sys.modules (a binding left out counts as not installed) and
    return the GPU they share. old_layout: cuda-python before 12.6 (`from cuda import cudart`)."""
    gpu = gpu or FakeGpu()
    cuda_pkg = types.ModuleType("cuda")
    bindings_pkg = types.ModuleType("cuda.bindings")
    with_cudart = "cuda-python" in bindings
    rt = cudart_module(gpu, runtime, driver, status) if with_cudart else None
    if with_cudart and old_layout:
        cuda_pkg.cudart = rt
        monkeypatch.setitem(sys.modules, "cuda.bindings", None)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
        monkeypatch.setitem(sys.modules, "cuda.cudart", rt)
    else:
        bindings_pkg.runtime = rt
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings_pkg if with_cudart else None)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
        monkeypatch.setitem(sys.modules, "cuda.cudart", None)
    monkeypatch.setitem(sys.modules, "cuda", cuda_pkg if with_cudart else None)
    pkg = types.ModuleType("pycuda")
    drv = pycuda_module(gpu, init_error) if "pycuda" in bindings else None
    if drv is not None:
        pkg.driver = drv
    monkeypatch.setitem(sys.modules, "pycuda", pkg if drv is not None else None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    return gpu
