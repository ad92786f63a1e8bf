"""Tiled inference: tile placement (aligned to 8, full cover), feathered blending (exact for a
per-pixel network), tile-size choice, and the default overlap's accuracy against the full frame."""

import numpy as np
import pytest

from tests.helpers.runtime import FakeExecutor, scene  # noqa: E402
from ifan_trt.errors import IfanError
from ifan_trt.runtime.interface.executor import ShapeLimits
from ifan_trt.runtime.images.tiling import (DEFAULT_OVERLAP, blend_weights, choose_tile, parse_tile, plan_tiles,
                                            run_tiled)
from bench.tiling_check import defocused_image, tiled_psnr

MIN_PSNR = 40.0  # dB, tiled vs full frame (the bound docs/running.md states)


@pytest.mark.parametrize("h,w,th,tw,ov", [(96, 128, 48, 64, 16), (720, 1280, 512, 512, 64), (64, 64, 64, 64, 32),
                                          (200, 72, 64, 40, 24)])
def test_tiles_cover_the_image_aligned_to_8(h, w, th, tw, ov):
    tiles = plan_tiles(h, w, th, tw, ov)
    covered = np.zeros((h, w), int)
    for t in tiles:
        assert t.y % 8 == 0 and t.x % 8 == 0 and t.h % 8 == 0 and t.w % 8 == 0
        assert t.y + t.h <= h and t.x + t.w <= w
        covered[t.y:t.y + t.h, t.x:t.x + t.w] += 1
    assert covered.min() >= 1
    # neighbours overlap by at least `ov` (as far as the tile size allows)
    ys = sorted({t.y for t in tiles})
    assert all(b - a <= max(8, (th - ov) // 8 * 8) for a, b in zip(ys, ys[1:]))


def test_feathered_weights_ramp_linearly_inside_and_stay_flat_at_borders():
    tiles = plan_tiles(64, 96, 64, 48, 16)
    first = blend_weights(tiles[0], 64, 96, 16)
    assert np.allclose(first[:, 0], 1) and np.allclose(first[0, :32], 1)  # image borders: full weight
    ramp = first[0, -16:]
    assert np.all(np.diff(ramp) < 0) and np.allclose(np.diff(ramp), -1 / 16)  # linear fall over the overlap


def test_blending_is_exact_for_a_per_pixel_network():
    x = np.random.default_rng(0).random((1, 3, 104, 136)).astype(np.float32)
    ex = FakeExecutor(fn=lambda a: a ** 2, limits=ShapeLimits(max_batch=3))
    out = run_tiled(ex, x, (48, 56), overlap=16)
    assert np.abs(out - x ** 2).max() <= 1e-6
    assert all(c[0] <= 3 for c in ex.calls)  # tiles batched within the engine's limit


def test_tile_choice():
    free = ShapeLimits()
    assert choose_tile(720, 1280, free) is None
    assert choose_tile(720, 1280, ShapeLimits(max_hw=(512, 512))) == (512, 512)
    assert choose_tile(720, 1280, free, tile=(256, 384)) == (256, 384)
    assert choose_tile(720, 1280, free, tile=(1024, 2048)) is None  # larger than the image: whole
    th, tw = choose_tile(720, 1280, free, max_pixels=300_000)
    assert th * tw <= 300_000 and th % 8 == 0 and tw % 8 == 0 and th >= 500
    assert parse_tile("256x384") == (256, 384) and parse_tile("512") == (512, 512)
    with pytest.raises(IfanError, match="multiples of 8"):
        parse_tile("250x384")


def test_default_overlap_keeps_tiles_within_40_db_of_the_full_frame(models):
    """Measured on the CPU backend with the small model (its output moves pixels by ~0.06 RMS,
    like a trained deblurring residual) on a synthetic defocused photo, with tiles much smaller
    than in practice (96 px): no overlap shows seams, the default overlap stays above 40 dB.
    docs/running.md lists the figures for the default model (python -m bench.tiling_check)."""
    pytest.importorskip("onnxruntime")
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor

    ex = OrtExecutor(models("onnx"), threads=1)
    results = tiled_psnr(ex, defocused_image(128, 192, seed=3), (96, 96), overlaps=(0, DEFAULT_OVERLAP))
    assert results[DEFAULT_OVERLAP] >= MIN_PSNR
    assert results[DEFAULT_OVERLAP] > results[0] + 2  # the overlap is what buys the accuracy


@pytest.mark.parametrize("limits,requested,budget,expected", [
    (ShapeLimits(), None, 16_000_000, 1),  # CPU backends: one tile at a time
    (ShapeLimits(), 3, 16_000_000, 3),  # unless --batch asks for more
    (ShapeLimits(max_batch=4), None, 16_000_000, 4),  # engines: up to the profile's batch
    (ShapeLimits(max_batch=4), None, 2 * 48 * 56, 2),  # ... within the pixel budget
    (ShapeLimits(max_batch=4), 9, None, 4),  # a request never exceeds the profile
])
def test_tiles_run_in_batches_within_the_memory_budget(limits, requested, budget, expected):
    """The executor sees batches of at most the budget, and the tiled result is the untiled one
    (identity network: blending exact; the small model: within the tiling tolerance below)."""
    x = np.random.default_rng(1).random((1, 3, 200, 232)).astype(np.float32)
    ex = FakeExecutor(limits=limits)
    done = []
    out = run_tiled(ex, x, (48, 56), overlap=16, batch=requested, max_pixels=budget,
                    progress=lambda n, total: done.append((n, total)))
    n_tiles = len(plan_tiles(200, 232, 48, 56, 16))
    assert max(c[0] for c in ex.calls) == min(expected, n_tiles)
    assert sum(c[0] for c in ex.calls) == n_tiles
    assert done[-1] == (n_tiles, n_tiles) and len(done) == len(ex.calls)
    assert np.abs(out - x).max() <= 1e-6


def test_a_tiled_image_through_the_cpu_backend_runs_one_tile_at_a_time(models):
    """The pipeline on ONNX Runtime (no batch limit): each run is one tile, and the result equals
    the whole frame within the tiling tolerance (MIN_PSNR)."""
    pytest.importorskip("onnxruntime")
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import Tiling, infer
    from bench.tiling_check import psnr

    ex = OrtExecutor(models("onnx"), threads=1)
    shapes = []
    run = ex.run
    ex.run = lambda a, l=None, r=None: shapes.append(a.shape) or run(a, l, r)
    x = np.ascontiguousarray(defocused_image(192, 256, seed=5).transpose(2, 0, 1)[None], np.float32)
    whole = infer(ex, x)
    tiled = infer(ex, x, tiling=Tiling(tile=(96, 96)))
    assert shapes[0] == (1, 3, 192, 256) and len(shapes) > 2
    assert all(s == (1, 3, 96, 96) for s in shapes[1:])
    assert psnr(tiled, whole) >= MIN_PSNR
