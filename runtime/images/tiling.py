"""Tiled inference for inputs larger than the engine's largest profile or a memory budget.

The padded image is cut into tiles (sizes and positions multiples of 8, so each tile is a valid
network input and the 1/8-resolution grid lines up with the full frame's), neighbouring tiles
overlap, and the outputs are blended with linear ramps across each overlap ("feathering"), so no
seam shows. Tiles only see their own pixels: near a tile border the network lacks context, which
is why the overlap must cover most of its effective receptive field (DEFAULT_OVERLAP was chosen by
measurement, see tests/runtime/test_tiling.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.sizes import parse_size

from ..interface.executor import Executor, ShapeLimits
from .padding import SIZE_MULTIPLE

DEFAULT_OVERLAP = 64  # px; measured: >= 40 dB PSNR tiled vs full frame (see module docstring)


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


def _floor8(n: int, multiple: int = SIZE_MULTIPLE) -> int:
    return n // multiple * multiple


def _starts(size: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Tile starts along one axis: step tile - overlap, the last tile flush with the end."""
    if tile >= size:
        return [0]
    step = max(multiple, _floor8(tile - overlap, multiple))
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def plan_tiles(h: int, w: int, tile_h: int, tile_w: int, overlap: int = DEFAULT_OVERLAP,
               multiple: int = SIZE_MULTIPLE) -> list[Tile]:
    """Tiles covering an H x W image (H, W multiples of `multiple`) row by row."""
    if h % multiple or w % multiple:
        raise ValueError(f"{h}x{w}: pad to multiples of {multiple} before tiling")
    tile_h, tile_w = min(tile_h, h), min(tile_w, w)
    if tile_h < multiple or tile_w < multiple or tile_h % multiple or tile_w % multiple:
        raise IfanError(f"tile {tile_h}x{tile_w}: tiles must be multiples of {multiple}, at least {multiple}x{multiple}")
    if overlap < 0:
        raise IfanError(f"overlap {overlap}: must be >= 0")
    return [Tile(y, x, tile_h, tile_w)
            for y in _starts(h, tile_h, overlap, multiple) for x in _starts(w, tile_w, overlap, multiple)]


