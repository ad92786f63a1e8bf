"""The network has the official state-dict names and shapes for every released variant."""

import pytest

torch = pytest.importorskip("torch")

from ifan_trt.model import IFAN, IFANConfig  # noqa: E402


def official_shapes(n_iters: int, dual: bool, ch: int = 32) -> dict[str, tuple]:
    """Key -> shape written out from the official architecture description (docs/ARCHITECTURE.md),
    independently of ifan_trt.model."""
    c1, c2, c3, c4 = ch, 2 * ch, 4 * ch, 4 * ch
    shapes = {}

    def conv(name, cin, cout, ks=3, act=True):
        key = f"{name}.0" if act else name
        shapes[f"{key}.weight"] = (cout, cin, ks, ks)
        shapes[f"{key}.bias"] = (cout,)

    def res(name, c, n):
        for i in range(n):
            for j in (0, 2):
                shapes[f"{name}.stem.{i}.{j}.weight"] = (c, c, 3, 3)
                shapes[f"{name}.stem.{i}.{j}.bias"] = (c,)

    for prefix, cin in (("conv", 3), ("kconv", 6 if dual else 3)):
        for level, cout in enumerate((c1, c2, c3, c4), 1):
            for j in (1, 2, 3):
                conv(f"{prefix}{level}_{j}", cin, cout)
                cin = cout
    conv("conv4_4.0", 2 * c4, c4); res("conv4_4.1", c4, 2); res("conv4_4.2", c4, 2); conv("conv4_4.3", c4, c4)
    conv("conv_res.0", c4, c4); res("conv_res.1", c4, 3); conv("conv_res.2", c4, c4)
    for level, (cin, cout) in zip((3, 2, 1), ((c4, c3), (c3, c2), (c2, c1))):
        shapes[f"upconv{level}_u.0.weight"] = (cin, cout, 4, 4)
        shapes[f"upconv{level}_u.0.bias"] = (cout,)
        res(f"upconv{level}_1", cout, 1); res(f"upconv{level}_2", cout, 1)
    conv("out_res", c1, 3)
    conv("DME.0", c4, c4); res("DME.1", c4, 2); res("DME.2", c4, 2); conv("DME.3", c4, 1, act=False)
    conv("conv_DME", 1, c4)
    conv("F.0", c4, c4); res("F.1", c4, 2); res("F.2", c4, 2)
    conv("F.3", c4, n_iters * c4 * 7, ks=1, act=False)
    return shapes


@pytest.mark.parametrize("n_iters,dual", [(8, False), (17, False), (26, False), (35, False), (44, False), (17, True)])
def test_state_dict_matches_official_names_and_shapes(n_iters, dual):
    got = {k: tuple(v.shape) for k, v in IFAN(IFANConfig(n_iters=n_iters, dual=dual)).state_dict().items()}
    assert got == official_shapes(n_iters, dual)


def test_parameter_count_is_the_papers():
    assert sum(p.numel() for p in IFAN().parameters()) == 10_476_996
    assert IFAN().F[3].out_channels == 15232


def test_variant_names():
    assert IFANConfig().variant == "IFAN"
    assert IFANConfig(n_iters=8).variant == "IFAN_8"
    assert IFANConfig(dual=True).variant == "IFAN_dual"
    assert IFANConfig(in_bit=16).variant == "IFAN_16bit"


def test_output_is_clipped_and_keeps_the_size():
    from tests.helpers.models import random_model

    model = random_model()
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_dual_needs_both_views():
    model = IFAN(IFANConfig(ch=8, n_iters=2, dual=True))
    with pytest.raises(ValueError, match="left and right"):
        model(torch.rand(1, 3, 16, 16))


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="in_bit"):
        IFANConfig(in_bit=12)
    with pytest.raises(ValueError, match="iac_mode"):
        IFANConfig(iac_mode="fixed")
