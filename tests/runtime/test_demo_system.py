"""`ifan demo` with a real OpenCV (GStreamer, GUI): GStreamer pipeline, CSI and RTP sources, a
missing V4L2 device, reconnection, stream output over RTP to 127.0.0.1, and the window under Xvfb
driven with xdotool (views, labels, keys, mouse, closing). The model is a stand-in that inverts
its input (no torch), so that each half of a picture can be checked against the source frame."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from ifan_trt.opencv import opencv_build
from runtime_fixtures import inverting_onnx

_BUILD = opencv_build()
_TOOLS = ("Xvfb", "xdotool", "import", "gst-launch-1.0")
pytestmark = pytest.mark.skipif(
    not (_BUILD.gstreamer and _BUILD.has_gui) or not all(shutil.which(t) for t in _TOOLS),
    reason="needs an OpenCV with GStreamer and a GUI: run in the system-OpenCV venv, see .ci/run "
           f"({_BUILD.describe()}; tools {', '.join(_TOOLS)})")

W, H = 160, 120
# a still test card: every frame is the same, so a screenshot can be compared with one frame
BARS = f"videotestsrc is-live=true pattern=smpte75 ! video/x-raw,width={W},height={H},framerate=30/1 ! videoconvert"


def card() -> np.ndarray:
    cap = cv2.VideoCapture(f"videotestsrc num-buffers=1 pattern=smpte75 ! video/x-raw,width={W},height={H} ! "
                           "videoconvert ! video/x-raw,format=BGR ! appsink", cv2.CAP_GSTREAMER)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return inverting_onnx(tmp_path_factory.mktemp("model") / "invert.onnx")


@pytest.fixture(scope="module")
def display():
    """A private X server (no window manager); its display name."""
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = xvfb.stdout.readline().strip()
    assert number.isdigit(), "Xvfb did not start"
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo(args, display=None, **kw) -> subprocess.Popen:
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
    else:
        env.pop("DISPLAY", None)
    return subprocess.Popen([sys.executable, "-m", "ifan_trt.cli", "demo", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc, timeout=60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def frames_of(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (item := cap.read())[0]:
        frames.append(item[1])
    return frames


def body(picture: np.ndarray) -> slice:
    """Rows between the status band and the labels."""
    band = max(12, round(picture.shape[1] / 1280 * 36))
    return slice(band + 2, picture.shape[0] - band - 2)


def assert_halves(picture: np.ndarray, frame: np.ndarray, split: int, tol: float = 10):
    """Input left of `split`, the inverted input right of it, in the body rows. Lossy codecs blur
    the bars' edges: the median error is compared (the halves swapped would give ~128)."""
    rows = body(picture)
    w = frame.shape[1]
    side = picture.shape[1] > w  # side by side: the output is a second frame; wipe: the same columns
    left = np.abs(picture[rows, :split].astype(int) - frame[rows, :split])
    right = np.abs(picture[rows, split + 2:split + w if side else w].astype(int)
                   - (255 - frame[rows, 2 if side else split + 2:]))
    assert np.median(left) < tol and np.median(right) < tol, (np.median(left), np.median(right))


# --- sources ---------------------------------------------------------------------------------

def test_gstreamer_pipeline_source_recorded_side_by_side(model, tmp_path):
    record = tmp_path / "rec.avi"
    proc = demo([f"videotestsrc num-buffers=30 pattern=smpte75 ! video/x-raw,width={W},height={H},framerate=30/1 ! "
                 "videoconvert ! appsink", "--onnx", model, "--headless", "--record", record, "--reconnect", "0"])
    code, out, err = finish(proc)
    assert code == 0, err
    assert re.search(r"OpenCV \S+ \(.*\): GStreamer yes, GUI \w+; source: GStreamer pipeline", err)
    assert "the stream ended (--reconnect 0: not reopened)" in err
    frames = frames_of(record)
    assert len(frames) == 30 and frames[0].shape == (H, 2 * W, 3)
    assert_halves(frames[-1], card(), W)


def test_csi_pipeline_builder_runs_with_a_test_source():
    from ifan_trt.runtime.sources import open_capture, parse_source

    source = parse_source("csi:0", W, H, 30)
    # the same pipeline with the Jetson-only elements replaced by their desktop equivalents
    target = (source.target.replace("nvarguscamerasrc sensor-id=0", "videotestsrc is-live=true num-buffers=5")
              .replace("(memory:NVMM)", "").replace("nvvidconv", "videoconvert"))
    assert "nvarguscamerasrc" not in target and "nvvidconv" not in target and "NVMM" not in target
    cap = open_capture(type(source)(source.kind, target, True))
    shapes = []
    while (item := cap.read())[0]:
        shapes.append(item[1].shape)
    cap.release()
    # appsink keeps only the newest buffer (bounded latency): a slow reader sees fewer than 5
    assert 1 <= len(shapes) <= 5 and set(shapes) == {(H, W, 3)}


def test_missing_v4l2_device_is_one_line(model):
    code, out, err = finish(demo(["/dev/video63", "--onnx", model, "--headless"]))
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 1 and lines == ["ifan demo: error: /dev/video63: no such device; ls /dev/video* lists the "
                                   "cameras (a Jetson CSI camera is csi or csi:N)"]


def test_rtp_stream_from_a_gstreamer_sender(model, tmp_path):
    port = free_port()
    sender = subprocess.Popen(["gst-launch-1.0", "-q", *f"{BARS} ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay ! "
                               f"udpsink host=127.0.0.1 port={port}".split()],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        record = tmp_path / "rtp.avi"
        code, out, err = finish(demo([f"rtp://127.0.0.1:{port}", "--onnx", model, "--headless", "--record", record,
                                      "--max-frames", 20]))
    finally:
        sender.terminate()
        sender.wait(timeout=10)
    assert code == 0, err
    assert "frames read 20," in out and "source: RTP stream" in err
    frames = frames_of(record)
    assert len(frames) == 20
    assert_halves(frames[-1], card(), W, tol=24)  # I420 + JPEG: the colours shift by ~12 levels


def test_live_source_that_ends_is_reopened(model):
    code, out, err = finish(demo([f"videotestsrc num-buffers=10 ! video/x-raw,width={W},height={H} ! videoconvert ! "
                                  "appsink", "--onnx", model, "--headless", "--max-frames", 25,
                                  "--reconnect", 3, "--reconnect-wait", 0.1, "--no-pace"]))
    assert code == 0, err
    assert err.count("GStreamer pipeline: lost the stream; reconnecting (attempt 1 of 3)") == 2
    assert "frames read 25," in out and "; 2 reconnects" in out


def test_live_source_that_does_not_come_back_gives_up(model, tmp_path):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H))
    for _ in range(10):
        writer.write(card())
    writer.release()
    # a live pipeline over a file that is deleted when the stream first ends: every reopening fails
    proc = demo([f"filesrc location={clip} ! avidemux ! jpegdec ! videoconvert ! appsink", "--onnx", model,
                 "--headless", "--reconnect", 2, "--reconnect-wait", 1.0])
    seen = []
    while not any("reconnecting (attempt 1" in line for line in seen):
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    clip.unlink()  # within the 1 s wait before the first reopening
    code, out, rest = finish(proc)
    err = "".join(seen) + rest
    assert code == 1, err
    assert err.count("reconnecting (attempt") == 2 and "giving up after 2 attempts" in err
    assert "frames read 10," in out
    assert err.strip().splitlines()[-1] == ("ifan demo: error: GStreamer pipeline: lost, and 2 reconnection attempts "
                                            "in a row failed")
