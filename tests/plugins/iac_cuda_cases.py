"""The cases of libifan_iac_cuda.so's tests, as one table for every device: the GPU
(test_iac_cuda_gpu.py: PyTorch CUDA tensors, CuPy arrays) and the CPU twin, libifan_iac_cpu.so
(test_iac_cuda_twin.py: NumPy buffers behind __cuda_array_interface__, host pointers). Each case
runs through the ctypes wrapper (ifan_trt.runtime.tensorrt.iac_cuda) against the NumPy IAC
(export/iac_numpy.py) in float64 on the same input values: FP32 to 1e-5, FP16 to 1e-2. Fresh
random inputs per case; outputs and workspace are poisoned with NaN before each run, so an
element the kernel does not write fails. A wrong argument in a case fails on the CPU too."""

from __future__ import annotations

import types
import zlib
from dataclasses import dataclass

import numpy as np

from ifan_trt.contract import filter_channels
from ifan_trt.export.iac_numpy import iac_numpy
from ifan_trt.runtime.tensorrt import iac_cuda

TOL = {"fp32": 1e-5, "fp16": 1e-2}
NP_TYPE = {"fp32": np.float32, "fp16": np.float16}
COMBOS = [(0, 0), (0, 1), (1, 0)]  # (mode, layout): official full, official compact, corrected full
# (B, c, h, w): odd sizes, batch > 1, 1x1, h and w < k, W % 4 != 0, several tiles per row
SHAPES = [(1, 2, 5, 7), (2, 3, 9, 16), (1, 2, 1, 1), (1, 2, 2, 3), (1, 1, 13, 300), (1, 1, 7, 259), (3, 4, 6, 10)]


@dataclass(frozen=True)
class Case:
    shape: tuple[int, int, int, int]
    n_iters: int
    k: int
    mode: int
    layout: int
    dtype: str
    misaligned: bool = False

    @property
    def id(self) -> str:
        b, c, h, w = self.shape
        return (f"{b}x{c}x{h}x{w}-N{self.n_iters}-k{self.k}-m{self.mode}l{self.layout}-{self.dtype}"
                + ("-misaligned" if self.misaligned else ""))


# both modes and layouts, FP32 and FP16, aligned buffers and offset views (no vector path)
MATCHES_NUMPY = [Case(shape, 3, k, mode, layout, dtype, misaligned)
                 for shape in SHAPES for k in (3, 7) for mode, layout in COMBOS for dtype in ("fp32", "fp16")
                 for misaligned in (False, True)]
OTHER_TAP_COUNTS = [Case((2, 3, 9, 17), 2, k, 1, 0, dtype) for k in (1, 5) for dtype in ("fp32", "fp16")]
# odd and even N: the last iteration lands in out (N=17: IFAN's count)
ITERATION_PARITY = [Case((1, 4, 6, 12), n, 3, 0, 1, "fp32") for n in (1, 2, 17)]
# IFAN's feature map of a 3840x2160 image (c=128, 270x480: two tiles per row with halos)
FEATURE_MAP_4K = Case((1, 128, 270, 480), 2, 3, 0, 1, "fp16")
# launches on the framework's current stream, captured in a CUDA graph (GPU only; its arguments
# are checked on the twin like every other case's)
CURRENT_STREAM = Case((1, 2, 5, 8), 2, 3, 0, 0, "fp32")
# arrays of the framework, no out or workspace given: the wrapper allocates them
FRAMEWORK_ARRAYS = Case((2, 3, 7, 9), 3, 3, 1, 0, "fp32")


def make_inputs(name: str, shape, n_iters, k, layout, dtype):
    """Fresh values per case (seeded by its name): features ~ N(0, 1), filters scaled so that the
    iterations neither vanish nor explode; rounded to dtype."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    b, c, h, w = shape
    x = rng.standard_normal(shape, dtype=np.float32).astype(NP_TYPE[dtype])
    f = rng.standard_normal((b, filter_channels(n_iters, c, k, layout), h, w), dtype=np.float32)
    f *= np.float32(1.2 / k)
    f = f.astype(NP_TYPE[dtype], copy=False)
    return x, f


def expected_of(case: Case, x: np.ndarray, f: np.ndarray) -> np.ndarray:
    return iac_numpy(x.astype(np.float64), f.astype(np.float64), case.n_iters, case.k, case.mode, case.layout, 0.1)


def run_case(device, library, case: Case) -> None:
    """run_iac on the device's arrays with out and workspace given (poisoned), against NumPy."""
    x, f = make_inputs(case.id, case.shape, case.n_iters, case.k, case.layout, case.dtype)
    expected = expected_of(case, x, f)
    out = device.poisoned(case.shape, NP_TYPE[case.dtype], case.misaligned)
    workspace = device.filled_bytes(iac_cuda.workspace_bytes(case.shape, case.n_iters, NP_TYPE[case.dtype], library),
                                    255)  # 0xFF..: NaN in float and half
    iac_cuda.run_iac(device.copy(x, case.misaligned), device.copy(f, case.misaligned), out, n_iters=case.n_iters,
                     k=case.k, mode=case.mode, layout=case.layout, workspace=workspace, library=library)
    device.synchronize()
    got = device.to_numpy(out).astype(np.float64)
    assert not np.isnan(got).any(), f"{case.id}: {np.isnan(got).sum()} output elements not written"
    np.testing.assert_allclose(got, expected, rtol=TOL[case.dtype], atol=TOL[case.dtype], err_msg=case.id)


