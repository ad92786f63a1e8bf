"""libifan_iac_cuda.so on a GPU (no TensorRT), through its ctypes wrapper, against the NumPy
IAC: the case table of iac_cuda_cases.py (both modes and layouts, FP32 and FP16, odd sizes, h or
w < k, W % 4 != 0, misaligned buffers, batch > 1, one 4K feature map, CuPy arrays) on PyTorch
CUDA tensors and CuPy arrays, plus what only a GPU has: launches that follow the current stream.
The same table runs on the CPU twin in test_iac_cuda_twin.py, so a wrong argument in a case
fails on every machine.

Skipped without torch with CUDA and a visible GPU. The library: IFAN_IAC_CUDA_LIB, else built
with CMake for this GPU's architecture."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers.gpu import require_torch_cuda  # noqa: E402

torch = require_torch_cuda()

from tests.helpers.cuda_library import build_dir_for, library_in  # noqa: E402
from tests.plugins.iac_cuda_cases import (CURRENT_STREAM, FEATURE_MAP_4K, ITERATION_PARITY, MATCHES_NUMPY,  # noqa: E402
                                          OTHER_TAP_COUNTS, TOL, TorchDevice, expected_of, make_inputs, run_case,
                                          run_framework_arrays)
from ifan_trt.runtime.tensorrt import iac_cuda  # noqa: E402

DEVICE = TorchDevice(torch)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if os.environ.get(iac_cuda.ENV_VAR):
        return iac_cuda.find_library()
    major, minor = torch.cuda.get_device_capability()
    return library_in(build_dir_for(f"{major}{minor}", tmp_path_factory))


@pytest.mark.parametrize("case", MATCHES_NUMPY, ids=lambda c: c.id)
def test_matches_numpy(library, case):
    run_case(DEVICE, library, case)


@pytest.mark.parametrize("case", OTHER_TAP_COUNTS, ids=lambda c: c.id)
def test_other_tap_counts(library, case):
    run_case(DEVICE, library, case)


@pytest.mark.parametrize("case", ITERATION_PARITY, ids=lambda c: c.id)
def test_iteration_parity(library, case):
    run_case(DEVICE, library, case)


def test_4k_feature_map(library):
    run_case(DEVICE, library, FEATURE_MAP_4K)


def test_launches_follow_the_current_stream(library):
    """run_iac queues on the framework's current stream: captured into a CUDA graph (where a
    launch on any other stream is an error) and replayed on new inputs, it computes those."""
    case = CURRENT_STREAM
    x, f = make_inputs("graph-a", case.shape, case.n_iters, case.k, case.layout, case.dtype)
    features, filters = DEVICE.copy(x), DEVICE.copy(f)
    out = DEVICE.poisoned(case.shape, np.float32)
    workspace = torch.empty(iac_cuda.workspace_bytes(case.shape, case.n_iters, np.float32, library),
                            dtype=torch.uint8, device="cuda")

    def iac():
        iac_cuda.run_iac(features, filters, out, n_iters=case.n_iters, k=case.k, mode=case.mode, layout=case.layout,
                         workspace=workspace, library=library)

    iac()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        iac()
    x, f = make_inputs("graph-b", case.shape, case.n_iters, case.k, case.layout, case.dtype)
    features.copy_(torch.from_numpy(x))
    filters.copy_(torch.from_numpy(f))
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    np.testing.assert_allclose(out.cpu().numpy(), expected_of(case, x, f), rtol=TOL["fp32"], atol=TOL["fp32"])


def test_cupy_arrays(library):
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    run_framework_arrays(cupy, library)
