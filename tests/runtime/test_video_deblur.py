"""`ifan deblur` on a video: every frame, the size and the frame rate kept; written atomically;
same frames as the image path."""

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from tests.helpers.runtime import write_video  # noqa: E402
from ifan_trt.cli import main  # noqa: E402


def _read(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


@pytest.mark.parametrize("ext,batch", [(".mp4", None), (".avi", "4")])
def test_video_keeps_frame_count_size_and_rate(models, tmp_path, ext, batch):
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=10, size=(48, 64), fps=12.5)
    out = tmp_path / f"out{ext}"
    argv = ["deblur", str(clip), "-o", str(out), "--onnx", str(models("onnx")), "--threads", "1"]
    assert main(argv + (["--batch", batch] if batch else [])) == 0
    frames, fps = _read(out)
    assert len(frames) == 10 and frames[0].shape == (48, 64, 3) and fps == pytest.approx(12.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["clip.mp4", out.name])  # no temp file left
    source, _ = _read(clip)
    assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, source)]) > 1


def test_video_frames_match_the_image_path(models, tmp_path):
    """The video path is the image path per frame: compare with deblurring the decoded frames."""
    from ifan_trt.imageio import Image
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import deblur_image
    from ifan_trt.runtime.images.pipeline import rgb_float_to_bgr

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (40, 24))
    for i in range(3):
        writer.write(np.full((24, 40, 3), 60 * i + 40, np.uint8))
    writer.release()
    decoded, _ = _read(clip)
    assert main(["deblur", str(clip), "-o", str(tmp_path / "out.avi"), "--onnx", str(models("onnx"))]) == 0
    ex = OrtExecutor(models("onnx"))
    for frame, got in zip(decoded, _read(tmp_path / "out.avi")[0]):
        want = rgb_float_to_bgr(deblur_image(ex, Image(frame[:, :, ::-1] / np.float32(255), np.dtype(np.uint8), False)).rgb)
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 3  # MJPG is lossy


def test_video_needs_a_video_output(models, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=2)
    assert main(["deblur", str(clip), "-o", str(tmp_path / "out.png"), "--onnx", str(models("onnx"))]) == 1
    assert "a video input needs a video output" in capsys.readouterr().err


def test_unreadable_video_leaves_nothing(models, tmp_path, capsys):
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"\x00" * 100)
    assert main(["deblur", str(clip), "-o", str(tmp_path / "out.mp4"), "--onnx", str(models("onnx"))]) == 1
    assert "broken.mp4" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]
