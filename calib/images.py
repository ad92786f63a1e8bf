"""Images for measurement, calibration and the audit: found in a folder, read as the network
reads them (RGB float in [0, 1]) and brought to one size.

A size HxW is taken as a centre crop at the native resolution (blur sizes stay what the camera
made); images smaller than HxW are first resized to cover it. Without a size, an image is
cropped to a multiple of 8 as the official evaluation does.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ifan_trt.contract import INPUT, SIZE_MULTIPLE
from ifan_trt.errors import IfanError
from ifan_trt.imageio import read_image



def bundled_images_dir() -> Path | None:
    """The sample images shipped with the package (ifan_trt.samples), if present."""
    from ifan_trt.samples import samples_dir

    folder = samples_dir()
    return folder if folder.is_dir() and find_images(folder, required=False) else None


def find_images(folder: str | os.PathLike | None, count: int | None = None, required: bool = True) -> list[Path]:
    """The images of a folder in any layout ifan_trt.datasets knows (a plain folder, source/target,
    DPDD, RealDOF), sorted by name, at most count of them. folder None: the bundled samples."""
    if folder is None:
        bundled = bundled_images_dir()
        if bundled is None:
            if required:
                raise IfanError("no images given and the bundled sample images are missing; give a folder of images")
            return []
        folder = bundled
    if not required and not Path(folder).is_dir():
        return []
    from ifan_trt import datasets

    try:
        return datasets.find_images(folder, count)
    except IfanError:
        if required:
            raise
        return []


def fit(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """H x W x 3 -> the requested size (centre crop, resize up first if smaller), or cropped
    to a multiple of 8 when size is None."""
    h, w = rgb.shape[:2]
    if size is None:
        th, tw = h - h % SIZE_MULTIPLE, w - w % SIZE_MULTIPLE
        if th == 0 or tw == 0:
            raise IfanError(f"image of {h}x{w} pixels is smaller than {SIZE_MULTIPLE}x{SIZE_MULTIPLE}")
    else:
        th, tw = size
        if h < th or w < tw:
            scale = max(th / h, tw / w)
            nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
            rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_CUBIC)
            rgb = np.clip(rgb, 0.0, 1.0)
            h, w = nh, nw
    top, left = (h - th) // 2, (w - tw) // 2
    return np.ascontiguousarray(rgb[top:top + th, left:left + tw])


def graph_size(model, size: tuple[int, int] | None, default: tuple[int, int],
               option: str = "size") -> tuple[int, int]:
    """The HxW to feed a graph: where its image inputs fix H or W (an `ifan export --shape`
    export), that value, since ONNX Runtime refuses any other; elsewhere size, or default when
    size is None. A size that contradicts a fixed dimension is an error naming option."""
    inits = {t.name for t in model.graph.initializer}
    fixed: list[int | None] = [None, None]
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if value.name in inits or len(dims) != 4:
            continue
        for axis in (0, 1):
            d = dims[2 + axis]
            if d.HasField("dim_value") and d.dim_value > 0:
                fixed[axis] = fixed[axis] or d.dim_value
    wanted = size if size is not None else default
    result = tuple(f if f is not None else w for f, w in zip(fixed, wanted))
    if size is not None and tuple(size) != result:
        have = "x".join("?" if f is None else str(f) for f in fixed)
        raise IfanError(f"{option} {size[0]}x{size[1]}: the graph's input is fixed at {have} (HxW); "
                        f"leave {option} out or pass {result[0]}x{result[1]}")
    return result  # type: ignore[return-value]


def load_tensor(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image as the network's input: 1 x 3 x H x W float32 RGB in [0, 1]."""
    rgb = fit(read_image(path).rgb, size)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None].astype(np.float32))


def feeds_for(input_names: list[str], path: Path, size: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """Inputs for one image. IFAN_dual's `left`/`right` views come from sub-folders of the same
    names beside the image (DPDD keeps them apart likewise); without them the image itself is used."""
    feeds = {}
    for name in input_names:
        source = path
        if name != INPUT:
            view = path.parent / name / path.name
            source = view if view.is_file() else path
        feeds[name] = load_tensor(source, size)
    return feeds
