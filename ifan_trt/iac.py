"""The Iterative Adaptive Convolution (IAC) layer of IFAN, computed without unfolded copies.

Semantics (docs/ARCHITECTURE.md, the IAC). Inputs: features x (B, c, h, w) and per-pixel filters F.
Iteration i applies a vertical then a horizontal k-tap filter per pixel and channel, with
replicate padding (clamped coordinates), adds a bias and a leaky ReLU. Kernel channel index
within one kernel is ``ch * k + tap``.

Filter layouts (channel axis of F):
  ``full``    N blocks of [kernel1 (c*k), kernel2 (c*k)], then N blocks of bias (c): the
              official network's layout, N*c*(2k+1) channels.
  ``compact`` N blocks of kernel1 (c*k), then N blocks of bias (c): N*c*(k+1) channels.
              Only valid in ``official`` mode, where kernel2 is never read.

Modes: ``official`` uses kernel1 for both passes (what every released checkpoint was trained
with); ``corrected`` uses kernel2 for the horizontal pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ifan_trt.contract import check_layout, iac_problem_error, iteration_channels

def split_filters(filters: torch.Tensor, n_iters: int, c: int, k: int, mode: str, layout: str):
    """Views of F per iteration: (vertical kernel, horizontal kernel, bias), each (B, c, [k,] h, w)."""
    b, _, h, w = filters.shape
    problem = iac_problem_error((b, c, h, w), tuple(filters.shape), n_iters, k, mode, layout)
    if problem:
        raise ValueError(f"IAC: {problem}")
    views = []
    for i in range(n_iters):
        v, hz, bias = iteration_channels(i, n_iters, c, k, mode, layout)
        views.append((filters[:, v:v + c * k].reshape(b, c, k, h, w), filters[:, hz:hz + c * k].reshape(b, c, k, h, w),
                      filters[:, bias:bias + c]))
    return views


def _directional_pass(x: torch.Tensor, kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """sum_t kernel[:, :, t] * x shifted by (t - p) along dim (2: rows, 3: columns), clamped."""
    k = kernel.shape[2]
    p = (k - 1) // 2
    pad = (0, 0, p, p) if dim == 2 else (p, p, 0, 0)
    # replicate padding is only defined for pads smaller than the input on some torch builds;
    # index_select with clamped indices handles any size, including 1x1 inputs
    size = x.shape[dim]
    if p and size <= p:
        idx = torch.clamp(torch.arange(-p, size + p, device=x.device), 0, size - 1)
        xp = x.index_select(dim, idx)
    else:
        xp = F.pad(x, pad, mode="replicate") if p else x
    out = kernel[:, :, 0] * xp.narrow(dim, 0, size)
    for t in range(1, k):
        out = out + kernel[:, :, t] * xp.narrow(dim, t, size)
    return out


def iac(
    x: torch.Tensor,
    filters: torch.Tensor,
    n_iters: int,
    k: int = 3,
    mode: str = "official",
    layout: str = "full",
    slope: float = 0.1,
) -> torch.Tensor:
    """IAC of features x (B, c, h, w) with per-pixel filters F. Extra memory: a few feature maps."""
    c = x.shape[1]
    for kernel_v, kernel_h, bias in split_filters(filters, n_iters, c, k, mode, layout):
        v = _directional_pass(x, kernel_v, dim=2)
        x = F.leaky_relu(_directional_pass(v, kernel_h, dim=3) + bias, slope)
    return x


class IAC(torch.nn.Module):
    """The IAC as a module, so that export can swap its implementation (plugin node, ONNX ops)."""

    def __init__(self, n_iters: int, k: int = 3, mode: str = "official", layout: str = "full",
                 slope: float = 0.1):
        super().__init__()
        check_layout(mode, layout)
        self.n_iters, self.k, self.mode, self.layout, self.slope = n_iters, k, mode, layout, slope

    def forward(self, x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
        return iac(x, filters, self.n_iters, self.k, self.mode, self.layout, self.slope)

    def extra_repr(self) -> str:
        return f"N={self.n_iters}, k={self.k}, mode={self.mode}, layout={self.layout}, slope={self.slope}"
