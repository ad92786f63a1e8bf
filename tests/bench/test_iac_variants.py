"""The benchmark's IAC variants agree with ifan_trt.iac.iac (the reference): the unfold baseline
exactly, the native C++ kernel to FP32 rounding. Small shapes, both modes, layouts, k=1/3/5."""

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.baseline import UnfoldIAC, unfold_iac  # noqa: E402
from ifan_trt.contract import compact_rows  # noqa: E402
from ifan_trt.iac import iac  # noqa: E402


def _inputs(b, c, h, w, n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=g)
    filters = torch.rand(b, n * c * (2 * k + 1), h, w, generator=g) - 0.5
    return x, filters


@pytest.mark.parametrize("mode", ["official", "corrected"])
@pytest.mark.parametrize("k,h,w", [(3, 5, 7), (5, 6, 4), (1, 3, 3), (3, 1, 2)])
def test_unfold_iac_matches_reference(mode, k, h, w):
    x, filters = _inputs(2, 3, h, w, 3, k)
    ref = iac(x, filters, 3, k, mode, "full", 0.1)
    got = unfold_iac(x, filters, 3, k, mode, 0.1)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6)


def test_unfold_iac_rejects_compact_layout():
    x, filters = _inputs(1, 2, 4, 4, 2, 3)
    compact = filters[:, compact_rows(2, 2, 3)]
    with pytest.raises(ValueError, match="full layout"):
        UnfoldIAC(2, 3)(x, compact)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is needed to build the native IAC")
@pytest.mark.parametrize("mode,layout", [(0, 0), (1, 0), (0, 1)])
@pytest.mark.parametrize("k,h,w", [(3, 9, 13), (5, 4, 3), (3, 1, 1)])
def test_native_iac_matches_reference(tmp_path_factory, mode, layout, k, h, w):
    from bench.native_iac import iac_native

    n, c = 3, 4
    x, filters = _inputs(2, c, h, w, n, k, seed=k + h)
    ref = iac(x, filters, n, k, ["official", "corrected"][mode], "full", 0.1).numpy()
    f = filters[:, compact_rows(n, c, k)] if layout == 1 else filters
    cache = tmp_path_factory.getbasetemp() / "native"
    got = iac_native(x.numpy(), f.numpy(), n, k, mode, layout, 0.1, threads=2, cache_dir=cache)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is needed to build the native IAC")
def test_native_iac_rejects_bad_shapes(tmp_path_factory):
    from bench.native_iac import iac_native

    x, filters = _inputs(1, 2, 4, 4, 2, 3)
    with pytest.raises(ValueError, match="do not fit"):
        iac_native(x.numpy(), filters.numpy()[:, :-1], 2, 3, cache_dir=tmp_path_factory.getbasetemp() / "native")
