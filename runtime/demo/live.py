"""The live demo's engine room: capture, inference and display in three threads joined by
one-slot mailboxes (the newest frame wins, so latency stays bounded and every frame is either
processed or counted as dropped). Live sources reconnect when they fail; files and finite
pipelines end at their end; a source that delivers no frame within a time limit is an error;
Ctrl-C stops cleanly. The window (or, headless, the recording) is driven from the main thread."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.files import write_bytes
from ifan_trt.opencv import GUI_FIX, opencv_build

from ..interface.executor import Executor
from .mailbox import Mailbox
from .latency import stages_line, summary_line
from .overlay import compose, draw_labels, draw_overlay, split_x, status_lines
from ..images.frames import Finished, FrameFlow
from ..images.pipeline import Tiling
from ..images.streaming import DEFAULT_DEPTH
from .sources import Source, open_capture
from .stream_output import StreamWriter
from ..images.video import AtomicVideoWriter

log = get_logger(__name__)

WINDOW = "ifan demo"


@dataclass
class DemoOptions:
    view: str = "side"
    headless: bool = False
    record: Path | None = None
    output: str | None = None  # a stream: rtp://HOST:PORT or a GStreamer pipeline starting with appsrc
    snapshot_dir: Path = Path(".")
    max_frames: int | None = None
    pace: bool = True  # play files at their frame rate, like a camera
    reconnect_wait_s: float = 2.0
    reconnect_tries: int | None = 10  # reopenings before giving up (None: no limit)
    reconnect_stable_s: float = 10.0  # the count starts again once a reopened source ran this long
    source_timeout_s: float | None = 15.0  # no frame this long after opening: an error (None: wait)
    tiling: Tiling | None = None
    size: tuple[int, int] | None = None  # (width, height) asked of cameras
    fps: int | None = None
    overwrite: bool = False  # replace an existing --record file
    frames_in_flight: int = DEFAULT_DEPTH  # TensorRT: frames pipelined (1: one at a time)


@dataclass
class DemoStats:
    read: int = 0  # frames from the source
    processed: int = 0  # frames deblurred
    dropped: int = 0  # frames replaced in the mailbox before inference took them (or skipped while paused)
    shown: int = 0  # pictures displayed / recorded
    not_shown: int = 0  # deblurred frames replaced before the display took them
    reconnects: int = 0
    snapshots: list[Path] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # capture -> on screen
    inference_ms: list[float] = field(default_factory=list)
    # where a frame's time goes: reading it, host conversions, waiting (mailbox, frames ahead), the device
    capture_ms: list[float] = field(default_factory=list)
    host_ms: list[float] = field(default_factory=list)
    queue_ms: list[float] = field(default_factory=list)
    device_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        mean = lambda v: sum(v) / len(v) if v else 0.0
        fps = self.shown / self.elapsed_s if self.elapsed_s > 0 else 0.0
        text = (f"frames read {self.read}, processed {self.processed}, dropped {self.dropped}, shown {self.shown}"
                f" ({self.not_shown} not shown); mean latency {mean(self.latency_ms):.1f} ms "
                f"(inference {mean(self.inference_ms):.1f} ms); {fps:.1f} FPS over {self.elapsed_s:.1f} s")
        if self.reconnects:
            text += f"; {self.reconnects} reconnects"
        return text

    def percentiles(self) -> str:
        return f"{summary_line('glass-to-glass latency', self.latency_ms)}; " \
               f"{summary_line('inference', self.inference_ms)}; {stages_line(self)}"


class Demo:
    def __init__(self, source: Source, open_model: Callable[[], Executor], options: DemoOptions,
                 capture_factory: Callable[..., cv2.VideoCapture] = open_capture):
        self.source, self.open_model, self.opt = source, open_model, options
        self.capture_factory = capture_factory
        self.stats = DemoStats()
        self.frames, self.results = Mailbox(), Mailbox()
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.gave_up = False  # a live source lost for good (reconnect_tries failed in a row)
        self._attempts = 0
        self._steady_since: float | None = None  # when the source last came back (or first opened)
        self._waiting_since: float | None = None  # opening or opened without a frame since then
        self.backend = ""  # "onnxruntime-cpu fp32": the overlay's words for backend and precision
        self.backend_name, self.precision = "", ""
        self.memory_path: str | None = None  # "copy", "zero-copy" (TensorRT), "pageable" (ONNX Runtime on a GPU)
        self.frames_in_flight = 1
        self.device_memory: dict | None = None  # TensorRT pipeline: activation block and I/O bytes per slot
        self.wipe_at: float | None = None  # wipe position chosen with the mouse (None: sweeping)
        self._picture_width = 0
        self._window_up = False  # shown once: from then on a hidden window means it was closed
        self._lock = threading.Lock()

    # --- capture thread -------------------------------------------------------------------
    def _open(self) -> cv2.VideoCapture:
        size = self.opt.size or (None, None)
        self._waiting_since = time.monotonic()
        return self.capture_factory(self.source, size[0], size[1], self.opt.fps)

    def _open_first(self) -> cv2.VideoCapture:
        """The first opening, within source_timeout_s (a capture may block for ever, e.g. OpenCV on
        a GStreamer source that never starts): past it, an error; the opening thread is left behind."""
        limit = self.opt.source_timeout_s
        if limit is None:
            return self._open()
        result: list = []

        def target():
            try:
                result.append(self._open())
            except BaseException as exc:  # noqa: BLE001  raised below, in the caller's thread
                result.append(exc)

        opener = threading.Thread(target=target, name="ifan-open", daemon=True)
        opener.start()
        opener.join(limit)
        if not result:
            raise IfanError(f"{self.source.label}: did not open within {limit:g} s; {self._timeout_hint()}")
        if isinstance(result[0], BaseException):
            raise result[0]
        return result[0]

    def _timeout_hint(self) -> str:
        if self.source.uses_gstreamer:
            return "check the pipeline with gst-launch-1.0 (is the camera or sender running?)"
        return "is the camera or stream sending?"

    def _stalled(self) -> bool:
        """No frame within source_timeout_s of the latest opening: sets the error, stops."""
        since, limit = self._waiting_since, self.opt.source_timeout_s
        if since is None or limit is None or time.monotonic() - since < limit or self.stop.is_set():
            return False
        self.error = self.error or IfanError(f"{self.source.label}: opened, but no frame arrived within {limit:g} s; "
                                             f"{self._timeout_hint()}")
        self.stop.set()
        return True

    def _reconnect(self, cap) -> cv2.VideoCapture | None:
        """Reopen a live source that failed. Attempts count up to reconnect_tries; the count starts
        again only after the source has run steadily for reconnect_stable_s, so a source that
        delivers a frame or two and fails again still runs out of attempts."""
        cap.release()
        if self._steady_since is not None and time.monotonic() - self._steady_since >= self.opt.reconnect_stable_s:
            self._attempts = 0
        self._steady_since = None
        limit = self.opt.reconnect_tries
        if limit == 0:
            log.warning(f"{self.source.label}: the stream ended (--reconnect 0: not reopened)")
            return None
        while not self.stop.is_set():
            if limit is not None and self._attempts >= limit:
                log.warning(f"{self.source.label}: giving up after {self._attempts} attempts")
                self.gave_up = True
                return None
            self._attempts += 1
            self.stats.reconnects += 1
            of = f" of {limit}" if limit is not None else ""
            log.warning(f"{self.source.label}: lost the stream; reconnecting (attempt {self._attempts}{of})")
            if self.stop.wait(self.opt.reconnect_wait_s):
                return None
            try:
                return self._open()
            except IfanError:
                self._waiting_since = None  # not opened: nothing to wait for
                continue
        return None

    def _capture(self, cap: cv2.VideoCapture) -> None:
        period = 1.0 / (cap.get(cv2.CAP_PROP_FPS) or 30.0) if self.source.kind == "file" and self.opt.pace else 0.0
        next_time = time.perf_counter()
        try:
            while not self.stop.is_set():
                t_capture = time.perf_counter()
                ok, frame = cap.read()
                if not ok or frame is None:
                    if not self.source.live:
                        break  # end of file
                    cap = self._reconnect(cap)
                    if cap is None:
                        break
                    continue
                self._waiting_since = None
                if self._steady_since is None:
                    self._steady_since = time.monotonic()  # running since this frame
                self.stats.capture_ms.append((time.perf_counter() - t_capture) * 1e3)
                self.frames.put((frame, time.perf_counter(), self.stats.read))  # seq: the frame's place
                self.stats.read += 1
                if self.opt.max_frames and self.stats.read >= self.opt.max_frames:
                    break
                if period:
                    next_time += period
                    self.stop.wait(max(0.0, next_time - time.perf_counter()))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            self.error = self.error or exc
            self.stop.set()
        finally:
            if cap is not None:
                cap.release()
            self.frames.close()

    # --- inference thread -----------------------------------------------------------------
    def _infer(self) -> None:
        try:
            executor = self.open_model()  # opened here: a CUDA context belongs to this thread
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            self.stop.set()
            self.ready.set()
            self.results.close()
            return
        self.backend_name, self.precision = executor.backend, executor.info.precision
        self.memory_path = getattr(executor, "memory_path", None)
        try:
            with executor, FrameFlow(executor, self.opt.frames_in_flight, self.opt.tiling) as flow:
                pipe = flow.pipeline
                self.backend, self.frames_in_flight = pipe.describe(), pipe.depth
                self.device_memory = pipe.memory() if callable(getattr(pipe, "memory", None)) else None
                self.ready.set()
                while True:  # while frames are in flight, a missing new frame means: collect the oldest
                    item = self.frames.get(timeout=0.0 if flow.in_flight else 0.1)
                    if item is None:
                        if flow.in_flight:
                            self._deliver(flow.collect())
                            continue
                        if self.frames.closed or (self.stop.is_set() and self.error):
                            break
                        continue
                    if self.paused.is_set():
                        with self._lock:
                            self.stats.dropped += 1
                        continue
                    frame, t_read, seq = item
                    for done in flow.put([frame], (frame, t_read, seq, time.perf_counter())):
                        self._deliver(done)
                for done in flow.drain():
                    self._deliver(done)
        except BaseException as exc:  # noqa: BLE001
            self.error = self.error or exc
            self.stop.set()
        finally:
            self.ready.set()
            self.results.close()

    def _deliver(self, done: Finished) -> None:
        """A finished frame to the display, with its times."""
        (frame, t_read, seq, start), picture = done.tag, done.frames[0]
        host_ms, device_ms = done.host_ms, done.device_ms
        now = time.perf_counter()
        inference_ms = (now - start) * 1e3
        with self._lock:
            self.stats.inference_ms.append(inference_ms)
            self.stats.processed += 1
            if host_ms is not None and device_ms is not None:
                self.stats.host_ms.append(host_ms)
                self.stats.device_ms.append(device_ms)
                self.stats.queue_ms.append(max(0.0, (now - t_read) * 1e3 - host_ms - device_ms))
        self.results.put((frame, picture, t_read, seq, inference_ms))

    # --- display (main thread) ------------------------------------------------------------
    def _snapshot(self, picture: np.ndarray) -> None:
        self.opt.snapshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.opt.snapshot_dir / f"ifan_snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{len(self.stats.snapshots)}.png"
        ok, buf = cv2.imencode(".png", picture)
        if ok:
            write_bytes(path, buf.tobytes())
            self.stats.snapshots.append(path)
            log.info(f"saved {path}")

    def _mouse(self, event, x, y, flags, param) -> None:
        """Wipe view: press or drag the left button to place the line; the right button releases it."""
        if event == cv2.EVENT_RBUTTONDOWN:
            self.wipe_at = None
        elif event == cv2.EVENT_LBUTTONDOWN or (event == cv2.EVENT_MOUSEMOVE and flags & cv2.EVENT_FLAG_LBUTTON):
            if self._picture_width:  # OpenCV reports mouse positions in picture pixels
                self.wipe_at = x / self._picture_width

    def _show(self, picture: np.ndarray) -> None:
        """imshow, unless the window was closed: imshow would open it again, and Qt may handle the
        close inside imshow, so visibility is checked before and after it."""
        if self.stop.is_set() or (self._window_up and self._closed()):
            return
        cv2.imshow(WINDOW, picture)
        self._window_up = True
        self._closed()

    def _closed(self) -> bool:
        if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            self.stop.set()
        return self.stop.is_set()

    def _keys(self, picture: np.ndarray | None) -> None:
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or self._closed():  # q, Esc, the window closed
            self.stop.set()
        elif key == ord("s") and picture is not None:
            self._snapshot(picture)
        elif key == ord(" "):
            if self.paused.is_set():
                self.paused.clear()
            else:
                self.paused.set()
            log.info("paused" if self.paused.is_set() else "resumed")

    def _compose(self, frame, out, t: float, fps: float, latency: float) -> np.ndarray:
        picture = compose(self.opt.view, frame, out, t, self.wipe_at)
        self._picture_width = picture.shape[1]
        draw_labels(picture, split_x(self.opt.view, frame.shape[1], t, self.wipe_at), self.backend)
        return draw_overlay(picture, status_lines(fps, latency, self.backend, self.paused.is_set()))

    def _display(self, record_fps: float) -> None:
        sinks = _Sinks(self.opt, record_fps, self.source.target if self.source.kind == "file" else None)
        picture = None
        fps, last = 0.0, None
        start = time.perf_counter()
        try:
            while True:
                item = self.results.get(timeout=0.03)
                if item is None:
                    if self.results.closed or self._stalled():
                        break
                    if not self.opt.headless:
                        if picture is not None and self.paused.is_set():
                            self._show(draw_overlay(picture.copy(), ["PAUSED"]))
                        self._keys(picture)
                    continue
                frame, out, t_read, seq, inference_ms = item
                now = time.perf_counter()
                if last is None:  # no interval yet: the model's own rate is the best estimate
                    fps = 1e3 / max(inference_ms, 1e-3)
                else:  # smoothed rate of new pictures
                    rate = 1.0 / max(now - last, 1e-6)
                    fps = 0.9 * fps + 0.1 * rate
                last = now
                latency = (now - t_read) * 1e3
                picture = self._compose(frame, out, now - start, fps, latency)
                self.stats.shown += 1
                sinks.write(picture, seq)
                if not self.opt.headless:
                    if self.stats.shown == 1:  # the window starts at the picture's size (scaled to fit a screen)
                        scale = min(1.0, 1600 / picture.shape[1], 900 / picture.shape[0])
                        cv2.resizeWindow(WINDOW, round(picture.shape[1] * scale), round(picture.shape[0] * scale))
                    self._show(picture)
                self.stats.latency_ms.append((time.perf_counter() - t_read) * 1e3)  # glass to glass: shown/sent
                if not self.opt.headless:
                    self._keys(picture)
        except BaseException:
            sinks.abort()
            raise
        sinks.finish(self.stats.read)  # also after Ctrl-C: stopping is the normal end of a live recording

    def _open_window(self) -> None:
        build = opencv_build()
        if not build.has_gui:
            raise IfanError(f"{build.describe()}: this OpenCV cannot open windows; {GUI_FIX}")
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # checked here: Qt aborts the process when it finds no display
            raise IfanError("no display to open a window on (DISPLAY is not set); run with --headless --record "
                            "out.mp4, or --stream rtp://HOST:PORT to watch it elsewhere")
        try:
            # GUI_NORMAL: no toolbar or status bar (Qt), the window holds the picture only
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
            cv2.setMouseCallback(WINDOW, self._mouse)
        except cv2.error:
            raise IfanError(f"cannot open a window (is DISPLAY set?); {GUI_FIX}") from None

    def run(self) -> DemoStats:
        if not self.opt.headless:
            self._open_window()
        cap = self._open_first()
        record_fps = cap.get(cv2.CAP_PROP_FPS) or float(self.opt.fps or 30)
        if not 1 <= record_fps <= 240:
            record_fps = 30.0
        previous = signal.getsignal(signal.SIGINT)
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:  # Ctrl-C stops the threads instead of killing one of them mid-frame
            signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        start = time.perf_counter()
        infer = threading.Thread(target=self._infer, name="ifan-inference", daemon=True)
        infer.start()
        self.ready.wait()
        capture = threading.Thread(target=self._capture, args=(cap,), name="ifan-capture", daemon=True)
        if self.error is None:
            self._waiting_since = time.monotonic()  # the model's loading does not count
            capture.start()
        else:
            cap.release()
            self.frames.close()
        try:
            self._display(record_fps)
        finally:
            self.stop.set()
            if capture.is_alive() or capture.ident:  # a capture stuck in a read that never returns is left
                capture.join(None if self._waiting_since is None else 2.0)
            infer.join()
            if in_main:
                signal.signal(signal.SIGINT, previous)
            if not self.opt.headless:
                cv2.destroyAllWindows()
        self.stats.elapsed_s = time.perf_counter() - start
        self.frames.discard()
        self.results.discard()
        self.stats.dropped += self.frames.dropped
        self.stats.not_shown += self.results.dropped
        if self.error is not None:
            raise self.error
        return self.stats


class _Sinks:
    """The recording and the stream: one picture per source frame, so that a recording lasts as
    long as its source; a frame the model could not keep up with repeats the last result."""

    def __init__(self, options: DemoOptions, fps: float, audio_from: str | None = None):
        self.opt, self.fps, self.audio_from = options, fps, audio_from
        self.writers: list = []
        self.size: tuple[int, int] | None = None
        self.last: np.ndarray | None = None
        self.next_seq = 0

    def _open(self, size: tuple[int, int]) -> None:
        self.size = size
        if self.opt.record is not None:
            self.writers.append(AtomicVideoWriter(self.opt.record, self.fps, size, self.opt.overwrite,
                                                  audio_from=self.audio_from))
        if self.opt.output is not None:
            self.writers.append(StreamWriter(self.opt.output, self.fps, size))

    def write(self, picture: np.ndarray, seq: int) -> None:
        if self.opt.record is None and self.opt.output is None:
            return
        if self.size is None:
            self._open(picture.shape[:2])
        if picture.shape[:2] != self.size:  # a stream that changed resolution mid-way
            picture = cv2.resize(picture, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        while self.next_seq < seq:  # before the first result: the first result
            self._put(self.last if self.last is not None else picture)
        self.last = picture
        self._put(picture)
        self.next_seq = seq + 1

    def _put(self, picture: np.ndarray) -> None:
        for writer in self.writers:
            writer.write(picture)
        self.next_seq += 1

    def finish(self, frames_read: int) -> None:
        while self.last is not None and self.next_seq < frames_read:  # frames after the last result
            self._put(self.last)
        for writer in self.writers:
            writer.commit()

    def abort(self) -> None:
        for writer in self.writers:
            writer.abort()
