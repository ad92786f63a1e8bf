"""One set of I/O buffers for a TensorRT execution context, on one of two memory paths:

- "copy": pinned host memory and device memory per tensor; inputs are copied to the device and
  the output back, asynchronously on the caller's stream (a discrete GPU).
- "zero-copy": mapped pinned host memory per tensor (cudaHostAlloc with cudaHostAllocMapped, or
  pycuda's DEVICEMAP); the engine reads and writes it through its device pointer, so nothing is
  copied. Chosen on integrated GPUs (Jetson), whose GPU and CPU share the same DRAM: there a copy
  only moves bytes within one memory.
"""

from __future__ import annotations

import numpy as np

from .cuda import Cuda

MEMORY_PATHS = ("copy", "zero-copy")


def choose_memory_path(cuda: Cuda, requested: str = "auto") -> str:
    """"zero-copy" on an integrated GPU, else "copy"; an explicit choice is kept."""
    if requested not in MEMORY_PATHS + ("auto",):
        raise ValueError(f"memory={requested!r}: choose auto, {', '.join(MEMORY_PATHS)}")
    if requested != "auto":
        return requested
    return "zero-copy" if cuda.integrated else "copy"


class BufferSet:
    """Host and device buffers of every I/O tensor, sized in bytes by `sizes`."""

    def __init__(self, cuda: Cuda, sizes: dict[str, int], memory_path: str = "copy"):
        self.cuda, self.memory_path = cuda, memory_path
        self.host: dict[str, np.ndarray] = {}
        self.device: dict[str, int] = {}
        try:
            for name, nbytes in sizes.items():
                if memory_path == "zero-copy":
                    self.host[name], self.device[name] = cuda.mapped_alloc(nbytes)
                else:
                    self.device[name] = cuda.device_alloc(nbytes)
                    self.host[name] = cuda.host_alloc(nbytes)
        except BaseException:
            self.release()
            raise

    @property
    def zero_copy(self) -> bool:
        return self.memory_path == "zero-copy"

    def view(self, name: str, dtype: np.dtype, shape: tuple) -> np.ndarray:
        """The tensor's host bytes as an array of its type and shape."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self.host[name][:nbytes].view(dtype).reshape(shape)

    def upload(self, name: str, nbytes: int, stream=None) -> None:
        """The first nbytes of the tensor's host buffer to the device (nothing on the zero-copy path)."""
        if not self.zero_copy:
            self.cuda.copy_to_device(self.device[name], self.host[name][:nbytes], stream)

    def download(self, name: str, nbytes: int, stream=None) -> None:
        """The first nbytes of the tensor's device buffer to the host (nothing on the zero-copy path)."""
        if not self.zero_copy:
            self.cuda.copy_to_host(self.host[name][:nbytes], self.device[name], stream)

    def release(self) -> None:
        """Free the buffers now (after the work using them is done); close() of the Cuda object
        frees whatever is left."""
        for name in list(self.device):
            if self.zero_copy:
                self.cuda.free(self.host.pop(name))
            else:
                self.cuda.free(self.device[name])
                if name in self.host:
                    self.cuda.free(self.host.pop(name))
        self.device.clear()
        self.host.clear()
