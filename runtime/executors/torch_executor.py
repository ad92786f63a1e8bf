"""PyTorch backend: the reference model from a checkpoint, on the CPU (or CUDA when asked)."""

from __future__ import annotations

import time

import numpy as np

from ..interface.executor import Executor, ModelInfo


class TorchExecutor(Executor):
    backend = "torch"

    def __init__(self, checkpoint: str, in_bit: int | None = None, iac_mode: str | None = None,
                 device: str = "cpu", threads: int | None = None):
        import torch  # lazily: a Jetson runtime install has no torch

        from ifan_trt.checkpoint import load_checkpoint

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.loaded = load_checkpoint(checkpoint, in_bit=in_bit, iac_mode=iac_mode)
        self.device = torch.device(device)
        self.model = self.loaded.model.to(self.device).eval()
        c = self.loaded.config
        self.info = ModelInfo(variant=c.variant, n_iters=c.n_iters, dual=c.dual, in_bit=c.in_bit,
                              iac_mode=c.iac_mode)

    def run(self, input, left=None, right=None):
        torch = self._torch
        as_tensor = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(self.device)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model(as_tensor(input), as_tensor(left), as_tensor(right)).cpu().numpy()
        self._stage_ms = {"compute": (time.perf_counter() - start) * 1e3}
        return out
