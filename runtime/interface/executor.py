"""The one interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ifan_trt.contract import SIZE_MULTIPLE
from ifan_trt.errors import IfanError, backend_error
from ifan_trt.failures import is_memory


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline must know of a model, whichever backend runs it."""

    variant: str = "IFAN"
    n_iters: int = 17
    dual: bool = False
    in_bit: int = 8
    iac_mode: str = "official"
    precision: str = "fp32"
    size_multiple: int = SIZE_MULTIPLE
    normalization: str = "rgb/255"
    iac_form: str = ""  # "plugin" or "onnx" for exported models, "" for PyTorch
    # "uint8": the model takes frames as they arrive (run_frames); "float": the network's own I/O
    io: str = "float"
    channel_order: str = "rgb"  # uint8 models: the frames' channel order, "rgb" or "bgr"
    extra: dict = field(default_factory=dict, compare=False)  # other recorded facts, shown in reports


@dataclass(frozen=True)
class ShapeLimits:
    """Input sizes an executor accepts (inclusive). None: no upper limit (CPU backends)."""

    min_batch: int = 1
    max_batch: int | None = None
    min_hw: tuple[int, int] = (SIZE_MULTIPLE, SIZE_MULTIPLE)
    max_hw: tuple[int, int] | None = None

    def fits_hw(self, h: int, w: int) -> bool:
        if h < self.min_hw[0] or w < self.min_hw[1]:
            return False
        return self.max_hw is None or (h <= self.max_hw[0] and w <= self.max_hw[1])


def backend_boundary(method):
    """method of an object with a `backend` name, as a boundary: what the backend raises in it
    leaves as BackendError (our IfanErrors and out-of-memory failures pass unchanged)."""
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (IfanError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001  the backend refused this batch
            if is_memory(exc):
                raise  # reported with the size and the tiling hint (ifan_trt.failures)
            raise backend_error(exc, self.backend or "backend") from exc

    wrapped.__wrapped__, wrapped.__doc__, wrapped.__name__ = method, method.__doc__, method.__name__
    return wrapped


class Executor(ABC):
    """Runs the network on batches: input (and left/right for IFAN_dual) [B,3,H,W] float32 RGB in
    [0, 1], H and W multiples of info.size_multiple; returns output [B,3,H,W] float32 in [0, 1].

    After each run, `stage_ms` holds the time of the stages the backend can separate
    ("h2d", "compute", "d2h", and "gpu_compute" from CUDA events); CPU backends only "compute".
    """

    backend: str = ""
    info: ModelInfo
    limits: ShapeLimits = ShapeLimits()

    def __init_subclass__(cls, **kwargs):
        """Every backend's run() and run_frames() are the boundary: what the backend raises leaves
        as BackendError."""
        super().__init_subclass__(**kwargs)
        for name in ("run", "run_frames"):
            if name in cls.__dict__:
                setattr(cls, name, backend_boundary(cls.__dict__[name]))

    @abstractmethod
    def run(self, input: np.ndarray, left: np.ndarray | None = None,
            right: np.ndarray | None = None) -> np.ndarray: ...

    def run_frames(self, frames: np.ndarray) -> np.ndarray:
        """uint8 models (info.io == "uint8"): [B,H,W,3] uint8 frames in info.channel_order, any H
        and W, to the deblurred frames of the same shape, order and type; the conversions, the
        padding and the crop happen inside the model."""
        raise IfanError(f"{self.backend}: this model has float I/O; run() takes its input, not uint8 frames")

    @property
    def float_reachable(self) -> bool:
        """Whether run() (float NCHW) works: always for float models; for a uint8 model, when the
        backend reaches the float network inside it (16-bit, gray and alpha images need it)."""
        return True

    @property
    def stage_ms(self) -> dict[str, float]:
        return getattr(self, "_stage_ms", {})

    def run_filled(self, input: np.ndarray, left: np.ndarray | None = None,
                   right: np.ndarray | None = None) -> np.ndarray:
        """run() for a batch below the model's smallest (a fixed-batch model): filled up with
        copies of its last image, the copies' outputs dropped."""
        b, need = input.shape[0], self.limits.min_batch
        if b >= need:
            return self.run(input, left, right)
        fill = lambda a: None if a is None else np.concatenate([a] + [a[-1:]] * (need - b))
        return self.run(fill(input), fill(left), fill(right))[:b]

    def max_batch(self, h: int, w: int) -> int:
        """The largest batch of H x W inputs one run() accepts (CPU backends: no limit)."""
        return self.limits.max_batch or 1 << 16

    def describe(self) -> str:
        """One line for overlays and reports: backend and precision."""
        return f"{self.backend} {self.info.precision}"

    def close(self) -> None:
        """Release backend resources (GPU buffers, sessions)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
