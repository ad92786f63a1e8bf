"""Image quality metrics as the IFAN paper computes them, on float RGB in [0, 1] (H, W, 3).

- PSNR: 10 log10(1 / MSE) over all pixels and channels (data range 1).
- SSIM: the Wang et al. index with a 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample
  covariance, data range 1, computed per channel and averaged, border of 3 px excluded from the
  mean: what skimage.metrics.structural_similarity(..., channel_axis=-1, data_range=1) gives.
- MAE: mean absolute error over pixels and channels.
Written with OpenCV/NumPy so that evaluation needs neither scikit-image nor torch.
"""

from __future__ import annotations

import cv2
import numpy as np

_K1, _K2, _WIN = 0.01, 0.03, 7


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    a, b = _check(output, target)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def mae(output: np.ndarray, target: np.ndarray) -> float:
    a, b = _check(output, target)
    return float(np.mean(np.abs(a - b)))


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    n = _WIN * _WIN
    cov_norm = n / (n - 1.0)  # sample covariance, as skimage's default
    box = lambda img: cv2.boxFilter(img, cv2.CV_64F, (_WIN, _WIN), normalize=True,
                                    borderType=cv2.BORDER_REFLECT)
    ux, uy = box(x), box(y)
    vx = cov_norm * (box(x * x) - ux * ux)
    vy = cov_norm * (box(y * y) - uy * uy)
    vxy = cov_norm * (box(x * y) - ux * uy)
    c1, c2 = (_K1 * 1.0) ** 2, (_K2 * 1.0) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (_WIN - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    a, b = _check(output, target)
    if a.shape[0] < _WIN or a.shape[1] < _WIN:
        raise ValueError(f"SSIM needs images of at least {_WIN}x{_WIN} pixels, got {a.shape[:2]}")
    if a.ndim == 2:
        return _ssim_channel(a, b)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])]))
