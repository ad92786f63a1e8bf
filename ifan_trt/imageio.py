"""Reading and writing images so that the output has the input's size, channels and bit depth.

An image becomes RGB float32 in [0, 1] (8-bit / 255, 16-bit / 65535) for the network; what the
network does not see (alpha, grayscale-ness, bit depth) is kept beside it and restored on write.
EXIF orientation is applied on read (OpenCV ignores it for 16-bit and alpha images), so outputs
are stored upright without an orientation tag.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import IfanError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp", ".webp")
_EXIF_ORIENTATION = 0x0112


@dataclass
class Image:
    rgb: np.ndarray  # H x W x 3 float32 in [0, 1]
    dtype: np.dtype  # uint8, uint16 or float32: what the file held and what is written back
    gray: bool  # the file had one colour channel
    alpha: np.ndarray | None = None  # H x W, in the file's dtype, passed through untouched

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[0], self.rgb.shape[1]


def _scale(dtype: np.dtype) -> float:
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


def _exif_orientation(data: bytes) -> int:
    try:
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # no or broken EXIF: the pixels are still usable as stored
        return 1


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientations 2..8 as flips/rotations to the upright view."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.swapaxes(x, 0, 1)[:, ::-1],
        7: lambda x: np.swapaxes(x, 0, 1)[::-1, ::-1],
        8: lambda x: np.swapaxes(x, 0, 1)[::-1],
    }
    return np.ascontiguousarray(ops[orientation](a)) if orientation in ops else a


def read_image(path: str | os.PathLike) -> Image:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IfanError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise IfanError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise IfanError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:
        raise IfanError(f"{path}: empty file")
    a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None or a.size == 0:
        raise IfanError(f"{path}: not a readable image (unknown format or corrupt data)")
    if a.dtype not in (np.uint8, np.uint16, np.float32):
        raise IfanError(f"{path}: unsupported sample type {a.dtype}; use 8- or 16-bit integers or 32-bit float")
    a = _apply_orientation(a, _exif_orientation(data))

    alpha = None
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 2:  # gray + alpha
        a, alpha = a[:, :, 0], a[:, :, 1].copy()
    gray = a.ndim == 2
    if gray:
        rgb = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        rgb, alpha = a[:, :, 2::-1], a[:, :, 3].copy()
    elif a.shape[2] == 3:
        rgb = a[:, :, ::-1]
    else:
        raise IfanError(f"{path}: {a.shape[2]} channels; expected 1 (gray), 2 (gray+alpha), 3 or 4 (RGBA)")
    rgb = rgb.astype(np.float32) / _scale(a.dtype)
    if a.dtype == np.float32:
        rgb = np.nan_to_num(np.clip(rgb, 0.0, 1.0), nan=0.0)
    return Image(np.ascontiguousarray(rgb), a.dtype, gray, alpha)


def to_array(image: Image, dtype: np.dtype | None = None) -> np.ndarray:
    """The image as OpenCV stores it (BGR[A] or gray[+alpha]) in dtype (default: the input's)."""
    dtype = np.dtype(dtype or image.dtype)
    rgb = np.clip(image.rgb, 0.0, 1.0)
    colour = rgb.mean(axis=2) if image.gray else rgb[:, :, ::-1]
    out = colour.astype(np.float32) if dtype == np.float32 else np.round(colour * _scale(dtype)).astype(dtype)
    if image.alpha is not None:
        alpha = _convert_alpha(image.alpha, dtype)
        out = np.dstack([out, alpha]) if not image.gray else np.dstack([out, out, out, alpha])
    return np.ascontiguousarray(out)


def _convert_alpha(alpha: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if alpha.dtype == dtype:
        return alpha
    return np.round(alpha.astype(np.float64) / _scale(alpha.dtype) * _scale(dtype)).astype(dtype)


def output_dtype(image: Image, path: Path) -> np.dtype:
    """The input's depth where the format can store it; JPEG, BMP and WebP store 8 bits."""
    ext = path.suffix.lower()
    if ext in _EIGHT_BIT_ONLY:
        return np.dtype(np.uint8)
    if ext == ".png" and image.dtype == np.float32:
        return np.dtype(np.uint16)
    return np.dtype(image.dtype)


def encode_image(image: Image, path: Path) -> bytes:
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise IfanError(f"{path}: unsupported output format {ext or '(none)'}; use one of {', '.join(EXTENSIONS)}")
    a = to_array(image, output_dtype(image, path))
    params = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
        if a.ndim == 3 and a.shape[2] == 4:  # JPEG has no alpha
            a = a[:, :, :3] if not image.gray else a[:, :, 0]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # > 100: lossless
    elif ext in (".tif", ".tiff"):
        params = [cv2.IMWRITE_TIFF_COMPRESSION, 8]  # deflate: OpenCV 4 stores 3-channel float as lossy SGILOG
    ok, buf = cv2.imencode(ext, a, params)
    if not ok:
        raise IfanError(f"{path}: OpenCV could not encode this image as {ext}")
    return buf.tobytes()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written output."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise IfanError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_image(path: str | os.PathLike, image: Image) -> None:
    path = Path(path)
    write_bytes_atomic(path, encode_image(image, path))


def side_by_side(before: Image, after: Image, gap: int = 8) -> Image:
    """Before | after on one canvas (white gap), for looking at a result; no alpha."""
    h = max(before.size[0], after.size[0])
    canvas = np.ones((h, before.size[1] + gap + after.size[1], 3), np.float32)
    canvas[: before.size[0], : before.size[1]] = before.rgb
    canvas[: after.size[0], before.size[1] + gap:] = after.rgb
    return Image(canvas, after.dtype, after.gray, None)
