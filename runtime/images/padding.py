"""Sizes the network accepts: H and W multiples of 8 (three stride-2 levels)."""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import SIZE_MULTIPLE


def padded_size(h: int, w: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    return -(-h // multiple) * multiple, -(-w // multiple) * multiple


def pad_to_multiple(a: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """Replicate the last row/column of an H x W x C array up to multiples (any size, even 1x1)."""
    h, w = a.shape[:2]
    ph, pw = padded_size(h, w, multiple)
    if (ph, pw) == (h, w):
        return a
    return np.pad(a, ((0, ph - h), (0, pw - w)) + ((0, 0),) * (a.ndim - 2), mode="edge")


def official_crop(a: np.ndarray, multiple: int = SIZE_MULTIPLE) -> np.ndarray:
    """The official evaluation's crop: drop the last H % 8 rows and W % 8 columns."""
    h, w = a.shape[:2]
    if h < multiple or w < multiple:
        raise ValueError(f"a {h}x{w} image is smaller than {multiple}x{multiple}: nothing is left after the crop")
    return a[: h - h % multiple, : w - w % multiple]
