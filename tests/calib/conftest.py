"""Fixtures for the precision tests: the small random IFAN's exports by name, and small synthetic
defocus images (calibration and held-out sets)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxconverter_common")


def write_images(folder: Path, count: int, seed: int, size=(48, 40)) -> Path:
    """Synthetic defocus sources (dead-leaves textures: no photo package needed), H x W = size."""
    from ifan_trt.training.synthetic import write_dataset

    write_dataset(folder, count, size, seed, photos=(), progress=False)
    return folder / "source"


@pytest.fixture(scope="session")
def calib_images(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("calib"), 4, seed=11)


@pytest.fixture(scope="session")
def heldout_images(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("heldout"), 3, seed=12)


@pytest.fixture(scope="session")
def small_exports(models) -> dict[str, Path]:
    """{"plugin": ONNX path, "onnx": ONNX path, "checkpoint": .pth path} of the small random model."""
    return {kind: models(kind) for kind in ("plugin", "onnx", "checkpoint")}
