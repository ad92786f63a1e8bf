"""Shared fixtures: small checkpoints in the official and our own format, written on the fly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ifan_trt.model import IFAN, IFANConfig  # noqa: E402

SMALL = IFANConfig(ch=8, n_iters=2)


def random_model(config: IFANConfig = SMALL, seed: int = 0, scale: float = 0.1) -> IFAN:
    """A model whose output depends visibly on every layer (weights large enough to matter)."""
    torch.manual_seed(seed)
    model = IFAN(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, scale)
    return model.eval()


def write_official(model: IFAN, path, prefix: str = "module.Network.", reblur: bool = True):
    """The official file: torch.save of the training wrapper's state dict (DataParallel prefix,
    reblurring network keys)."""
    state = {prefix + k: v for k, v in model.state_dict().items()}
    if reblur:
        state[prefix.replace("Network.", "") + "reblurNet.conv1.0.weight"] = torch.zeros(4, 3, 3, 3)
    torch.save(state, path)
    return path


@pytest.fixture
def small_checkpoint(tmp_path):
    from ifan_trt.checkpoint import save_checkpoint

    path = tmp_path / "small.pth"
    save_checkpoint(random_model(), path)
    return path
