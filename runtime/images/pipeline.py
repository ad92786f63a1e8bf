"""Images and frames through an executor: pad to the size multiple (and the engine's minimum),
run whole or tiled, crop back, restore the format."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.imageio import Image

from ..interface.executor import Executor
from .padding import official_crop, pad_to_multiple, padded_size
from .tiling import DEFAULT_OVERLAP, choose_tile, run_tiled


DEFAULT_MAX_PIXELS = 16_000_000  # larger inputs are tiled: a 16 MP frame stays within a few GB on any backend


@dataclass(frozen=True)
class Tiling:
    """When to tile: an explicit tile size, a pixel budget, or (always) beyond the engine's limits;
    batch: tiles per run (None: runtime.images.tiling.tile_batch decides); progress(done, total) after
    each run of tiles."""

    tile: tuple[int, int] | None = None
    max_pixels: int | None = None
    overlap: int = DEFAULT_OVERLAP
    batch: int | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


def network_input(executor: Executor, frames: list[np.ndarray]) -> np.ndarray:
    """Same-size H x W x 3 RGB float frames as the network's [B,3,H',W'] input: edge-padded to
    the size multiple (and the engine's smallest size)."""
    return np.concatenate([_nchw(f, executor.info.size_multiple, executor.limits.min_hw) for f in frames])


def network_output(out: np.ndarray, h: int, w: int) -> list[np.ndarray]:
    """The network's [B,3,H',W'] output as H x W x 3 RGB float frames (cropped back)."""
    return [_to_rgb(o, h, w) for o in out]


def _nchw(rgb: np.ndarray, multiple: int, min_hw: tuple[int, int] = (0, 0)) -> np.ndarray:
    a = pad_to_multiple(rgb, multiple)
    h, w = a.shape[:2]
    if h < min_hw[0] or w < min_hw[1]:  # e.g. a static 720p engine and a smaller image
        a = np.pad(a, ((0, max(0, min_hw[0] - h)), (0, max(0, min_hw[1] - w)), (0, 0)), mode="edge")
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None], np.float32)


