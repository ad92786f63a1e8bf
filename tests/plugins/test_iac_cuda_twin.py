"""The GPU library's cases (iac_cuda_cases.py, also run by test_iac_cuda_gpu.py on a GPU) on its
CPU twin, libifan_iac_cpu.so: the same C ABI and host code, each launch emulated block by block
on the CPU, loaded through the same ctypes wrapper with NumPy buffers as the "device" arrays
(host pointers behind __cuda_array_interface__). So a wrong argument in a GPU case fails here,
on every machine. Also: the twin's ABI and its refusals equal the CUDA library's."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.cuda_library import configure_as_user, cpu_twin_library  # noqa: F401 (fixture)
from tests.plugins.iac_cuda_cases import (CURRENT_STREAM, FEATURE_MAP_4K, ITERATION_PARITY, MATCHES_NUMPY,
                                          OTHER_TAP_COUNTS, Case, TwinDevice, make_inputs, run_case,
                                          run_framework_arrays)
from ifan_trt.errors import IfanError
from ifan_trt.runtime.tensorrt import iac_cuda

DEVICE = TwinDevice()
CUDA_ABI = ["ifan_iac_abi_version", "ifan_iac_error_name", "ifan_iac_run_float", "ifan_iac_run_half",
            "ifan_iac_workspace_bytes"]


@pytest.fixture(scope="module")
def library(cpu_twin_library):
    return cpu_twin_library


@pytest.mark.parametrize("case", MATCHES_NUMPY, ids=lambda c: c.id)
def test_matches_numpy(library, case):
    run_case(DEVICE, library, case)


@pytest.mark.parametrize("case", OTHER_TAP_COUNTS, ids=lambda c: c.id)
def test_other_tap_counts(library, case):
    run_case(DEVICE, library, case)


@pytest.mark.parametrize("case", ITERATION_PARITY, ids=lambda c: c.id)
def test_iteration_parity(library, case):
    run_case(DEVICE, library, case)


@pytest.mark.slow  # about 2 GB and 20 s on 2 cores, mostly the inputs and the float64 reference
def test_4k_feature_map(library):
    run_case(DEVICE, library, FEATURE_MAP_4K)


def test_current_stream_case(library):
    """The GPU's CUDA-graph case cannot be captured here; its arguments still make one IAC
    problem that the twin computes like the NumPy IAC."""
    run_case(DEVICE, library, CURRENT_STREAM)


def test_cupy_arrays(library, monkeypatch):
    """The CuPy case with the twin's CuPy-like namespace, which run_iac also allocates through."""
    monkeypatch.setitem(sys.modules, "cupy", DEVICE.cupy)
    run_framework_arrays(DEVICE.cupy, library)


def test_compact_filters_in_a_full_layout_run_fail(library):
    """The kind of mistake these CPU runs catch before any GPU sees it: compact filters
    (N*c*(k+1) channels) handed to a run with the default full layout."""
    case = Case((2, 3, 7, 9), 3, 3, 1, 0, "fp32")
    x, f = make_inputs("cupy", case.shape, case.n_iters, case.k, 1, case.dtype)
    with pytest.raises(IfanError, match=r"need \(2, 63, 7, 9\)"):
        iac_cuda.run_iac(DEVICE.copy(x), DEVICE.copy(f), DEVICE.poisoned(case.shape, np.float32), n_iters=3, mode=1,
                         workspace=DEVICE.filled_bytes(1 << 16, 0), library=library)


# ---- the C ABI itself: the twin answers as libifan_iac_cuda.so does ---------------------------------

SHAPE = (1, 2, 5, 8)


def abi_call(lib, *, k=3, mode=0, layout=0, n_iters=2, shape=SHAPE, workspace_bytes=None, null_out=False,
             dtype=np.float32):
    """Status of ifan_iac_run_<dtype> on host buffers (refused calls never touch them; the
    checks come before any launch, so the CUDA library answers without a GPU)."""
    b, c, h, w = shape
    x = np.zeros(max(b * c * h * w, 1), dtype)
    f = np.zeros(max(b * c * h * w * 7 * 7 * n_iters, 1), dtype)
    out = np.zeros_like(x)
    needed = lib.ifan_iac_workspace_bytes(b, c, h, w, n_iters, np.dtype(dtype).itemsize)
    size = needed if workspace_bytes is None else workspace_bytes
    workspace = np.zeros(max(size, 1), np.uint8)
    run = lib.ifan_iac_run_float if dtype == np.float32 else lib.ifan_iac_run_half
    return run(x.ctypes.data, f.ctypes.data, None if null_out else out.ctypes.data, workspace.ctypes.data, size,
               b, c, h, w, n_iters, k, mode, layout, 0.1, None)


