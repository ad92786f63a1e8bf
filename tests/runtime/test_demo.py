"""`ifan demo`: the latest-frame mailbox, sources, headless runs on a generated video (every frame
processed or counted as dropped, the overlay in the recording, exit 0), reconnection of a live
source, and a clean stop on Ctrl-C."""

import json
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
from ifan_trt.runtime.demo.live import Demo, DemoOptions
from ifan_trt.runtime.demo.mailbox import Mailbox
from ifan_trt.runtime.demo.overlay import band_height, compose, draw_labels, draw_overlay, split_x
from ifan_trt.runtime.demo.sources import Source, open_capture, parse_source

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
    # pipelines: live unless they read a file or stop after num-buffers (then their end ends the demo)
    assert parse_source("videotestsrc ! videoconvert ! appsink").live
    assert not parse_source("videotestsrc num-buffers=60 ! videoconvert ! appsink").live
    assert not parse_source('filesrc location="a b.mp4" ! decodebin ! videoconvert ! appsink').live
    assert parse_source("v4l2src device=/dev/video0 ! videoconvert ! appsink").live and parse_source("csi").live


def test_a_missing_first_element_is_one_line_before_opening(monkeypatch):
    """OpenCV blocks for ever on a pipeline whose source element does not exist: it is looked up
    first, and the message names the element and where it comes from."""
    from ifan_trt.runtime.demo import sources

    looked_up, opened = [], []
    monkeypatch.setattr(sources, "gstreamer_available", lambda: True)
    monkeypatch.setattr(sources, "gstreamer_has_element", lambda name: looked_up.append(name) or False)
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda *a: opened.append(a))
    with pytest.raises(IfanError) as err:
        open_capture(parse_source("csi"))
    assert str(err.value) == ("CSI camera: GStreamer has no element 'nvarguscamerasrc'; it comes with NVIDIA's "
                              "JetPack Argus camera plugin (nvidia-l4t-gstreamer, on a Jetson only)")
    with pytest.raises(IfanError, match=r"GStreamer pipeline: GStreamer has no element 'mysrc'; install the "
                                        r"GStreamer plugin that has it \(gst-inspect-1.0 mysrc\)"):
        open_capture(parse_source("mysrc pattern=1 ! videoconvert ! appsink"))
    assert looked_up == ["nvarguscamerasrc", "mysrc"] and opened == []


def test_gstreamer_registry_lookup_with_gst_inspect(monkeypatch):
    import shutil

    from ifan_trt.runtime.demo import sources

    if shutil.which("gst-inspect-1.0") is None:
        pytest.skip("needs gst-inspect-1.0 (gstreamer1.0-tools)")
    assert sources.gstreamer_has_element("fakesrc") is True
    assert sources.gstreamer_has_element("nosuchelementanywhere") is False


