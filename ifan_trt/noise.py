"""Third-party chatter on stderr (libpng, OpenCV, FFmpeg, GStreamer, ONNX Runtime, TensorRT through
polygraphy): silenced unless --verbose (our own records go through ifan_trt.log).
Log levels are set where libraries have them; decoders that print straight to the C stderr (libpng
warnings, FFmpeg) are wrapped in `c_stderr_silenced`."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

_state = {"verbose": False}


def configure(verbose: bool) -> None:
    """Set library log levels once per run (before they are imported where possible)."""
    _state["verbose"] = verbose
    level = "INFO" if verbose else "ERROR"
    os.environ["OPENCV_LOG_LEVEL"] = level
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "32" if verbose else "-8"  # AV_LOG_INFO / AV_LOG_QUIET
    os.environ["ORT_LOGGING_LEVEL"] = "2" if verbose else "3"
    if "GST_DEBUG" not in os.environ or not verbose:  # a user's own GST_DEBUG wins under --verbose
        os.environ["GST_DEBUG"] = "2" if verbose else "0"
    if "cv2" in sys.modules:  # already imported: the environment variable came too late
        with contextlib.suppress(Exception):
            import cv2.utils.logging as cv_logging

            cv_logging.setLogLevel(cv_logging.LOG_LEVEL_INFO if verbose else cv_logging.LOG_LEVEL_ERROR)
    if "onnxruntime" in sys.modules:
        ort_severity()


def is_verbose() -> bool:
    return _state["verbose"]


def ort_severity() -> int:
    """ONNX Runtime log severity for sessions: 3 (errors) unless --verbose."""
    severity = 2 if _state["verbose"] else 3
    with contextlib.suppress(Exception):
        sys.modules["onnxruntime"].set_default_logger_severity(severity)
    return severity


def python_prints_silenced():
    """Drop what a library print()s to stdout (unless --verbose)."""
    import io

    return contextlib.nullcontext() if _state["verbose"] else contextlib.redirect_stdout(io.StringIO())


@contextlib.contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while a C library decodes (unless --verbose)."""
    if _state["verbose"]:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
