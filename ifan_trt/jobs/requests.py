"""What several jobs' requests share: the model a job runs (a file of one kind, and how it runs) and
how a job's messages name a request's fields (the Python API: the field itself; the `ifan` command
passes its flag names)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ifan_trt.errors import IfanError

Naming = Callable[[str], str]


def as_is(field_name: str) -> str:
    return field_name


@dataclass(frozen=True)
class RunModel:
    """The model a job runs: at most one of checkpoint, onnx, engine (none: the bundled model),
    with the backend (auto, tensorrt, onnxruntime, torch), ONNX Runtime's device, the plugin library
    for engines, CPU threads, and for checkpoints the input depth and IAC mode."""
    checkpoint: str | os.PathLike | None = None
    onnx: str | os.PathLike | None = None
    engine: str | os.PathLike | None = None
    backend: str = "auto"
    device: str = "auto"
    plugin: str | os.PathLike | None = None
    threads: int | None = None
    in_bit: int | None = None
    iac_mode: str | None = None

    @property
    def given(self) -> str | None:
        """The named model file (None: the bundled one)."""
        found = self.engine or self.onnx or self.checkpoint
        return None if found is None else str(found)

    def check(self, name: Naming = as_is) -> None:
        """Options that apply to none of the named models, before any model opens."""
        named = [k for k in ("checkpoint", "onnx", "engine") if getattr(self, k) is not None]
        if len(named) > 1:
            raise IfanError(f"{', '.join(name(k) for k in named)}: give one model")
        if self.plugin is not None and self.engine is None:
            raise IfanError(f"{name('plugin')}: applies to TensorRT engines only ({name('engine')})")
        if self.checkpoint is None and (self.onnx is not None or self.engine is not None):
            for key in ("in_bit", "iac_mode"):  # exported models record their input depth and IAC mode
                if getattr(self, key) is not None:
                    raise IfanError(f"{name(key)}: applies to checkpoints only; an ONNX model or engine records it "
                                    "(export again with the checkpoint to change it)")

    def open(self):
        """The executor (ifan_trt.runtime.executors.backends.open_executor); close it, or use it in a with block."""
        from ifan_trt.runtime.executors.backends import open_executor

        path = lambda p: None if p is None else str(p)  # noqa: E731
        return open_executor(self.backend, checkpoint=path(self.checkpoint), in_bit=self.in_bit,
                             iac_mode=self.iac_mode, threads=self.threads, onnx=path(self.onnx),
                             engine=path(self.engine), device=self.device, plugin=path(self.plugin))

    def differs_from_default(self) -> list[str]:
        """The fields set away from their defaults (a server runs its own model and settings)."""
        fields = [k for k in ("checkpoint", "onnx", "engine", "plugin", "threads", "in_bit", "iac_mode")
                  if getattr(self, k) is not None]
        return fields + [k for k in ("backend", "device") if getattr(self, k) != "auto"]
