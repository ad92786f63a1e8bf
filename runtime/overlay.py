"""What the demo shows: input and output side by side or as a wipe, with a status band (FPS,
latency, backend, precision) drawn over the top."""

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
    where = position if position is not None else 0.5 + 0.4 * math.sin(2 * math.pi * t / 6.0)
    x = int(round(min(max(where, 0.0), 1.0) * w))
    picture = output.copy()
    picture[:, :x] = frame[:, :x]
    cv2.line(picture, (x, 0), (x, picture.shape[0] - 1), (255, 255, 255), max(1, w // 400))
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
    lines = [f"{fps:5.1f} FPS" if fps > 0 else "-- FPS", f"{latency_ms:6.1f} ms", backend]  # no rate from one frame
    if paused:
        lines.append("PAUSED")
    return lines
