"""libifan_iac_cuda.so on a GPU (no TensorRT), through its ctypes wrapper, against the NumPy
IAC (export/iac_numpy.py, in float64 on the same input values): both modes and layouts, FP32
(1e-5) and FP16 (1e-2), odd sizes, h or w < k, W % 4 != 0, misaligned buffers (offset views),
batch > 1, one 4K feature map. Fresh random inputs per case; outputs and workspace are
poisoned with NaN before each run, so an element the kernel does not write fails.

The GPU cases skip without torch with CUDA and a visible GPU. The library: IFAN_IAC_CUDA_LIB,
else built with CMake for this GPU's architecture. Every case's arguments are also checked on the
CPU (test_every_case_is_one_iac_problem): a call whose features, filters and attributes do not
fit together fails in CI, not first on a GPU."""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

from tests.helpers.cuda_library import build_dir_for, library_in  # noqa: E402
from ifan_trt.contract import filter_channels, iac_problem_error  # noqa: E402
from ifan_trt.export.iac_numpy import iac_numpy  # noqa: E402
from ifan_trt.runtime.tensorrt import iac_cuda  # noqa: E402

try:
    import torch
except ImportError:
    torch = None
GPU_PROBLEM = ("torch is not installed" if torch is None
               else None if torch.cuda.is_available() else "no CUDA GPU visible to torch")
gpu = pytest.mark.skipif(GPU_PROBLEM is not None, reason=GPU_PROBLEM or "")

TOL = {"fp32": 1e-5, "fp16": 1e-2}
NP_TYPE = {"fp32": np.float32, "fp16": np.float16}
COMBOS = [(0, 0), (0, 1), (1, 0)]  # (mode, layout): official full, official compact, corrected full
# (B, c, h, w): odd sizes, batch > 1, 1x1, h and w < k, W % 4 != 0, several tiles per row
SHAPES = [(1, 2, 5, 7), (2, 3, 9, 16), (1, 2, 1, 1), (1, 2, 2, 3), (1, 1, 13, 300), (1, 1, 7, 259), (3, 4, 6, 10)]
# the cases the tests below run outside run_case, as (shape, n_iters, k, mode, layout): each
# test passes the same tuple to make_inputs, the run and the reference
STREAM_CASE = ((1, 2, 5, 8), 2, 3, 0, 0)
CUPY_CASE = ((2, 3, 7, 9), 3, 3, 1, 0)


def run_case_arguments():
    """(shape, n_iters, k, mode, layout) of every run_case call below, in their parametrisations."""
    cases = [(shape, 3, k, mode, layout) for shape in SHAPES for k in (3, 7) for mode, layout in COMBOS]
    cases += [((2, 3, 9, 17), 2, k, 1, 0) for k in (1, 5)]
    cases += [((1, 4, 6, 12), n, 3, 0, 1) for n in (1, 2, 17)]
    return cases + [((1, 128, 270, 480), 2, 3, 0, 1)]


@pytest.mark.parametrize("case", run_case_arguments() + [STREAM_CASE, CUPY_CASE], ids=str)
def test_every_case_is_one_iac_problem(case):
    """On the CPU: the inputs each GPU case makes fit its attributes, and the NumPy reference runs."""
    shape, n_iters, k, mode, layout = case
    x, f = make_inputs(str(case), shape, n_iters, k, layout, "fp32")
    assert iac_problem_error(x.shape, f.shape, n_iters, k, mode, layout) is None
    if x.size <= 10_000:  # the 4K map's reference is the GPU test's cost, not this check's
        assert iac_numpy(x.astype(np.float64), f.astype(np.float64), n_iters, k, mode, layout, 0.1).shape == shape


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if os.environ.get(iac_cuda.ENV_VAR):
        return iac_cuda.find_library()
    major, minor = torch.cuda.get_device_capability()
    return library_in(build_dir_for(f"{major}{minor}", tmp_path_factory))


def make_inputs(case: str, shape, n_iters, k, layout, dtype):
    """Fresh values per case (seeded by its name): features ~ N(0, 1), filters scaled so that the
    iterations neither vanish nor explode; rounded to dtype, returned as float64 for the reference."""
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    b, c, h, w = shape
    x = rng.standard_normal(shape).astype(NP_TYPE[dtype])
    f = (rng.standard_normal((b, filter_channels(n_iters, c, k, layout), h, w)) * (1.2 / k)).astype(NP_TYPE[dtype])
    return x, f


