"""The project's exception types: IfanError for problems the user can fix (bad files, wrong
options), and BackendError for a library we drive refusing the work, raised where our code calls
it (each executor's run, the calibrator, the engine build) so that nothing downstream guesses."""


class IfanError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


class BackendError(IfanError, RuntimeError):
    """ONNX Runtime, TensorRT, CUDA, OpenCV or PyTorch refused the work (this model, this input,
    this machine): not a bug of ifan-trt. The message names the backend and its first line."""


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def backend_error(exc: BaseException, backend: str = "backend") -> BackendError:
    """exc, raised inside a backend, as a BackendError (`<backend> error: <its first line>`)."""
    return BackendError(f"{backend} error: {first_line(exc) or type(exc).__name__}")