def _to_rgb(out: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(out[:, :h, :w].transpose(1, 2, 0))


def _official(image: Image, multiple: int) -> Image:
    """The image (and its alpha) cropped to a multiple as the official evaluation does."""
    return replace(image, rgb=official_crop(image.rgb, multiple),
                   alpha=None if image.alpha is None else official_crop(image.alpha, multiple))


def infer(executor: Executor, x: np.ndarray, left: np.ndarray | None = None, right: np.ndarray | None = None,
          tiling: Tiling | None = None) -> np.ndarray:
    """[B,3,H,W] (padded) through the executor: whole if it fits, else tile by tile per image."""
    tiling = tiling or Tiling()
    b, _, h, w = x.shape
    tile = choose_tile(h, w, executor.limits, tiling.tile, tiling.max_pixels, executor.info.size_multiple)
    if tile is None and b <= executor.max_batch(h, w):
        return executor.run_filled(x, left, right)
    if tile is None:  # the batch is too large for the engine: split it
        step = executor.max_batch(h, w)
        return np.concatenate([executor.run_filled(x[i:i + step], None if left is None else left[i:i + step],
                                            None if right is None else right[i:i + step])
                               for i in range(0, b, step)])
    pick = lambda a, i: None if a is None else a[i:i + 1]
    overlap = tiling.overlap
    if executor.limits.max_hw == tile:  # a static model's own size: keep at least half of each tile new
        overlap = min(overlap, min(tile) // 2)
    outs = [run_tiled(executor, x[i:i + 1], tile, overlap, pick(left, i), pick(right, i),
                      tiling.batch, tiling.max_pixels, tiling.progress) for i in range(b)]
    return outs[0] if b == 1 else np.concatenate(outs)  # one image: no full-size copy


# ---------------------------------------------------------------- uint8 models (export --io uint8)

def takes_frames(executor: Executor, h: int, w: int, tiling: Tiling | None = None) -> bool:
    """Whether 8-bit H x W frames go to the model as they are: a uint8 model that runs them whole
    (no tiling asked for or needed, within the engine's sizes once padded inside the model)."""
    if executor.info.io != "uint8" or executor.info.dual:
        return False
    tiling = tiling or Tiling()
    ph, pw = padded_size(h, w, executor.info.size_multiple)
    if choose_tile(ph, pw, executor.limits, tiling.tile, tiling.max_pixels, executor.info.size_multiple):
        return False
    return executor.limits.fits_hw(h, w)  # a uint8 model's limits are frame sizes (it pads inside)


def _needs_float(executor: Executor, what: str) -> None:
    """A uint8 model whose backend cannot reach its float network refuses what only that runs."""
    if not executor.float_reachable:
        raise IfanError(f"{what}: this engine has uint8 I/O (8-bit RGB frames, run whole); "
                        "build an engine from the float export (`ifan export` without --io uint8) for it")


def frames_to_batch(executor: Executor, frames: list[np.ndarray], order: str) -> np.ndarray:
    """Same-size 8-bit frames in `order` ("rgb"/"bgr") as a uint8 model's [B,H,W,3] input (the
    host's whole preprocessing: a stack, and a channel flip when the orders differ)."""
    if order != executor.info.channel_order:
        return np.stack([f[:, :, ::-1] for f in frames])
    return frames[0][None] if len(frames) == 1 else np.stack(frames)


def run_frame_batch(executor: Executor, batch: np.ndarray) -> np.ndarray:
    """[B,H,W,3] uint8 through a uint8 model, split or filled to the batches it accepts."""
    step = executor.max_batch(*batch.shape[1:3])
    need = executor.limits.min_batch
    outs = []
    for i in range(0, len(batch), step):
        part = batch[i:i + step]
        n = len(part)
        if n < need:  # a fixed-batch model: fill with copies of the last frame
            part = np.concatenate([part] + [part[-1:]] * (need - n))
        outs.append(executor.run_frames(part)[:n])
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def batch_to_frames(executor: Executor, out: np.ndarray, order: str) -> list[np.ndarray]:
    """A uint8 model's [B,H,W,3] output as frames in `order`."""
    if order != executor.info.channel_order:
        return [np.ascontiguousarray(o[:, :, ::-1]) for o in out]
    return list(out)


def run_uint8_frames(executor: Executor, frames: list[np.ndarray], order: str) -> list[np.ndarray]:
    """Same-size 8-bit frames in `order` ("rgb"/"bgr") through a uint8 model."""
    return batch_to_frames(executor, run_frame_batch(executor, frames_to_batch(executor, frames, order)), order)


def bgr_to_rgb_float(frame: np.ndarray) -> np.ndarray:
    """An 8-bit BGR frame (OpenCV's) as the network's RGB float in [0, 1]."""
    return np.ascontiguousarray(frame[:, :, ::-1], np.float32) / 255.0


def rgb_float_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """The network's RGB float output as an 8-bit BGR frame (clipped, rounded)."""
    return np.ascontiguousarray((np.clip(rgb, 0.0, 1.0)[:, :, ::-1] * 255.0 + 0.5).astype(np.uint8))


def deblur_bgr_frames(executor: Executor, frames: list[np.ndarray], tiling: Tiling | None = None) -> list[np.ndarray]:
    """Same-size 8-bit BGR frames (OpenCV's: camera, video) to deblurred 8-bit BGR frames: as they
    are through a uint8 model that runs them whole, else through the float path (RGB float on the
    host, split or tiled as the engine needs)."""
    h, w = frames[0].shape[:2]
    if takes_frames(executor, h, w, tiling):
        return run_uint8_frames(executor, frames, "bgr")
    _needs_float(executor, f"{h}x{w} frames")
    return [rgb_float_to_bgr(out) for out in deblur_frames(executor, [bgr_to_rgb_float(f) for f in frames], tiling)]


def _eight_bit_rgb(image: Image) -> bool:
    """An 8-bit three-channel image without alpha: what uint8 I/O carries exactly."""
    return np.dtype(image.dtype) == np.uint8 and not image.gray and image.alpha is None


def _why_float(image: Image) -> str:
    """What makes an image take the float path, for the message."""
    h, w = image.size
    if _eight_bit_rgb(image):
        return f"a {h}x{w} image (tiled, or outside the engine's sizes)"
    kind = "16-bit" if np.dtype(image.dtype) == np.uint16 else "float" if np.dtype(image.dtype) != np.uint8 else "8-bit"
    return f"a {kind}{' grayscale' if image.gray else ''}{' alpha' if image.alpha is not None else ''} image"


def _codes(rgb: np.ndarray) -> np.ndarray:
    """An 8-bit image's float RGB (code / 255) as its codes again (exact)."""
    return np.rint(rgb * np.float32(255.0)).astype(np.uint8)


def deblur_image(executor: Executor, image: Image, left: Image | None = None, right: Image | None = None,
                 crop_official: bool = False, tiling: Tiling | None = None) -> Image:
    """The deblurred image with the input's size, channels and depth (or the official crop)."""
    multiple = executor.info.size_multiple
    if executor.info.io == "uint8":
        source = _official(image, multiple) if crop_official else image
        if _eight_bit_rgb(source) and takes_frames(executor, *source.size, tiling):
            out = run_uint8_frames(executor, [_codes(source.rgb)], "rgb")[0]
            return replace(source, rgb=out.astype(np.float32) / np.float32(255.0))
        _needs_float(executor, _why_float(source))
    min_hw = executor.limits.min_hw
    if crop_official:
        image = _official(image, multiple)
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
            views[name] = _nchw(view.rgb, multiple, min_hw)
    out = infer(executor, _nchw(image.rgb, multiple, min_hw), views.get("left"), views.get("right"), tiling)
    return replace(image, rgb=_to_rgb(out[0], h, w))


def deblur_images(executor: Executor, images: list[Image], left: Image | None = None, right: Image | None = None,
                  crop_official: bool = False, tiling: Tiling | None = None) -> list[Image]:
    """Images of one size as one batch (split or tiled as the engine needs), each restored to its
    own format; a single image may bring dual-pixel views."""
    if len(images) == 1:
        return [deblur_image(executor, images[0], left, right, crop_official, tiling)]
    if len({image.size for image in images}) != 1:
        raise ValueError("deblur_images: the images of one batch must have one size")
    if crop_official:
        images = [_official(image, executor.info.size_multiple) for image in images]
    if executor.info.io == "uint8" and all(map(_eight_bit_rgb, images)) and takes_frames(executor, *images[0].size, tiling):
        outs = run_uint8_frames(executor, [_codes(image.rgb) for image in images], "rgb")
        return [replace(image, rgb=out.astype(np.float32) / np.float32(255.0)) for image, out in zip(images, outs)]
    if executor.info.io == "uint8":
        _needs_float(executor, next((_why_float(i) for i in images if not _eight_bit_rgb(i)), _why_float(images[0])))
    outs = deblur_frames(executor, [image.rgb for image in images], tiling)
    return [replace(image, rgb=out) for image, out in zip(images, outs)]


def deblur_frames(executor: Executor, frames: list[np.ndarray], tiling: Tiling | None = None) -> list[np.ndarray]:
    """Same-size H x W x 3 RGB float frames as one batch (split or tiled as the engine needs)."""
    if executor.info.dual:
        raise IfanError(f"{executor.info.variant} needs dual-pixel views; video input is not supported for it")
    h, w = frames[0].shape[:2]
    return network_output(infer(executor, network_input(executor, frames), tiling=tiling), h, w)
