"""The Python API (`from ifan_trt import Deblurrer`) and the torch-free quick start: the bundled
model's ONNX export runs on ONNX Runtime with torch unimportable."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from ifan_trt.cli import main  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "defocused.png"
_BLOCK_TORCH = """
import sys
class _NoTorch:  # what `pip install .[cpu]` lacks: torch, and the train and plot extras
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "skimage", "matplotlib", "onnxscript"):
            raise ImportError(name + " is blocked for this test")
sys.meta_path.insert(0, _NoTorch())
"""


@pytest.fixture(scope="module")
def deblurrer():
    from ifan_trt import Deblurrer

    with Deblurrer() as d:
        yield d


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "crop.png"
    cv2.imwrite(str(path), cv2.imread(str(SAMPLE))[100:164, 200:296])
    return path


def test_default_is_the_bundled_onnx_on_onnxruntime(deblurrer):
    assert deblurrer.summary == "default (default.onnx) on onnxruntime-cpu fp32"


def test_same_result_as_the_command(deblurrer, crop, tmp_path):
    assert main(["deblur", str(crop), "-o", str(tmp_path / "cli.png")]) == 0
    cli = cv2.imread(str(tmp_path / "cli.png")).astype(int)
    api = deblurrer(cv2.imread(str(crop)), bgr=True).astype(int)
    assert np.abs(api - cli).max() <= 1
    assert np.abs(api - cv2.imread(str(crop)).astype(int)).max() > 3  # it did change the image
    deblurrer.deblur_file(crop, tmp_path / "api.png")
    assert np.abs(cv2.imread(str(tmp_path / "api.png")).astype(int) - cli).max() <= 1
    with pytest.raises(IfanError, match="exists; pass overwrite=True"):
        deblurrer.deblur_file(crop, tmp_path / "api.png")


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_shape_and_dtype_round_trip(deblurrer, crop, channels):
    bgr = cv2.imread(str(crop))
    rgb8 = bgr[:, :, ::-1] if channels else bgr[:, :, 1]
    if channels == 4:
        rgb8 = np.dstack([rgb8, np.arange(rgb8.size // 3, dtype=np.uint32).reshape(rgb8.shape[:2]) % 256]).astype(np.uint8)
    images = {np.uint8: rgb8, np.uint16: rgb8.astype(np.uint16) * 257, np.float32: rgb8.astype(np.float32) / 255}
    outs = {}
    for dtype, image in images.items():
        out = deblurrer(image)
        assert out.shape == image.shape and out.dtype == dtype
        if channels == 4:
            np.testing.assert_array_equal(out[:, :, 3], image[:, :, 3])  # alpha passes through
        outs[dtype] = out.astype(np.float64) / {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    # the same pixels in three depths give the same result within one 8-bit code value
    assert np.abs(outs[np.uint16] - outs[np.float32]).max() <= 1 / 65535 * 1.01
    assert np.abs(outs[np.uint8] - outs[np.float32]).max() <= 1 / 255 * 1.01
    if channels == 3:  # channel order: RGB by default, bgr=True for OpenCV frames
        np.testing.assert_array_equal(deblurrer(rgb8), deblurrer(np.ascontiguousarray(rgb8[:, :, ::-1]), bgr=True)[:, :, ::-1])


def test_bad_arrays_are_refused(deblurrer):
    with pytest.raises(IfanError, match="dtype int32"):
        deblurrer(np.zeros((16, 16, 3), np.int32))
    with pytest.raises(IfanError, match=r"shape \(16, 16, 2\)"):
        deblurrer(np.zeros((16, 16, 2), np.uint8))


def test_video_and_frames(deblurrer, tmp_path):
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    frames = [np.full((48, 64, 3), 60 * i + 20, np.uint8) for i in range(4)]
    for frame in frames:
        cv2.circle(frame, (32, 24), 10, (200, 40, 90), -1)
        writer.write(frame)
    writer.release()
    deblurrer.deblur_video(tmp_path / "clip.mp4", tmp_path / "out.mp4")
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))) == (48, 64)
    outs = list(deblurrer.frames(frames))
    assert len(outs) == 4 and outs[0].shape == frames[0].shape and outs[0].dtype == np.uint8


def test_import_is_light():
    code = "import sys, ifan_trt; print(sorted(m for m in ('torch', 'onnxruntime', 'onnx', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_quick_start_without_torch(tmp_path):
    code = _BLOCK_TORCH + f"""
from ifan_trt.cli import main
code = main(["deblur", {str(SAMPLE)!r}, "--compare", "cmp.png"])
assert not any(m.split(".")[0] in ("torch", "skimage", "matplotlib") for m in sys.modules), "an extra was imported"
sys.exit(code)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "ifan deblur: default (default.onnx) on onnxruntime-cpu fp32"
    assert result.stdout.strip() == "wrote defocused.deblurred.png and cmp.png"
    out = cv2.imread(str(tmp_path / "defocused.deblurred.png"))
    assert out.shape == cv2.imread(str(SAMPLE)).shape
    assert cv2.imread(str(tmp_path / "cmp.png")).shape[1] == 2 * out.shape[1] + 8
