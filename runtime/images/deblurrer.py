"""The Python API: `Deblurrer`, one object that opens a model on a backend and deblurs NumPy
images, image files, video files and streams of frames.

    from ifan_trt import Deblurrer
    deblur = Deblurrer()                       # the bundled model on the fastest installed backend
    sharp = deblur(image)                      # (H,W), (H,W,3) RGB or (H,W,4) RGBA; uint8/uint16/float32
    deblur.deblur_file("in.png", "out.png")
    deblur.deblur_video("in.mp4", "out.mp4")

Images keep their shape and dtype; float32 images are read as [0, 1]. Channel order is RGB(A);
pass `bgr=True` for frames from OpenCV. Results equal `ifan deblur`'s (same pipeline).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.imageio import Image, to_array
from ifan_trt.models import is_default, kind_of

_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


def _model_kwargs(model: str | os.PathLike | None) -> dict:
    if model is None or is_default(model):
        return {}
    kind = kind_of(model)
    if kind is None:
        raise IfanError(f"model={str(model)!r}: unknown model type; expected .onnx, .engine/.plan or a checkpoint (.pth)")
    return {kind: str(model)}


def to_image(array: np.ndarray, bgr: bool = False) -> Image:
    """A NumPy image as the pipeline's Image (RGB float in [0, 1], format kept for the way back)."""
    a = np.asarray(array)
    if a.dtype not in _SCALE:
        raise IfanError(f"image dtype {a.dtype}: expected uint8, uint16 or float32")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise IfanError(f"image shape {a.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    alpha = a[:, :, 3].copy() if a.ndim == 3 and a.shape[2] == 4 else None
    colour = np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a[:, :, :3]
    if bgr:
        colour = colour[:, :, ::-1]
    rgb = colour.astype(np.float32) / np.float32(_SCALE[a.dtype])
    if a.dtype == np.float32:
        rgb = np.nan_to_num(np.clip(rgb, 0.0, 1.0), nan=0.0)
    return Image(np.ascontiguousarray(rgb), a.dtype, a.ndim == 2, alpha)


def from_image(image: Image, bgr: bool = False) -> np.ndarray:
    """The inverse of to_image: same shape, dtype and channel order as the input."""
    a = to_array(image)  # OpenCV's order: BGR[A] or gray
    if image.gray:
        return a
    return a if bgr else np.ascontiguousarray(np.concatenate([a[:, :, 2::-1], a[:, :, 3:]], axis=2))


class Deblurrer:
    """A model opened once; call it on images. `model`: None or "default" (the bundled model), or a
    path to an .onnx, an .engine/.plan (its .json sidecar beside it) or a checkpoint. `backend`:
    auto, tensorrt, onnxruntime or torch. Tiling options as `ifan deblur`'s."""

    def __init__(self, model: str | os.PathLike | None = None, backend: str = "auto", device: str = "auto",
                 threads: int | None = None, tile: tuple[int, int] | None = None, max_pixels: int | None = None,
                 overlap: int | None = None, plugin: str | None = None):
        from ..executors.backends import open_executor, run_summary
        from .pipeline import DEFAULT_MAX_PIXELS, Tiling
        from .tiling import DEFAULT_OVERLAP

        self.executor = open_executor(backend, threads=threads, device=device, plugin=plugin, **_model_kwargs(model))
        self.tiling = Tiling(tile=tile, max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                             overlap=DEFAULT_OVERLAP if overlap is None else overlap)
        self.summary = run_summary(self.executor)  # which model, backend and precision run

    def __call__(self, image: np.ndarray, bgr: bool = False) -> np.ndarray:
        from .pipeline import deblur_image, run_uint8_frames, takes_frames

        a = np.asarray(image)
        if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and takes_frames(self.executor, *a.shape[:2],
                                                                                  self.tiling):
            # a uint8 model takes the 8-bit frame as it is: no float conversion on the host
            return run_uint8_frames(self.executor, [a], "bgr" if bgr else "rgb")[0]
        source = to_image(image, bgr)
        return from_image(replace(source, rgb=deblur_image(self.executor, source, tiling=self.tiling).rgb), bgr)

    def deblur_file(self, src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
        """One image file to another (format from dst's extension; depth and alpha kept)."""
        return self._deblur_path(src, dst, overwrite)

    def frames(self, frames: Iterable[np.ndarray], bgr: bool = True) -> Iterator[np.ndarray]:
        """Deblurred frames, one for each frame given (OpenCV's BGR order by default)."""
        for frame in frames:
            yield self(frame, bgr=bgr)

    def deblur_video(self, src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
        """Every frame of a video file; same frame count, size and frame rate; written atomically."""
        return self._deblur_path(src, dst, overwrite)

    def _deblur_path(self, src, dst, overwrite: bool) -> Path:
        """A file through `ifan deblur`'s orchestration (ifan_trt.runtime.images.batch)."""
        from .batch import DeblurOptions, Job, check_targets, deblur_jobs, raise_failure

        job = Job(Path(src), Path(dst))
        if job.target.exists() and not overwrite:
            raise IfanError(f"{dst}: exists; pass overwrite=True to replace it (inputs are never replaced)")
        check_targets([job], overwrite=True)  # the other checks: not the input, a writable folder, the format
        deblur_jobs(self.executor, [job], DeblurOptions(tiling=self.tiling, overwrite=overwrite), raise_failure)
        return job.target

    def close(self) -> None:
        self.executor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
