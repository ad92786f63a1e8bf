"""`ifan demo`: the latest-frame mailbox, sources, headless runs on a generated video (every frame
processed or counted as dropped, the overlay in the recording, exit 0), reconnection of a live
source, and a clean stop on Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from tests.helpers.runtime import FakeExecutor, write_video  # noqa: E402
from ifan_trt.errors import IfanError
from ifan_trt.files import is_temp
from ifan_trt.runtime.live import Demo, DemoOptions
from ifan_trt.runtime.mailbox import Mailbox
from ifan_trt.runtime.overlay import band_height, compose, draw_overlay
from ifan_trt.runtime.sources import Source, open_capture, parse_source

SUMMARY = re.compile(r"frames read (\d+), processed (\d+), dropped (\d+), shown (\d+) \((\d+) not shown\)")


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (item := cap.read())[0]:
        frames.append(item[1])
    return frames


def test_mailbox_keeps_the_latest_and_counts_drops():
    box = Mailbox()
    assert box.put(1) is False and box.put(2) is True and box.put(3) is True
    assert box.get(timeout=0) == 3 and box.dropped == 2
    assert box.get(timeout=0.01) is None  # empty: times out
    box.put(4)
    box.close()
    assert box.get() == 4 and box.get() is None and box.closed  # drained after close
    late = Mailbox()
    threading.Timer(0.05, late.put, args=("x",)).start()
    assert late.get(timeout=5) == "x"  # a waiting consumer wakes up


def test_sources(tmp_path):
    assert parse_source("0") == Source("camera", 0, True)
    assert parse_source("/dev/video2") == Source("v4l2", "/dev/video2", True)
    assert parse_source("rtsp://cam.local/stream").kind == "url"
    csi = parse_source("csi:1", 1920, 1080, 30)
    assert csi.kind == "csi" and "nvarguscamerasrc sensor-id=1" in csi.target and "appsink" in csi.target
    assert "width=(int)1920" in csi.target
    write_video(tmp_path / "v.mp4", frames=1)
    assert parse_source(str(tmp_path / "v.mp4")) == Source("file", str(tmp_path / "v.mp4"), False)
    with pytest.raises(IfanError, match="no such video file, and not a camera"):
        parse_source(str(tmp_path / "missing.mp4"))


def test_csi_without_gstreamer_says_so(monkeypatch):
    from ifan_trt.runtime import sources

    monkeypatch.setattr(sources, "gstreamer_available", lambda: False)
    with pytest.raises(IfanError, match="built without GStreamer.*JetPack's OpenCV"):
        open_capture(parse_source("csi"))


def test_overlay_changes_the_band_only():
    frame = np.full((48, 64, 3), 200, np.uint8)
    out = np.full((48, 64, 3), 120, np.uint8)
    side = compose("side", frame, out)
    assert side.shape == (48, 128, 3) and (side[:, :64] == 200).all() and (side[:, 64:] == 120).all()
    wipe = compose("wipe", frame, out, t=0.0)  # line in the middle at t = 0
    assert (wipe[:, :30] == 200).all() and (wipe[:, 34:] == 120).all()
    pic = draw_overlay(side.copy(), ["12.0 FPS", "5.0 ms", "onnxruntime-cpu fp32"])
    band = band_height(128)
    assert (pic[band:] == side[band:]).all()
    assert pic[:band].mean() < side[:band].mean() * 0.5 and pic[:band].max() > 150  # dark band, light text


def test_headless_run_on_a_video(models, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from ifan_trt.cli import main
    from ifan_trt.imageio import Image
    from ifan_trt.runtime.ort_executor import OrtExecutor
    from ifan_trt.runtime.pipeline import deblur_image
    from ifan_trt.runtime.video import rgb_float_to_bgr

    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=10, size=(48, 64), fps=25)
    record = tmp_path / "rec.mp4"
    code = main(["demo", str(clip), "--onnx", str(models("onnx")), "--headless", "--record", str(record),
                 "--threads", "1"])
    assert code == 0
    out = capsys.readouterr().out
    read, processed, dropped, shown, not_shown = map(int, SUMMARY.search(out).groups())
    assert read == 10 and processed + dropped == read and shown + not_shown == processed and shown >= 1
    recorded = _frames(record)
    assert len(recorded) == shown and recorded[0].shape == (48, 128, 3)
    # first recorded picture: the source frame 0 on the left, its deblurred version on the right
    source = _frames(clip)[0]
    plain = rgb_float_to_bgr(deblur_image(OrtExecutor(models("onnx")),
                                          Image(source[:, :, ::-1] / np.float32(255), np.dtype(np.uint8), False)).rgb)
    band = band_height(128)
    right = recorded[0][:, 64:].astype(int)
    assert np.abs(right[band + 2:] - plain[band + 2:]).mean() < 6  # below the overlay: the output (mp4v is lossy)
    assert np.abs(right[:band - 2] - plain[:band - 2]).mean() > 40  # the overlay band is there


def test_without_a_display_the_fix_is_named(tmp_path, capsys):
    import cv2 as _cv2

    if "GUI:                           NONE" not in _cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI; the no-window message cannot be provoked")
    from ifan_trt.cli import main

    write_video(tmp_path / "clip.mp4", frames=2)
    assert main(["demo", str(tmp_path / "clip.mp4"), "--checkpoint", "x.pth"]) == 1
    assert "--headless --record" in capsys.readouterr().err


class FlakyCamera:
    """A live camera that delivers `n` frames, then drops (read fails)."""

    def __init__(self, n):
        self.n = n

    def read(self):
        if self.n == 0:
            return False, None
        self.n -= 1
        time.sleep(0.01)
        return True, np.full((16, 24, 3), 100, np.uint8)

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_live_source_reconnects_after_a_drop():
    opened = []

    def factory(source, *args):
        opened.append(source)
        if len(opened) > 2:
            raise IfanError("camera gone")
        return FlakyCamera(3)

    options = DemoOptions(headless=True, reconnect_wait_s=0.01, reconnect_tries=2)
    stats = Demo(Source("camera", 0, True), FakeExecutor, options, capture_factory=factory).run()
    assert len(opened) == 4 and stats.reconnects == 3  # dropped twice; after the second, two reopens failed
    assert stats.read == 6 and stats.processed + stats.dropped == 6 and stats.shown + stats.not_shown == stats.processed


def test_ctrl_c_stops_cleanly_and_keeps_the_recording(models, tmp_path):
    pytest.importorskip("onnxruntime")
    clip = tmp_path / "long.mp4"
    write_video(clip, frames=150, size=(48, 64), fps=25)  # 6 s at its frame rate
    record = tmp_path / "rec.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "ifan_trt.cli", "demo", str(clip), "--onnx", str(models("onnx")),
                             "--headless", "--record", str(record), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any(is_temp(p) and p.suffix == ".mp4" for p in tmp_path.iterdir()):  # recording has started
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    read, processed, dropped, shown, not_shown = map(int, SUMMARY.search(out).groups())
    assert 0 < read < 150 and processed + dropped == read
    assert len(_frames(record)) == shown
    assert not [p for p in os.listdir(tmp_path) if is_temp(p)]
