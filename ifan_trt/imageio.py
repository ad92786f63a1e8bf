"""Reading and writing images so that the output has the input's size, channels and bit depth.

An image becomes RGB float32 in [0, 1] (8-bit / 255, 16-bit / 65535) for the network; what the
network does not see (alpha, grayscale-ness, bit depth) is kept beside it and restored on write.
EXIF orientation is applied on read (OpenCV's IMREAD_UNCHANGED ignores it, except for TIFF, which
OpenCV 5 turns itself), so outputs are stored upright without an orientation tag. The size is read
from the header first: an image above the decode budget is refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import IfanError
from .files import read_input_bytes, write_bytes
from .noise import c_stderr_silenced

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp", ".webp")
_EXIF_ORIENTATION = 0x0112
# decode (<= 8 B/px) + float RGB (12 B/px) + result and its encoding: ~64 B/px while one image is worked on
BYTES_PER_PIXEL = 64
DEFAULT_DECODE_PIXELS = 300_000_000  # ~18 GiB of a 24 GB machine at BYTES_PER_PIXEL
_budget = {"pixels": DEFAULT_DECODE_PIXELS}


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    format: str  # PIL's name: PNG, JPEG, TIFF, BMP, WEBP, GIF
    mode: str  # PIL's mode: L, LA, RGB, RGBA, CMYK, I;16 ...
    frames: int
    orientation: int  # EXIF 1..8


@dataclass
class Image:
    rgb: np.ndarray  # H x W x 3 float32 in [0, 1]
    dtype: np.dtype  # uint8, uint16 or float32: what the file held and what is written back
    gray: bool  # the file had one colour channel
    alpha: np.ndarray | None = None  # H x W, in the file's dtype, passed through untouched
    notes: list[str] = field(default_factory=list)  # what was not kept (extra frames, CMYK), said once

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[0], self.rgb.shape[1]


def _scale(dtype: np.dtype) -> float:
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


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


def set_decode_budget(pixels: int | None) -> None:
    """The largest image (width x height) read_image decodes; None restores the default."""
    _budget["pixels"] = int(pixels) if pixels else DEFAULT_DECODE_PIXELS


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a TIFF's first directory (PIL cannot open every TIFF OpenCV reads,
    e.g. 3-channel float32)."""
    from PIL import TiffImagePlugin

    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        fp = io.BytesIO(data)
        fp.seek(ifd.next)
        ifd.load(fp)
        return int(ifd[256]), int(ifd[257])
    except Exception:  # noqa: BLE001  not a TIFF directory: the caller reports the file
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR (always the first chunk, at a fixed offset)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def read_header(data: bytes, path: Path) -> Header:
    """Size, format, mode, frame count and EXIF orientation from the header, without decoding."""
    from PIL import Image as PILImage
    from PIL import ImageFile

    PILImage.MAX_IMAGE_PIXELS = None  # the decode budget below is ours, with its own message
    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # a bad CRC of an ancillary chunk is OpenCV's to judge
    try:
        return _pil_header(PILImage, data)
    except Exception:  # noqa: BLE001  PIL raises many types for unreadable headers
        tiff = data[:4] in (b"II*\0", b"MM\0*")
        size = _tiff_size(data) if tiff else _png_size(data)
        if size is None:
            raise IfanError(f"{path}: not a readable image (unknown format or corrupt data)") from None
        return Header(size[0], size[1], "TIFF" if tiff else "PNG", "", 1, 1)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient


def _pil_header(PILImage, data: bytes) -> Header:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PILImage.open(io.BytesIO(data)) as im:
            try:
                orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
            except Exception:  # noqa: BLE001  broken EXIF: the pixels are still usable as stored
                orientation = 1
            return Header(im.size[0], im.size[1], str(im.format), str(im.mode),
                          int(getattr(im, "n_frames", 1) or 1), orientation)


def _check_budget(header: Header, path: Path) -> None:
    pixels, budget = header.width * header.height, _budget["pixels"]
    if header.width < 1 or header.height < 1:
        raise IfanError(f"{path}: the header says {header.width}x{header.height} pixels")
    if pixels > budget:
        need = pixels * BYTES_PER_PIXEL / 2**30
        raise IfanError(f"{path}: {header.height}x{header.width} ({pixels} pixels) is above the decode budget of "
                        f"{budget} pixels; pass --max-decode-pixels {pixels} to decode it"
                        + (f" (needs about {need:.0f} GiB of memory)" if need >= 1 else ""))


