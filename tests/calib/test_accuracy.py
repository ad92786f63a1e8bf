"""Accuracy of the prepared graphs on a trained model, on held-out images (CPU, ONNX Runtime):
FP16 >= 45 dB and INT8 >= 33 dB PSNR against the FP32 graph (the thresholds docs/engines.md states).

The model: $IFAN_TRAINED_CHECKPOINT, else the bundled default model (ifan_trt/weights). Without
either the test is skipped: random weights say nothing about accuracy. Calibration and held-out
images are synthetic defocus scenes from different seeds; small sizes keep it under a minute
or two on 2 cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest

from ifan_trt.calib import audit, images, prepare, qdq

FP16_MIN_PSNR = 45.0
INT8_MIN_PSNR = 33.0


def _trained_checkpoint() -> Path | None:
    env = os.environ.get("IFAN_TRAINED_CHECKPOINT")
    if env:
        return Path(env)
    try:
        from ifan_trt.weights import default_checkpoint_path

        return default_checkpoint_path()
    except Exception:  # IfanError when the bundled model is missing
        return None


CHECKPOINT = _trained_checkpoint()
pytestmark = pytest.mark.skipif(CHECKPOINT is None or not CHECKPOINT.is_file(),
                                reason="no trained model yet (ifan_trt/weights/default.pth or "
                                       "$IFAN_TRAINED_CHECKPOINT); accuracy on random weights means nothing")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("torch")
    from ifan_trt.export import export_onnx
    from ifan_trt.training.synthetic import write_dataset

    folder = tmp_path_factory.mktemp("trained")
    try:
        import skimage  # noqa: F401  (photo textures, as the model was trained on)
        photos = {}
    except ImportError:
        photos = {"photos": ()}
    calib = write_dataset(folder / "calib", 8, (128, 128), 1001, progress=False, **photos) / "source"
    held = write_dataset(folder / "held", 4, (128, 160), 2002, progress=False, **photos) / "source"
    path = export_onnx(CHECKPOINT, folder / "trained.onnx", iac_form="plugin").path
    return path, calib, held, folder


def _audit(fp32, candidate, held):
    result = audit.audit(fp32, candidate, images.find_images(held), progress=False)
    print(f"{candidate.name}: " + ", ".join(f"{s.image} {s.psnr:.2f} dB" for s in result.scores)
          + f"; mean {result.mean.psnr:.2f} dB, correction error {100 * result.mean.correction_error:.2f} %")
    return result


def test_fp16_graph_meets_45_db(trained):
    path, calib, held, folder = trained
    out = prepare.make_fp16(path, folder / "trained.fp16.onnx", calib, size=(128, 128), count=4, progress=False)
    result = _audit(path, out, held)
    assert result.worst_psnr >= FP16_MIN_PSNR
    assert result.mean.ssim > 0.999


@pytest.mark.parametrize("fp16_too", [False, True], ids=["int8", "int8-fp16"])
def test_int8_graph_meets_33_db(trained, fp16_too):
    path, calib, held, folder = trained
    name = "int8-fp16" if fp16_too else "int8"
    out = prepare.make_int8(path, folder / f"trained.{name}.onnx", calib, "percentile", 8, (128, 128),
                            folder / "calib.json", fp16=fp16_too, progress=False)
    assert qdq.qdq_problems(onnx.load(out)) == []
    result = _audit(path, out, held)
    assert result.worst_psnr >= INT8_MIN_PSNR
    assert np.isfinite(result.mean.max_abs_error)


def test_cpu_int8_graph_meets_33_db(trained):
    """`ifan precision --to int8-cpu` (ONNX Runtime's INT8 layout, UINT8 activations) on the same
    images and threshold."""
    from ifan_trt.calib.cpu_int8 import make_cpu_int8

    path, calib, held, folder = trained
    out = make_cpu_int8(path, folder / "trained.int8-cpu.onnx", calib, "percentile", 8, (128, 128), progress=False)
    result = _audit(path, out, held)
    assert result.worst_psnr >= INT8_MIN_PSNR