def run_framework_arrays(xp, library, case: Case = FRAMEWORK_ARRAYS) -> None:
    """xp: CuPy, or the CPU twin's CuPy-like namespace (TwinDevice.cupy): run_iac allocates out
    and the workspace like the features and queues on the current stream."""
    x, f = make_inputs("cupy", case.shape, case.n_iters, case.k, case.layout, case.dtype)
    out = iac_cuda.run_iac(xp.asarray(x), xp.asarray(f), n_iters=case.n_iters, k=case.k, mode=case.mode,
                           layout=case.layout, library=library)
    xp.cuda.get_current_stream().synchronize()
    np.testing.assert_allclose(xp.asnumpy(out), expected_of(case, x, f), rtol=TOL[case.dtype], atol=TOL[case.dtype])


# ---- devices ---------------------------------------------------------------------------------------

class TorchDevice:
    """PyTorch CUDA tensors."""

    def __init__(self, torch):
        self.torch = torch

    def copy(self, array: np.ndarray, misaligned: bool = False):
        """A contiguous CUDA tensor holding array; misaligned: one element into its allocation."""
        flat = self.torch.from_numpy(np.ascontiguousarray(array).reshape(-1))
        if not misaligned:
            return flat.cuda().view(array.shape)
        storage = self.torch.empty(flat.numel() + 1, dtype=flat.dtype, device="cuda")
        view = storage[1:]
        view.copy_(flat)
        return view.view(array.shape)

    def poisoned(self, shape, dtype, misaligned: bool = False):
        return self.copy(np.zeros(shape, dtype), misaligned).fill_(float("nan"))

    def filled_bytes(self, count: int, value: int):
        return self.torch.full((count,), value, dtype=self.torch.uint8, device="cuda")

    def synchronize(self) -> None:
        self.torch.cuda.synchronize()

    def to_numpy(self, tensor) -> np.ndarray:
        return tensor.float().cpu().numpy()


class HostArray:
    """A NumPy buffer seen through __cuda_array_interface__ (v3, no stream): what the CPU twin's
    "device" pointers are. Keeps its allocation alive."""

    def __init__(self, array: np.ndarray, base: np.ndarray | None = None):
        assert array.flags.c_contiguous
        self.array, self._base = array, base

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.array.shape, "typestr": self.array.dtype.str, "data": (self.array.ctypes.data, False),
                "strides": None, "version": 3, "stream": None}


class TwinDevice:
    """Host memory for the CPU twin; misaligned copies start one element into their allocation."""

    def __init__(self):
        # the CuPy calls the framework case and run_iac's allocation make, on host memory
        self.cupy = types.SimpleNamespace(
            asarray=lambda a: self.copy(np.asarray(a)),
            empty=lambda shape, dtype: HostArray(np.empty(shape, dtype)),
            asnumpy=self.to_numpy,
            cuda=types.SimpleNamespace(get_current_stream=lambda: types.SimpleNamespace(ptr=0, synchronize=lambda: None)))

    def copy(self, array: np.ndarray, misaligned: bool = False) -> HostArray:
        array = np.ascontiguousarray(array)
        if not misaligned:
            return HostArray(array.copy())
        storage = np.empty(array.size + 1, array.dtype)
        view = storage[1:].reshape(array.shape)
        view[...] = array
        return HostArray(view, storage)

    def poisoned(self, shape, dtype, misaligned: bool = False) -> HostArray:
        return self.copy(np.full(shape, np.nan, dtype), misaligned)

    def filled_bytes(self, count: int, value: int) -> HostArray:
        return HostArray(np.full((count,), value, np.uint8))

    def synchronize(self) -> None:
        """Nothing queued: the twin's calls finish before they return."""

    def to_numpy(self, array: HostArray) -> np.ndarray:
        return array.array.astype(np.float32)
