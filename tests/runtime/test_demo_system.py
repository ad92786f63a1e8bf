"""`ifan demo` with a real OpenCV (GStreamer, GUI): GStreamer pipeline, CSI and RTP sources, a
missing V4L2 device, reconnection, stream output over RTP to 127.0.0.1, and the window under Xvfb
driven with xdotool (views, labels, keys, mouse, closing). The model is a stand-in that inverts
its input (no torch), so that each half of a picture can be checked against the source frame."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from ifan_trt.opencv import opencv_build
from tests.helpers.runtime import inverting_onnx

_BUILD = opencv_build()
_TOOLS = ("Xvfb", "xdotool", "import", "gst-launch-1.0")
pytestmark = pytest.mark.skipif(
    not (_BUILD.gstreamer and _BUILD.has_gui) or not all(shutil.which(t) for t in _TOOLS),
    reason="needs an OpenCV with GStreamer and a GUI: run in the system-OpenCV venv, see .ci/run "
           f"({_BUILD.describe()}; tools {', '.join(_TOOLS)})")

W, H = 160, 120
# a still test card: every frame is the same, so a screenshot can be compared with one frame
BARS = f"videotestsrc is-live=true pattern=smpte75 ! video/x-raw,width={W},height={H},framerate=30/1 ! videoconvert"


def card(w: int = W, h: int = H) -> np.ndarray:
    """One frame of the still test card, straight from videotestsrc."""
    cap = cv2.VideoCapture(f"videotestsrc num-buffers=1 pattern=smpte75 ! video/x-raw,width={w},height={h} ! "
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
    env = dict(os.environ, DISPLAY=f":{number}")
    deadline = time.time() + 30
    while subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True).returncode != 0:
        assert time.time() < deadline, "Xvfb accepts no connection"
        time.sleep(0.1)
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
        env.pop("WAYLAND_DISPLAY", None)
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
                 "videoconvert ! appsink", "--onnx", model, "--headless", "--record", record])
    code, out, err = finish(proc)
    assert code == 0, err
    assert re.search(r"OpenCV \S+ \(.*\): GStreamer yes, GUI \w+; source: GStreamer pipeline", err)
    assert "reconnecting" not in err  # a pipeline with num-buffers ends, as a file does
    frames = frames_of(record)
    assert len(frames) == 30 and frames[0].shape == (H, 2 * W, 3)
    assert_halves(frames[-1], card(), W)


def test_csi_pipeline_builder_runs_with_a_test_source():
    from ifan_trt.runtime.demo.sources import open_capture, parse_source

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


def test_a_finite_pipeline_ends_the_demo(model):
    """The end of a pipeline that ends (num-buffers, filesrc) is the end of the demo: exit 0, no
    reconnection, within a minute."""
    start = time.monotonic()
    code, out, err = finish(demo([f"videotestsrc num-buffers=60 ! video/x-raw,width={W},height={H},framerate=30/1 ! "
                                  "videoconvert ! appsink", "--onnx", model, "--headless"]), timeout=60)
    assert code == 0, err
    assert "reconnecting" not in err and "frames read 60," in out
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("source,line", [
    ("nosuchsrc ! videoconvert ! appsink", "ifan demo: error: GStreamer pipeline: GStreamer has no element "
                                           "'nosuchsrc'; install the GStreamer plugin that has it (gst-inspect-1.0 "
                                           "nosuchsrc)"),
    ("csi", "ifan demo: error: CSI camera: GStreamer has no element 'nvarguscamerasrc'; it comes with NVIDIA's "
            "JetPack Argus camera plugin (nvidia-l4t-gstreamer, on a Jetson only)"),
])
def test_a_missing_first_element_is_one_line_within_seconds(model, source, line):
    """OpenCV alone waits for ever on such a pipeline."""
    start = time.monotonic()
    code, out, err = finish(demo([source, "--onnx", model, "--headless"]), timeout=30)
    assert code == 1 and [e for e in err.splitlines() if "error" in e] == [line]
    assert time.monotonic() - start < 20


def test_missing_v4l2_device_is_one_line(model):
    code, out, err = finish(demo(["/dev/video63", "--onnx", model, "--headless"]))
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 1 and lines == ["ifan demo: error: /dev/video63: no such device; ls /dev/video* lists the "
                                   "cameras (a Jetson CSI camera is csi or csi:N)"]


def test_a_window_without_a_display_is_one_line(model):
    code, out, err = finish(demo([BARS + " ! appsink", "--onnx", model]))  # no DISPLAY
    assert code == 1 and err.strip().splitlines()[-1] == (
        "ifan demo: error: no display to open a window on (DISPLAY is not set); run with --headless --record "
        "out.mp4, or --stream rtp://HOST:PORT to watch it elsewhere")


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


# a live pipeline that fails (a pipeline error) after every 10 frames
FAILING = f"videotestsrc ! video/x-raw,width={W},height={H} ! identity error-after=10 ! videoconvert ! appsink"


def test_live_source_that_fails_is_reopened(model):
    code, out, err = finish(demo([FAILING, "--onnx", model, "--headless", "--max-frames", 15,
                                  "--reconnect", 3, "--reconnect-wait", 0.1, "--no-pace"]))
    assert code == 0, err
    assert err.count("GStreamer pipeline: lost the stream; reconnecting (attempt 1 of 3)") == 1
    assert "frames read 15," in out and re.search(r"; [12] reconnects", out)  # up to 10 frames per opening


def test_live_source_that_keeps_failing_gives_up(model):
    """A frame or two after a reopening does not reset the count: a source that fails again and
    again runs out of attempts."""
    code, out, err = finish(demo([FAILING, "--onnx", model, "--headless", "--reconnect", 2,
                                  "--reconnect-wait", 0.1]))
    assert code == 1, err
    assert err.count("reconnecting (attempt") == 2 and "(attempt 2 of 2)" in err and "giving up after 2 attempts" in err
    assert 3 <= int(re.search(r"frames read (\d+),", out).group(1)) <= 30  # up to 10 frames per opening
    assert err.strip().splitlines()[-1] == ("ifan demo: error: GStreamer pipeline: lost, and 2 reconnection attempts "
                                            "did not bring it back to steady running")


# --- stream output ---------------------------------------------------------------------------

def test_view_streamed_over_rtp_to_localhost(model):
    from ifan_trt.runtime.demo.stream_output import rtp_receive_pipeline

    port = free_port()
    received, done = [], threading.Event()

    def receive():  # the receiving side of another machine: udpsrc, as in docs/running.md
        cap = cv2.VideoCapture(rtp_receive_pipeline(port, "127.0.0.1"), cv2.CAP_GSTREAMER)
        while cap.isOpened() and not done.is_set() and len(received) < 5:
            ok, frame = cap.read()
            if ok:
                received.append(frame)
        cap.release()

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    time.sleep(0.5)  # udpsrc bound before the first packet
    code, out, err = finish(demo([f"{BARS.replace('is-live=true', 'is-live=true num-buffers=90')} ! appsink",
                                  "--onnx", model, "--headless", "--stream", f"rtp://127.0.0.1:{port}",
                                  "--reconnect", "0"]))
    receiver.join(timeout=10)
    done.set()
    assert code == 0, err
    assert len(received) == 5 and received[-1].shape == (H, 2 * W, 3)
    assert_halves(received[-1], card(), W, tol=24)  # I420 + JPEG: the colours shift by ~12 levels


def test_appsrc_pipeline_output_gets_one_picture_per_source_frame(model, tmp_path):
    pattern = tmp_path / "out_%03d.png"
    code, out, err = finish(demo([f"videotestsrc num-buffers=15 pattern=smpte75 ! video/x-raw,width={W},height={H},"
                                  "framerate=30/1 ! videoconvert ! appsink", "--onnx", model, "--headless",
                                  "--stream", f"appsrc ! videoconvert ! pngenc ! multifilesink location={pattern}",
                                  "--reconnect", "0"]))
    assert code == 0, err
    written = sorted(tmp_path.glob("out_*.png"))
    assert len(written) == 15 and "frames read 15," in out
    picture = cv2.imread(str(written[-1]))
    assert picture.shape == (H, 2 * W, 3)
    assert_halves(picture, card(), W, tol=3)  # lossless


def test_output_that_is_not_a_stream_is_refused(model):
    code, out, err = finish(demo([BARS + " ! appsink", "--onnx", model, "--headless", "--stream", "out.mp4"]))
    assert code == 1 and err.strip().splitlines()[-1] == (
        "ifan demo: error: --stream out.mp4: not a stream; give rtp://HOST:PORT or a GStreamer pipeline starting "
        "with appsrc (files go to --record)")


# --- the window under Xvfb ------------------------------------------------------------------

class Window:
    """The demo's window on a private X server, driven as a user would (xdotool: XTEST input)."""

    def __init__(self, display: str, proc: subprocess.Popen, size: tuple[int, int]):
        self.display, self.proc = display, proc
        self.env = dict(os.environ, DISPLAY=display)
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            found = self._xdo("search", "--name", "^ifan demo$").split()
            if found and self.geometry(found[0])[2:] == size[::-1]:  # shown, at the picture's size
                self.id = found[0]
                break
            assert time.time() < deadline, "no window"
            time.sleep(0.1)
        time.sleep(0.5)

    def _xdo(self, *args) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=20).stdout

    def geometry(self, wid=None) -> tuple[int, int, int, int]:
        shell = dict(line.split("=") for line in self._xdo("getwindowgeometry", "--shell", wid or self.id).split())
        return int(shell.get("X", 0)), int(shell.get("Y", 0)), int(shell.get("WIDTH", 0)), int(shell.get("HEIGHT", 0))

    def shot(self) -> np.ndarray:
        """What the screen shows inside the window."""
        png = subprocess.run(["import", "-window", "root", "png:-"], env=self.env, capture_output=True,
                             timeout=20).stdout
        x, y, w, h = self.geometry()
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[y:y + h, x:x + w]

    def key(self, key: str) -> None:
        self._xdo("windowfocus", "--sync", self.id, "key", key)  # no window manager: focus it first

    def drag(self, x0: int, x1: int, y: int) -> None:
        wx, wy, _, _ = self.geometry()
        self._xdo("mousemove", "--sync", str(wx + x0), str(wy + y), "mousedown", "1")
        for x in np.linspace(x0, x1, 6).astype(int)[1:]:
            self._xdo("mousemove", "--sync", str(wx + x), str(wy + y))
        self._xdo("mouseup", "1")

    def close(self) -> None:
        """What a window manager's close button does: WM_DELETE_WINDOW."""
        from Xlib import X, display, protocol

        d = display.Display(self.display)
        window = d.create_resource_object("window", int(self.id))
        event = protocol.event.ClientMessage(window=window, client_type=d.intern_atom("WM_PROTOCOLS"),
                                             data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]))
        window.send_event(event)
        d.flush()
        d.close()


