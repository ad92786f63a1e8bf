"""The one interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline must know of a model, whichever backend runs it."""

    variant: str = "IFAN"
    n_iters: int = 17
    dual: bool = False
    in_bit: int = 8
    iac_mode: str = "official"
    precision: str = "fp32"
    size_multiple: int = 8


class Executor(ABC):
    """Runs the network on batches: input (and left/right for IFAN_dual) [B,3,H,W] float32 RGB in
    [0, 1], H and W multiples of info.size_multiple; returns output [B,3,H,W] float32 in [0, 1]."""

    backend: str = ""
    info: ModelInfo

    @abstractmethod
    def run(self, input: np.ndarray, left: np.ndarray | None = None,
            right: np.ndarray | None = None) -> np.ndarray: ...

    def close(self) -> None:
        """Release backend resources (GPU buffers, sessions)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
