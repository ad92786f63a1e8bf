"""IFAN's training objective (ifan_trt.training.objective): the disparity and reblurring losses
against constructed cases whose answer is known, and where their gradients go."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ifan_trt.model import IFAN, IFANConfig
from ifan_trt.training.objective import (Objective, ReblurNet, disparity_loss, disparity_map, harm_loss,
                                         reblur_loss, warp_rows)

mse = lambda x, y, g: ((x - y) ** 2).mean()


def small_model(dual: bool = False) -> IFAN:
    torch.manual_seed(0)
    return IFAN(IFANConfig(n_iters=2, ch=4, iac_mode="official", dual=dual))


def test_warp_reads_the_right_view_at_x_plus_disparity():
    """Bilinear along rows, zero outside: out(y, x) = in(y, x + d(y, x)), written out in NumPy."""
    rng = np.random.default_rng(0)
    img = rng.random((1, 2, 5, 9)).astype(np.float32)
    d = rng.uniform(-2.5, 2.5, (1, 1, 5, 9)).astype(np.float32)
    got = warp_rows(torch.from_numpy(img), torch.from_numpy(d)).numpy()
    want = np.zeros_like(img)
    for y in range(5):
        for x in range(9):
            pos = x + d[0, 0, y, x]
            x0 = int(np.floor(pos))
            for xi, wgt in ((x0, 1 - (pos - x0)), (x0 + 1, pos - x0)):
                if 0 <= xi < 9:
                    want[0, :, y, x] += wgt * img[0, :, y, xi]
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("dual", [False, True])
def test_disparity_loss_is_zero_when_the_estimator_is_exactly_right(dual):
    """Left view = right view shifted by 8 px (1 px at 1/8 scale); a DME that answers 1 everywhere
    gets it exactly right, 0 or 2 do not."""
    model = small_model(dual)
    rng = np.random.default_rng(1)
    right = torch.from_numpy(rng.random((2, 3, 64, 64)).astype(np.float32))
    left = torch.zeros_like(right)
    left[..., :-8] = right[..., 8:]  # left(x) = right(x + 8); beyond the image: zero, as the warp
    last = model.DME[-1]
    with torch.no_grad():
        last.weight.zero_()
        losses = {}
        for answer in (0.0, 1.0, 2.0):
            last.bias.fill_(answer)
            losses[answer] = float(disparity_loss(disparity_map(model, left, right), left, right))
    assert losses[1.0] < 1e-12
    assert losses[0.0] > 1e-3 and losses[2.0] > 1e-3


def _blur_then_offset(s: np.ndarray, taps: np.ndarray, offset: float) -> np.ndarray:
    """s + (taps (x) taps, replicate border) * s + offset, per channel: the reference reblurring."""
    p = np.pad(s, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = s.shape[2:]
    v = sum(taps[t] * p[:, :, t:t + h, :] for t in range(3))
    out = sum(taps[t] * v[:, :, :, t:t + w] for t in range(3))
    return s + out + offset


def _set_reblur_filters(rbn: ReblurNet, taps, offset: float) -> None:
    """Make the RBN predict, everywhere: iteration 1 = taps vertically and horizontally (the official
    IAC reads kernel1 twice), iteration 2 = identity with bias `offset`. kernel2 is set to garbage
    (it is never read)."""
    n, c, k = rbn.n_iters, 3, 3
    bias = torch.zeros(n * c * (2 * k + 1))
    for i in range(n):
        kernel1 = torch.tensor(taps if i == 0 else [0.0, 1.0, 0.0]).repeat(c)
        bias[i * 2 * c * k:i * 2 * c * k + c * k] = kernel1
        bias[i * 2 * c * k + c * k:(i + 1) * 2 * c * k] = 7.0
    bias[n * 2 * c * k + (n - 1) * c:] = offset  # the last iteration's bias
    with torch.no_grad():
        rbn.RBF[-1].weight.zero_()
        rbn.RBF[-1].bias.copy_(bias)


def test_reblur_loss_is_zero_when_the_reblurring_network_reproduces_the_blur():
    """Sharp and blurry images constant on 8x8 blocks, the blurry one = the sharp one reblurred by
    known filters (with a negative offset: no activation after the last iteration): L_reblur is 0
    for an RBN predicting those filters and not for one predicting others."""
    model = small_model()
    rbn = ReblurNet(model.F[-1].out_channels, 16, n_iters=2)
    assert rbn.n_iters == 2
    rng = np.random.default_rng(2)
    s = rng.random((1, 3, 6, 7)).astype(np.float32)
    taps = np.array([0.25, 0.5, 0.25], np.float32)
    up = lambda a: torch.from_numpy(np.ascontiguousarray(a.repeat(8, 2).repeat(8, 3)))
    sharp, blurry = up(s), up(_blur_then_offset(s, taps, -0.3))
    with torch.no_grad():
        filters = model.filters(sharp)
    _set_reblur_filters(rbn, taps.tolist(), -0.3)
    assert float(reblur_loss(rbn(sharp, filters), blurry).detach()) < 1e-12
    _set_reblur_filters(rbn, [0.1, 0.8, 0.1], -0.3)
    assert float(reblur_loss(rbn(sharp, filters), blurry).detach()) > 1e-4
    _set_reblur_filters(rbn, taps.tolist(), 0.0)
    assert float(reblur_loss(rbn(sharp, filters), blurry).detach()) == pytest.approx(0.09, rel=1e-4)


def test_gradients_reach_the_disparity_estimator_and_the_filter_predictor():
    model = small_model()
    rbn = ReblurNet(model.F[-1].out_channels, 16, n_iters=2)
    obj = Objective(model, mse, disp_weight=1.0, reblur_weight=1.0, reblur_net=rbn)
    rng = np.random.default_rng(3)
    x, y, left, right = (torch.from_numpy(rng.random((1, 3, 32, 32)).astype(np.float32)) for _ in range(4))
    terms = obj(x, y, left, right)
    assert set(terms) == {"deblur", "disp", "reblur", "total"}
    assert float(terms["total"]) == pytest.approx(float(terms["deblur"] + terms["disp"] + terms["reblur"]), rel=1e-6)

    terms["disp"].backward(retain_graph=True)
    dme = model.DME[-1].weight.grad
    assert dme is not None and float(dme.abs().sum()) > 0
    assert float(model.kconv1_1[0].weight.grad.abs().sum()) > 0  # through the filter encoder too
    assert model.F[-1].weight.grad is None  # L_disp does not touch the filter predictor
    model.zero_grad(set_to_none=True)
    terms["reblur"].backward()
    assert float(model.F[-1].weight.grad.abs().sum()) > 0 and float(rbn.RBF[0][0].weight.grad.abs().sum()) > 0


def test_switched_off_terms_are_not_computed_and_views_are_required():
    model = small_model()
    obj = Objective(model, mse, disp_weight=0.0, reblur_weight=0.0)
    x = torch.rand(1, 3, 16, 16)
    terms = obj(x, x)
    assert set(terms) == {"deblur", "total"} and not obj.needs_views
    with pytest.raises(ValueError, match="needs the left and right dual-pixel views"):
        Objective(model, mse, disp_weight=0.5, reblur_weight=0.0)(x, x)
    with pytest.raises(ValueError, match="reblur_weight > 0 needs reblur_net"):
        Objective(model, mse, 0.0, 1.0)


def test_deblur_term_reads_the_output_before_the_clip():
    """The official trainer's MSE is on the unclipped output: an output pushed above 1 still costs."""
    model = small_model()
    with torch.no_grad():
        model.out_res[0].weight.zero_()
        model.out_res[0].bias.fill_(0.5)
    x = torch.full((1, 3, 16, 16), 0.8)
    terms = Objective(model, mse, 0.0, 0.0)(x, x)
    assert float(terms["deblur"]) == pytest.approx(0.25)