def device_copy(array: np.ndarray, misaligned: bool) -> torch.Tensor:
    """A contiguous CUDA tensor holding array; misaligned: starting one element into its allocation."""
    flat = torch.from_numpy(array.reshape(-1))
    if not misaligned:
        return flat.cuda().view(array.shape)
    storage = torch.empty(flat.numel() + 1, dtype=flat.dtype, device="cuda")
    view = storage[1:]
    view.copy_(flat)
    return view.view(array.shape)


def poisoned(shape, dtype: str, misaligned: bool) -> torch.Tensor:
    out = device_copy(np.zeros(shape, NP_TYPE[dtype]), misaligned)
    return out.fill_(float("nan"))


def run_case(library, shape, n_iters, k, mode, layout, dtype, misaligned=False):
    case = f"{shape}-{n_iters}-{k}-{mode}-{layout}-{dtype}-{misaligned}"
    x, f = make_inputs(case, shape, n_iters, k, layout, dtype)
    expected = iac_numpy(x.astype(np.float64), f.astype(np.float64), n_iters, k, mode, layout, 0.1)
    out = poisoned(shape, dtype, misaligned)
    workspace = torch.full((iac_cuda.workspace_bytes(shape, n_iters, NP_TYPE[dtype], library),), 255,
                           dtype=torch.uint8, device="cuda")  # 0xFF..: NaN in float and half
    iac_cuda.run_iac(device_copy(x, misaligned), device_copy(f, misaligned), out, n_iters=n_iters, k=k, mode=mode,
                     layout=layout, workspace=workspace, library=library)
    torch.cuda.synchronize()
    got = out.float().cpu().numpy().astype(np.float64)
    assert not np.isnan(got).any(), f"{case}: {np.isnan(got).sum()} output elements not written"
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype], err_msg=case)


@gpu
@pytest.mark.parametrize("misaligned", [False, True], ids=["aligned", "misaligned"])
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("mode,layout", COMBOS)
@pytest.mark.parametrize("k", [3, 7])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_numpy(library, shape, k, mode, layout, dtype, misaligned):
    run_case(library, shape, 3, k, mode, layout, dtype, misaligned)


@gpu
@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_other_tap_counts(library, k, dtype):
    run_case(library, (2, 3, 9, 17), 2, k, 1, 0, dtype)


@gpu
@pytest.mark.parametrize("n_iters", [1, 2, 17])
def test_iteration_parity(library, n_iters):
    """Odd and even N: the last iteration lands in out (N=17: IFAN's count)."""
    run_case(library, (1, 4, 6, 12), n_iters, 3, 0, 1, "fp32")


@gpu
def test_4k_feature_map(library):
    """IFAN's feature map of a 3840x2160 image (c=128, 270x480: two tiles per row with halos)."""
    run_case(library, (1, 128, 270, 480), 2, 3, 0, 1, "fp16")


@gpu
def test_launches_follow_the_current_stream(library):
    """run_iac queues on the framework's current stream: captured into a CUDA graph (where a
    launch on any other stream is an error) and replayed on new inputs, it computes those."""
    shape, n_iters, k, mode, layout = STREAM_CASE
    x, f = make_inputs("graph-a", shape, n_iters, k, layout, "fp32")
    features, filters = device_copy(x, False), device_copy(f, False)
    out = poisoned(shape, "fp32", False)
    workspace = torch.empty(iac_cuda.workspace_bytes(shape, n_iters, np.float32, library), dtype=torch.uint8,
                            device="cuda")

    def iac():
        iac_cuda.run_iac(features, filters, out, n_iters=n_iters, k=k, mode=mode, layout=layout,
                         workspace=workspace, library=library)

    iac()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        iac()
    x, f = make_inputs("graph-b", shape, n_iters, k, layout, "fp32")
    features.copy_(torch.from_numpy(x))
    filters.copy_(torch.from_numpy(f))
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    expected = iac_numpy(x.astype(np.float64), f.astype(np.float64), n_iters, k, mode, layout, 0.1)
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=TOL["fp32"], atol=TOL["fp32"])


@gpu
def test_cupy_arrays(library):
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    shape, n_iters, k, mode, layout = CUPY_CASE
    x, f = make_inputs("cupy", shape, n_iters, k, layout, "fp32")
    out = iac_cuda.run_iac(cupy.asarray(x), cupy.asarray(f), n_iters=n_iters, k=k, mode=mode, layout=layout,
                           library=library)
    cupy.cuda.get_current_stream().synchronize()
    expected = iac_numpy(x.astype(np.float64), f.astype(np.float64), n_iters, k, mode, layout, 0.1)
    np.testing.assert_allclose(cupy.asnumpy(out), expected, rtol=TOL["fp32"], atol=TOL["fp32"])
