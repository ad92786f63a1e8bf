"""Helpers for the export tests: the small random IFAN, runs in PyTorch and ONNX Runtime.

Exports cost ~10 s each on 2 cores (torch.export tracing), so each (model, form, options)
combination is exported once per session and shared by the tests that read it.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch

from ifan_trt.export.ort_plugin import ort_session
from ifan_trt.export.verify import synthetic_images
from ifan_trt.model import IFAN

from .models import random_model

FP32_TOL = 1e-4  # ORT vs PyTorch, FP32 (verify's bound)
SPLIT_TOL = 1e-5  # split IAC form vs one node, relative: the same dot products, only the GEMM's blocking may differ


small_model = random_model  # the export tests' name for the one small random IFAN


def make_inputs(model: IFAN, batch: int, h: int, w: int, seed: int = 0) -> dict[str, np.ndarray]:
    names = ["input", "left", "right"] if model.config.dual else ["input"]
    return {n: synthetic_images(batch, h, w, seed + i) for i, n in enumerate(names)}


def torch_run(model: IFAN, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch output and the IAC's output (hooked), for the same feeds."""
    seen = {}
    handle = model.iac.register_forward_hook(lambda mod, args, out: seen.update(iac=out))
    try:
        with torch.no_grad():
            out = model(*[torch.from_numpy(feeds[n]) for n in ("input", "left", "right") if n in feeds])
    finally:
        handle.remove()
    return out.numpy(), seen["iac"].numpy()


def ort_run(path, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """ONNX Runtime output and the IAC's output (exposed as an extra graph output, in memory)."""
    model = onnx.load(path)
    model.graph.output.append(onnx.helper.make_tensor_value_info("iac_output", onnx.TensorProto.FLOAT, None))
    out, iac = ort_session(model).run(["output", "iac_output"], feeds)
    return out, iac


def assert_close_iac(got: np.ndarray, want: np.ndarray) -> None:
    """The IAC output is unclamped: relative to its own scale, as tight as the output."""
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= FP32_TOL * scale


def assert_same_split(got: np.ndarray, want: np.ndarray) -> None:
    """The split IAC form against the one-node form: equal within FP32 rounding."""
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= SPLIT_TOL * scale
