"""Official checkpoints load strictly and give the same output; mismatches are loud errors."""

import pytest

torch = pytest.importorskip("torch")

from tests.helpers.models import random_model, write_official  # noqa: E402
from ifan_trt.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402
from ifan_trt.model import IFANConfig  # noqa: E402


def _same_output(a, b, dual=False, shape=(2, 3, 24, 40)):
    torch.manual_seed(3)
    x, l, r = (torch.rand(*shape) for _ in range(3))
    with torch.no_grad():
        return float((a(x, l, r) - b(x, l, r)).abs().max()) if dual else float((a(x) - b(x)).abs().max())


@pytest.mark.parametrize("prefix", ["module.Network.", "Network.", ""])
def test_official_layouts_load_and_match(tmp_path, prefix):
    model = random_model()
    loaded = load_checkpoint(write_official(model, tmp_path / "IFAN.pytorch", prefix))
    assert loaded.source == "official"
    assert loaded.config == IFANConfig(ch=8, n_iters=2)
    assert _same_output(model, loaded.model) <= 1e-5


@pytest.mark.parametrize("n_iters,dual", [(8, False), (17, True)])
def test_full_width_variants_infer_n_and_dual(tmp_path, n_iters, dual):
    model = random_model(config=IFANConfig(n_iters=n_iters, dual=dual), scale=0.02)
    loaded = load_checkpoint(write_official(model, tmp_path / "ckpt.pytorch"))
    assert (loaded.config.n_iters, loaded.config.dual, loaded.config.ch) == (n_iters, dual, 32)
    assert loaded.config.variant == ("IFAN_dual" if dual else f"IFAN_{n_iters}")
    assert _same_output(model, loaded.model, dual, shape=(1, 3, 16, 24)) <= 1e-5


def test_16bit_and_mode_are_options_for_official_files(tmp_path):
    path = write_official(random_model(), tmp_path / "IFAN_16bit.pytorch")
    loaded = load_checkpoint(path, in_bit=16, iac_mode="corrected")
    assert loaded.config.in_bit == 16 and loaded.config.iac_mode == "corrected"
    assert loaded.config.variant == "IFAN_16bit_2_ch8_corrected"


def test_own_format_round_trip_records_the_config(tmp_path):
    model = random_model(config=IFANConfig(ch=8, n_iters=3, in_bit=16, iac_mode="corrected"))
    save_checkpoint(model, tmp_path / "m.pth", meta={"trained": "test"})
    loaded = load_checkpoint(tmp_path / "m.pth")
    assert loaded.source == "ifan-trt" and loaded.meta == {"trained": "test"}
    assert loaded.config == model.config
    assert _same_output(model, loaded.model) == 0.0
    assert len(loaded.sha256) == 64


def _state(tmp_path, edit):
    state = {"Network." + k: v for k, v in random_model().state_dict().items()}
    edit(state)
    torch.save(state, tmp_path / "bad.pytorch")
    return tmp_path / "bad.pytorch"


def test_missing_key_is_listed(tmp_path):
    path = _state(tmp_path, lambda s: s.pop("Network.upconv2_1.stem.0.2.bias"))
    with pytest.raises(IfanError, match=r"bad.pytorch: does not match IFAN_2_ch8: missing 1: upconv2_1.stem.0.2.bias"):
        load_checkpoint(path)


def test_unexpected_key_is_listed(tmp_path):
    path = _state(tmp_path, lambda s: s.update({"Network.extra.weight": torch.zeros(1)}))
    with pytest.raises(IfanError, match=r"unexpected 1: extra.weight"):
        load_checkpoint(path)


def test_shape_mismatch_is_listed(tmp_path):
    path = _state(tmp_path, lambda s: s.update({"Network.conv2_2.0.bias": torch.zeros(5)}))
    with pytest.raises(IfanError, match=r"shape mismatch 1: conv2_2.0.bias \(5,\) != \(16,\)"):
        load_checkpoint(path)


def test_filter_count_not_a_multiple_is_explained(tmp_path):
    path = _state(tmp_path, lambda s: s.update({"Network.F.3.weight": torch.zeros(100, 32, 1, 1)}))
    with pytest.raises(IfanError, match=r"filter predictor has 100 outputs, not a multiple of 224"):
        load_checkpoint(path)


def test_not_ifan_and_not_a_checkpoint(tmp_path):
    torch.save({"weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(IfanError, match=r"other.pth: not an IFAN checkpoint \(no 'conv1_1.0.weight' weight\)"):
        load_checkpoint(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x00junk")
    with pytest.raises(IfanError, match=r"junk.pth: not a"):
        load_checkpoint(tmp_path / "junk.pth")
    with pytest.raises(IfanError, match=r"nowhere.pth: checkpoint not found"):
        load_checkpoint(tmp_path / "nowhere.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(IfanError, match=r"list.pth: not an IFAN checkpoint \(holds a list"):
        load_checkpoint(tmp_path / "list.pth")