REFUSALS = {
    # name: (call arguments, status, CUDA's name of it)
    "even k": (dict(k=2), 1, "cudaErrorInvalidValue"),
    "k over 7": (dict(k=9), 1, "cudaErrorInvalidValue"),
    "no iterations": (dict(n_iters=0), 1, "cudaErrorInvalidValue"),
    "corrected compact": (dict(mode=1, layout=1), 1, "cudaErrorInvalidValue"),
    "mode 2": (dict(mode=2), 1, "cudaErrorInvalidValue"),
    "small workspace": (dict(workspace_bytes=100), 1, "cudaErrorInvalidValue"),
    "null out": (dict(null_out=True), 1, "cudaErrorInvalidValue"),
    "negative size": (dict(shape=(1, -2, 5, 8)), 1, "cudaErrorInvalidValue"),
    "over 65535 planes": (dict(shape=(2, 32768, 1, 1), n_iters=1), 9, "cudaErrorInvalidConfiguration"),
    "half: even k": (dict(k=4, dtype=np.float16), 1, "cudaErrorInvalidValue"),
    "empty tensor": (dict(shape=(0, 2, 5, 8)), 0, "cudaSuccess"),
}


@pytest.fixture(scope="module", params=["cpu-twin", "cuda"])
def abi(request, cpu_twin_library):
    if request.param == "cpu-twin":
        return iac_cuda.load_library(cpu_twin_library)
    from tests.helpers.cuda_library import build_dir_for, library_in

    return iac_cuda.load_library(library_in(build_dir_for("87", request.getfixturevalue("tmp_path_factory"))))


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusals_match_the_cuda_library(abi, name):
    arguments, status, error_name = REFUSALS[name]
    got = abi_call(abi, **arguments)
    assert (got, abi.ifan_iac_error_name(got).decode()) == (status, error_name), name


def test_workspace_bytes_match_the_cuda_library(abi):
    """One feature map plus 256 bytes of alignment slack when N > 1; none for N = 1 or a negative size."""
    assert abi.ifan_iac_workspace_bytes(2, 3, 5, 7, 3, 4) == 2 * 3 * 5 * 7 * 4 + 256
    assert abi.ifan_iac_workspace_bytes(2, 3, 5, 7, 3, 2) == 2 * 3 * 5 * 7 * 2 + 256
    assert abi.ifan_iac_workspace_bytes(2, 3, 5, 7, 1, 4) == 0
    assert abi.ifan_iac_workspace_bytes(2, -3, 5, 7, 3, 4) == 0


def test_unknown_status_name_matches_the_cuda_library(abi):
    assert abi.ifan_iac_error_name(12345).decode() == "unrecognized error code"


def exports(library) -> list[str]:
    nm = shutil.which("nm") or pytest.skip("no nm (binutils)")
    result = subprocess.run([nm, "-D", "--defined-only", str(library)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return sorted(line.split()[-1] for line in result.stdout.splitlines() if line.strip())


def test_exports_the_cuda_library_abi(library):
    assert exports(library) == CUDA_ABI


def test_cmake_target_builds_the_twin_without_cuda(tmp_path):
    """The CMake target ifan_iac_cpu, configured with no nvcc anywhere and warnings as errors."""
    build = tmp_path / "build"
    result = configure_as_user(build, "-DIFAN_BUILD_PLUGIN=OFF", "-DIFAN_WERROR=ON", nvcc=False)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([shutil.which("cmake"), "--build", str(build), "--target", "ifan_iac_cpu"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exports(build / "plugins" / "iacPlugin" / "libifan_iac_cpu.so") == CUDA_ABI
