"""CUDA memory, streams, events and graphs behind one small interface, with two
implementations: cuda-python (NVIDIA's bindings, what TensorRT's own samples use since 10.x and
what installs on Jetson) and pycuda. Everything the TensorRT executor does with CUDA goes
through here, and every CUDA call's status is checked.

Both use the device's primary context. The device (cuda-python) or context (pycuda) is current
only in the thread that made it so, while TensorRT and every call here act on the calling thread's
current one: a caller makes it current with ``with cuda.current():`` around each use, in whichever
thread that use runs (a server calls executors from its own worker threads).

Each object has one stream of its own (``stream_handle``); a pipeline asks for more with
``new_stream()`` and passes them to the calls that take ``stream=`` (None: the own stream).
Mapped pinned memory (``mapped_alloc``) is host memory with a device pointer of its own: on an
integrated GPU (``integrated``, e.g. Jetson) kernels read and write it in place, with no copies.
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass

import numpy as np

from ifan_trt.errors import BackendError, IfanError
from ifan_trt.log import get as get_logger

log = get_logger(__name__)

IMPLEMENTATIONS = ("cuda-python", "pycuda")


class CudaError(BackendError):
    """A failed CUDA call (not a user error: the message names the call and CUDA's error)."""


class DriverTooOld(CudaError):
    """The binding's CUDA runtime needs a newer driver than the one installed (the message names the fix)."""


def _cuda_version(number: int) -> str:
    """CUDA's integer versions: 12060 -> '12.6'."""
    return f"{number // 1000}.{number % 1000 // 10}"


def binding_version(binding: str) -> str:
    """'cuda-python 12.9.0', 'pycuda 2025.1' (the name alone when the version cannot be read)."""
    from importlib import metadata

    for dist in ({"cuda-python": ("cuda-bindings", "cuda-python")}.get(binding, (binding,))):
        try:
            return f"{binding} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return binding


def insufficient_driver_message(binding: str, runtime: int | None, driver: int | None) -> str:
    """One line: what the binding needs, what the driver offers, and the fix."""
    need = f"the CUDA {_cuda_version(runtime)} runtime" if runtime else "a newer CUDA runtime"
    have = f"the NVIDIA driver supports CUDA {_cuda_version(driver)}" if driver else "the NVIDIA driver is older"
    if runtime and runtime >= 13000:  # CUDA 12 bindings run on every driver from CUDA 12 on, 13's too
        fix = ("install the CUDA 12 binding: pip install 'ifan-trt[trt-cu12]' (or 'cuda-python>=12,<13'; "
               "on a Jetson, 'ifan-trt[cu12]'), or update the NVIDIA driver to 580 or newer")
    else:
        fix = "update the NVIDIA driver, or pip install pycuda (built against the installed CUDA)"
    return f"{binding} needs {need} but {have} (insufficient driver); {fix}"


class Cuda:
    """One device, one stream. Subclasses implement the calls; sizes are bytes, pointers ints."""

    name = ""
    supports_graphs = False
    device = 0

    @property
    def integrated(self) -> bool:
        """The GPU shares the host's memory (Jetson): mapped host memory costs no copy."""
        return False

    def new_stream(self):
        """Another stream, destroyed by close() or free()."""

    def handle_of(self, stream) -> int:
        """The stream's handle as TensorRT takes it (execute_async_v3)."""

    def wait_event(self, event, stream=None) -> None:
        """Later work on the stream starts after the event's recorded work (cudaStreamWaitEvent)."""

    def event_synchronize(self, event) -> None:
        """The host waits until the event's recorded work is done."""

    def mapped_alloc(self, nbytes: int) -> tuple[np.ndarray, int]:
        """Mapped pinned host memory: the host's uint8 array and the device pointer to the same bytes."""

    def free(self, item) -> None:
        """Release one allocation, event or stream before close() (a pipeline's own)."""

    def current(self) -> contextlib.AbstractContextManager:
        """Make this device (or context) current in the calling thread for a with-block; the
        thread's own choice is restored after it."""
        return contextlib.nullcontext()

    @property
    def stream_handle(self) -> int: ...

    def device_alloc(self, nbytes: int) -> int: ...

    def host_alloc(self, nbytes: int) -> np.ndarray:
        """Pinned (page-locked) host memory as a uint8 array: fast, truly asynchronous copies."""

    def copy_to_device(self, dst: int, src: np.ndarray, stream=None) -> None:
        """Asynchronous on the stream; src must be pinned and stay alive until synchronize()."""

    def copy_to_host(self, dst: np.ndarray, src: int, stream=None) -> None: ...

    def synchronize(self) -> None: ...

    def event(self): ...

    def record(self, event, stream=None) -> None: ...

    def elapsed_ms(self, start, end) -> float:
        """Time between two recorded events (after synchronize())."""

    def begin_capture(self) -> None: ...

    def end_capture(self):
        """The captured work as an executable graph."""

    def launch(self, graph) -> None: ...

    def release(self, graph) -> None:
        """Destroy a graph end_capture returned (before replacing it by a new capture)."""

    def close(self) -> None: ...


def _import_cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python (JetPack 6 era)
    return cudart


def _cudart_error_name(rt, status) -> str:
    _, name = rt.cudaGetErrorName(status)
    return name.decode() if isinstance(name, bytes) else str(name)


def _cudart_insufficient(rt) -> str:
    """The insufficient-driver line for cuda-python, with the runtime and driver CUDA versions."""
    _, runtime = rt.cudaRuntimeGetVersion()
    _, driver = rt.cudaDriverGetVersion()
    return insufficient_driver_message(binding_version("cuda-python"), int(runtime or 0), int(driver or 0))


class CudaPython(Cuda):
    name = "cuda-python"
    supports_graphs = True

    def __init__(self, device: int = 0):
        self.rt = _import_cudart()
        self.device = device
        self._owned: list[tuple[str, object]] = []
        self._graphs: dict[int, object] = {}  # graph exec -> the graph it was instantiated from
        self.stream = None
        with self.current():
            self.stream = self._check(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    @contextlib.contextmanager
    def current(self):
        previous = self._check(self.rt.cudaGetDevice(), "cudaGetDevice")
        if previous != self.device:
            self._check(self.rt.cudaSetDevice(self.device), "cudaSetDevice")
        try:
            yield self
        finally:
            if previous != self.device:
                self._check(self.rt.cudaSetDevice(previous), "cudaSetDevice")

    def _check(self, result, what: str):
        """cuda-python returns (status, *values): raise on a failed status, return the values."""
        status, values = result[0], result[1:]
        if status != self.rt.cudaError_t.cudaSuccess:
            if status == getattr(self.rt.cudaError_t, "cudaErrorInsufficientDriver", None):
                raise DriverTooOld(_cudart_insufficient(self.rt))
            raise CudaError(f"{what} failed: {_cudart_error_name(self.rt, status)}")
        return values[0] if len(values) == 1 else (values or None)

    @property
    def stream_handle(self) -> int:
        return int(self.stream)

    @property
    def integrated(self) -> bool:
        prop = self._check(self.rt.cudaGetDeviceProperties(self.device), "cudaGetDeviceProperties")
        return bool(prop.integrated)

    def new_stream(self):
        stream = self._check(self.rt.cudaStreamCreate(), "cudaStreamCreate")
        self._owned.append(("stream", stream))
        return stream

    def handle_of(self, stream) -> int:
        return int(self.stream if stream is None else stream)

    def wait_event(self, event, stream=None):
        self._check(self.rt.cudaStreamWaitEvent(self.stream if stream is None else stream, event, 0),
                    "cudaStreamWaitEvent")

    def event_synchronize(self, event):
        self._check(self.rt.cudaEventSynchronize(event), "cudaEventSynchronize")

    def mapped_alloc(self, nbytes):
        ptr = self._check(self.rt.cudaHostAlloc(max(nbytes, 1), getattr(self.rt, "cudaHostAllocMapped", 2)),
                          f"cudaHostAlloc({nbytes}, cudaHostAllocMapped)")
        self._owned.append(("host", ptr))
        device_ptr = self._check(self.rt.cudaHostGetDevicePointer(ptr, 0), "cudaHostGetDevicePointer")
        return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(int(ptr))), int(device_ptr)

    def free(self, item):
        address = item.ctypes.data if isinstance(item, np.ndarray) else int(item)
        for i, (kind, handle) in enumerate(self._owned):
            if int(handle) == address:
                del self._owned[i]
                free = {"device": self.rt.cudaFree, "host": self.rt.cudaFreeHost, "event": self.rt.cudaEventDestroy,
                        "stream": self.rt.cudaStreamDestroy}[kind]
                self._check(free(handle), f"freeing a CUDA {kind}")
                return
        raise CudaError(f"free: {address:#x} is not a CUDA object of this binding")

    def device_alloc(self, nbytes):
        ptr = self._check(self.rt.cudaMalloc(max(nbytes, 1)), f"cudaMalloc({nbytes})")
        self._owned.append(("device", ptr))
        return int(ptr)

    def host_alloc(self, nbytes):
        ptr = self._check(self.rt.cudaMallocHost(max(nbytes, 1)), f"cudaMallocHost({nbytes})")
        self._owned.append(("host", ptr))
        return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(int(ptr)))

    def copy_to_device(self, dst, src, stream=None):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind,
                                            self.stream if stream is None else stream), "cudaMemcpyAsync H2D")

    def copy_to_host(self, dst, src, stream=None):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind,
                                            self.stream if stream is None else stream), "cudaMemcpyAsync D2H")

    def synchronize(self):
        self._check(self.rt.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")

    def event(self):
        event = self._check(self.rt.cudaEventCreate(), "cudaEventCreate")
        self._owned.append(("event", event))
        return event

    def record(self, event, stream=None):
        self._check(self.rt.cudaEventRecord(event, self.stream if stream is None else stream), "cudaEventRecord")

    def elapsed_ms(self, start, end):
        return float(self._check(self.rt.cudaEventElapsedTime(start, end), "cudaEventElapsedTime"))

    def begin_capture(self):
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._check(self.rt.cudaStreamBeginCapture(self.stream, mode), "cudaStreamBeginCapture")

    def end_capture(self):
        graph = self._check(self.rt.cudaStreamEndCapture(self.stream), "cudaStreamEndCapture")
        try:
            graph_exec = self._check(self.rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        except CudaError:
            self._check(self.rt.cudaGraphDestroy(graph), "cudaGraphDestroy")
            raise
        self._graphs[int(graph_exec)] = (graph_exec, graph)
        return graph_exec

    def launch(self, graph):
        self._check(self.rt.cudaGraphLaunch(graph, self.stream), "cudaGraphLaunch")

    def release(self, graph):
        graph_exec, source = self._graphs.pop(int(graph))
        self._check(self.rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        self._check(self.rt.cudaGraphDestroy(source), "cudaGraphDestroy")

    def close(self):
        if self.stream is None:
            return
        with self.current():
            self.synchronize()
            for graph_exec in list(self._graphs):
                self.release(graph_exec)
            free = {"device": self.rt.cudaFree, "host": self.rt.cudaFreeHost, "event": self.rt.cudaEventDestroy,
                    "stream": self.rt.cudaStreamDestroy}
            for kind, handle in reversed(self._owned):
                self._check(free[kind](handle), f"freeing a CUDA {kind}")
            self._owned.clear()
            self._check(self.rt.cudaStreamDestroy(self.stream), "cudaStreamDestroy")
            self.stream = None


class PyCuda(Cuda):
    """pycuda raises on every failed call itself (pycuda.driver.Error), so no status to check.
    CUDA graphs are not used through pycuda (its graph API differs between releases)."""

    name = "pycuda"

    def __init__(self, device: int = 0):
        import pycuda.driver as drv

        self.drv = drv
        self.device = device
        drv.init()
        self.context = drv.Device(device).retain_primary_context()  # the context TensorRT uses too
        with self.current():
            self.stream = drv.Stream()
        self._owned: list = []

    @contextlib.contextmanager
    def current(self):
        self.context.push()
        try:
            yield self
        finally:
            self.drv.Context.pop()

    @property
    def stream_handle(self):
        return int(self.stream.handle)

    @property
    def integrated(self) -> bool:
        return bool(self.drv.Device(self.device).get_attribute(self.drv.device_attribute.INTEGRATED))

    def new_stream(self):
        stream = self.drv.Stream()
        self._owned.append(stream)
        return stream

    def handle_of(self, stream) -> int:
        return int((self.stream if stream is None else stream).handle)

    def wait_event(self, event, stream=None):
        (self.stream if stream is None else stream).wait_for_event(event)

    def event_synchronize(self, event):
        event.synchronize()

    def mapped_alloc(self, nbytes):
        array = self.drv.pagelocked_empty(max(nbytes, 1), np.uint8, mem_flags=self.drv.host_alloc_flags.DEVICEMAP)
        self._owned.append(array)
        return array, int(array.base.get_device_pointer())

    def free(self, item):
        for i, owned in enumerate(self._owned):
            same = owned is item or (isinstance(item, int) and isinstance(owned, self.drv.DeviceAllocation)
                                     and int(owned) == item)
            if same:
                del self._owned[i]
                if isinstance(owned, np.ndarray):
                    owned.base.free()
                elif hasattr(owned, "free"):
                    owned.free()
                return  # streams and events are released by pycuda when the last reference goes
        raise CudaError(f"free: {item!r} is not a CUDA object of this binding")

    def device_alloc(self, nbytes):
        allocation = self.drv.mem_alloc(max(nbytes, 1))
        self._owned.append(allocation)
        return int(allocation)

    def host_alloc(self, nbytes):
        array = self.drv.pagelocked_empty(nbytes, np.uint8)
        self._owned.append(array)
        return array

    def copy_to_device(self, dst, src, stream=None):
        self.drv.memcpy_htod_async(dst, src, self.stream if stream is None else stream)

    def copy_to_host(self, dst, src, stream=None):
        self.drv.memcpy_dtoh_async(dst, src, self.stream if stream is None else stream)

    def synchronize(self):
        self.stream.synchronize()

    def event(self):
        event = self.drv.Event()
        self._owned.append(event)
        return event

    def record(self, event, stream=None):
        event.record(self.stream if stream is None else stream)

    def elapsed_ms(self, start, end):
        return float(end.time_since(start))

    def close(self):
        if self.stream is None:
            return
        with self.current():
            self.stream.synchronize()
            for item in self._owned:
                if isinstance(item, np.ndarray):
                    item.base.free()
                elif hasattr(item, "free"):
                    item.free()
            self._owned.clear()  # streams and events: released with their last reference
            self.stream = None


def available_implementations() -> list[str]:
    found = []
    try:
        _import_cudart()
        found.append("cuda-python")
    except ImportError:
        pass
    try:
        import pycuda.driver  # noqa: F401

        found.append("pycuda")
    except ImportError:
        pass
    return found


def _open_one(implementation: str, device: int) -> Cuda:
    return CudaPython(device) if implementation == "cuda-python" else PyCuda(device)


def _problem(binding: str, exc: BaseException) -> str:
    """One line for a binding that failed (an insufficient-driver line already names it)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if isinstance(exc, DriverTooOld) else f"{binding}: {text}"


def open_cuda(implementation: str = "auto", device: int = 0) -> Cuda:
    """cuda-python when installed and it opens the GPU (auto), else pycuda; a clear error when
    neither is installed or none opens. A fallback is announced in one line."""
    found = available_implementations()
    if implementation not in IMPLEMENTATIONS + ("auto",):
        raise IfanError(f"unknown CUDA implementation {implementation!r}; choose {', '.join(IMPLEMENTATIONS)}")
    if implementation == "auto" and not found:
        raise IfanError("TensorRT needs cuda-python or pycuda: pip install 'ifan-trt[trt-cu12]' "
                        "(or 'ifan-trt[trt-cu13]' with an NVIDIA driver 580 or newer; on a Jetson 'ifan-trt[cu12]')")
    if implementation != "auto" and implementation not in found:
        raise IfanError(f"{implementation} is not installed (found: {', '.join(found) or 'none'})")
    failures = []
    for name in found if implementation == "auto" else [implementation]:
        try:
            cuda = _open_one(name, device)
        except Exception as exc:  # CudaError, pycuda.driver.Error, a native part that fails to load
            failures.append(_problem(name, exc))
            continue
        if failures:
            log.warning(f"CUDA through {binding_version(name)} ({'; '.join(failures)})")
        return cuda
    raise IfanError(f"GPU {device}: no CUDA binding could open it ({'; '.join(failures)})")


@dataclass(frozen=True)
class GpuProbe:
    """What the installed bindings see: device count, the binding that answered (None when none
    did) and one line per binding that failed (an insufficient driver, a broken install)."""

    count: int
    binding: str | None
    problems: tuple[str, ...] = ()

    @property
    def problem(self) -> str:
        return "; ".join(self.problems)


def _count_cuda_python() -> int:
    rt = _import_cudart()
    status, count = rt.cudaGetDeviceCount()
    if status == rt.cudaError_t.cudaSuccess:
        return int(count)
    if status == getattr(rt.cudaError_t, "cudaErrorNoDevice", None):
        return 0
    if status == getattr(rt.cudaError_t, "cudaErrorInsufficientDriver", None):
        if not int(rt.cudaDriverGetVersion()[1] or 0):
            return 0  # no NVIDIA driver at all: no GPU, nothing to fix in the binding
        raise DriverTooOld(_cudart_insufficient(rt))
    raise CudaError(f"cudaGetDeviceCount failed: {_cudart_error_name(rt, status)}")


def _count_pycuda() -> int:
    import pycuda.driver as drv

    try:
        drv.init()
        return int(drv.Device.count())
    except drv.Error as exc:
        text = str(exc)
        if "NO_DEVICE" in text.upper() or "no cuda-capable device" in text.lower() or "no device" in text.lower():
            return 0
        if "INSUFFICIENT_DRIVER" in text.upper() or "insufficient" in text.lower():
            raise DriverTooOld(insufficient_driver_message(binding_version("pycuda"), None, None)) from None
        raise


_COUNTERS = {"cuda-python": _count_cuda_python, "pycuda": _count_pycuda}


def probe_gpus() -> GpuProbe:
    """Ask each installed binding in turn until one answers; never raises."""
    problems = []
    for name in available_implementations():
        try:
            return GpuProbe(_COUNTERS[name](), name, tuple(problems))
        except Exception as exc:
            problems.append(_problem(name, exc))
    return GpuProbe(0, None, tuple(problems))


def gpu_count() -> int:
    """CUDA devices visible (0 without a driver or a working binding; probe_gpus() says why)."""
    return probe_gpus().count


def _properties(binding: str, device: int) -> dict:
    if binding == "cuda-python":
        rt = _import_cudart()
        status, prop = rt.cudaGetDeviceProperties(device)
        if status != rt.cudaError_t.cudaSuccess:
            raise CudaError(f"cudaGetDeviceProperties failed: {_cudart_error_name(rt, status)}")
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        return {"name": name.strip("\x00 "), "compute_capability": f"{prop.major}.{prop.minor}"}
    import pycuda.driver as drv

    dev = drv.Device(device)
    return {"name": dev.name(), "compute_capability": "%d.%d" % dev.compute_capability()}


def gpu_info(device: int = 0) -> dict:
    """Name, compute capability and the binding that read them; "unknown" with the reason where
    no binding can (never raises: it labels reports and sidecars)."""
    probe = probe_gpus()
    if probe.binding is not None and probe.count > device:
        try:
            return {**_properties(probe.binding, device), "cuda_binding": binding_version(probe.binding)}
        except Exception as exc:
            probe = GpuProbe(probe.count, probe.binding, probe.problems + (_problem(probe.binding, exc),))
    reason = probe.problem or ("no CUDA binding installed" if probe.binding is None else f"no GPU {device}")
    return {"name": "unknown", "compute_capability": "unknown", "cuda_binding": None, "reason": reason}
