"""The Iterative Adaptive Convolution (IAC) layer of IFAN, computed without unfolded copies.

Semantics (DESIGN.md section 2). Inputs: features x (B, c, h, w) and per-pixel filters F.
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

MODES = ("official", "corrected")
LAYOUTS = ("full", "compact")
MODE_CODES = {"official": 0, "corrected": 1}
LAYOUT_CODES = {"full": 0, "compact": 1}


def filter_channels(n_iters: int, c: int, k: int, layout: str = "full") -> int:
    """Number of channels of F for a layout."""
    if layout == "full":
        return n_iters * c * (2 * k + 1)
    if layout == "compact":
        return n_iters * c * (k + 1)
    raise ValueError(f"unknown IAC filter layout {layout!r}; expected one of {LAYOUTS}")


def compact_rows(n_iters: int, c: int, k: int) -> list[int]:
    """Channels of the full layout that the compact layout keeps, in compact order."""
    rows = []
    for i in range(n_iters):
        start = i * 2 * c * k
        rows.extend(range(start, start + c * k))
    bias_start = n_iters * 2 * c * k
    rows.extend(range(bias_start, bias_start + n_iters * c))
    return rows


def check_layout(mode: str, layout: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown IAC mode {mode!r}; expected one of {MODES}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown IAC filter layout {layout!r}; expected one of {LAYOUTS}")
    if mode == "corrected" and layout == "compact":
        raise ValueError("the compact filter layout drops kernel2, which 'corrected' mode reads")


def split_filters(filters: torch.Tensor, n_iters: int, c: int, k: int, mode: str, layout: str):
    """Views of F per iteration: (vertical kernel, horizontal kernel, bias), each (B, c, [k,] h, w)."""
    check_layout(mode, layout)
    b, channels, h, w = filters.shape
    expected = filter_channels(n_iters, c, k, layout)
    if channels != expected:
        raise ValueError(
            f"IAC filters have {channels} channels; N={n_iters}, c={c}, k={k} and the "
            f"{layout} layout need {expected}"
        )
    per_iter = c * k * (2 if layout == "full" else 1)
    kernels = filters[:, : n_iters * per_iter].reshape(b, n_iters, per_iter // (c * k), c, k, h, w)
    biases = filters[:, n_iters * per_iter :].reshape(b, n_iters, c, h, w)
    second = 1 if mode == "corrected" else 0
    return [(kernels[:, i, 0], kernels[:, i, second], biases[:, i]) for i in range(n_iters)]


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
