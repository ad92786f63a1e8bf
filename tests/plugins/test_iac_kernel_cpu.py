"""The IAC kernel's arithmetic on the CPU: the plan and tile phases of plugins/iacPlugin
(iacTile.h), run by the emulated launch (iacEmulate.cpp), against the PyTorch reference
ifan_trt.iac.iac. FP32 must agree to 1e-5; the FP16 kernel (half storage, FP32 accumulation)
to 1e-2 of the FP32 reference on half-rounded inputs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers.iac_emulator import emulator  # noqa: E402,F401  (fixture)
from ifan_trt.contract import LAYOUT_CODES, MODE_CODES, filter_channels  # noqa: E402
from ifan_trt.iac import iac  # noqa: E402

FP32_TOL = 1e-5
FP16_TOL = 1e-2

# (mode, layout): every combination the plugin accepts
COMBOS = [("official", "full"), ("official", "compact"), ("corrected", "full")]
# (B, c, h, w): odd sizes, batch > 1, 1x1, h or w smaller than k, several tiles along W with
# aligned (W % 4 == 0, vectorised) and unaligned rows
SHAPES = [(1, 2, 5, 7), (2, 3, 9, 16), (1, 2, 1, 1), (1, 2, 2, 3), (1, 1, 13, 300), (1, 1, 7, 259)]


def make_inputs(shape, n_iters, k, layout, seed=0):
    """Features ~ N(0, 1) and filters scaled so that the iterations neither vanish nor explode
    (sum of |taps| about 1 per pass), like a trained IAC."""
    rng = np.random.default_rng(seed)
    b, c, h, w = shape
    x = rng.standard_normal(shape).astype(np.float32)
    f = rng.standard_normal((b, filter_channels(n_iters, c, k, layout), h, w)).astype(np.float32)
    f *= 1.2 / k
    return x, f


def reference(x, f, n_iters, k, mode, layout, slope=0.1):
    with torch.no_grad():
        return iac(torch.from_numpy(x), torch.from_numpy(f), n_iters, k, mode, layout, slope).numpy()


def run(emulator, x, f, n_iters, k, mode, layout, slope=0.1, **kw):
    return emulator.iac(x, f, n_iters, k, MODE_CODES[mode], LAYOUT_CODES[layout], slope, **kw)


@pytest.mark.parametrize("mode,layout", COMBOS)
@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("shape", SHAPES)
def test_fp32_matches_reference(emulator, shape, k, mode, layout):
    n_iters = 3
    x, f = make_inputs(shape, n_iters, k, layout)
    expected = reference(x, f, n_iters, k, mode, layout)
    for vectorise in (True, False):
        got = run(emulator, x, f, n_iters, k, mode, layout, vectorise=vectorise)
        np.testing.assert_allclose(got, expected, rtol=FP32_TOL, atol=FP32_TOL,
                                   err_msg=f"vectorise={vectorise}")


@pytest.mark.parametrize("n_iters", [1, 2, 3, 4])
def test_iteration_count_and_ping_pong(emulator, n_iters):
    """Odd and even N: the last iteration must land in the output, whatever the parity."""
    x, f = make_inputs((1, 2, 6, 8), n_iters, 3, "full", seed=n_iters)
    expected = reference(x, f, n_iters, 3, "official", "full")
    np.testing.assert_allclose(run(emulator, x, f, n_iters, 3, "official", "full"), expected,
                               rtol=FP32_TOL, atol=FP32_TOL)


@pytest.mark.parametrize("slope", [0.0, 0.1, 0.25])
def test_slope(emulator, slope):
    x, f = make_inputs((1, 2, 5, 6), 2, 3, "full")
    expected = reference(x, f, 2, 3, "corrected", "full", slope)
    np.testing.assert_allclose(run(emulator, x, f, 2, 3, "corrected", "full", slope), expected,
                               rtol=FP32_TOL, atol=FP32_TOL)


@pytest.mark.parametrize("mode,layout", COMBOS)
@pytest.mark.parametrize("shape", [(2, 3, 9, 16), (1, 2, 2, 3), (1, 1, 7, 259), (1, 2, 1, 1)])
@pytest.mark.parametrize("k", [3, 7])
def test_fp16_matches_reference(emulator, shape, k, mode, layout):
    n_iters = 3
    x, f = make_inputs(shape, n_iters, k, layout, seed=1)
    # the FP16 engine sees half inputs: the reference gets the same rounded values, in FP32
    x16 = x.astype(np.float16).astype(np.float32)
    f16 = f.astype(np.float16).astype(np.float32)
    expected = reference(x16, f16, n_iters, k, mode, layout)
    got = run(emulator, x, f, n_iters, k, mode, layout, half=True)
    assert np.array_equal(got, got.astype(np.float16).astype(np.float32)), "FP16 output is not half-valued"
    np.testing.assert_allclose(got, expected, rtol=FP16_TOL, atol=FP16_TOL)
    # and it really is the half kernel: not bit-identical to the FP32 one
    if shape[2] * shape[3] > 4:
        assert not np.array_equal(got, run(emulator, x16, f16, n_iters, k, mode, layout))


def test_full_and_compact_layouts_agree_in_official_mode(emulator):
    from ifan_trt.contract import compact_rows

    n_iters, c, k = 2, 3, 3
    x, f = make_inputs((1, c, 7, 9), n_iters, k, "full")
    compact = np.ascontiguousarray(f[:, compact_rows(n_iters, c, k)])
    np.testing.assert_array_equal(run(emulator, x, f, n_iters, k, "official", "full"),
                                  run(emulator, x, compact, n_iters, k, "official", "compact"))


def test_half_conversion_matches_numpy(emulator):
    """The host float->half->float conversion (round to nearest even, subnormals, overflow)."""
    rng = np.random.default_rng(3)
    specials = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e6, -1e6, 6.1e-5, 5.96e-8,
                         2.98e-8, 2.99e-8, 1e-9, np.inf, -np.inf, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11],
                        dtype=np.float32)
    scaled = rng.standard_normal(20000) * 10.0 ** rng.integers(-9, 6, 20000)
    random_bits = rng.integers(0, 1 << 32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = np.concatenate([specials, scaled.astype(np.float32), random_bits]).astype(np.float32)
    got = emulator.round_half(values)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = values.astype(np.float16).astype(np.float32)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], expected[~nan])


@pytest.mark.parametrize("mode,layout,message", [
    (1, 1, "compact layout drops kernel2"),
    (2, 0, "mode must be 0"),
    (0, 2, "layout must be 0"),
])
def test_rejects_bad_attributes(emulator, mode, layout, message):
    x = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=message):
        emulator.iac(x, np.zeros((1, 4, 2, 2), np.float32), 1, 3, mode, layout, 0.1)


@pytest.mark.parametrize("k,message", [(2, "k must be odd"), (9, "k must be odd"), (0, "k must be odd")])
def test_rejects_bad_k(emulator, k, message):
    x = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=message):
        emulator.iac(x, np.zeros((1, 4, 2, 2), np.float32), 1, k, 0, 0, 0.1)


def test_plan_at_720p_reads_each_filter_element_once(emulator):
    """1280x720 input: features 128 x 90 x 160. One tile spans the whole row, so no halo columns
    (which would re-read kernel1 of the neighbouring tile) are computed."""
    plan = emulator.plan(1, 128, 90, 160, 17, 3)
    assert plan["vec"] == 4 and plan["tiles_x"] == 1
    assert plan["groups"] * plan["rows"] <= 256
    plan = emulator.plan(1, 128, 135, 240, 17, 3)  # 1080p
    assert plan["tiles_x"] == 1


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("w", [1, 3, 64, 160, 257, 1024, 4096])
@pytest.mark.parametrize("vectorise", [True, False])
def test_plan_fits_the_hardware(emulator, k, w, vectorise):
    """At most 256 threads and well under the 48 KiB of static shared memory per block."""
    for h in (1, 7, 90, 2000):
        plan = emulator.plan(2, 128, h, w, 17, k, vectorise)
        assert 1 <= plan["groups"] * plan["rows"] <= 256
        assert plan["smem_bytes"] <= 48 * 1024
        assert plan["tiles_x"] * plan["tiles_y"] < 2 ** 31
        assert plan["vec"] == (4 if vectorise and w % 4 == 0 else 1)
