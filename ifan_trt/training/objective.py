"""IFAN's training objective: deblurring loss + disparity loss + reblurring loss.

The definitions follow the paper and its official trainer:

- deblurring: the loss chosen with ``--loss`` (official: MSE) between the network's output before
  the final clip to [0, 1] and the sharp target;
- L_disp: the disparity estimator (DME) reads the right dual-pixel view through the filter encoder
  (IFAN_dual: both views, right first, as it does for deblurring). Its map D (one channel, 1/8 of the
  input resolution, in pixels at that scale) warps the right view, area-downsampled by 8, along the
  rows: R'(y, x) = R(y, x + D(y, x)), bilinear, zero outside the image. L_disp = MSE(R', L), L the
  left view downsampled the same way;
- L_reblur: a reblurring network (RBN) maps the predicted IAC filters F to per-pixel filters for a
  3-channel image, applies them with the IAC (official mode, 3x3, N iterations with N at most 17, no
  activation after the last) to the sharp target downsampled by 8 (nearest) and adds that image
  back; L_reblur = MSE(result, blurry input area-downsampled by 8). The RBN is trained with the
  network and exists only in the training state: the deblurring model never contains it.

total = deblur + w_disp * L_disp + w_reblur * L_reblur (the official trainer: both weights 1).

Ours, not the paper's: an optional no-harm term, the mean over patches of max(0, PSNR(input) -
PSNR(output)) in dB against the sharp target. It is zero for every patch the network leaves at least
as close to the target as its input was, and it weighs a damaged nearly sharp patch by the dB it
lost, which is how a user judges a deblurring tool.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ifan_trt.iac import iac
from ifan_trt.model import IFAN, SLOPE, ResnetBlock, conv

SCALE = 8  # the disparity map and the filters live at 1/8 of the input resolution
RBN_MAX_ITERS = 17  # the official configs: RBF_num = N, at most 17


def downsample_area(image: torch.Tensor) -> torch.Tensor:
    """Mean over each 8x8 block (what the official trainer compares at 1/8 scale)."""
    return F.avg_pool2d(image, SCALE)


def downsample_nearest(image: torch.Tensor) -> torch.Tensor:
    """The top-left pixel of each 8x8 block (the RBN's view of the sharp image)."""
    return image[:, :, ::SCALE, ::SCALE]


def warp_rows(image: torch.Tensor, disparity: torch.Tensor) -> torch.Tensor:
    """out(y, x) = image(y, x + disparity(y, x)): bilinear along rows, zero outside the image.

    disparity is (B, 1, H, W) in pixels of `image`; a backward warp, as the official DPD."""
    b, _, h, w = image.shape
    if disparity.shape != (b, 1, h, w):
        raise ValueError(f"warp_rows: disparity {tuple(disparity.shape)} does not match image {tuple(image.shape)}")
    xs = torch.arange(w, dtype=image.dtype, device=image.device).view(1, 1, w) + disparity[:, 0]
    ys = torch.arange(h, dtype=image.dtype, device=image.device).view(1, h, 1).expand(b, h, w)
    # align_corners=True: -1 and 1 are the centres of the first and last pixel
    gx = 2 * xs / max(w - 1, 1) - 1
    gy = 2 * ys / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def filter_encoder(model: IFAN, x: torch.Tensor) -> torch.Tensor:
    """The network's filter encoder (kconv1_1 .. kconv4_3) on x."""
    for level in range(1, 5):
        for j in (1, 2, 3):
            x = getattr(model, f"kconv{level}_{j}")(x)
    return x


def disparity_map(model: IFAN, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """The DME's map for the disparity loss: from the right view (IFAN) or both views (IFAN_dual)."""
    views = torch.cat([right, left], 1) if model.config.dual else right
    return model.DME(filter_encoder(model, views))


def disparity_loss(disparity: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """L_disp: the right view warped by the estimated disparity against the left view, at 1/8 scale."""
    return F.mse_loss(warp_rows(downsample_area(right), disparity), downsample_area(left))


class ReblurNet(nn.Module):
    """The reblurring network: IAC filters F -> per-pixel 3x3 filters that blur a sharp image."""

    def __init__(self, filter_channels: int, ch4: int, n_iters: int, ks: int = 3, res_num: int = 2, k: int = 3):
        super().__init__()
        self.n_iters, self.k = min(n_iters, RBN_MAX_ITERS), k
        self.RBF = nn.Sequential(conv(filter_channels, ch4, ks), ResnetBlock(ch4, ks, res_num),
                                 ResnetBlock(ch4, ks, res_num),
                                 conv(ch4, self.n_iters * 3 * (2 * k + 1), 3, act=False))
        for m in self.modules():  # the official initialisation (Xavier, gain 1; zero bias)
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight, gain=1.0)
                nn.init.zeros_(m.bias)

    def forward(self, sharp: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
        """The sharp image at 1/8 scale, reblurred by the filters the network predicted."""
        s = downsample_nearest(sharp)
        y = iac(s, self.RBF(filters), self.n_iters, self.k, "official", "full", SLOPE)
        # our IAC activates after every iteration; the RBN's last iteration has no activation, and
        # the leaky ReLU is invertible, so undo it
        y = torch.where(y >= 0, y, y / SLOPE)
        return y + s


def reblur_loss(reblurred: torch.Tensor, blurry: torch.Tensor) -> torch.Tensor:
    """L_reblur: the RBN's reblurred sharp image against the blurry input, at 1/8 scale."""
    return F.mse_loss(reblurred, downsample_area(blurry))


def patch_psnr(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """PSNR in dB of each patch of a batch (peak 1; eps caps it at 60 dB)."""
    return -10 * torch.log10(((x - y) ** 2).flatten(1).mean(1) + eps)


def harm_loss(output: torch.Tensor, blurry: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
    """Mean over patches of the dB by which the output is further from the sharp target than the
    input was (zero where it is not)."""
    return F.relu(patch_psnr(blurry, sharp).detach() - patch_psnr(output, sharp)).mean()


class Objective:
    """Runs the network for training and computes every term of the objective.

    Forward hooks read the network's filters and its output before the clip, so the deblurring
    model itself is the one that is exported (no training-only branch in it)."""

    def __init__(self, model: IFAN, deblur_loss, disp_weight: float = 1.0, reblur_weight: float = 1.0,
                 reblur_net: ReblurNet | None = None, harm_weight: float = 0.0):
        self.model, self.deblur_loss = model, deblur_loss
        self.disp_weight, self.reblur_weight = float(disp_weight), float(reblur_weight)
        self.harm_weight = float(harm_weight)
        if self.reblur_weight > 0 and reblur_net is None:
            raise ValueError("Objective: reblur_weight > 0 needs reblur_net")
        self.reblur_net = reblur_net
        # while True, L_reblur trains the RBN only: a fresh RBN on a trained network (fine-tuning)
        # would otherwise push the network's filters wherever its random start wants them
        self.reblur_trains_network = True
        self._seen: dict[str, torch.Tensor] = {}
        model.F.register_forward_hook(lambda m, i, o: self._seen.__setitem__("filters", o))
        model.out_res.register_forward_hook(lambda m, i, o: self._seen.__setitem__("residual", o))

    @property
    def needs_views(self) -> bool:
        """Whether a batch must carry the dual-pixel views."""
        return self.disp_weight > 0 or self.model.config.dual

    def parameters(self):
        """Everything the optimiser updates: the network, and the RBN when it is used."""
        yield from self.model.parameters()
        if self.reblur_net is not None:
            yield from self.reblur_net.parameters()

    def __call__(self, blurry: torch.Tensor, sharp: torch.Tensor, left: torch.Tensor | None = None,
                 right: torch.Tensor | None = None, crops_per_scene: int = 1) -> dict[str, torch.Tensor]:
        """{'total', 'deblur'[, 'disp'][, 'reblur'][, 'harm']} for one batch."""
        if self.needs_views and (left is None or right is None):
            raise ValueError("Objective: this objective needs the left and right dual-pixel views")
        self._seen.clear()
        self.model(blurry, left, right)
        result = self._seen["residual"] + blurry  # the output before the clip, as the official trainer
        terms = {"deblur": self.deblur_loss(result, sharp, crops_per_scene)}
        total = terms["deblur"]
        if self.disp_weight > 0:
            terms["disp"] = disparity_loss(disparity_map(self.model, left, right), left, right)
            total = total + self.disp_weight * terms["disp"]
        if self.reblur_weight > 0:
            filters = self._seen["filters"] if self.reblur_trains_network else self._seen["filters"].detach()
            terms["reblur"] = reblur_loss(self.reblur_net(sharp, filters), blurry)
            total = total + self.reblur_weight * terms["reblur"]
        if self.harm_weight > 0:
            terms["harm"] = harm_loss(result, blurry, sharp)
            total = total + self.harm_weight * terms["harm"]
        terms["total"] = total
        return terms
