"""IFAN (Lee et al., CVPR 2021), the official architecture with the official state-dict names.

Module names, shapes and the order of operations follow the authors' ``models/archs/IFAN.py``
and ``IFAN_dual.py`` (docs/ARCHITECTURE.md, facts about IFAN), so every released checkpoint loads strictly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .contract import MODES, filter_channels
from .iac import IAC

SLOPE = 0.1  # every LeakyReLU of IFAN


@dataclass(frozen=True)
class IFANConfig:
    """What distinguishes the variants. Defaults: the released IFAN (N=17, 8-bit input)."""

    n_iters: int = 17
    dual: bool = False
    in_bit: int = 8
    iac_mode: str = "official"
    ch: int = 32  # ch1; ch2 = 2*ch, ch3 = ch4 = 4*ch
    ks: int = 3
    res_num: int = 2
    filter_size: int = 3  # IAC taps k

    def __post_init__(self):
        if self.n_iters < 1:
            raise ValueError(f"n_iters must be >= 1, got {self.n_iters}")
        if self.in_bit not in (8, 16):
            raise ValueError(f"in_bit must be 8 or 16, got {self.in_bit}")
        if self.iac_mode not in MODES:
            raise ValueError(f"iac_mode must be one of {MODES}, got {self.iac_mode!r}")
        if self.filter_size % 2 == 0 or self.ks % 2 == 0:
            raise ValueError("kernel sizes must be odd")

    @property
    def variant(self) -> str:
        """The official name: IFAN, IFAN_8/26/35/44, IFAN_16bit, IFAN_dual (ours: suffixed)."""
        name = "IFAN"
        if self.dual:
            name += "_dual"
        if self.in_bit == 16:
            name += "_16bit"
        if self.n_iters != 17:
            name += f"_{self.n_iters}"
        if self.ch != 32:
            name += f"_ch{self.ch}"
        if self.iac_mode != "official":
            name += "_corrected"
        return name

    @property
    def feat_channels(self) -> int:
        return 4 * self.ch

    def to_dict(self) -> dict:
        return asdict(self)


def conv(cin: int, cout: int, ks: int = 3, stride: int = 1, act: bool = True) -> nn.Module:
    layer = nn.Conv2d(cin, cout, ks, stride=stride, padding=(ks - 1) // 2)
    return nn.Sequential(layer, nn.LeakyReLU(SLOPE)) if act else layer


def upconv(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(SLOPE))


class ResnetBlock(nn.Module):
    """res_num residual units; with res_num > 1 an outer skip (no activation after it)."""

    def __init__(self, c: int, ks: int = 3, res_num: int = 1):
        super().__init__()
        pad = (ks - 1) // 2
        self.res_num = res_num
        self.stem = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c, ks, padding=pad), nn.LeakyReLU(SLOPE), nn.Conv2d(c, c, ks, padding=pad))
            for _ in range(res_num)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = x
        for unit in self.stem:
            x = F.leaky_relu(x + unit(x), SLOPE)
        return x + x0 if self.res_num > 1 else x


def _encoder(prefix: str, module: nn.Module, cin: int, ch: int, ks: int) -> None:
    """conv1_1..conv4_3 (or kconv*): 3 convs per scale, strides 1, 2, 2, 2."""
    widths = (ch, 2 * ch, 4 * ch, 4 * ch)
    for level, cout in enumerate(widths, start=1):
        for j in (1, 2, 3):
            stride = 2 if (j == 1 and level > 1) else 1
            setattr(module, f"{prefix}{level}_{j}", conv(cin, cout, ks, stride))
            cin = cout


class IFAN(nn.Module):
    """The deblurring network. forward(input[, left, right]) -> deblurred RGB in [0, 1]."""

    def __init__(self, config: IFANConfig = IFANConfig(), filter_layout: str = "full"):
        super().__init__()
        self.config = config
        ks, res, ch = config.ks, config.res_num, config.ch
        ch1, ch2, ch3, ch4 = ch, 2 * ch, 4 * ch, 4 * ch

        _encoder("conv", self, 3, ch, ks)
        self.conv4_4 = nn.Sequential(conv(2 * ch4, ch4, ks), ResnetBlock(ch4, ks, res),
                                     ResnetBlock(ch4, ks, res), conv(ch4, ch4, ks))
        self.conv_res = nn.Sequential(conv(ch4, ch4, ks), ResnetBlock(ch4, ks, 3), conv(ch4, ch4, ks))
        self.upconv3_u = upconv(ch4, ch3)
        self.upconv3_1 = ResnetBlock(ch3, ks, 1)
        self.upconv3_2 = ResnetBlock(ch3, ks, 1)
        self.upconv2_u = upconv(ch3, ch2)
        self.upconv2_1 = ResnetBlock(ch2, ks, 1)
        self.upconv2_2 = ResnetBlock(ch2, ks, 1)
        self.upconv1_u = upconv(ch2, ch1)
        self.upconv1_1 = ResnetBlock(ch1, ks, 1)
        self.upconv1_2 = ResnetBlock(ch1, ks, 1)
        self.out_res = conv(ch1, 3, ks)

        _encoder("kconv", self, 6 if config.dual else 3, ch, ks)
        self.DME = nn.Sequential(conv(ch4, ch4, ks), ResnetBlock(ch4, ks, res), ResnetBlock(ch4, ks, res),
                                 conv(ch4, 1, 3, act=False))
        self.conv_DME = conv(1, ch4, 3)
        n_filters = filter_channels(config.n_iters, ch4, config.filter_size, filter_layout)
        self.F = nn.Sequential(conv(ch4, ch4, ks), ResnetBlock(ch4, ks, res), ResnetBlock(ch4, ks, res),
                               conv(ch4, n_filters, 1, act=False))
        self.iac = IAC(config.n_iters, config.filter_size, config.iac_mode, filter_layout, SLOPE)

    def filters(self, input: torch.Tensor, left: torch.Tensor | None = None,
                right: torch.Tensor | None = None) -> torch.Tensor:
        """The filter encoder, disparity estimator and filter predictor: F."""
        if self.config.dual:
            if left is None or right is None:
                raise ValueError("IFAN_dual needs the left and right dual-pixel views")
            f = torch.cat([right, left], 1)  # the official order: R first
        else:
            f = input
        for level in range(1, 5):
            for j in (1, 2, 3):
                f = getattr(self, f"kconv{level}_{j}")(f)
        f = self.conv4_4(torch.cat([f, self.conv_DME(self.DME(f))], 1))
        return self.F(f)

    def forward(self, input: torch.Tensor, left: torch.Tensor | None = None,
                right: torch.Tensor | None = None) -> torch.Tensor:
        f1 = self.conv1_3(self.conv1_2(self.conv1_1(input)))
        f2 = self.conv2_3(self.conv2_2(self.conv2_1(f1)))
        f3 = self.conv3_3(self.conv3_2(self.conv3_1(f2)))
        f_c = self.conv4_3(self.conv4_2(self.conv4_1(f3)))

        f = self.iac(f_c, self.filters(input, left, right))

        f = self.conv_res(f)
        f = self.upconv3_2(self.upconv3_1(self.upconv3_u(f) + f3))
        f = self.upconv2_2(self.upconv2_1(self.upconv2_u(f) + f2))
        f = self.upconv1_2(self.upconv1_1(self.upconv1_u(f) + f1))
        return torch.clamp(self.out_res(f) + input, 0.0, 1.0)
