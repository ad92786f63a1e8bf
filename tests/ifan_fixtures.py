"""Shared test helpers (a uniquely named module: `conftest` is shadowed by sub-folder conftests)."""

from __future__ import annotations

import pytest


def random_model(config=None, seed: int = 0, scale: float = 0.06):
    """A small model (ch=8, N=2 unless config says) whose output depends visibly on every layer:
    with scale 0.06 it moves pixels by ~0.03 and clips ~2% of them (0.08 saturates everything)."""
    torch = pytest.importorskip("torch")
    from ifan_trt.model import IFAN, IFANConfig

    config = config or IFANConfig(ch=8, n_iters=2)
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
