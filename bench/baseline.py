"""The baseline of the CPU benchmark: IFAN in PyTorch eager with an unfold-based IAC.

This computes the IAC the way the official code's data flow does (docs/ARCHITECTURE.md, the IAC), written
from those semantics: per pass, pad the features with replicated edges, ``unfold`` the k
neighbours along the pass direction into a new axis, move channels and taps last (a contiguous
copy, as the official layout has), multiply by the per-pixel kernel in the same layout and sum
over the taps. Official mode reads kernel1 for both passes. It is the reference the fast paths
are compared with, and the cost they are measured against: each pass materialises k copies of
the features and a permuted copy of the kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ifan_trt.contract import MODES
from ifan_trt.model import IFAN


def _unfold_pass(x: torch.Tensor, kernel: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """x (B, c, h, w), kernel (B, c*k, h, w) with channel index ch*k + tap -> (B, c, h, w)."""
    b, c, h, w = x.shape
    p = (k - 1) // 2
    pad = (0, 0, p, p) if dim == 2 else (p, p, 0, 0)
    patches = F.pad(x, pad, mode="replicate").unfold(dim, k, 1)  # (B, c, h, w, k)
    patches = patches.permute(0, 2, 3, 1, 4).contiguous()  # (B, h, w, c, k)
    kern = kernel.permute(0, 2, 3, 1).reshape(b, h, w, c, k)  # channel ch*k + t -> (ch, t)
    return (patches * kern).sum(-1).permute(0, 3, 1, 2).contiguous()


def unfold_iac(x: torch.Tensor, filters: torch.Tensor, n_iters: int, k: int = 3,
               mode: str = "official", slope: float = 0.1) -> torch.Tensor:
    """The IAC on the full filter layout: N blocks of [kernel1, kernel2] then N bias blocks."""
    if mode not in MODES:
        raise ValueError(f"unknown IAC mode {mode!r}; expected one of {MODES}")
    c = x.shape[1]
    ck = c * k
    expected = n_iters * c * (2 * k + 1)
    if filters.shape[1] != expected:
        raise ValueError(f"unfold_iac needs the full layout: {expected} filter channels, got {filters.shape[1]}")
    bias0 = n_iters * 2 * ck
    for i in range(n_iters):
        kernel1 = filters[:, i * 2 * ck: i * 2 * ck + ck]
        kernel2 = filters[:, i * 2 * ck + ck: (i + 1) * 2 * ck] if mode == "corrected" else kernel1
        bias = filters[:, bias0 + i * c: bias0 + (i + 1) * c]
        v = _unfold_pass(x, kernel1, k, dim=2)
        x = F.leaky_relu(_unfold_pass(v, kernel2, k, dim=3) + bias, slope)
    return x


class UnfoldIAC(nn.Module):
    """Drop-in for ifan_trt.iac.IAC (full layout only) computing the IAC with unfold."""

    def __init__(self, n_iters: int, k: int = 3, mode: str = "official", slope: float = 0.1):
        super().__init__()
        self.n_iters, self.k, self.mode, self.slope = n_iters, k, mode, slope

    def forward(self, x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
        return unfold_iac(x, filters, self.n_iters, self.k, self.mode, self.slope)


def baseline_model(model: IFAN) -> IFAN:
    """model with its IAC replaced by the unfold-based one (same weights, full filter layout)."""
    if model.iac.layout != "full":
        raise ValueError("the unfold baseline reads the full filter layout; build the model with filter_layout='full'")
    model.iac = UnfoldIAC(model.config.n_iters, model.config.filter_size, model.config.iac_mode, model.iac.slope)
    return model
