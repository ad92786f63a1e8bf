"""Which exceptions are expected failures (bad files, exhausted memory, backend refusals), and their
one-line description; anything else is a bug. The CLI boundary and per-file loops (a bad file in a
folder is skipped) share this one classification. Backend refusals arrive as BackendError, wrapped
where our code calls the backend (runtime/interface/executor.py for every executor's run, the calibrator,
the engine build); an exception type that a backend package defines counts too."""

from __future__ import annotations

import sys

from .errors import IfanError, first_line as _first_line

MEMORY_HINT = "lower --max-pixels or pass --tile HxW to run in smaller pieces"
_MEMORY_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory", "bad_alloc",
                 "failed to allocate", "allocation failed", "insufficient memory")
# packages whose own exception types mean the backend refused the work (not a bug of ours)
_BACKEND_MODULES = ("onnxruntime", "tensorrt", "polygraphy", "cuda", "pycuda", "onnx")


def is_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or any(w in str(exc).lower() for w in _MEMORY_WORDS)


def _from_backend(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module.split(".")[0] in _BACKEND_MODULES:
        return True
    cv2 = sys.modules.get("cv2")
    return cv2 is not None and isinstance(exc, cv2.error)


def describe(exc: BaseException, subject: str | None = None) -> str | None:
    """`<what>: <why>[; hint]` for an expected failure (subject: the file it concerns), None for a bug."""
    where = f"{subject}: " if subject else ""
    if isinstance(exc, IfanError):
        text = str(exc)
        return text if subject is None or text.startswith(str(subject)) else f"{where}{text}"
    if is_memory(exc):
        return f"{where}out of memory ({_first_line(exc) or type(exc).__name__}); {MEMORY_HINT}"
    if isinstance(exc, OSError):
        name = exc.filename or subject
        return f"{name + ': ' if name else ''}{exc.strerror or _first_line(exc) or type(exc).__name__}"
    if isinstance(exc, ModuleNotFoundError):
        return f"{where}needs the Python package {exc.name!r}, which is not installed; see docs/install.md for the extras"
    if _from_backend(exc):
        cv2 = sys.modules.get("cv2")
        label = "OpenCV" if cv2 is not None and isinstance(exc, cv2.error) else "backend"
        return f"{where}{label} error: {_first_line(exc) or type(exc).__name__}"
    return None


def one_line(text: str) -> str:
    """A message on one line whatever the file names hold (newlines shown escaped)."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def internal(exc: BaseException) -> str:
    """The one line for a bug (the traceback is for --debug)."""
    return f"internal error ({type(exc).__name__}: {_first_line(exc)}); rerun with --debug for the traceback and report it"