BIG = (2 * H, 2 * W)  # the window tests' source size (labels large enough to find)


def window_demo(display, model, tmp_path, view: str, pattern: str = "smpte75"):
    source = (f"videotestsrc is-live=true pattern={pattern} ! video/x-raw,width={BIG[1]},height={BIG[0]},"
              "framerate=30/1 ! videoconvert ! appsink")
    proc = demo([source, "--onnx", model, "--view", view, "--snapshot-dir", tmp_path], display)
    return proc, Window(display, proc, (BIG[0], BIG[1] * (2 if view == "side" else 1)))


def has_label(picture: np.ndarray, x0: int, x1: int) -> bool:
    """A dark box with light text in the bottom band between columns x0 and x1."""
    band = picture[-max(12, round(picture.shape[1] / 1280 * 36)):, x0:x1].max(axis=2)
    return (band < 70).mean() > 0.4 and (band > 200).sum() > 20


def test_window_side_by_side_snapshot_and_quit(display, model, tmp_path):
    proc, window = window_demo(display, model, tmp_path, "side")
    frame = card(BIG[1], BIG[0])
    shot = window.shot()
    assert shot.shape == (BIG[0], 2 * BIG[1], 3)
    assert_halves(shot, frame, BIG[1], tol=3)  # the screen shows the picture unscaled
    assert has_label(shot, BIG[1] - 24, BIG[1]) and has_label(shot, BIG[1] + 2, BIG[1] + 100)  # input | deblurred
    assert not has_label(frame, BIG[1] - 24, BIG[1])  # (not in the frame itself)
    top = shot[:12].max(axis=2)
    assert (top > 200).sum() > 50 and np.median(top) < 70  # the status band: light text on dark
    window.key("s")
    deadline = time.time() + 20
    while not list(tmp_path.glob("ifan_snapshot_*.png")):
        assert time.time() < deadline, "no snapshot"
        time.sleep(0.1)
    snapshot = cv2.imread(str(next(tmp_path.glob("ifan_snapshot_*.png"))))
    assert snapshot.shape == shot.shape
    assert_halves(snapshot, frame, BIG[1], tol=3)
    window.key("q")
    code, out, err = finish(proc, timeout=30)
    assert code == 0, err
    assert "\nsaved " in err and "frames read" in out and "glass-to-glass latency p50" in out


