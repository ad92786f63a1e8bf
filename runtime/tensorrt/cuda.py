"""CUDA memory, one stream, events and graphs behind one small interface, with two
implementations: cuda-python (NVIDIA's bindings, what TensorRT's own samples use since 10.x and
what installs on Jetson) and pycuda. Everything the TensorRT executor does with CUDA goes
through here, and every CUDA call's status is checked.

Both use the device's primary context, so an executor may be used from any one thread; pycuda
makes its context current in the thread that opens it (open and use it in the same thread).
"""

from __future__ import annotations

import ctypes

import numpy as np

from ifan_trt.errors import IfanError

IMPLEMENTATIONS = ("cuda-python", "pycuda")


class CudaError(RuntimeError):
    """A failed CUDA call (not a user error: the message names the call and CUDA's error)."""


class Cuda:
    """One device, one stream. Subclasses implement the calls; sizes are bytes, pointers ints."""

    name = ""
    supports_graphs = False

    @property
    def stream_handle(self) -> int: ...

    def device_alloc(self, nbytes: int) -> int: ...

    def host_alloc(self, nbytes: int) -> np.ndarray:
        """Pinned (page-locked) host memory as a uint8 array: fast, truly asynchronous copies."""

    def copy_to_device(self, dst: int, src: np.ndarray) -> None:
        """Asynchronous on the stream; src must be pinned and stay alive until synchronize()."""

    def copy_to_host(self, dst: np.ndarray, src: int) -> None: ...

    def synchronize(self) -> None: ...

    def event(self): ...

    def record(self, event) -> None: ...

    def elapsed_ms(self, start, end) -> float:
        """Time between two recorded events (after synchronize())."""

    def begin_capture(self) -> None: ...

    def end_capture(self):
        """The captured work as an executable graph."""

    def launch(self, graph) -> None: ...

    def close(self) -> None: ...


def _import_cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python (JetPack 6 era)
    return cudart


class CudaPython(Cuda):
    name = "cuda-python"
    supports_graphs = True

    def __init__(self, device: int = 0):
        self.rt = _import_cudart()
        self._owned: list[tuple[str, object]] = []
        self._check(self.rt.cudaSetDevice(device), "cudaSetDevice")
        self.stream = self._check(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    def _check(self, result, what: str):
        """cuda-python returns (status, *values): raise on a failed status, return the values."""
        status, values = result[0], result[1:]
        if status != self.rt.cudaError_t.cudaSuccess:
            _, name = self.rt.cudaGetErrorName(status)
            raise CudaError(f"{what} failed: {name.decode() if isinstance(name, bytes) else name}")
        return values[0] if len(values) == 1 else (values or None)

    @property
    def stream_handle(self) -> int:
        return int(self.stream)

    def device_alloc(self, nbytes):
        ptr = self._check(self.rt.cudaMalloc(max(nbytes, 1)), f"cudaMalloc({nbytes})")
        self._owned.append(("device", ptr))
        return int(ptr)

    def host_alloc(self, nbytes):
        ptr = self._check(self.rt.cudaMallocHost(max(nbytes, 1)), f"cudaMallocHost({nbytes})")
        self._owned.append(("host", ptr))
        return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(int(ptr)))

    def copy_to_device(self, dst, src):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, self.stream), "cudaMemcpyAsync H2D")

    def copy_to_host(self, dst, src):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, self.stream), "cudaMemcpyAsync D2H")

    def synchronize(self):
        self._check(self.rt.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")

    def event(self):
        event = self._check(self.rt.cudaEventCreate(), "cudaEventCreate")
        self._owned.append(("event", event))
        return event

    def record(self, event):
        self._check(self.rt.cudaEventRecord(event, self.stream), "cudaEventRecord")

    def elapsed_ms(self, start, end):
        return float(self._check(self.rt.cudaEventElapsedTime(start, end), "cudaEventElapsedTime"))

    def begin_capture(self):
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._check(self.rt.cudaStreamBeginCapture(self.stream, mode), "cudaStreamBeginCapture")

    def end_capture(self):
        graph = self._check(self.rt.cudaStreamEndCapture(self.stream), "cudaStreamEndCapture")
        self._owned.append(("graph", graph))
        graph_exec = self._check(self.rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        self._owned.append(("graph_exec", graph_exec))
        return graph_exec

    def launch(self, graph):
        self._check(self.rt.cudaGraphLaunch(graph, self.stream), "cudaGraphLaunch")

    def close(self):
        if self.stream is None:
            return
        self.synchronize()
        free = {"device": self.rt.cudaFree, "host": self.rt.cudaFreeHost, "event": self.rt.cudaEventDestroy,
                "graph": self.rt.cudaGraphDestroy, "graph_exec": self.rt.cudaGraphExecDestroy}
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
        drv.init()
        self.context = drv.Device(device).retain_primary_context()  # the context TensorRT uses too
        self.context.push()
        self.stream = drv.Stream()
        self._owned: list = []

    @property
    def stream_handle(self):
        return int(self.stream.handle)

    def device_alloc(self, nbytes):
        allocation = self.drv.mem_alloc(max(nbytes, 1))
        self._owned.append(allocation)
        return int(allocation)

    def host_alloc(self, nbytes):
        array = self.drv.pagelocked_empty(nbytes, np.uint8)
        self._owned.append(array)
        return array

    def copy_to_device(self, dst, src):
        self.drv.memcpy_htod_async(dst, src, self.stream)

    def copy_to_host(self, dst, src):
        self.drv.memcpy_dtoh_async(dst, src, self.stream)

    def synchronize(self):
        self.stream.synchronize()

    def event(self):
        return self.drv.Event()

    def record(self, event):
        event.record(self.stream)

    def elapsed_ms(self, start, end):
        return float(end.time_since(start))

    def close(self):
        if self.stream is None:
            return
        self.stream.synchronize()
        for item in self._owned:
            (item.base if isinstance(item, np.ndarray) else item).free()
        self._owned.clear()
        self.stream = None
        self.context.pop()


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


def open_cuda(implementation: str = "auto", device: int = 0) -> Cuda:
    """cuda-python when installed (auto), else pycuda; a clear error when neither is."""
    found = available_implementations()
    if implementation == "auto":
        if not found:
            raise IfanError("TensorRT needs cuda-python or pycuda: pip install 'ifan-trt[trt]' (cuda-python)")
        implementation = found[0]
    if implementation not in IMPLEMENTATIONS:
        raise IfanError(f"unknown CUDA implementation {implementation!r}; choose {', '.join(IMPLEMENTATIONS)}")
    if implementation not in found:
        raise IfanError(f"{implementation} is not installed (found: {', '.join(found) or 'none'})")
    return CudaPython(device) if implementation == "cuda-python" else PyCuda(device)


def gpu_count() -> int:
    """CUDA devices visible (0 without a driver or without either binding); never raises."""
    try:
        cudart = _import_cudart()
        status, count = cudart.cudaGetDeviceCount()
        return int(count) if status == cudart.cudaError_t.cudaSuccess else 0
    except Exception:
        pass
    try:
        import pycuda.driver as drv

        drv.init()
        return drv.Device.count()
    except Exception:
        return 0