def test_reblur_warmup_trains_the_reblurring_network_only():
    """With reblur_trains_network off (ifan train --reblur-warmup), L_reblur's gradient reaches the
    RBN and stops at the network's filters."""
    model = small_model()
    rbn = ReblurNet(model.F[-1].out_channels, 16, n_iters=2)
    obj = Objective(model, mse, disp_weight=0.0, reblur_weight=1.0, reblur_net=rbn)
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    obj.reblur_trains_network = False
    obj(x, y)["reblur"].backward()
    assert model.F[-1].weight.grad is None and float(rbn.RBF[-1].weight.grad.abs().sum()) > 0
    obj.reblur_trains_network = True
    obj(x, y)["reblur"].backward()
    assert float(model.F[-1].weight.grad.abs().sum()) > 0


def test_no_harm_term_counts_only_the_db_lost_against_the_input():
    """Patch 0: the output is closer to the target than the input (costs nothing); patch 1: its
    error doubles in amplitude, which loses 20 log10(2) = 6.02 dB; the mean over the batch is half."""
    rng = np.random.default_rng(3)
    sharp = torch.from_numpy(rng.random((2, 3, 8, 8)).astype(np.float32))
    err = torch.from_numpy(rng.normal(0, 0.05, (2, 3, 8, 8)).astype(np.float32))
    blurry = sharp + err
    output = torch.stack([sharp[0] + 0.5 * err[0], sharp[1] + 2 * err[1]]).requires_grad_()
    loss = harm_loss(output, blurry, sharp)
    assert float(loss) == pytest.approx(20 * np.log10(2) / 2, abs=1e-3)
    loss.backward()
    assert float(output.grad[0].abs().sum()) == 0 and float(output.grad[1].abs().sum()) > 0
    assert float(harm_loss(blurry, blurry, sharp)) == 0


def test_no_harm_term_is_in_the_total_with_its_weight():
    model = small_model()
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    off = Objective(model, mse, 0.0, 0.0)(x, y)
    on = Objective(model, mse, 0.0, 0.0, harm_weight=0.5)(x, y)
    assert "harm" not in off and float(on["harm"]) >= 0
    assert float(on["total"]) == pytest.approx(float(on["deblur"]) + 0.5 * float(on["harm"]), rel=1e-6)
