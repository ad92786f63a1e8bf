"""The live demo's engine room: capture, inference and display in three threads joined by
one-slot mailboxes (the newest frame wins, so latency stays bounded and every frame is either
processed or counted as dropped). Live sources reconnect when they drop; files end at EOF;
Ctrl-C stops cleanly. The window (or, headless, the recording) is driven from the main thread."""

from __future__ import annotations

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
from ifan_trt.files import write_bytes

from .executor import Executor
from .mailbox import Mailbox
from .overlay import compose, draw_overlay, status_lines
from .pipeline import Tiling, deblur_frames
from .sources import Source, open_capture
from .video import AtomicVideoWriter, bgr_to_rgb_float, rgb_float_to_bgr

WINDOW = "ifan demo"


@dataclass
class DemoOptions:
    view: str = "side"
    headless: bool = False
    record: Path | None = None
    snapshot_dir: Path = Path(".")
    max_frames: int | None = None
    pace: bool = True  # play files at their frame rate, like a camera
    reconnect_wait_s: float = 2.0
    reconnect_tries: int | None = None  # None: keep trying until stopped
    tiling: Tiling | None = None
    size: tuple[int, int] | None = None  # (width, height) asked of cameras
    fps: int | None = None
    overwrite: bool = False  # replace an existing --record file


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
        self.backend = ""
        self.wipe_at: float | None = None  # wipe position chosen with the mouse (None: sweeping)
        self._picture_width = 0
        self._lock = threading.Lock()

    # --- capture thread -------------------------------------------------------------------
    def _open(self) -> cv2.VideoCapture:
        size = self.opt.size or (None, None)
        return self.capture_factory(self.source, size[0], size[1], self.opt.fps)

    def _reconnect(self, cap) -> cv2.VideoCapture | None:
        cap.release()
        tries = 0
        while not self.stop.is_set():
            tries += 1
            self.stats.reconnects += 1
            print(f"ifan demo: {self.source.label}: lost the stream; reconnecting (attempt {tries})", file=sys.stderr)
            if self.stop.wait(self.opt.reconnect_wait_s):
                return None
            try:
                return self._open()
            except IfanError:
                if self.opt.reconnect_tries is not None and tries >= self.opt.reconnect_tries:
                    print(f"ifan demo: {self.source.label}: giving up after {tries} attempts", file=sys.stderr)
                    return None
        return None

    def _capture(self, cap: cv2.VideoCapture) -> None:
        period = 1.0 / (cap.get(cv2.CAP_PROP_FPS) or 30.0) if self.source.kind == "file" and self.opt.pace else 0.0
        next_time = time.perf_counter()
        try:
            while not self.stop.is_set():
                ok, frame = cap.read()
                if not ok or frame is None:
                    if not self.source.live:
                        break  # end of file
                    cap = self._reconnect(cap)
                    if cap is None:
                        break
                    continue
                self.stats.read += 1
                self.frames.put((frame, time.perf_counter()))
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
        self.backend = executor.describe()
        self.ready.set()
        try:
            with executor:
                while True:
                    item = self.frames.get(timeout=0.1)
                    if item is None:
                        if self.frames.closed or (self.stop.is_set() and self.error):
                            break
                        continue
                    if self.paused.is_set():
                        with self._lock:
                            self.stats.dropped += 1
                        continue
                    frame, t_read = item
                    start = time.perf_counter()
                    out = deblur_frames(executor, [bgr_to_rgb_float(frame)], self.opt.tiling)[0]
                    self.stats.inference_ms.append((time.perf_counter() - start) * 1e3)
                    self.stats.processed += 1
                    self.results.put((frame, rgb_float_to_bgr(out), t_read))
        except BaseException as exc:  # noqa: BLE001
            self.error = self.error or exc
            self.stop.set()
        finally:
            self.results.close()

    # --- display (main thread) ------------------------------------------------------------
    def _snapshot(self, picture: np.ndarray) -> None:
        self.opt.snapshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.opt.snapshot_dir / f"ifan_snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{len(self.stats.snapshots)}.png"
        ok, buf = cv2.imencode(".png", picture)
        if ok:
            write_bytes(path, buf.tobytes())
            self.stats.snapshots.append(path)
            print(f"ifan demo: saved {path}", file=sys.stderr)

    def _mouse(self, event, x, y, flags, param) -> None:
        """Wipe view: press or drag the left button to place the line; the right button releases it."""
        if event == cv2.EVENT_RBUTTONDOWN:
            self.wipe_at = None
        elif event == cv2.EVENT_LBUTTONDOWN or (event == cv2.EVENT_MOUSEMOVE and flags & cv2.EVENT_FLAG_LBUTTON):
            if self._picture_width:  # OpenCV reports mouse positions in picture pixels
                self.wipe_at = x / self._picture_width

    def _keys(self, picture: np.ndarray | None) -> None:
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:  # q, Esc, closed
            self.stop.set()
        elif key == ord("s") and picture is not None:
            self._snapshot(picture)
        elif key == ord(" "):
            if self.paused.is_set():
                self.paused.clear()
            else:
                self.paused.set()

    def _display(self, record_fps: float) -> None:
        writer = None
        picture = None
        fps, last = 0.0, None
        start = time.perf_counter()
        try:
            while True:
                item = self.results.get(timeout=0.03)
                if item is None:
                    if self.results.closed:
                        break
                    if not self.opt.headless:
                        if picture is not None and self.paused.is_set():
                            cv2.imshow(WINDOW, draw_overlay(picture.copy(), ["PAUSED"]))
                        self._keys(picture)
                    continue
                frame, out, t_read = item
                now = time.perf_counter()
                if last is not None:  # smoothed rate of new pictures
                    rate = 1.0 / max(now - last, 1e-6)
                    fps = rate if fps == 0 else 0.9 * fps + 0.1 * rate
                last = now
                latency = (now - t_read) * 1e3
                picture = compose(self.opt.view, frame, out, now - start, self.wipe_at)
                self._picture_width = picture.shape[1]
                draw_overlay(picture, status_lines(fps, latency, self.backend, self.paused.is_set()))
                self.stats.latency_ms.append(latency)
                self.stats.shown += 1
                if self.opt.record is not None:
                    if writer is None:
                        writer = AtomicVideoWriter(self.opt.record, record_fps, picture.shape[:2], self.opt.overwrite)
                    if picture.shape[:2] != writer.size:  # a stream that changed resolution mid-way
                        picture = cv2.resize(picture, (writer.size[1], writer.size[0]), interpolation=cv2.INTER_AREA)
                    writer.write(picture)
                if not self.opt.headless:
                    cv2.imshow(WINDOW, picture)
                    self._keys(picture)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is not None:
            writer.commit()  # also after Ctrl-C: stopping is the normal end of a live recording

    def run(self) -> DemoStats:
        if not self.opt.headless:
            try:
                cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
                cv2.setMouseCallback(WINDOW, self._mouse)
            except cv2.error:
                raise IfanError("this OpenCV cannot open windows (opencv-python-headless, or no display); "
                                "run with --headless --record out.mp4, or install opencv-python") from None
        cap = self._open()
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
            capture.start()
        else:
            cap.release()
            self.frames.close()
        try:
            self._display(record_fps)
        finally:
            self.stop.set()
            if capture.is_alive() or capture.ident:
                capture.join()
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