def _notes(header: Header, path: Path) -> list[str]:
    notes = []
    if header.frames > 1:
        kind = "pages" if header.format == "TIFF" else "frames"
        notes.append(f"{path}: {header.frames} {kind}; only the first was read")
    if header.mode == "CMYK":
        notes.append(f"{path}: CMYK {header.format}, converted to RGB (the output is RGB)")
    return notes


def read_image(path: str | os.PathLike) -> Image:
    """Header first (size against the decode budget, only regular files), then OpenCV decodes."""
    path = Path(path)
    data = read_input_bytes(path)
    if not data:
        raise IfanError(f"{path}: empty file")
    header = read_header(data, path)
    _check_budget(header, path)
    try:
        with c_stderr_silenced():
            a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if a is None or a.size == 0:
            raise IfanError(f"{path}: not a readable image (unknown format or corrupt data)")
        if header.mode.startswith("LA") and a.ndim == 3 and a.shape[2] == 4:  # OpenCV expands gray+alpha
            a = np.ascontiguousarray(a[:, :, [0, 3]])
        return _to_image(a, header, path)
    except cv2.error as exc:
        raise IfanError(f"{path}: OpenCV cannot decode it ({str(exc).strip().splitlines()[-1]})") from None
    except MemoryError:
        raise IfanError(f"{path}: out of memory decoding {header.height}x{header.width}; free memory, or lower "
                        "--max-decode-pixels to refuse such files") from None


def _to_image(a: np.ndarray, header: Header, path: Path) -> Image:
    if a.dtype not in (np.uint8, np.uint16, np.float32):
        raise IfanError(f"{path}: unsupported sample type {a.dtype}; use 8- or 16-bit integers or 32-bit float")
    if header.format != "TIFF":  # OpenCV 5 applies a TIFF's orientation itself, whatever the flags
        a = _apply_orientation(a, header.orientation)
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
    return Image(np.ascontiguousarray(rgb), a.dtype, gray, alpha, _notes(header, path))


def to_array(image: Image, dtype: np.dtype | None = None) -> np.ndarray:
    """The image as OpenCV stores it (BGR[A] or gray[+alpha]) in dtype (default: the input's)."""
    dtype = np.dtype(dtype or image.dtype)
    rgb = np.clip(image.rgb, 0.0, 1.0)  # a new array: scaled and rounded in place (a 12 MP image: 144 MB each)
    colour = rgb.mean(axis=2) if image.gray else rgb[:, :, ::-1]
    if dtype == np.float32:
        out = colour.astype(np.float32)
    else:
        colour *= _scale(dtype)
        out = np.round(colour, out=colour).astype(dtype)
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
    elif ext == ".png" and image.gray and image.alpha is not None and a.dtype == np.uint8:
        return _gray_alpha_png(a)
    elif ext in (".tif", ".tiff"):
        params = [cv2.IMWRITE_TIFF_COMPRESSION, 8]  # deflate: OpenCV 4 stores 3-channel float as lossy SGILOG
    ok, buf = cv2.imencode(ext, a, params)
    if not ok:
        raise IfanError(f"{path}: OpenCV could not encode this image as {ext}")
    return buf.tobytes()


def _gray_alpha_png(bgra: np.ndarray) -> bytes:
    """8-bit gray + alpha as a 2-channel PNG (OpenCV writes only 1, 3 or 4 channels)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(bgra[:, :, [0, 3]]), "LA").save(buf, format="PNG")
    return buf.getvalue()


def write_image(path: str | os.PathLike, image: Image, overwrite: bool = False) -> None:
    path = Path(path)
    write_bytes(path, encode_image(image, path), overwrite)


def side_by_side(before: Image, after: Image, gap: int = 8) -> Image:
    """Before | after on one canvas (white gap), for looking at a result; no alpha."""
    h = max(before.size[0], after.size[0])
    canvas = np.ones((h, before.size[1] + gap + after.size[1], 3), np.float32)
    canvas[: before.size[0], : before.size[1]] = before.rgb
    canvas[: after.size[0], before.size[1] + gap:] = after.rgb
    return Image(canvas, after.dtype, after.gray, None)
