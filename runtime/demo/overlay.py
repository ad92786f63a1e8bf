"""What the demo shows: input and output side by side or as a wipe, with a status band (FPS,
latency, backend, precision) drawn over the top and each part labelled along the bottom."""

from __future__ import annotations

import math

import cv2
import numpy as np

VIEWS = ("side", "wipe")


def compose(view: str, frame: np.ndarray, output: np.ndarray, t: float = 0.0,
            position: float | None = None) -> np.ndarray:
    """BGR uint8 frames of one size -> the picture to show. The wipe line (input on its left,
    output on its right) sits at `position` (0..1, e.g. where the mouse dragged it) or sweeps
    across the frame with a period of 6 s."""
    if view == "side":
        return np.hstack([frame, output])
    if view != "wipe":
        raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")
    w = frame.shape[1]
    x = wipe_x(w, t, position)
    picture = output.copy()
    picture[:, :x] = frame[:, :x]
    cv2.line(picture, (x, 0), (x, picture.shape[0] - 1), (255, 255, 255), max(1, w // 400))
    return picture


def wipe_x(width: int, t: float = 0.0, position: float | None = None) -> int:
    """Column of the wipe line: `position` (0..1) or a sweep with a period of 6 s."""
    where = position if position is not None else 0.5 + 0.4 * math.sin(2 * math.pi * t / 6.0)
    return int(round(min(max(where, 0.0), 1.0) * width))


def split_x(view: str, frame_width: int, t: float = 0.0, position: float | None = None) -> int:
    """Where the input ends and the output begins in the composed picture."""
    return frame_width if view == "side" else wipe_x(frame_width, t, position)


def _tag(picture: np.ndarray, text: str, x: int, right_aligned: bool, band: int) -> None:
    """Text on a dark box in the bottom band, starting at x (or ending at x)."""
    h = picture.shape[0]
    scale = band / 36 * 0.8
    thick = max(1, int(round(scale * 2)))
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, band // 6)
    x0 = max(0, x - tw - 2 * pad) if right_aligned else x
    x1 = min(picture.shape[1], x0 + tw + 2 * pad)
    if x1 <= x0:
        return
    box = picture[h - band:, x0:x1]
    box[:] = (box.astype(np.uint16) * 1 // 4).astype(np.uint8)
    cv2.putText(picture, text, (x0 + pad, h - band // 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thick, cv2.LINE_AA)


def draw_labels(picture: np.ndarray, split: int, output_label: str) -> np.ndarray:
    """"input" left of `split`, "deblurred (backend precision)" right of it, along the bottom
    (in place; returns the picture)."""
    band = min(picture.shape[0] // 3, band_height(picture.shape[1]))
    _tag(picture, "input", split - 1, True, band)
    _tag(picture, f"deblurred ({output_label})" if output_label else "deblurred", split + 1, False, band)
    return picture


def band_height(width: int) -> int:
    return max(12, int(round(width / 1280 * 36)))


def draw_overlay(picture: np.ndarray, lines: list[str]) -> np.ndarray:
    """A dark band across the top with the status text (in place; returns the picture)."""
    h, w = picture.shape[:2]
    band = min(h, band_height(w))
    top = picture[:band]
    top[:] = (top.astype(np.uint16) * 1 // 4).astype(np.uint8)  # darken: text stays readable on any scene
    scale = band / 36 * 0.9
    cv2.putText(picture, "  |  ".join(lines), (max(2, band // 4), int(band * 0.72)), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (255, 255, 255), max(1, int(round(scale * 2))), cv2.LINE_AA)
    return picture


def status_lines(fps: float, latency_ms: float, backend: str, paused: bool = False) -> list[str]:
    lines = [f"{fps:5.1f} FPS" if fps > 0 else "-- FPS", f"{latency_ms:6.1f} ms", backend]
    if paused:
        lines.append("PAUSED")
    return lines
