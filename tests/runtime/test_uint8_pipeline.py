"""The pipeline with uint8 models: 8-bit RGB frames (camera, video, 8-bit photos, NumPy arrays)
go to the model as they are; 16-bit, grayscale and alpha images take the float network inside.
Every result is compared with the float model's, code value by code value."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from ifan_trt.errors import IfanError  # noqa: E402


@pytest.fixture(scope="module")
def pair(models, tmp_path_factory):
    """(float executor, uint8 executor) of the small model, standard-op IAC, uint8 in BGR."""
    from ifan_trt.export import export_onnx
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor

    path = export_onnx(models("checkpoint"), tmp_path_factory.mktemp("u8") / "small_u8.onnx", iac_form="onnx",
                       io="uint8", channel_order="bgr").path
    frames = OrtExecutor(path, device="cpu")
    frames.model_path = str(path)
    return OrtExecutor(models("onnx"), device="cpu"), frames


class Counting:
    """Wraps an executor and counts which of its entry points ran."""

    def __init__(self, executor, float_reachable=True):
        self.inner, self.calls, self._reach = executor, [], float_reachable

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def float_reachable(self):
        return self._reach

    def run_frames(self, frames):
        self.calls.append("run_frames")
        return self.inner.run_frames(frames)

    def run_filled(self, *a):
        self.calls.append("run")
        return self.inner.run_filled(*a)

    def max_batch(self, h, w):
        return self.inner.max_batch(h, w)


def test_metadata_reaches_model_info(pair):
    floating, frames = pair
    assert (floating.info.io, frames.info.io, frames.info.channel_order) == ("float", "uint8", "bgr")
    assert frames.describe().endswith("fp32 uint8-io")


def test_bgr_frames_take_the_uint8_path_and_equal_the_float_path(pair):
    from ifan_trt.runtime.images.pipeline import deblur_bgr_frames

    floating, frames = pair
    counted = Counting(frames)
    batch = list(np.random.default_rng(0).integers(0, 256, (3, 45, 70, 3), dtype=np.uint8))
    out = deblur_bgr_frames(counted, batch)
    ref = deblur_bgr_frames(floating, batch)
    assert counted.calls == ["run_frames"]
    assert all(o.dtype == np.uint8 and o.shape == (45, 70, 3) for o in out)
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(out, ref)) <= 1


def test_images_by_kind(pair):
    """8-bit RGB through the frames; 16-bit, gray and alpha through the float network inside
    (the same result as the float model's, bit for bit: it is the same network)."""
    from ifan_trt.imageio import Image
    from ifan_trt.runtime.images.pipeline import deblur_image

    floating, frames = pair
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (33, 50, 3)).astype(np.float32)
    eight = Image(codes / np.float32(255), np.dtype(np.uint8), False)
    counted = Counting(frames)
    out = deblur_image(counted, eight)
    assert counted.calls == ["run_frames"]
    assert np.abs(out.rgb * 255 - deblur_image(floating, eight).rgb * 255).max() <= 1.0 + 1e-3
    sixteen = Image(rng.integers(0, 65536, (33, 50, 3)).astype(np.float32) / np.float32(65535),
                    np.dtype(np.uint16), False)
    gray = Image(np.repeat(codes[..., :1], 3, axis=2) / np.float32(255), np.dtype(np.uint8), True)
    alpha = Image(codes / np.float32(255), np.dtype(np.uint8), False, alpha=np.full((33, 50), 200, np.uint8))
    for image in (sixteen, gray, alpha):
        counted = Counting(frames)
        out = deblur_image(counted, image)
        assert counted.calls == ["run"]
        np.testing.assert_array_equal(out.rgb, deblur_image(floating, image).rgb)


