"""Fixtures for the precision tests: one small IFAN (ch=8, N=2, random weights) exported once per
session in both IAC forms, and small synthetic defocus images (calibration and held-out sets)."""

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
def small_exports(tmp_path_factory) -> dict[str, Path]:
    """{"plugin": ONNX path, "onnx": ONNX path, "checkpoint": .pth path} of one small random model."""
    torch = pytest.importorskip("torch")
    from ifan_trt.export import export_onnx
    from ifan_trt.model import IFAN, IFANConfig

    torch.manual_seed(0)
    model = IFAN(IFANConfig(ch=8, n_iters=2))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.06)  # visible effect of every layer without saturating the output
    model.eval()
    folder = tmp_path_factory.mktemp("onnx")
    from ifan_trt.checkpoint import save_checkpoint

    paths = {form: export_onnx(model, folder / f"small_{form}.onnx", iac_form=form).path
             for form in ("plugin", "onnx")}
    paths["checkpoint"] = folder / "small.pth"
    save_checkpoint(model, paths["checkpoint"])
    return paths
