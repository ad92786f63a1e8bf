"""The one small random IFAN of the tests, and an official-format checkpoint of it."""

from __future__ import annotations

import pytest


def random_model(n_iters: int = 2, ch: int = 8, dual: bool = False, iac_mode: str = "official", seed: int = 0,
                 scale: float = 0.06, config=None):
    """A small model (ch=8, N=2 unless told) with weights ~ N(0, scale): at 0.06 every layer (the
    IAC too) moves the output visibly (~0.03) without saturating it (~2 % clipped; 0.08 saturates),
    so a wrong IAC cannot hide behind the clamp."""
    torch = pytest.importorskip("torch")
    from ifan_trt.model import IFAN, IFANConfig

    config = config or IFANConfig(n_iters=n_iters, ch=ch, dual=dual, iac_mode=iac_mode)
    torch.manual_seed(seed)
    model = IFAN(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, scale)
    return model.eval()


def write_official(model, path, prefix: str = "module.Network.", reblur: bool = True):
    """The official file: torch.save of the training wrapper's state dict (DataParallel prefix,
    reblurring network keys)."""
    import torch

    state = {prefix + k: v for k, v in model.state_dict().items()}
    if reblur:
        state[prefix.replace("Network.", "") + "reblurNet.conv1.0.weight"] = torch.zeros(4, 3, 3, 3)
    torch.save(state, path)
    return path
