"""Where run_iac launches (libifan_iac_cuda.so through ctypes): on the stream the array's
__cuda_array_interface__ names and with the array's device current. The library is replaced by a
recorder with the same entry points (the numbers are checked on a GPU in tests/plugins)."""

from __future__ import annotations

import types

import numpy as np

from ifan_trt.runtime.tensorrt import iac_cuda


class Device:
    """A CuPy-like device: a context manager that makes itself current."""

    def __init__(self, index, log):
        self.index, self.log = index, log

    def __enter__(self):
        self.log.append(("enter", self.index))

    def __exit__(self, *exc):
        self.log.append(("exit", self.index))


class CudaArray:
    def __init__(self, shape, ptr, stream=None, device=None):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": "<f4", "data": (ptr, False),
                                         "strides": None, "version": 3, "stream": stream}
        self.device = device


def recording_library(log):
    def run(*args):
        log.append(("run", args[-1]))
        return 0

    return types.SimpleNamespace(ifan_iac_workspace_bytes=lambda *a: 0, ifan_iac_run_float=run,
                                 ifan_iac_run_half=run)


def test_the_launch_follows_the_arrays_stream_and_device(monkeypatch):
    log = []
    monkeypatch.setattr(iac_cuda, "load_library", lambda library=None: recording_library(log))
    device = Device(1, log)
    b, c, h, w, n, k = 1, 2, 5, 7, 1, 3
    features = CudaArray((b, c, h, w), 1 << 20, stream=0x5151, device=device)
    filters = CudaArray((b, n * c * (2 * k + 1), h, w), 1 << 24, stream=0x5151, device=device)
    out = CudaArray((b, c, h, w), 1 << 28, stream=0x5151, device=device)
    iac_cuda.run_iac(features, filters, out, n_iters=n, k=k)
    assert log == [("enter", 1), ("run", 0x5151), ("exit", 1)]
    log.clear()
    iac_cuda.run_iac(features, filters, out, n_iters=n, k=k, stream=0x77)  # an explicit stream wins
    assert ("run", 0x77) in log
    log.clear()
    legacy = CudaArray((b, c, h, w), 1 << 20, stream=1)  # CAI: 1 is the legacy default stream
    iac_cuda.run_iac(legacy, filters, out, n_iters=n, k=k)
    assert log == [("run", 1)]
    assert np.dtype(iac_cuda.device_buffer(legacy, "x").dtype) == np.float32
