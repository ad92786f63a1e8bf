"""Any input size: pad to 8 and crop back (odd sizes), the engine's minimum size, batches split
to what the engine accepts, video frames as one batch."""

import numpy as np
import pytest

from tests.helpers.runtime import FakeExecutor, scene  # noqa: E402
from ifan_trt.imageio import Image
from ifan_trt.runtime.interface.executor import ShapeLimits
from ifan_trt.runtime.images.pipeline import Tiling, deblur_frames, deblur_image, infer


def _image(h, w, seed=0):
    return Image(scene(h, w, seed), np.dtype(np.uint8), False)


@pytest.mark.parametrize("h,w", [(1, 1), (7, 9), (21, 30), (33, 17)])
def test_odd_sizes_pad_and_crop_back_on_onnxruntime(models, h, w):
    pytest.importorskip("onnxruntime")
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor

    ex = OrtExecutor(models("onnx"), threads=1)
    image = _image(h, w)
    out = deblur_image(ex, image)
    assert out.rgb.shape == (h, w, 3) and out.dtype == np.uint8
    # reference: replicate-pad by hand to the next multiple of 8, run, crop
    ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
    padded = np.pad(image.rgb, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    want = ex.run(padded.transpose(2, 0, 1)[None].copy())[0, :, :h, :w].transpose(1, 2, 0)
    assert np.abs(out.rgb - want).max() <= 1e-6


def test_pads_up_to_the_engine_minimum():
    ex = FakeExecutor(limits=ShapeLimits(min_hw=(32, 48), max_hw=(32, 48), max_batch=1))
    image = _image(20, 30)
    out = deblur_image(ex, image)
    assert ex.calls == [(1, 3, 32, 48)]
    assert np.array_equal(out.rgb, image.rgb)  # identity network: the crop returns the input exactly


def test_batches_are_split_to_the_engine_maximum():
    ex = FakeExecutor(fn=lambda x: 1 - x, limits=ShapeLimits(max_batch=2))
    x = np.random.default_rng(0).random((5, 3, 16, 24)).astype(np.float32)
    out = infer(ex, x)
    assert ex.calls == [(2, 3, 16, 24), (2, 3, 16, 24), (1, 3, 16, 24)]
    assert np.allclose(out, 1 - x)


def test_frames_run_as_one_batch_and_crop_back():
    ex = FakeExecutor(fn=lambda x: x * 0.5)
    frames = [scene(21, 30, seed) for seed in range(3)]
    out = deblur_frames(ex, frames)
    assert ex.calls == [(3, 3, 24, 32)]
    assert all(np.allclose(o, f * 0.5) for o, f in zip(out, frames))


def test_too_large_for_the_engine_is_tiled():
    ex = FakeExecutor(limits=ShapeLimits(max_hw=(64, 64), max_batch=4))
    image = _image(100, 150)
    out = deblur_image(ex, image, tiling=Tiling(overlap=16))
    assert all(c[2] <= 64 and c[3] <= 64 for c in ex.calls) and len(ex.calls) > 1
    assert np.allclose(out.rgb, image.rgb, atol=1e-6)
