"""Video files in and out with OpenCV: every frame read is written, with the input's size and
frame rate; the output goes to a temporary file beside the target and is renamed when complete.
OpenCV writes no audio: with ffmpeg on PATH the source's audio track is muxed back in, without it
one line says that it was dropped."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.files import atomic_path, require_regular_file
from ifan_trt.noise import c_stderr_silenced

from .frames import FrameFlow
from .streaming import DEFAULT_DEPTH

log = get_logger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v")
# codec per container that OpenCV's bundled FFmpeg writes everywhere (pip wheels have no H.264 encoder)
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoReader:
    """Frames as H x W x 3 uint8 BGR arrays; fps and size from the container."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        require_regular_file(self.path)
        with c_stderr_silenced():  # FFmpeg prints decoder complaints straight to the C stderr
            self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            raise IfanError(f"{self.path}: OpenCV cannot open this video (unknown container or codec)")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
        self.frame_count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))  # the container's claim; may be 0

    def read(self) -> np.ndarray | None:
        with c_stderr_silenced():
            ok, frame = self.cap.read()
        return frame if ok else None

    def batches(self, size: int):
        """Lists of up to `size` consecutive frames."""
        batch = []
        while (frame := self.read()) is not None:
            batch.append(frame)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def close(self) -> None:
        self.cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AtomicVideoWriter:
    """Writes frames to a temp beside the target (ifan_trt.files.atomic_path); a clean exit renames
    it into place, an exit on error (or Ctrl-C) deletes it."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], overwrite: bool = False,
                 audio_from: str | os.PathLike | None = None):
        self.path = Path(path)
        self.audio_from = Path(audio_from) if audio_from is not None else None  # the source whose audio to keep
        ext = self.path.suffix.lower()
        if ext not in _FOURCC:
            raise IfanError(f"{self.path}: unsupported video format {ext or '(none)'}; use one of {', '.join(VIDEO_EXTENSIONS)}")
        self._stack = contextlib.ExitStack()
        self.tmp = self._stack.enter_context(atomic_path(self.path, overwrite))
        h, w = size
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*_FOURCC[ext]), fps, (w, h))
        if not self.writer.isOpened():
            self._stack.__exit__(IfanError, None, None)
            raise IfanError(f"{self.path}: OpenCV cannot write {ext} video here")
        self.size = size
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != self.size:
            raise IfanError(f"{self.path}: a {frame.shape[0]}x{frame.shape[1]} frame in a "
                            f"{self.size[0]}x{self.size[1]} video (the source changed size)")
        self.writer.write(np.ascontiguousarray(frame))
        self.frames += 1

    def commit(self) -> None:
        self.writer.release()
        if self.audio_from is not None:
            note = keep_audio(self.audio_from, self.tmp, self.path)
            if note:
                log.warning(note)
        self._stack.close()

    def abort(self) -> None:
        self.writer.release()
        self._stack.__exit__(IfanError, IfanError("aborted"), None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.writer.release()
        return self._stack.__exit__(exc_type, exc, tb)


def deblur_stream(executor, batches: Iterable[list[np.ndarray]], tiling=None, depth: int = DEFAULT_DEPTH
                  ) -> Iterator[list[np.ndarray]]:
    """Lists of same-size BGR uint8 frames in, their deblurred BGR frames out, in order. Batches
    that run whole (float, or as they are through a uint8-I/O model) go through the executor's
    pipeline (TensorRT: up to `depth` batches in flight, so the upload, compute and download of
    consecutive batches overlap); batches that need tiles or a split run one at a time, after the
    ones in flight (runtime/images/frames.py sends them)."""
    if executor.info.dual:
        raise IfanError(f"{executor.info.variant} needs dual-pixel views; video input is not supported for it")
    with FrameFlow(executor, depth, tiling) as flow:
        for frames in batches:
            for done in flow.put(frames):
                yield done.frames
        for done in flow.drain():
            yield done.frames


def audio_dropped_line(source: str | os.PathLike, target: str | os.PathLike, why: str) -> str:
    return f"{target}: video only, the audio track of {source} was dropped ({why})"


def _has_audio(ffprobe: str, source: Path) -> bool:
    run = subprocess.run([ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                          "-of", "csv=p=0", str(source)], capture_output=True, text=True, timeout=60)
    return run.returncode == 0 and bool(run.stdout.strip())


class _NotMuxed(Exception):
    """ffmpeg failed with this codec: the atomic writer drops its partial file."""


def keep_audio(source: Path, video: Path, target: Path, which=shutil.which) -> str | None:
    """Mux the source's audio into `video` (in place; it becomes `target`) with ffmpeg; the line
    to print when it cannot be kept, None when it was kept or there is none."""
    ffmpeg, ffprobe = which("ffmpeg"), which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        return audio_dropped_line(source, target, "if it had one: OpenCV writes video only; install ffmpeg to keep it")
    if not _has_audio(ffprobe, source):
        return None
    for codec in ("copy", "aac"):  # the source's codec where the container takes it, else AAC
        try:
            with atomic_path(video, overwrite=True) as muxed:
                run = subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(video), "-i", str(source), "-map",
                                      "0:v:0", "-map", "1:a", "-c:v", "copy", "-c:a", codec, "-shortest", str(muxed)],
                                     capture_output=True, text=True, timeout=600)
                if run.returncode != 0:
                    raise _NotMuxed
            return None
        except _NotMuxed:
            continue
    first = (run.stderr.strip().splitlines() or ["unknown error"])[-1][:160]
    return audio_dropped_line(source, target, f"ffmpeg could not mux it into this container: {first}")