def test_csi_without_gstreamer_says_so(monkeypatch):
    from ifan_trt.runtime.demo import sources

    monkeypatch.setattr(sources, "gstreamer_available", lambda: False)
    with pytest.raises(IfanError, match="built without GStreamer.*system's OpenCV.*--system-site-packages"):
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
    from ifan_trt.runtime.executors.ort_executor import OrtExecutor
    from ifan_trt.runtime.images.pipeline import deblur_image
    from ifan_trt.runtime.images.pipeline import rgb_float_to_bgr

    clip = tmp_path / "clip.mp4"
    write_video(clip, frames=10, size=(48, 64), fps=25)
    record = tmp_path / "rec.mp4"
    report = tmp_path / "run.json"
    code = main(["demo", str(clip), "--onnx", str(models("onnx")), "--headless", "--record", str(record),
                 "--threads", "1", "--json", str(report)])
    assert code == 0
    captured = capsys.readouterr()
    out = captured.out
    read, processed, dropped, shown, not_shown = map(int, SUMMARY.search(out).groups())
    assert read == 10 and processed + dropped == read and shown + not_shown == processed and shown >= 1
    assert re.search(r"^ifan demo: OpenCV \S+ \(.*cv2.*\): GStreamer (yes|no), GUI \w+; source: ", captured.err, re.M)
    assert "reconnecting" not in captured.err  # a file ends the demo
    assert re.search(r"glass-to-glass latency p50 [\d.]+ / p90 [\d.]+ / p99 [\d.]+ ms; inference p50", out)
    data = json.loads(report.read_text())
    assert data["source"] == str(clip) and data["model"] == str(models("onnx")) and data["machine"]["cores"] >= 1
    assert {"versions", "command", "written_at"} <= set(data)  # the envelope of every --json
    assert (data["backend"], data["precision"]) == ("onnxruntime", "fp32") and data["frames"]["read"] == 10
    lat = data["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] and data["inference_ms"]["p50"] <= lat["p99"]
    recorded = _frames(record)
    assert len(recorded) == read and recorded[0].shape == (48, 128, 3)  # one picture per source frame
    # first recorded picture: the source frame 0 on the left, its deblurred version on the right
    source = _frames(clip)[0]
    plain = rgb_float_to_bgr(deblur_image(OrtExecutor(models("onnx")),
                                          Image(source[:, :, ::-1] / np.float32(255), np.dtype(np.uint8), False)).rgb)
    band = band_height(128)
    right = recorded[0][:, 64:].astype(int)
    body = slice(band + 2, 48 - band - 2)  # between the status band and the labels
    assert np.abs(right[body] - plain[body]).mean() < 6  # the output (mp4v is lossy)
    assert np.abs(right[:band - 2] - plain[:band - 2]).mean() > 40  # the overlay band is there


def test_without_a_display_the_fix_is_named(tmp_path, capsys):
    import cv2 as _cv2

    if "GUI:                           NONE" not in _cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI; the no-window message cannot be provoked")
    from ifan_trt.cli import main

    write_video(tmp_path / "clip.mp4", frames=2)
    (tmp_path / "x.pth").write_bytes(b"")  # named models must exist; it is never opened without a display
    assert main(["demo", str(tmp_path / "clip.mp4"), "--checkpoint", str(tmp_path / "x.pth")]) == 1
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
    demo = Demo(Source("camera", 0, True), FakeExecutor, options, capture_factory=factory)
    stats = demo.run()
    # dropped twice: attempt 1 reopened it, but 3 frames do not make it steady again: attempt 2 is the last
    assert len(opened) == 3 and stats.reconnects == 2 and demo.gave_up
    assert stats.read == 6 and stats.processed + stats.dropped == 6 and stats.shown + stats.not_shown == stats.processed


def test_the_attempt_count_starts_again_once_the_source_ran_steadily():
    opened = []

    def factory(source, *args):
        opened.append(source)
        return FlakyCamera(3)

    options = DemoOptions(headless=True, reconnect_wait_s=0.01, reconnect_tries=1, max_frames=12,
                          reconnect_stable_s=0.0)  # every frame counts as steady
    demo = Demo(Source("camera", 0, True), FakeExecutor, options, capture_factory=factory)
    stats = demo.run()
    assert stats.read == 12 and stats.reconnects == 3 and len(opened) == 4 and not demo.gave_up


def test_a_finite_source_ends_the_demo_without_reconnecting(capsys):
    """A pipeline with num-buffers (or a file) ends at its end: no reopening, no error."""
    opened = []

    def factory(source, *args):
        opened.append(source)
        return FlakyCamera(5)

    source = parse_source("videotestsrc num-buffers=5 ! videoconvert ! appsink")
    demo = Demo(source, FakeExecutor, DemoOptions(headless=True, reconnect_wait_s=0.01), capture_factory=factory)
    stats = demo.run()
    assert len(opened) == 1 and stats.read == 5 and stats.reconnects == 0 and not demo.gave_up
    assert "reconnecting" not in capsys.readouterr().err


class SilentCamera:
    """Opens, then never delivers: read() blocks (as OpenCV's does on a stalled pipeline)."""

    def __init__(self):
        self.released = threading.Event()

    def read(self):
        self.released.wait(30)
        return False, None

    def get(self, prop):
        return 0.0

    def release(self):
        self.released.set()


def test_a_source_that_delivers_nothing_times_out_in_one_line():
    camera = SilentCamera()
    options = DemoOptions(headless=True, source_timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(IfanError) as err:
        Demo(Source("camera", 0, True), FakeExecutor, options, capture_factory=lambda *a: camera).run()
    assert time.monotonic() - start < 5
    assert str(err.value) == "camera 0: opened, but no frame arrived within 0.5 s; is the camera or stream sending?"


def test_a_source_that_does_not_open_times_out_in_one_line():
    def factory(*args):
        time.sleep(30)

    options = DemoOptions(headless=True, source_timeout_s=0.3)
    start = time.monotonic()
    with pytest.raises(IfanError) as err:
        Demo(parse_source("videotestsrc ! appsink"), FakeExecutor, options, capture_factory=factory).run()
    assert time.monotonic() - start < 5
    assert str(err.value) == ("GStreamer pipeline: did not open within 0.3 s; check the pipeline with gst-launch-1.0 "
                              "(is the camera or sender running?)")


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
    assert len(_frames(record)) == read  # a frame without a result repeats the last one
    assert not [p for p in os.listdir(tmp_path) if is_temp(p)]


# --- recordings keep the source's timing; labels; the first frames' rate; audio ----------------

def _slow(delay_s):
    def fn(x):
        time.sleep(delay_s)
        return 1.0 - x
    return fn


def test_recording_of_a_3_s_source_lasts_3_s(tmp_path):
    clip = tmp_path / "three.avi"
    write_video(clip, frames=75, size=(48, 64), fps=25)  # 3 s; the disc moves every frame
    record = tmp_path / "rec.avi"  # MJPG: identical pictures decode identically
    options = DemoOptions(headless=True, record=record)
    stats = Demo(Source("file", str(clip), False), lambda: FakeExecutor(_slow(0.07)), options).run()
    assert stats.read == 75 and stats.dropped > 10  # ~14 results per second for 25 frames per second
    cap = cv2.VideoCapture(str(record))
    assert cap.get(cv2.CAP_PROP_FPS) == 25
    recorded = _frames(record)
    assert len(recorded) == 75  # 75 frames at 25 FPS: 3 s
    repeats = sum(np.array_equal(a, b) for a, b in zip(recorded, recorded[1:]))
    assert repeats == 75 - stats.shown  # every frame without a result repeats the last result


def test_the_first_frames_have_a_rate(monkeypatch, tmp_path):
    from ifan_trt.runtime.demo import live

    seen = []
    original = live.status_lines
    monkeypatch.setattr(live, "status_lines", lambda fps, *a, **k: seen.append(fps) or original(fps, *a, **k))
    clip = tmp_path / "clip.avi"
    write_video(clip, frames=5, size=(16, 24))
    Demo(Source("file", str(clip), False), lambda: FakeExecutor(_slow(0.02)), DemoOptions(headless=True)).run()
    assert seen and all(fps > 0 for fps in seen)
    assert 10 < seen[0] < 51  # the first picture: the model's own rate (1 / 20 ms, less its overhead)
    assert "-- FPS" not in original(seen[0], 1.0, "x")


def test_labels_name_both_parts_in_both_views():
    frame = np.full((96, 256, 3), 200, np.uint8)
    out = np.full((96, 256, 3), 120, np.uint8)
    band = band_height(512)
    side = compose("side", frame, out)
    labelled = draw_labels(side.copy(), 256, "onnxruntime-cpu fp32")
    changed = np.any(labelled != side, axis=2)
    assert not changed[:-band].any()  # only the bottom band
    cols = np.where(changed.any(axis=0))[0]
    assert cols.min() < 256 - 20 and cols.max() > 256 + 100  # "input" ends at the split, the output's label starts there
    assert labelled[-band:, 240:256].max() > 220 and labelled[-band:, 240:256].min() < 60  # light text on dark
    wipe = compose("wipe", frame, out, position=0.25)
    labelled = draw_labels(wipe.copy(), split_x("wipe", 256, 0.0, 0.25), "x")
    changed = np.any(labelled != wipe, axis=2)
    cols = np.where(changed.any(axis=0))[0]
    assert cols.min() < 64 - 10 and cols.max() > 64 + 10 and not changed[:-band].any()


def test_audio_that_cannot_be_kept_is_said_in_one_line(tmp_path):
    from ifan_trt.runtime.images.video import keep_audio

    src, tmp, target = tmp_path / "in.mp4", tmp_path / ".out.part1.mp4", tmp_path / "out.mp4"
    line = keep_audio(src, tmp, target, which=lambda name: None)
    assert line == (f"{target}: video only, the audio track of {src} was dropped (if it had one: OpenCV "
                    "writes video only; install ffmpeg to keep it)")
    # with ffmpeg: a source without audio says nothing; a mux that fails says why
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, body in (("ffprobe", 'echo "$IFAN_TEST_AUDIO"'), ("ffmpeg", "echo 'codec not supported' >&2; exit 1")):
        (tools / name).write_text(f"#!/bin/sh\n{body}\n")
        (tools / name).chmod(0o755)
    which = lambda name: str(tools / name)
    os.environ["IFAN_TEST_AUDIO"] = ""
    try:
        assert keep_audio(src, tmp, target, which=which) is None
        os.environ["IFAN_TEST_AUDIO"] = "1"
        assert keep_audio(src, tmp, target, which=which).endswith(
            "was dropped (ffmpeg could not mux it into this container: codec not supported)")
        # a mux that works replaces the video in place, through the atomic writer (no temp left)
        tmp.write_bytes(b"video only")
        (tools / "ffmpeg").write_text('#!/bin/sh\nfor last; do :; done\nprintf muxed > "$last"\n')
        assert keep_audio(src, tmp, target, which=which) is None
        assert tmp.read_bytes() == b"muxed" and sorted(p.name for p in tmp_path.iterdir()) == sorted(["bin", tmp.name])
    finally:
        del os.environ["IFAN_TEST_AUDIO"]


def test_a_recording_without_ffmpeg_says_the_audio_was_dropped(tmp_path, caplog, monkeypatch):
    from ifan_trt.runtime.images import video

    monkeypatch.setattr(video.shutil, "which", lambda name: None)
    clip = tmp_path / "clip.avi"
    write_video(clip, frames=3, size=(16, 24))
    record = tmp_path / "rec.avi"
    Demo(Source("file", str(clip), False), FakeExecutor, DemoOptions(headless=True, record=record)).run()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith(f"{record}: video only, the audio track of {clip} was dropped") for m in warned), warned
    assert record.exists()


# --- latency figures ---------------------------------------------------------------------------

def test_latency_percentiles_and_report():
    from ifan_trt.runtime.demo.latency import demo_report, percentiles, summary_line
    from ifan_trt.runtime.demo.live import DemoStats

    values = [5.0, 1.0, 3.0, 2.0, 4.0, 100.0]
    p = percentiles(values)
    assert p == {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 90, 99)}
    assert percentiles([]) is None and summary_line("latency", []) == "latency: no frames"
    assert summary_line("latency", [10.0, 20.0]) == "latency p50 15.0 / p90 19.0 / p99 19.9 ms"
    stats = DemoStats(read=4, processed=3, dropped=1, shown=3, latency_ms=[10.0, 20.0, 30.0], inference_ms=[5.0] * 3)
    report = demo_report(stats, source="0", model="m.onnx", backend="onnxruntime", precision="fp16", opencv="OpenCV")
    assert {"source", "model", "backend", "precision", "machine", "frames", "latency_ms", "inference_ms"} <= set(report)
    assert report["latency_ms"] == {"p50": 20.0, "p90": 28.0, "p99": 29.8} and report["frames"]["dropped"] == 1
    assert report["machine"]["cores"] == os.cpu_count() and report["machine"]["cpu"]


