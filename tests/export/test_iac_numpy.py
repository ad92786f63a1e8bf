"""The NumPy IAC (ONNX Runtime kernel of the plugin node) against the PyTorch reference."""

import numpy as np
import pytest
import torch

from ifan_trt.export.iac_numpy import iac_numpy
from ifan_trt.contract import LAYOUT_CODES, MODE_CODES, filter_channels
from ifan_trt.iac import iac

CASES = [  # (batch, c, h, w, N, k, mode, layout, slope)
    (1, 4, 5, 7, 3, 3, "official", "full", 0.1),
    (1, 4, 5, 7, 3, 3, "official", "compact", 0.1),
    (2, 3, 6, 4, 2, 3, "corrected", "full", 0.1),
    (1, 2, 1, 1, 2, 3, "official", "full", 0.2),  # 1x1: every tap clamps to the pixel
    (1, 2, 2, 9, 2, 5, "corrected", "full", 0.0),  # k=5 wider than the height; plain ReLU
    (1, 3, 8, 3, 4, 5, "official", "compact", 0.3),
]


@pytest.mark.parametrize("b,c,h,w,n,k,mode,layout,slope", CASES)
def test_matches_torch(b, c, h, w, n, k, mode, layout, slope):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(b, c, h, w, generator=gen)
    filters = torch.randn(b, filter_channels(n, c, k, layout), h, w, generator=gen) * 0.5
    want = iac(x, filters, n, k, mode, layout, slope).numpy()
    got = iac_numpy(x.numpy(), filters.numpy(), n, k, MODE_CODES[mode], LAYOUT_CODES[layout], slope)
    assert got.dtype == np.float32 and got.shape == want.shape
    # same operations in the same order: equal up to the last bit or two
    assert np.abs(got - want).max() <= 1e-6 * max(1.0, np.abs(want).max())


def test_bad_filter_shape_is_reported():
    x = np.zeros((1, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="filters have shape"):
        iac_numpy(x, np.zeros((1, 10, 3, 3), np.float32), 2, 3, 0, 0)
    with pytest.raises(ValueError, match="corrected mode"):
        iac_numpy(x, np.zeros((1, 32, 3, 3), np.float32), 2, 3, 1, 1)
