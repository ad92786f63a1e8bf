"""Helpers shared by the precision tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_graph(model, feeds: dict[str, np.ndarray]) -> np.ndarray:
    from ifan_trt.export import ort_session

    session = ort_session(model)
    return session.run([session.get_outputs()[0].name], feeds)[0]


def feeds_of(folder: Path, size=(32, 32)) -> list[dict[str, np.ndarray]]:
    from ifan_trt.calib import images

    return [images.feeds_for(["input"], p, size) for p in images.find_images(folder)]