def test_space_pauses_the_picture(display, model, tmp_path):
    proc, window = window_demo(display, model, tmp_path, "side", pattern="ball")
    body_rows = slice(20, BIG[0] - 20)
    moving = [window.shot()[body_rows] for _ in range(2) if not time.sleep(0.4)]
    assert np.abs(moving[0].astype(int) - moving[1]).max() > 100  # the ball moves
    window.key("space")
    time.sleep(0.5)
    still = [window.shot()[body_rows] for _ in range(2) if not time.sleep(0.6)]
    assert (still[0] == still[1]).all()  # paused: the same picture
    window.key("space")
    time.sleep(0.5)
    again = [window.shot()[body_rows] for _ in range(2) if not time.sleep(0.4)]
    assert np.abs(again[0].astype(int) - again[1]).max() > 100  # running again
    window.key("q")
    code, out, err = finish(proc, timeout=30)
    assert code == 0, err
    lines = err.splitlines()  # the demo's notices are information lines, as they are
    assert lines.count("paused") == 1 and lines.count("resumed") == 1


def test_wipe_follows_a_mouse_drag_and_closing_the_window_ends_the_demo(display, model, tmp_path):
    pytest.importorskip("Xlib", reason="closing a window needs python-xlib (python3-xlib)")
    proc, window = window_demo(display, model, tmp_path, "wipe")
    frame = card(BIG[1], BIG[0])
    w = BIG[1]
    window.drag(w // 5, 3 * w // 4, BIG[0] // 2)
    time.sleep(0.5)
    shot = window.shot()
    assert_halves(shot, frame, 3 * w // 4, tol=3)  # input left of the line where the mouse let go
    assert has_label(shot, 3 * w // 4 - 24, 3 * w // 4) and has_label(shot, 3 * w // 4 + 2, w)  # either side of the line
    time.sleep(1.0)
    assert_halves(window.shot(), frame, 3 * w // 4, tol=3)  # it stays there (no sweep)
    window.close()
    code, out, err = finish(proc, timeout=30)
    assert code == 0, err
    assert "frames read" in out
