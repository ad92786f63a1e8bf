"""The IAC in NumPy, for running the plugin node in ONNX Runtime on the CPU.

Same arithmetic, in the same order, as ``ifan_trt.iac.iac`` (docs/ARCHITECTURE.md, the IAC): per pass
``out = k_0 * x_{-p}; out += k_t * x_{t-p}`` with clamped (replicate) coordinates, then the
bias and a leaky ReLU. Memory-light: kernels are strided views of F (never copied), and each
pass needs one padded copy of the features plus two feature-sized buffers.
"""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import iac_problem_error, iteration_channels


def _pass(x: np.ndarray, filters: np.ndarray, start: int, k: int, axis: int,
          out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """out = sum_t F[:, start + ch*k + t] * x shifted by t - p along axis (2 rows, 3 columns)."""
    c, size, p = x.shape[1], x.shape[axis], (k - 1) // 2
    pad = [(0, 0)] * 4
    pad[axis] = (p, p)
    xp = np.pad(x, pad, mode="edge") if p else x
    for t in range(k):
        shifted = xp[:, :, t:t + size] if axis == 2 else xp[:, :, :, t:t + size]
        kernel = filters[:, start + t:start + c * k:k]  # channel ch*k + t for every ch: a view
        if t == 0:
            np.multiply(kernel, shifted, out=out)
        else:
            np.multiply(kernel, shifted, out=tmp)
            np.add(out, tmp, out=out)
    return out


def iac_numpy(x: np.ndarray, filters: np.ndarray, n_iters: int, k: int = 3, mode: int = 0,
              layout: int = 0, slope: float = 0.1) -> np.ndarray:
    """IAC of features x (B, c, h, w) with filters F; mode/layout as the plugin's INT codes."""
    problem = iac_problem_error(x.shape, filters.shape, n_iters, k, mode, layout)
    if problem:
        raise ValueError(f"IFAN_IAC: {problem}")
    c = x.shape[1]
    dtype = np.result_type(x, filters)
    slope = dtype.type(slope)
    v, h, tmp = (np.empty(x.shape, dtype) for _ in range(3))
    for i in range(n_iters):
        kv, kh, bias = iteration_channels(i, n_iters, c, k, mode, layout)
        _pass(x, filters, kv, k, 2, v, tmp)
        _pass(v, filters, kh, k, 3, h, tmp)
        np.add(h, filters[:, bias:bias + c], out=h)
        # leaky ReLU as torch computes it: x if x > 0 else x * slope
        x = np.where(h > 0, h, h * slope)
    return np.ascontiguousarray(x, dtype=dtype)
