"""The memory-light IAC equals a plain unfold-based oracle written as the official code computes it."""

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from ifan_trt.contract import compact_rows, filter_channels  # noqa: E402
from ifan_trt.iac import IAC, iac  # noqa: E402


def unfold_iac(x, filters, n_iters, k, mode, slope=0.1):
    """Oracle: unfold rows, weight, sum; unfold columns, weight, sum; + bias; leaky. Full layout."""
    b, c, h, w = x.shape
    p = (k - 1) // 2
    kernels = torch.split(filters[:, : n_iters * 2 * c * k], 2 * c * k, dim=1)
    biases = torch.split(filters[:, n_iters * 2 * c * k:], c, dim=1)
    for i in range(n_iters):
        k1, k2 = torch.split(kernels[i], c * k, dim=1)
        second = k2 if mode == "corrected" else k1
        # clamped (replicate) rows via index_select: works for any h, even h < p
        rows = torch.clamp(torch.arange(-p, h + p), 0, h - 1)
        xu = x.index_select(2, rows).unfold(2, k, 1)  # b c h w k
        v = (xu * k1.reshape(b, c, k, h, w).permute(0, 1, 3, 4, 2)).sum(-1)
        cols = torch.clamp(torch.arange(-p, w + p), 0, w - 1)
        vu = v.index_select(3, cols).unfold(3, k, 1)
        hh = (vu * second.reshape(b, c, k, h, w).permute(0, 1, 3, 4, 2)).sum(-1)
        x = F.leaky_relu(hh + biases[i], slope)
    return x


SHAPES = [(1, 4, 9, 13), (2, 3, 5, 7), (1, 2, 1, 1), (2, 4, 2, 11), (1, 3, 12, 1), (3, 2, 6, 6)]


@pytest.mark.parametrize("mode", ["official", "corrected"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_iac_equals_unfold_oracle(mode, shape, k):
    torch.manual_seed(sum(shape) + k)
    b, c, h, w = shape
    n = 3
    x = torch.randn(b, c, h, w, dtype=torch.float64)
    f = torch.randn(b, filter_channels(n, c, k), h, w, dtype=torch.float64) * 0.5
    expected = unfold_iac(x, f, n, k, mode)
    got = iac(x, f, n, k, mode)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_official_mode_never_reads_kernel2():
    torch.manual_seed(0)
    n, c, k = 2, 3, 3
    x = torch.randn(1, c, 8, 8)
    f = torch.randn(1, filter_channels(n, c, k), 8, 8)
    g = f.clone()
    for i in range(n):  # scramble every kernel2 block
        g[:, i * 2 * c * k + c * k:(i + 1) * 2 * c * k] = torch.randn(1, c * k, 8, 8)
    assert torch.equal(iac(x, f, n, k, "official"), iac(x, g, n, k, "official"))
    assert not torch.allclose(iac(x, f, n, k, "corrected"), iac(x, g, n, k, "corrected"))


def test_compact_layout_equals_full_in_official_mode():
    torch.manual_seed(1)
    n, c, k = 3, 4, 3
    x = torch.randn(2, c, 7, 9)
    f = torch.randn(2, filter_channels(n, c, k), 7, 9)
    compact = f[:, compact_rows(n, c, k)]
    assert compact.shape[1] == filter_channels(n, c, k, "compact") == n * c * (k + 1)
    torch.testing.assert_close(iac(x, compact, n, k, "official", "compact"), iac(x, f, n, k, "official"),
                               rtol=0, atol=0)


def test_wrong_filter_count_and_layout_are_errors():
    x = torch.zeros(1, 4, 8, 8)
    with pytest.raises(ValueError, match=r"IAC: filters have shape \(1, 10, 8, 8\); N=2, k=3, layout full and features "
                       r"\(1, 4, 8, 8\) need \(1, 56, 8, 8\)"):
        iac(x, torch.zeros(1, 10, 8, 8), 2)
    with pytest.raises(ValueError, match="the compact layout drops kernel2, which corrected mode"):
        IAC(2, mode="corrected", layout="compact")


def test_iac_memory_stays_of_the_order_of_a_feature_map():
    """The official code allocates unfolded (B,H,W,C,k) tensors, k feature maps each; no single
    operation of ours allocates more than one (padded) feature map."""
    c, h, w, n, k = 16, 64, 64, 2, 3
    x = torch.randn(1, c, h, w)
    f = torch.randn(1, filter_channels(n, c, k), h, w)
    feature_bytes = x.numel() * 4
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        iac(x, f, n, k)
    largest = max(e.cpu_memory_usage for e in prof.events())
    assert feature_bytes <= largest <= 1.1 * feature_bytes

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        unfold_iac(x, f, n, k, "official")
    assert max(e.cpu_memory_usage for e in prof.events()) >= k * feature_bytes  # the check can fail