# --- which OpenCV, and what it can do -----------------------------------------------------------

PIP_INFO = "  GUI:                           NONE\n  Video I/O:\n    FFMPEG:                      YES\n    GStreamer:                   NO\n"
DEBIAN_INFO = "  GUI:                           QT5\n    QT:                          YES (ver 5.15.8 )\n    GStreamer:                   YES (1.22.0)\n"


def test_opencv_build_facts():
    from ifan_trt.opencv import parse_build_information

    pip = parse_build_information(PIP_INFO, "4.11.0", "/venv/cv2/__init__.py")
    assert (pip.gstreamer, pip.has_gui) == (False, False)
    assert pip.describe() == "OpenCV 4.11.0 (/venv/cv2/__init__.py): GStreamer no, GUI none"
    system = parse_build_information(DEBIAN_INFO, "4.6.0", "/usr/lib/python3/dist-packages/cv2.so")
    assert (system.gstreamer, system.gui) == (True, "QT5")
    assert system.describe().endswith("GStreamer yes, GUI QT5")


def test_without_opencv_the_fix_is_one_line(tmp_path):
    code = ("import sys; sys.modules['cv2'] = None\n"  # import cv2 now fails as if it were not installed
            "from ifan_trt.cli import main\n"
            f"sys.exit(main(['demo', {str(tmp_path / 'x.mp4')!r}, '--headless']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr
    assert re.fullmatch(r"ifan( demo)?: error: cannot import OpenCV \(cv2\); install OpenCV: pip install "
                        r"'ifan-trt\[opencv\]' \(desktop\), or on a Jetson JetPack's OpenCV \(apt install "
                        r"python3-opencv\) in a venv made with --system-site-packages", lines[0])
    from ifan_trt.opencv import import_failure

    assert "pip install 'numpy<2'" in import_failure(ImportError("numpy.core.multiarray failed to import"))
    assert import_failure(ImportError("No module named 'onnx'", name="onnx")) is None


def test_missing_capabilities_are_refused_in_one_line(tmp_path, capsys, monkeypatch):
    from ifan_trt import opencv
    from ifan_trt.cli import main

    write_video(tmp_path / "clip.mp4", frames=2)
    monkeypatch.setattr(opencv, "opencv_build", lambda: opencv.parse_build_information(PIP_INFO, "4.11", "pip"))
    assert main(["demo", str(tmp_path / "clip.mp4"), "--headless", "--stream", "rtp://127.0.0.1:5000"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ifan demo: error: --stream rtp://127.0.0.1:5000: streaming needs an OpenCV built with GStreamer; "
                   "pip's opencv-python wheels lack it: use the system's OpenCV (JetPack's, or apt install "
                   "python3-opencv) in a venv made with --system-site-packages, without the opencv extra"]
    assert main(["demo", "/dev/video63", "--headless"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ifan demo: error: /dev/video63: no such device; ls /dev/video* lists the cameras (a Jetson CSI camera is "
        "csi or csi:N)")


def test_stream_spellings():
    from ifan_trt.runtime.demo.stream_output import output_pipeline, parse_rtp

    assert parse_rtp("rtp://127.0.0.1:5000") == ("127.0.0.1", 5000) and parse_rtp("rtp://:6000") == ("", 6000)
    assert parse_rtp("rtsp://cam:554") is None
    with pytest.raises(IfanError, match="port 70000 is not in 1..65535"):
        parse_rtp("rtp://h:70000")
    assert output_pipeline("rtp://10.0.0.2:5000").endswith("rtpjpegpay ! udpsink host=10.0.0.2 port=5000 sync=false")
    assert output_pipeline("appsrc ! fakesink") == "appsrc ! fakesink" and output_pipeline("out.mp4") is None
    rtp = parse_source("rtp://:5000")
    assert rtp.kind == "rtp" and rtp.target.startswith("udpsrc port=5000 ") and rtp.target.endswith("sync=false")
