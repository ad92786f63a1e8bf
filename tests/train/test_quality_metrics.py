"""PSNR / SSIM / MAE against scikit-image (the paper's reference implementation)."""

from __future__ import annotations

import numpy as np
import pytest

from ifan_trt.metrics import mae, psnr, ssim

skm = pytest.importorskip("skimage.metrics", reason="scikit-image (the `train` extra) is the reference")


def _pairs():
    import cv2

    rng = np.random.default_rng(0)
    a = rng.random((37, 53, 3))
    yield a, np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    b = cv2.GaussianBlur(a, (0, 0), 1.5)
    yield b, np.clip(b + 0.02, 0, 1)
    yield a.astype(np.float32), cv2.GaussianBlur(a, (0, 0), 2.0).astype(np.float32)


@pytest.mark.parametrize("k", range(3))
def test_psnr_ssim_match_skimage(k):
    out, tgt = list(_pairs())[k]
    ref_ssim = skm.structural_similarity(out.astype(np.float64), tgt.astype(np.float64), channel_axis=-1, data_range=1)
    ref_psnr = skm.peak_signal_noise_ratio(tgt.astype(np.float64), out.astype(np.float64), data_range=1)
    assert ssim(out, tgt) == pytest.approx(ref_ssim, abs=1e-6)
    assert psnr(out, tgt) == pytest.approx(ref_psnr, abs=1e-6)


def test_gray_ssim_and_mae():
    rng = np.random.default_rng(1)
    a, b = rng.random((20, 30)), rng.random((20, 30))
    assert ssim(a, b) == pytest.approx(skm.structural_similarity(a, b, data_range=1), abs=1e-6)
    assert mae(a, b) == pytest.approx(float(np.abs(a - b).mean()), abs=1e-12)


def test_identical_images_and_bad_shapes():
    a = np.full((16, 16, 3), 0.5)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        psnr(a, a[:8])
    with pytest.raises(ValueError, match="7x7"):
        ssim(a[:5, :5], a[:5, :5])
