"""A static-shape export (fixed H x W, or a fixed batch) runs images of any size: padded up to its
shape or tiled over it, and equal to the dynamic export's output computed on the same tiles."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from tests.helpers.runtime import FakeExecutor, scene  # noqa: E402

from ifan_trt.imageio import Image  # noqa: E402
from ifan_trt.runtime.executors.backends import open_executor, run_summary  # noqa: E402
from ifan_trt.runtime.images.pipeline import _nchw, deblur_image, deblur_images  # noqa: E402
from ifan_trt.runtime.images.tiling import run_tiled  # noqa: E402

_STATIC: dict = {}


def static_onnx(models, shape=(64, 64), batch=None):
    """The small model exported with a static H x W (and batch), once per session."""
    key = (shape, batch)
    if key not in _STATIC:
        from ifan_trt.export import export_onnx

        out = models("checkpoint").with_name(f"static_{shape[0]}x{shape[1]}_b{batch}.onnx")
        _STATIC[key] = export_onnx(models("checkpoint"), out, iac_form="plugin", shape=shape, batch=batch).path
    return _STATIC[key]


def reference(dynamic, rgb: np.ndarray, tile=(64, 64)) -> np.ndarray:
    """What the static model must give: the dynamic model run on the same padded 64x64 tiles."""
    h, w = rgb.shape[:2]
    x = _nchw(rgb, 8, tile)
    hh, ww = x.shape[2:]
    if (hh, ww) == tile:
        out = dynamic.run(x)
    else:
        out = run_tiled(dynamic, x, tile, overlap=min(tile) // 2)
    return out[0, :, :h, :w].transpose(1, 2, 0)


@pytest.mark.parametrize("size", [(50, 70), (130, 90), (64, 64), (20, 30)])
def test_static_hw_runs_any_size(models, size):
    rgb = scene(*size, seed=size[0])
    with open_executor("onnxruntime", onnx=str(static_onnx(models))) as static, \
            open_executor("onnxruntime", onnx=str(models("plugin"))) as dynamic:
        assert static.limits.min_hw == static.limits.max_hw == (64, 64)
        out = deblur_image(static, Image(rgb, np.dtype(np.float32), False))
        assert out.rgb.shape == rgb.shape
        np.testing.assert_allclose(out.rgb, reference(dynamic, rgb), atol=1e-4)
        assert "static input 64x64: other sizes are padded or tiled to it" in run_summary(static)


def test_fixed_batch_pads_and_splits(models):
    frames = [scene(64, 64, seed=s) for s in range(3)]
    with open_executor("onnxruntime", onnx=str(static_onnx(models, batch=2))) as static, \
            open_executor("onnxruntime", onnx=str(models("plugin"))) as dynamic:
        assert (static.limits.min_batch, static.limits.max_batch) == (2, 2)
        outs = deblur_images(static, [Image(f, np.dtype(np.float32), False) for f in frames])
        for frame, out in zip(frames, outs):
            expected = dynamic.run(_nchw(frame, 8))[0].transpose(1, 2, 0)
            np.testing.assert_allclose(out.rgb, expected, atol=1e-4)
        assert "fixed batch 2" in run_summary(static)


def test_fixed_batch_engine_limits_fill_the_batch():
    """An engine whose only profile has batch 2 (TensorRT path, faked): one image and three tiles
    still run, in batches of exactly 2, with each image's own result."""
    from ifan_trt.runtime.interface.executor import ShapeLimits

    calls = []

    class FixedBatch(FakeExecutor):
        def run(self, input, left=None, right=None):
            assert input.shape[0] == 2
            calls.append(input.shape)
            return super().run(input, left, right)

    fake = FixedBatch(fn=lambda x: x * 0.5, limits=ShapeLimits(min_batch=2, max_batch=2, min_hw=(32, 32), max_hw=(32, 32)))
    rgb = scene(30, 70)
    out = deblur_image(fake, Image(rgb, np.dtype(np.float32), False))
    np.testing.assert_allclose(out.rgb, rgb * 0.5, atol=1e-6)
    assert calls and all(shape == (2, 3, 32, 32) for shape in calls)
