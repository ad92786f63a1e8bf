"""The IAC kernels on the GPU without TensorRT: ctypes over libifan_iac_cuda.so (its C ABI is
plugins/iacPlugin/iacCudaApi.h), run on CuPy arrays, PyTorch CUDA tensors or anything with
``__cuda_array_interface__``.

The library is found through ``IFAN_IAC_CUDA_LIB``, then the CMake build folders (the same
folders as the plugin library), and loaded on first use: importing this module needs no CUDA,
no torch and no CuPy. Arguments are checked here, each failure in one line; a failed launch
raises CudaError with CUDA's error name.

    from ifan_trt.runtime.tensorrt.iac_cuda import run_iac
    out = run_iac(features, filters, n_iters=17)     # torch.cuda or cupy, float32 or float16
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.contract import iac_problem_error
from ifan_trt.runtime.tensorrt.cuda import CudaError
from ifan_trt.runtime.tensorrt.plugin_library import search_dirs

ENV_VAR = "IFAN_IAC_CUDA_LIB"
LIBRARY_NAME = "libifan_iac_cuda.so"
ABI_VERSION = 1  # IFAN_IAC_ABI_VERSION of iacCudaApi.h
DTYPES = {np.dtype(np.float32): "float", np.dtype(np.float16): "half"}
BUILD_HINT = ("build it with `cmake -S . -B build -DIFAN_BUILD_PLUGIN=AUTO && cmake --build build --target "
              "ifan_iac_cuda` in the ifan-trt source folder (needs nvcc, not TensorRT), or set "
              f"{ENV_VAR}=<path to {LIBRARY_NAME}>")

_libraries: dict[str, ctypes.CDLL] = {}


def find_library(path: str | os.PathLike | None = None) -> Path:
    """The library: path, else $IFAN_IAC_CUDA_LIB, else the first build folder that has it."""
    if path is None and os.environ.get(ENV_VAR):
        path, source = os.environ[ENV_VAR], f"from {ENV_VAR}"
    else:
        source = "given path"
    if path is not None:
        if not Path(path).is_file():
            raise IfanError(f"{path}: no such file ({source}); {BUILD_HINT}")
        return Path(path)
    for folder in search_dirs():
        if (folder / LIBRARY_NAME).is_file():
            return folder / LIBRARY_NAME
    searched = ", ".join(str(d) for d in search_dirs())
    raise IfanError(f"{LIBRARY_NAME}: not found (searched {searched}); {BUILD_HINT}")


def load_library(path: str | os.PathLike | None = None) -> ctypes.CDLL:
    """The loaded library (once per file), after checking its ABI version."""
    library = find_library(path)
    key = os.path.realpath(library)
    if key in _libraries:
        return _libraries[key]
    try:
        lib = ctypes.CDLL(key)
        version = lib.ifan_iac_abi_version
    except (OSError, AttributeError) as exc:
        raise IfanError(f"{library}: not a loadable {LIBRARY_NAME} ({exc}); {BUILD_HINT}") from exc
    version.restype = ctypes.c_int32
    if version() != ABI_VERSION:
        raise IfanError(f"{library}: C ABI version {version()}, this ifan-trt needs {ABI_VERSION}; {BUILD_HINT}")
    i32, ptr = ctypes.c_int32, ctypes.c_void_p
    for name in ("ifan_iac_run_float", "ifan_iac_run_half"):
        run = getattr(lib, name)
        run.argtypes = [ptr, ptr, ptr, ptr, ctypes.c_size_t] + [i32] * 8 + [ctypes.c_float, ptr]
        run.restype = i32
    lib.ifan_iac_workspace_bytes.argtypes = [i32] * 5 + [ctypes.c_size_t]
    lib.ifan_iac_workspace_bytes.restype = ctypes.c_size_t
    lib.ifan_iac_error_name.argtypes = [i32]
    lib.ifan_iac_error_name.restype = ctypes.c_char_p
    _libraries[key] = lib
    return lib


@dataclass(frozen=True)
class DeviceBuffer:
    """What the kernels need to know of an array: its device address, shape and dtype."""

    name: str
    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype


def _is_torch(array) -> bool:
    return type(array).__module__.split(".")[0] == "torch"


def device_buffer(array, name: str) -> DeviceBuffer:
    """The DeviceBuffer of a torch CUDA tensor or a __cuda_array_interface__ array; one-line
    IfanError for host arrays, other dtypes and non-contiguous views."""
    if _is_torch(array):
        if not array.is_cuda:
            raise IfanError(f"iac_cuda: {name}: a torch tensor on {array.device}, not on a CUDA device")
        if not array.is_contiguous():
            raise IfanError(f"iac_cuda: {name}: not contiguous; pass tensor.contiguous()")
        dtype = str(array.dtype).replace("torch.", "")  # torch names its float32/float16 as NumPy does
        if dtype not in ("float32", "float16"):
            raise IfanError(f"iac_cuda: {name}: dtype {dtype}, the kernels take float32 or float16")
        buffer = DeviceBuffer(name, int(array.data_ptr()), tuple(array.shape), np.dtype(dtype))
    else:
        interface = getattr(array, "__cuda_array_interface__", None)
        if interface is None:
            raise IfanError(f"iac_cuda: {name}: a {type(array).__module__}.{type(array).__name__} is not a CUDA "
                            "array (pass a CuPy array or a PyTorch CUDA tensor)")
        shape, dtype = tuple(interface["shape"]), np.dtype(interface["typestr"])
        strides = interface.get("strides")
        if strides is not None and tuple(strides) != _c_strides(shape, dtype.itemsize):
            raise IfanError(f"iac_cuda: {name}: not C-contiguous (strides {tuple(strides)}); pass a contiguous copy")
        buffer = DeviceBuffer(name, int(interface["data"][0]), shape, dtype)
    if buffer.dtype not in DTYPES:
        raise IfanError(f"iac_cuda: {name}: dtype {buffer.dtype}, the kernels take float32 or float16")
    return buffer


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def check_problem(features: DeviceBuffer, filters: DeviceBuffer, out: DeviceBuffer, n_iters: int, k: int,
                  mode: int, layout: int) -> None:
    """One-line IfanError when the buffers and attributes do not make one IAC problem."""
    problem = iac_problem_error(features.shape, filters.shape, n_iters, k, mode, layout)
    if problem:
        raise IfanError(f"iac_cuda: {problem}")
    b, c = features.shape[:2]
    if out.shape != features.shape:
        raise IfanError(f"iac_cuda: out: shape {out.shape}, expected the features' {features.shape}")
    if len({features.dtype, filters.dtype, out.dtype}) != 1:
        raise IfanError(f"iac_cuda: features, filters and out must have one dtype, got {features.dtype}, "
                        f"{filters.dtype}, {out.dtype}")
    if b * c > 65535:
        raise IfanError(f"iac_cuda: batch x channels = {b * c} exceeds 65535 (one CUDA grid row per plane)")
    for source in (features, filters):
        if _overlap(out, source):
            raise IfanError(f"iac_cuda: out overlaps {source.name}: the iterations read it while writing out")


def _nbytes(buffer: DeviceBuffer) -> int:
    return int(np.prod(buffer.shape, dtype=np.int64)) * buffer.dtype.itemsize


def _overlap(a: DeviceBuffer, b: DeviceBuffer) -> bool:
    return a.ptr < b.ptr + _nbytes(b) and b.ptr < a.ptr + _nbytes(a)


def _like(array, shape, dtype):
    """A new CUDA array of the framework of array (torch or CuPy)."""
    if _is_torch(array):
        import torch

        return torch.empty(shape, dtype=getattr(torch, str(np.dtype(dtype))), device=array.device)
    try:
        import cupy
    except ImportError as exc:
        raise IfanError(f"iac_cuda: cannot allocate like a {type(array).__name__} without CuPy: pass out= and "
                        "workspace=") from exc
    return cupy.empty(shape, dtype=dtype)


def _current_stream(array) -> int:
    """The stream the array's producer orders its work on, so that the IAC is ordered with the
    work around it: __cuda_array_interface__'s "stream" (version 3) when it names one, else the
    framework's current stream (0: the legacy default stream)."""
    if _is_torch(array):
        import torch

        return int(torch.cuda.current_stream(array.device).cuda_stream)
    stream = (getattr(array, "__cuda_array_interface__", None) or {}).get("stream")
    if stream is not None:
        return int(stream)  # 1 and 2 are cudaStreamLegacy and cudaStreamPerThread, valid launch streams
    try:
        import cupy
    except ImportError:
        return 0
    return int(cupy.cuda.get_current_stream().ptr)


