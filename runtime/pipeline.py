"""One image through an executor: pad to the size multiple, run, crop back, restore the format."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.imageio import Image

from .executor import Executor
from .padding import official_crop, pad_to_multiple


def _nchw(rgb: np.ndarray, multiple: int) -> np.ndarray:
    return np.ascontiguousarray(pad_to_multiple(rgb, multiple).transpose(2, 0, 1)[None], np.float32)


def deblur_image(executor: Executor, image: Image, left: Image | None = None, right: Image | None = None,
                 crop_official: bool = False) -> Image:
    """The deblurred image with the input's size, channels and depth (or the official crop)."""
    multiple = executor.info.size_multiple
    if crop_official:
        image = replace(image, rgb=official_crop(image.rgb, multiple),
                        alpha=None if image.alpha is None else official_crop(image.alpha, multiple))
        left = left and replace(left, rgb=official_crop(left.rgb, multiple))
        right = right and replace(right, rgb=official_crop(right.rgb, multiple))
    h, w = image.size
    views = {}
    if executor.info.dual:
        if left is None or right is None:
            raise IfanError(f"{executor.info.variant} needs the dual-pixel views: pass --left and --right")
        for name, view in (("left", left), ("right", right)):
            if view.size != (h, w):
                raise IfanError(f"the {name} view is {view.size[0]}x{view.size[1]}, the image {h}x{w}: they must match")
            views[name] = _nchw(view.rgb, multiple)
    out = executor.run(_nchw(image.rgb, multiple), views.get("left"), views.get("right"))
    return replace(image, rgb=np.ascontiguousarray(out[0, :, :h, :w].transpose(1, 2, 0)))
