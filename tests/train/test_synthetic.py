"""The synthetic defocus generator: determinism and the optics (thin lens, aperture, occlusion)."""

from __future__ import annotations

import numpy as np
import pytest

from ifan_trt.training import synthetic as syn


def _spread(img: np.ndarray) -> float:
    """RMS radius of a non-negative 2-D distribution around its centroid, in pixels."""
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    w = img / img.sum()
    cy, cx = (w * yy).sum(), (w * xx).sum()
    return float(np.sqrt((w * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum()))


def _point_layer(size: int, inv_depth: float) -> syn.Layer:
    colour = np.zeros((size, size, 3), np.float32)
    colour[size // 2, size // 2] = 1.0
    return syn.Layer(colour, np.ones((size, size), np.float32), np.full((size, size), inv_depth, np.float32))


def test_same_seed_same_sample_and_different_seed_differs():
    a = syn.make_sample(np.random.default_rng([7, 0]), 48, 64, photos=(), jpeg_prob=0.5)
    b = syn.make_sample(np.random.default_rng([7, 0]), 48, 64, photos=(), jpeg_prob=0.5)
    c = syn.make_sample(np.random.default_rng([7, 1]), 48, 64, photos=(), jpeg_prob=0.5)
    assert np.array_equal(a.source, b.source) and np.array_equal(a.target, b.target)
    assert a.params == b.params
    assert np.abs(a.target - c.target).mean() > 0.01
    assert a.source.shape == a.target.shape == (48, 64, 3)
    assert a.source.dtype == np.float32 and 0.0 <= a.source.min() and a.source.max() <= 1.0


def test_photos_are_deterministic_too():
    pytest.importorskip("skimage")
    a = syn.make_sample(np.random.default_rng(3), 40, 40, photos=tuple(syn.PHOTOS))
    b = syn.make_sample(np.random.default_rng(3), 40, 40, photos=tuple(syn.PHOTOS))
    assert np.array_equal(a.source, b.source)


def test_only_redistributable_photos_and_coffee_held_out():
    assert "coffee" in syn.PHOTOS and "coffee" not in syn.TRAIN_PHOTOS
    for licence in list(syn.PHOTOS.values()) + list(syn.TEXTURES.values()):
        assert "public domain" in licence or "CC0" in licence or "no known copyright" in licence


@pytest.mark.parametrize("radius", [2.0, 4.0, 7.5])
def test_disc_kernel_has_the_radius_of_a_disc(radius):
    k = syn.aperture_kernel(radius)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    # a uniform disc of radius r has RMS radius r / sqrt(2); the anti-aliased rim and the pixel
    # grid add ~0.1 px
    assert _spread(k) == pytest.approx(radius / np.sqrt(2), abs=0.15)
    assert np.allclose(k, k[::-1]) and np.allclose(k, k[:, ::-1])


@pytest.mark.parametrize("blades", [5, 6, 8])
def test_polygon_aperture_is_inscribed_in_the_disc(blades):
    r = 6.0
    disc, poly = syn.aperture_kernel(r), syn.aperture_kernel(r, blades=blades, rotation=0.3)
    assert poly.sum() == pytest.approx(1.0, abs=1e-5)
    assert (poly > 0).sum() < (disc > 0).sum() and poly.max() > disc.max()
    # area of the inscribed regular polygon: n/2 sin(2 pi/n) r^2, against pi r^2 for the disc
    ratio = (blades / 2 * np.sin(2 * np.pi / blades)) / np.pi
    assert disc.max() / poly.max() == pytest.approx(ratio, rel=0.04)


def test_small_radius_is_a_point():
    k = syn.aperture_kernel(0.2)
    assert k.shape == (3, 3) and k[1, 1] == pytest.approx(1.0)


def test_coc_is_zero_at_focus_and_linear_in_inverse_depth():
    r = syn.coc_radius(np.array([0.5, 0.6, 0.7, 0.3]), 0.5, 20.0)
    assert r == pytest.approx([0.0, 2.0, 4.0, -4.0], abs=1e-5)


def test_sharp_at_the_focus_depth():
    layer = _point_layer(41, 0.4)
    out = syn.render_defocus([layer], inv_focus=0.4, strength=30.0)["c"]
    assert np.allclose(out, layer.colour, atol=1e-6)


def test_blur_radius_grows_with_distance_from_focus():
    strength, focus = 40.0, 0.5
    spreads = []
    for inv in (0.5, 0.55, 0.6, 0.7, 0.3):
        out = syn.render_defocus([_point_layer(61, inv)], focus, strength)["c"][..., 0]
        spreads.append(_spread(out))
        expected_radius = strength * abs(inv - focus)
        if expected_radius >= 2:
            assert spreads[-1] == pytest.approx(expected_radius / np.sqrt(2), rel=0.1)
    assert spreads[0] < 0.01
    assert spreads[0] < spreads[1] < spreads[2] < spreads[3]
    assert spreads[4] == pytest.approx(spreads[3], rel=0.05)  # same |1/z - 1/z_f| behind focus


def _two_layers(size: int, near_inv: float, far_inv: float):
    rng = np.random.default_rng(0)
    far = syn.Layer(rng.random((size, size, 3), dtype=np.float32), np.ones((size, size), np.float32),
                    np.full((size, size), far_inv, np.float32))
    alpha = np.zeros((size, size), np.float32)
    alpha[:, size // 2:] = 1.0
    near = syn.Layer(np.full((size, size, 3), 0.25, np.float32), alpha, np.full((size, size), near_inv, np.float32))
    return far, near


def test_blurred_background_does_not_leak_over_a_sharp_foreground():
    far, near = _two_layers(64, near_inv=0.8, far_inv=0.2)
    out = syn.render_defocus([far, near], inv_focus=0.8, strength=10.0)["c"]  # far radius 6 px
    assert np.allclose(out[:, 33:], 0.25, atol=1e-5)  # the in-focus object is untouched up to its edge
    assert np.abs(out[:, :20] - far.colour[:, :20]).mean() > 0.05  # the background is blurred


def test_blurred_foreground_spreads_over_a_sharp_background():
    far, near = _two_layers(64, near_inv=0.8, far_inv=0.2)
    out = syn.render_defocus([far, near], inv_focus=0.2, strength=10.0)["c"]  # near radius 6 px
    assert np.allclose(out[:, :24], far.colour[:, :24], atol=1e-5)  # beyond the CoC: sharp
    assert np.abs(out[:, 27:32] - far.colour[:, 27:32]).mean() > 0.03  # near the edge: covered by blur


def test_dual_pixel_views_average_to_the_centre_and_shift_opposite_ways():
    layer = _point_layer(61, 0.7)
    views = syn.render_defocus([layer], 0.5, 40.0, dual=True)
    c, l, r = (views[v][..., 0] for v in "clr")
    assert np.allclose((l + r) / 2, c, atol=1e-5)
    xs = np.arange(61)
    cx = lambda img: float((img.sum(0) * xs).sum() / img.sum())
    assert cx(l) < cx(c) - 1 and cx(r) > cx(c) + 1
    # behind the focal plane the views swap sides
    behind = syn.render_defocus([_point_layer(61, 0.3)], 0.5, 40.0, dual=True)
    assert cx(behind["l"][..., 0]) > cx(behind["c"][..., 0]) + 1


def test_write_dataset_layouts_and_reproducibility(tmp_path):
    import cv2

    syn.write_dataset(tmp_path / "a", 2, (32, 40), seed=5, photos=(), progress=False)
    syn.write_dataset(tmp_path / "b", 2, (32, 40), seed=5, photos=(), progress=False)
    for sub in ("source", "target"):
        names = sorted(p.name for p in (tmp_path / "a" / sub).iterdir())
        assert names == ["00000.png", "00001.png"]
        for n in names:
            assert (tmp_path / "a" / sub / n).read_bytes() == (tmp_path / "b" / sub / n).read_bytes()
    assert cv2.imread(str(tmp_path / "a" / "source" / "00000.png")).shape == (32, 40, 3)
    syn.write_dataset(tmp_path / "d", 1, (32, 40), seed=5, photos=(), dual=True, progress=False)
    for sub in ("test_c/source", "test_c/target", "test_l/source", "test_r/source"):
        assert (tmp_path / "d" / sub / "00000.png").is_file()