def _ramp(length: int, start: int, end: int, size: int, overlap: int) -> np.ndarray:
    """1-D blend weight of a tile spanning [start, end) of an axis of `size`: rises linearly over
    `overlap` pixels at edges shared with a neighbour, flat (1) at the image border."""
    weight = np.ones(length, np.float32)
    ramp_len = min(overlap, length // 2)
    if ramp_len > 0:
        ramp = (np.arange(ramp_len, dtype=np.float32) + 0.5) / ramp_len
        if start > 0:
            weight[:ramp_len] = np.minimum(weight[:ramp_len], ramp)
        if end < size:
            weight[-ramp_len:] = np.minimum(weight[-ramp_len:], ramp[::-1])
    return weight


def blend_weights(tile: Tile, h: int, w: int, overlap: int) -> np.ndarray:
    """H x W weight of one tile (outer product of the two 1-D ramps)."""
    wy = _ramp(tile.h, tile.y, tile.y + tile.h, h, overlap)
    wx = _ramp(tile.w, tile.x, tile.x + tile.w, w, overlap)
    return wy[:, None] * wx[None, :]


def choose_tile(h: int, w: int, limits: ShapeLimits, tile: tuple[int, int] | None = None,
                max_pixels: int | None = None, multiple: int = SIZE_MULTIPLE) -> tuple[int, int] | None:
    """The tile size for an H x W (padded) input, or None to run it whole.

    An explicit tile wins; else a pixel budget (largest near-square tile within it); else the
    executor's largest accepted size when the input exceeds it. A static-shape model (one fixed
    H x W) always runs tiles of its own size; the pipeline pads smaller inputs up to it.
    """
    if limits.max_hw is not None and limits.min_hw == limits.max_hw:
        return None if (h, w) == limits.max_hw else limits.max_hw
    if tile is not None:
        th, tw = (_floor8(min(t, s), multiple) for t, s in zip(tile, (h, w)))
        return None if (th, tw) == (h, w) else (th, tw)
    if max_pixels and h * w > max_pixels:
        side = _floor8(int(math.isqrt(max_pixels)), multiple)
        th = min(h, side)
        tw = min(w, _floor8(max_pixels // max(th, 1), multiple))
        if th < multiple or tw < multiple:
            raise IfanError(f"--max-pixels {max_pixels}: too small for one {multiple}x{multiple} tile")
        return th, tw
    if limits.max_hw is not None and (h > limits.max_hw[0] or w > limits.max_hw[1]):
        return _floor8(min(h, limits.max_hw[0]), multiple), _floor8(min(w, limits.max_hw[1]), multiple)
    return None


def parse_tile(text: str) -> tuple[int, int]:
    """"HxW" (or one number for a square) as a tile size, multiples of 8."""
    return parse_size(text, "--tile", multiple=SIZE_MULTIPLE, minimum=SIZE_MULTIPLE, square_ok=True)


def tile_batch(executor: Executor, th: int, tw: int, requested: int | None = None,
               max_pixels: int | None = None) -> int:
    """Tiles of th x tw per run: the memory budget of a tiled run. As asked (within what the
    executor takes); else one on CPU backends (batching gains them nothing and costs a tile's
    activations per extra tile), up to the profile's largest batch on engines; without a request
    the batch also keeps within the pixel budget (at least one tile)."""
    limit = max(1, executor.max_batch(th, tw))
    if requested:
        return min(requested, limit)
    if executor.limits.max_batch is None:  # CPU backends: no batch limit, and no gain from batching
        return 1
    if max_pixels:
        limit = min(limit, max(1, max_pixels // (th * tw)))
    return limit


def run_tiled(executor: Executor, input: np.ndarray, tile_hw: tuple[int, int], overlap: int = DEFAULT_OVERLAP,
              left: np.ndarray | None = None, right: np.ndarray | None = None, batch: int | None = None,
              max_pixels: int | None = None, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The network's output for a [1,3,H,W] input computed tile by tile and blended.

    Tiles run `tile_batch` at a time (batch: the number asked for) and each run's outputs are
    blended into the result before the next run, so the memory a tiled run needs beyond the
    image itself is one batch of tiles: it falls with the tile size. progress(done, total) is
    called after each run."""
    _, c, h, w = input.shape
    tiles = plan_tiles(h, w, tile_hw[0], tile_hw[1], overlap, executor.info.size_multiple)
    out = np.zeros((c, h, w), np.float32)
    # the tiles form a full grid (every row start with every column start), so the sum of their
    # weights is separable: one weight per row times one per column (no H x W array)
    weight_y, weight_x = np.zeros(h, np.float32), np.zeros(w, np.float32)
    for y in sorted({t.y for t in tiles}):
        weight_y[y:y + tiles[0].h] += _ramp(tiles[0].h, y, y + tiles[0].h, h, overlap)
    for x in sorted({t.x for t in tiles}):
        weight_x[x:x + tiles[0].w] += _ramp(tiles[0].w, x, x + tiles[0].w, w, overlap)
    th, tw = tiles[0].h, tiles[0].w
    step = max(1, min(tile_batch(executor, th, tw, batch, max_pixels), len(tiles)))
    cut = lambda a, group: None if a is None else np.concatenate(
        [a[:, :, t.y:t.y + t.h, t.x:t.x + t.w] for t in group])
    for i in range(0, len(tiles), step):
        group = tiles[i:i + step]
        result = executor.run_filled(cut(input, group), cut(left, group), cut(right, group))
        for t, r in zip(group, result):
            out[:, t.y:t.y + t.h, t.x:t.x + t.w] += r * blend_weights(t, h, w, overlap)
        del result
        if progress is not None:
            progress(i + len(group), len(tiles))
    out /= weight_y[None, :, None]  # in place: no second full-size copy
    out /= weight_x[None, None, :]
    return out[None]
