"""The ctypes wrapper of libifan_iac_cuda.so on the CPU: finding and loading the library, the
argument checks (one-line errors), and CUDA's status coming back through the C ABI. The numbers
are compared on a GPU in tests/plugins/test_iac_cuda_gpu.py."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.cuda_library import iac_cuda_build_87, library_in  # noqa: F401 (fixture)
from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt.cuda import CudaError
from ifan_trt.runtime.tensorrt import iac_cuda


class FakeCudaArray:
    """Just a __cuda_array_interface__ (the kernels are never reached with it on a GPU-less run)."""

    def __init__(self, shape, typestr="<f4", ptr=1 << 20, strides=None):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "strides": strides, "version": 3}


def buffers(b=1, c=2, h=5, w=7, n=2, k=3, layout=0, typestr="<f4"):
    cf = n * c * ((2 * k + 1) if layout == 0 else (k + 1))
    features, out = FakeCudaArray((b, c, h, w), typestr, 1 << 20), FakeCudaArray((b, c, h, w), typestr, 1 << 28)
    return features, FakeCudaArray((b, cf, h, w), typestr, 1 << 24), out


def check(*arrays, n=2, k=3, mode=0, layout=0):
    names = ("features", "filters", "out")
    iac_cuda.check_problem(*(iac_cuda.device_buffer(a, name) for a, name in zip(arrays, names)), n, k, mode, layout)


def test_import_needs_no_cuda():
    code = ("import sys; import ifan_trt.runtime.tensorrt.iac_cuda; "
            "assert not {'torch', 'cupy', 'tensorrt'} & set(sys.modules), sorted(sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_valid_problems_pass():
    check(*buffers())
    check(*buffers(layout=1), layout=1)
    check(*buffers(typestr="<f2"), mode=1)


@pytest.mark.parametrize("arrays, kwargs, message", [
    (buffers(), {"mode": 1, "layout": 1}, "compact layout drops kernel2"),
    (buffers(), {"mode": 2}, "mode must be 0 (official) or 1 (corrected)"),
    (buffers(k=4), {"k": 4}, "k must be odd and between 1 and 7"),
    (buffers(n=0), {"n": 0}, "N (iterations) must be >= 1"),
    (buffers(n=3), {}, "filters have shape (1, 42, 5, 7); N=2, k=3, layout full and features (1, 2, 5, 7) need "
                       "(1, 28, 5, 7)"),
    (buffers()[:2] + (FakeCudaArray((1, 2, 5, 8)),), {}, "out: shape (1, 2, 5, 8), expected the features'"),
    (buffers()[:2] + (FakeCudaArray((1, 2, 5, 7), "<f2"),), {}, "must have one dtype"),
    ((FakeCudaArray((2, 5, 7)),) + buffers()[1:], {}, "features and filters must be 4-D (B, c, h, w), got (2, 5, 7) and (1, 28, 5, 7)"),
    (buffers(b=513, c=128, h=1, w=1, n=1), {"n": 1}, "batch x channels = 65664 exceeds 65535"),
    (buffers()[:2] + (FakeCudaArray((1, 2, 5, 7), ptr=(1 << 20) + 4),), {}, "out overlaps features"),
    (buffers()[:2] + (FakeCudaArray((1, 2, 5, 7), ptr=(1 << 24) + 1000),), {}, "out overlaps filters"),
])
def test_problem_errors(arrays, kwargs, message):
    with pytest.raises(IfanError) as info:
        check(*arrays, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_buffer_errors():
    with pytest.raises(IfanError, match="features: a numpy.ndarray is not a CUDA array"):
        iac_cuda.device_buffer(np.zeros((1, 2, 3, 4), np.float32), "features")
    with pytest.raises(IfanError, match="dtype float64, the kernels take float32 or float16"):
        iac_cuda.device_buffer(FakeCudaArray((1, 2), "<f8"), "out")
    with pytest.raises(IfanError, match=r"filters: not C-contiguous \(strides \(4, 8\)\)"):
        iac_cuda.device_buffer(FakeCudaArray((2, 3), strides=(4, 8)), "filters")
    assert iac_cuda.device_buffer(FakeCudaArray((2, 3), strides=(12, 4)), "x").shape == (2, 3)


def test_torch_tensors_are_checked():
    torch = pytest.importorskip("torch")
    with pytest.raises(IfanError, match="features: a torch tensor on cpu, not on a CUDA device"):
        iac_cuda.device_buffer(torch.zeros(1, 2, 3, 4), "features")

    class FakeCudaTensor:  # what the checks read of a CUDA tensor
        __module__ = "torch"
        is_cuda = True

        def __init__(self, dtype, contiguous=True):
            self.dtype, self.shape, self._contiguous = dtype, (1, 2, 3, 4), contiguous

        def is_contiguous(self):
            return self._contiguous

        def data_ptr(self):
            return 4096

    assert iac_cuda.device_buffer(FakeCudaTensor(torch.float16), "x") == iac_cuda.DeviceBuffer(
        "x", 4096, (1, 2, 3, 4), np.dtype(np.float16))
    with pytest.raises(IfanError, match="filters: dtype bfloat16, the kernels take float32 or float16"):
        iac_cuda.device_buffer(FakeCudaTensor(torch.bfloat16), "filters")
    with pytest.raises(IfanError, match=r"out: not contiguous; pass tensor.contiguous\(\)"):
        iac_cuda.device_buffer(FakeCudaTensor(torch.float32, contiguous=False), "out")


def test_library_not_found(monkeypatch, tmp_path):
    monkeypatch.delenv(iac_cuda.ENV_VAR, raising=False)
    monkeypatch.setattr(iac_cuda, "search_dirs", lambda: [tmp_path / "build"])
    with pytest.raises(IfanError) as info:
        iac_cuda.find_library()
    assert str(info.value).startswith(f"libifan_iac_cuda.so: not found (searched {tmp_path / 'build'}); build it with")
    monkeypatch.setenv(iac_cuda.ENV_VAR, str(tmp_path / "missing.so"))
    with pytest.raises(IfanError, match=r"missing.so: no such file \(from IFAN_IAC_CUDA_LIB\); build it with"):
        iac_cuda.find_library()


def test_found_in_build_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(iac_cuda.ENV_VAR, raising=False)
    (tmp_path / "build" / "plugins" / "iacPlugin").mkdir(parents=True)
    library = tmp_path / "build" / "plugins" / "iacPlugin" / "libifan_iac_cuda.so"
    library.write_bytes(b"not an ELF file")
    monkeypatch.setattr(iac_cuda, "search_dirs", lambda: [tmp_path / "build", library.parent])
    assert iac_cuda.find_library() == library
    with pytest.raises(IfanError, match="not a loadable libifan_iac_cuda.so"):
        iac_cuda.load_library()


def test_built_library_abi(iac_cuda_build_87):
    """The built library loads without a GPU, reports ABI 1, sizes its workspace as the plugin
    does (one feature map + 256 B when N > 1) and returns CUDA's status for a bad problem."""
    lib = iac_cuda.load_library(library_in(iac_cuda_build_87))
    assert lib.ifan_iac_abi_version() == iac_cuda.ABI_VERSION == 1
    path = library_in(iac_cuda_build_87)
    assert iac_cuda.workspace_bytes((2, 3, 5, 7), 4, "float16", path) == 2 * 3 * 5 * 7 * 2 + 256
    assert iac_cuda.workspace_bytes((2, 3, 5, 7), 1, "float32", path) == 0
    assert iac_cuda.workspace_bytes((-1, 3, 5, 7), 4, "float32", path) == 0
    null = ctypes.c_void_p(0)
    status = lib.ifan_iac_run_float(null, null, null, null, 0, 1, 2, 5, 7, 1, 4, 0, 0, 0.1, null)  # k=4
    assert status == 1 and lib.ifan_iac_error_name(status) == b"cudaErrorInvalidValue"


def test_failed_launch_raises_cuda_error(iac_cuda_build_87):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the fake device pointers would really be launched")
    with pytest.raises(CudaError, match=r"ifan_iac_run_float failed: cudaError\w+ \(\d+\)"):
        iac_cuda.run_iac(*buffers(), n_iters=2, workspace=FakeCudaArray((1000,), "|u1"),
                         library=library_in(iac_cuda_build_87))


def test_build_folder_of_the_checkout_is_searched():
    """The CMake build folder at the checkout's root (where the cmake line of docs/engines.md puts it)."""
    from pathlib import Path

    root = Path(iac_cuda.__file__).resolve().parents[2]
    assert root / "build" / "plugins" / "iacPlugin" in iac_cuda.search_dirs()