def test_float_only_input_refused_where_the_float_network_is_out_of_reach(pair):
    """A uint8 engine runs 8-bit RGB frames only: a 16-bit image is refused in one line naming the
    fix, not quantised to 8 bits behind the user's back."""
    from ifan_trt.imageio import Image
    from ifan_trt.runtime.images.pipeline import deblur_bgr_frames, deblur_image

    _, frames = pair
    engine_like = Counting(frames, float_reachable=False)
    sixteen = Image(np.zeros((16, 16, 3), np.float32), np.dtype(np.uint16), False)
    with pytest.raises(IfanError, match=r"^a 16-bit image: this engine has uint8 I/O .*build an engine from the "
                                        r"float export"):
        deblur_image(engine_like, sixteen)
    from ifan_trt.runtime.images.pipeline import Tiling

    with pytest.raises(IfanError, match=r"^32x32 frames: this engine has uint8 I/O"):
        deblur_bgr_frames(engine_like, [np.zeros((32, 32, 3), np.uint8)], Tiling(tile=(16, 16)))
    assert engine_like.calls == []


def test_python_api_takes_uint8_arrays_as_they_are(pair, models, tmp_path):
    from ifan_trt.runtime.images.deblurrer import Deblurrer

    floating, frames = pair
    image = np.random.default_rng(2).integers(0, 256, (31, 47, 3), dtype=np.uint8)
    with Deblurrer(frames.model_path, backend="onnxruntime",
                   device="cpu") as u8, Deblurrer(str(models("onnx")), backend="onnxruntime", device="cpu") as f:
        for bgr in (False, True):
            out, ref = u8(image, bgr=bgr), f(image, bgr=bgr)
            assert out.dtype == np.uint8 and out.shape == image.shape
            assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_bundled_default_uint8_equals_its_float_export(tmp_path):
    """The bundled model exported with --io uint8 against the bundled float export."""
    from ifan_trt.export import export_onnx
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import deblur_bgr_frames
    from ifan_trt.weights import default_checkpoint_path, default_onnx_path

    path = export_onnx(default_checkpoint_path(), tmp_path / "default_u8.onnx", io="uint8",
                       channel_order="bgr").path
    frames = [np.random.default_rng(6).integers(0, 256, (61, 90, 3), dtype=np.uint8)]
    out = deblur_bgr_frames(OrtExecutor(path, device="cpu"), frames)[0]
    ref = deblur_bgr_frames(OrtExecutor(default_onnx_path(), device="cpu"), frames)[0]
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_profile_of_a_uint8_model_times_the_frames_path(pair):
    """ifan profile on a uint8 model: the frames go to run_frames (the conversions inside the
    model, counted in compute); the float model's run goes through run()."""
    from ifan_trt.runtime.measure.profiler import profile

    floating, frames = pair
    for executor, entry in ((frames, "run_frames"), (floating, "run")):
        counted = Counting(executor)
        result = profile(counted, (1, 3, 40, 56), "m", warmup=1, iterations=2, progress=False)
        assert set(counted.calls) == {entry} and len(counted.calls) == 3
        assert {"decode", "preprocess", "compute", "postprocess"} <= set(result.stage_ms)


def test_inspect_tells_a_uint8_model(pair):
    from ifan_trt.runtime.model_files.model_facts import inspect_model

    _, frames = pair
    facts = inspect_model(frames.model_path)
    assert facts["io"] == "uint8 frames (BxHxWx3, bgr)"
    assert facts["peak_memory"]["at"] == "1x3x720x1280"  # the float network's peak at the default size
    assert facts["shapes"] == "dynamic batchx3xframe_heightxframe_width"


def test_video_stream_of_a_uint8_model_takes_the_frames(pair):
    """deblur_stream (videos): batches of BGR frames go to a uint8 model as they are, in order."""
    from ifan_trt.runtime.images.video import deblur_stream

    floating, frames = pair
    counted = Counting(frames)
    rng = np.random.default_rng(8)
    batches = [list(rng.integers(0, 256, (2, 24, 40, 3), dtype=np.uint8)) for _ in range(3)]
    outs = list(deblur_stream(counted, batches))
    refs = list(deblur_stream(floating, batches))
    assert counted.calls == ["run_frames"] * 3 and [len(o) for o in outs] == [2, 2, 2]
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for o, r in zip(outs, refs) for a, b in zip(o, r)) <= 1
