"""Choosing and opening an executor from what the user gave (checkpoint, ONNX, engine)."""

from __future__ import annotations

from ifan_trt.errors import IfanError

from .executor import Executor

BACKENDS = ("auto", "torch")


def default_checkpoint() -> str:
    try:
        from ifan_trt.weights import default_checkpoint_path
    except ImportError:
        raise IfanError("no default model is bundled with this install; pass --checkpoint FILE") from None
    return str(default_checkpoint_path())


def open_executor(backend: str = "auto", checkpoint: str | None = None, in_bit: int | None = None,
                  iac_mode: str | None = None, threads: int | None = None) -> Executor:
    if backend not in BACKENDS:
        raise IfanError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    from .torch_executor import TorchExecutor

    return TorchExecutor(checkpoint or default_checkpoint(), in_bit=in_bit, iac_mode=iac_mode, threads=threads)