def _on_device(array):
    """A with-block making the array's device current (the launch goes to the current device)."""
    if _is_torch(array):
        import torch

        return torch.cuda.device(array.device)
    device = getattr(array, "device", None)  # CuPy: a cupy.cuda.Device, itself a context manager
    if hasattr(device, "__enter__") and hasattr(device, "__exit__"):
        return device
    return contextlib.nullcontext()


def run_iac(features, filters, out=None, *, n_iters: int, k: int = 3, mode: int = 0, layout: int = 0,
            slope: float = 0.1, stream: int | None = None, workspace=None, library: str | os.PathLike | None = None):
    """All n_iters iterations of the IAC on the GPU, queued on stream (default: the framework's
    current stream); returns out (allocated like features when None). workspace: a CUDA array
    of at least workspace_bytes() bytes (allocated like features when None)."""
    lib = load_library(library)
    f, g = device_buffer(features, "features"), device_buffer(filters, "filters")
    if out is None:
        out = _like(features, f.shape, f.dtype)
    o = device_buffer(out, "out")
    check_problem(f, g, o, n_iters, k, mode, layout)
    b, c, h, w = f.shape
    needed = int(lib.ifan_iac_workspace_bytes(b, c, h, w, n_iters, f.dtype.itemsize))
    if workspace is None and needed:
        workspace = _like(features, (needed,), np.uint8)
    ws_ptr, ws_bytes = device_buffer_bytes(workspace) if workspace is not None else (0, 0)
    if ws_bytes < needed:
        raise IfanError(f"iac_cuda: workspace: {ws_bytes} bytes, N={n_iters} at {f.shape} needs {needed}")
    run = lib.ifan_iac_run_float if f.dtype == np.float32 else lib.ifan_iac_run_half
    handle = _current_stream(features) if stream is None else int(stream)
    with _on_device(features):
        status = run(f.ptr, g.ptr, o.ptr, ws_ptr or None, ws_bytes, b, c, h, w, n_iters, k, mode, layout,
                     float(slope), handle or None)
    if status != 0:
        name = lib.ifan_iac_error_name(status).decode()
        raise CudaError(f"ifan_iac_run_{DTYPES[f.dtype]} failed: {name} ({status})")
    return out


def device_buffer_bytes(workspace) -> tuple[int, int]:
    """(address, size in bytes) of a workspace array (any dtype)."""
    if _is_torch(workspace):
        if not workspace.is_cuda:
            raise IfanError(f"iac_cuda: workspace: a torch tensor on {workspace.device}, not on a CUDA device")
        return int(workspace.data_ptr()), int(workspace.numel() * workspace.element_size())
    interface = getattr(workspace, "__cuda_array_interface__", None)
    if interface is None:
        raise IfanError("iac_cuda: workspace: not a CUDA array (pass a CuPy array or a PyTorch CUDA tensor)")
    count = int(np.prod(interface["shape"], dtype=np.int64))
    return int(interface["data"][0]), count * np.dtype(interface["typestr"]).itemsize


def workspace_bytes(shape: tuple[int, int, int, int], n_iters: int, dtype, library=None) -> int:
    """Bytes of workspace run_iac needs for features of shape (0 when n_iters == 1)."""
    b, c, h, w = shape
    return int(load_library(library).ifan_iac_workspace_bytes(b, c, h, w, n_iters, np.dtype(dtype).itemsize))
