"""The IAC in NumPy, for running the plugin node in ONNX Runtime on the CPU.

Same arithmetic, in the same order, as ``ifan_trt.iac.iac`` (docs/ARCHITECTURE.md, the IAC): per pass
``out = k_0 * x_{-p}; out += k_t * x_{t-p}`` with clamped (replicate) coordinates, then the
bias and a leaky ReLU. Memory-light: kernels are strided views of F (never copied), and each
pass needs one padded copy of the features plus two feature-sized buffers.
"""

from __future__ import annotations

import numpy as np

from ifan_trt.contract import LAYOUT_CODES, LAYOUTS, MODE_CODES, filter_channels, iteration_channels


def _check(x: np.ndarray, filters: np.ndarray, n_iters: int, k: int, mode: int, layout: int) -> None:
    if mode not in MODE_CODES.values() or layout not in LAYOUT_CODES.values():
        raise ValueError(f"IFAN_IAC: mode must be 0/1 and layout 0/1, got mode={mode}, layout={layout}")
    if mode == MODE_CODES["corrected"] and layout == LAYOUT_CODES["compact"]:
        raise ValueError("IFAN_IAC: the compact layout drops kernel2, which corrected mode (1) reads")
    if k < 1 or k % 2 == 0 or n_iters < 1:
        raise ValueError(f"IFAN_IAC: need N >= 1 and an odd k, got N={n_iters}, k={k}")
    if x.ndim != 4 or filters.ndim != 4:
        raise ValueError(f"IFAN_IAC: inputs must be 4-D, got {x.shape} and {filters.shape}")
    b, c, h, w = x.shape
    expected = (b, filter_channels(n_iters, c, k, layout), h, w)
    if filters.shape != expected:
        raise ValueError(f"IFAN_IAC: filters have shape {filters.shape}; N={n_iters}, k={k}, "
                         f"layout={LAYOUTS[layout]} and features {x.shape} need {expected}")


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
    _check(x, filters, n_iters, k, mode, layout)
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
