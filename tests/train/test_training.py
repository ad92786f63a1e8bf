"""`ifan train`: a tiny run writes a loadable checkpoint with its record, and resumes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from ifan_trt.checkpoint import load_checkpoint
from ifan_trt.cli import main as cli_main
from ifan_trt.training.train import lr_at


def main(argv):
    return cli_main(["train", *argv])


def test_tiny_run_records_and_resumes(tmp_path):
    out = tmp_path / "m.pth"
    args = ["-o", str(out), "--ch", "8", "--n-iters", "2", "--patch", "32", "--batch", "1",
            "--log-every", "1", "--val-count", "1", "--seed", "3", "--threads", "1"]
    assert main(args + ["--steps", "2"]) == 0
    first = load_checkpoint(out)
    assert first.config.ch == 8 and first.config.n_iters == 2 and first.config.iac_mode == "official"
    meta = first.meta
    assert meta["steps"] == 2 and meta["seed"] == 3 and meta["final"] is True
    assert meta["command"].startswith(f"ifan train --output {out} --ch 8 --n-iters 2 --patch 32 --batch 1 ")
    assert " --seed 3 " in meta["command"] and "--resume" not in meta["command"]
    assert "val_psnr_model" in meta["history"][-1] and meta["why_this_size"]
    assert (tmp_path / "m.pth.state.pt").is_file()

    assert main(args + ["--steps", "3", "--resume"]) == 0
    assert load_checkpoint(out).meta["steps"] == 3


def test_resume_without_state_is_an_error(tmp_path, capsys):
    assert main(["-o", str(tmp_path / "x.pth"), "--resume", "--steps", "1"]) == 1
    assert "no training state to resume" in capsys.readouterr().err


def test_learning_rate_warms_up_then_anneals():
    assert lr_at(0.0, 1e-3, 0) == pytest.approx(1e-3 / 200)
    assert lr_at(0.0, 1e-3, 500) == pytest.approx(1e-3)
    assert lr_at(0.5, 1e-3, 500) == pytest.approx(1e-3 * (0.02 + 0.49))
    assert lr_at(1.0, 1e-3, 500) == pytest.approx(2e-5)


def test_patches_are_crops_of_full_size_scenes():
    """A rendered window equals the same window of the whole rendered scene (away from the window's
    border, where the blur would need pixels outside it): patches keep the scene's scale."""
    import numpy as np

    from ifan_trt.training.synthetic import make_crops, make_sample

    whole = make_sample(np.random.default_rng([4, 1]), 96, 128, max_radius=4.0, noise=False)
    (crop,) = make_crops(np.random.default_rng([4, 1]), 96, 128, [(20, 30, 48, 64)], max_radius=4.0, noise=False)
    assert crop.source.shape == (48, 64, 3)
    np.testing.assert_array_equal(crop.target, whole.target[20:68, 30:94])
    m = 6  # > largest radius + 1: the reflected border does not reach here
    np.testing.assert_allclose(crop.source[m:-m, m:-m], whole.source[20 + m:68 - m, 30 + m:94 - m], atol=1e-5)
    assert np.abs(crop.source - crop.target).mean() > 1e-3  # it is blurred


def test_noise_is_added_to_the_input_only_up_to_its_sigma():
    """--noise SIGMA: the input is the clean rendering plus read and shot noise, each sigma drawn in
    [0, SIGMA]; 0 leaves the clean rendering (so noisy sharp photos are not "denoised" away)."""
    import numpy as np

    from ifan_trt.training.synthetic import make_sample

    clean = make_sample(np.random.default_rng([9, 2]), 64, 96, max_radius=3.0, noise=0.0)
    noisy = make_sample(np.random.default_rng([9, 2]), 64, 96, max_radius=3.0, noise=0.05)
    np.testing.assert_array_equal(noisy.target, clean.target)
    assert clean.params["read_noise"] == clean.params["shot_noise"] == 0.0
    read, shot = noisy.params["read_noise"], noisy.params["shot_noise"]
    assert 0 < read <= 0.05 and 0 < shot <= 0.05
    inside = (clean.source > 0.05) & (clean.source < 0.95)  # away from the clip at 0 and 1
    residual = (noisy.source - clean.source)[inside]
    sigma = np.sqrt(read ** 2 + shot ** 2 * clean.source[inside])
    assert np.std(residual / sigma) == pytest.approx(1.0, abs=0.05)  # standard normal once scaled


def test_validation_of_an_exactly_sharp_input_stays_finite():
    """With --noise 0 an in-focus validation image equals its target: its PSNR is capped at 80 dB,
    so the mean over the set stays a number; a real difference still counts."""
    import torch

    from ifan_trt.training.train import validate

    class Copy(torch.nn.Module):
        config = type("config", (), {"dual": False})

        def forward(self, x):
            return x

    x = torch.full((1, 3, 8, 8), 0.5)
    blurred = x + 0.1  # PSNR 20 dB against x
    v = validate(Copy(), [(x, x.clone()), (blurred, x)])
    assert v == {"val_psnr_input": pytest.approx(50.0, abs=1e-3), "val_psnr_model": pytest.approx(50.0, abs=1e-3)}


def test_soft_scenes_have_soft_sharp_targets():
    """--soft-prob 1: every scene's sharp content is low-passed (less high-frequency energy in the
    target than the same seeds' plain scenes); 0 draws nothing, so old seeds keep their images."""
    import cv2
    import numpy as np

    from ifan_trt.training.synthetic import make_crops

    def detail(sample):  # mean squared Laplacian of the sharp target
        return float(np.mean(cv2.Laplacian(sample.target, cv2.CV_32F) ** 2))

    soft = [make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)], soft_prob=1.0)[0] for k in range(6)]
    plain = [make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)])[0] for k in range(6)]
    off = [make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)], soft_prob=0.0)[0] for k in range(6)]
    assert all(np.array_equal(a.target, b.target) and np.array_equal(a.source, b.source) for a, b in zip(off, plain))
    assert sum(map(detail, soft)) < 0.5 * sum(map(detail, plain))


def test_grain_is_in_the_sharp_target_up_to_its_sigma():
    """--grain 0.1: the sharp target itself carries a multiplicative luminance grain (the same in the
    three channels) of a sigma drawn in [0, 0.1] per scene; 0 draws nothing, so old seeds keep their images."""
    import numpy as np

    from ifan_trt.training.synthetic import make_crops

    for k in range(4):
        grain = make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)], grain=0.1)[0].target
        plain = make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)])[0].target
        off = make_crops(np.random.default_rng([5, k]), 64, 64, [(0, 0, 64, 64)], grain=0.0)[0].target
        assert np.array_equal(off, plain)
        inside = (plain > 0.1) & (plain < 0.9) & (grain < 0.99)  # not clipped
        factor = (grain[inside] / plain[inside]) ** 2.2 - 1  # back to linear light: the grain itself
        assert 1e-3 < factor.std() < 0.1 * 1.2, (k, factor.std())
        per_pixel = (grain / np.maximum(plain, 1e-6)) ** 2.2
        both = inside.all(axis=2)
        assert np.allclose(per_pixel[both, 0], per_pixel[both, 2], atol=1e-3)  # luminance, not colour


def test_batches_from_scenes_are_deterministic_and_checked():
    import numpy as np

    from ifan_trt.errors import IfanError
    from ifan_trt.training.train import make_batch, parse_scene

    a = make_batch(5, 7, 3, 32, 6.0, 0.0, (96, 128), 2)
    b = make_batch(5, 7, 3, 32, 6.0, 0.0, (96, 128), 2)
    assert a[0].shape == (3, 3, 32, 32) and np.array_equal(a[0].numpy(), b[0].numpy())
    assert not np.array_equal(a[0][0].numpy(), a[0][1].numpy())  # two different windows of one scene
    assert parse_scene("384x512") == (384, 512) and parse_scene("0") is None
    with pytest.raises(IfanError, match=r"scene '5x5x': expected HxW"):
        parse_scene("5x5x")
    with pytest.raises(IfanError, match=r"scene 40x40: smaller than the patch plus its 16 px margin \(64\)"):
        make_batch(0, 0, 1, 32, 6.0, 0.0, (40, 40))


def test_psnr_loss_is_minus_the_mean_patch_psnr():
    import numpy as np
    import torch

    from ifan_trt.metrics import psnr
    from ifan_trt.training.train import psnr_loss

    rng = np.random.default_rng(0)
    y = rng.random((3, 3, 16, 16)).astype(np.float32)
    x = y + rng.normal(0, [[[[0.001]]], [[[0.01]]], [[[0.1]]]], y.shape).astype(np.float32)
    want = -np.mean([psnr(x[i].transpose(1, 2, 0), y[i].transpose(1, 2, 0)) for i in range(3)])
    assert float(psnr_loss(torch.from_numpy(x), torch.from_numpy(y), eps=0.0)) == pytest.approx(want, abs=1e-3)
    assert float(psnr_loss(torch.from_numpy(y), torch.from_numpy(y))) == pytest.approx(-60.0)  # eps caps it


def test_psnr_scene_loss_pools_the_mse_of_a_scenes_crops():
    import numpy as np
    import torch

    from ifan_trt.metrics import psnr
    from ifan_trt.training.train import LOSSES, psnr_loss

    rng = np.random.default_rng(1)
    y = rng.random((4, 3, 16, 16)).astype(np.float32)
    x = y + rng.normal(0, [[[[0.001]]], [[[0.1]]], [[[0.01]]], [[[0.02]]]], y.shape).astype(np.float32)
    # two scenes of two crops: each scene's PSNR is that of its crops side by side, as one image
    whole = lambda a, i: np.concatenate([a[i], a[i + 1]], axis=2).transpose(1, 2, 0)
    want = -np.mean([psnr(whole(x, i), whole(y, i)) for i in (0, 2)])
    got = float(LOSSES["psnr-scene"][0](torch.from_numpy(x), torch.from_numpy(y), 2))
    assert float(psnr_loss(torch.from_numpy(x), torch.from_numpy(y), 2, eps=0.0)) == pytest.approx(want, abs=1e-3)
    assert got == pytest.approx(want, abs=0.02)  # eps 1e-6 moves it a little
    per_patch = float(LOSSES["psnr"][0](torch.from_numpy(x), torch.from_numpy(y), 2))
    assert per_patch < got - 5  # the nearly clean crop no longer dominates its scene


def test_psnr_scene_loss_needs_whole_scenes_in_a_batch(tmp_path, capsys):
    assert main(["-o", str(tmp_path / "m.pth"), "--loss", "psnr-scene", "--batch", "6",
                 "--crops-per-scene", "4", "--steps", "1"]) == 1
    assert "loss psnr-scene: batch 6 is not a multiple of crops_per_scene 4" in capsys.readouterr().err
    assert not (tmp_path / "m.pth").exists()


def test_training_views_are_those_of_synth_dual(tmp_path):
    """The generator's dual-pixel views (and blurry/sharp pair) for seed S are the centres of the
    images `ifan synth --dual --seed S --photos train` writes: same scene, same CoC map, each half
    of the aperture. Tolerance: the PNG's 8-bit rounding (0.5/255) plus float noise."""
    import numpy as np

    from ifan_trt.imageio import read_image
    from ifan_trt.training.train import make_batch

    out = tmp_path / "set"
    assert cli_main(["synth", "-o", str(out), "--dual", "--seed", "7", "--count", "3", "--size", "64x64",
                     "--photos", "train", "--max-radius", "5"]) == 0
    blurry, sharp, left, right = make_batch(7, 0, 3, 32, 5.0, 0.0, None, 1, dual=True)
    assert left.shape == right.shape == blurry.shape == (3, 3, 32, 32)
    folders = {"c": out / "test_c" / "source", "gt": out / "test_c" / "target",
               "l": out / "test_l" / "source", "r": out / "test_r" / "source"}
    for i in range(3):
        for key, batch in (("c", blurry), ("gt", sharp), ("l", left), ("r", right)):
            written = read_image(folders[key] / f"{i:05d}.png").rgb[16:48, 16:48]
            np.testing.assert_allclose(batch[i].permute(1, 2, 0).numpy(), written, atol=0.5 / 255 + 1e-6,
                                       err_msg=f"image {i} view {key}")
        # the views differ from each other where there is blur (not one image three times)
        assert np.abs(left[i].numpy() - right[i].numpy()).max() > 0.02
    # the next step continues the same set: scene 3 and 4 of the seed
    later = make_batch(7, 1, 3, 32, 5.0, 0.0, None, 1, dual=True)
    again = make_batch(7, 1, 3, 32, 5.0, 0.0, None, 1, dual=True)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(later, again))
    assert not np.allclose(later[0][0].numpy(), blurry[0].numpy())


def test_reblurring_network_lives_only_in_the_training_state(tmp_path, capsys):
    """With --loss-reblur the RBN is trained and resumed from OUT.state.pt, but the checkpoint holds
    the deblurring network alone (it loads strictly: an RBN key there would be refused)."""
    import torch

    out = tmp_path / "m.pth"
    args = ["-o", str(out), "--ch", "4", "--n-iters", "2", "--patch", "32", "--batch", "1", "--val-count", "1",
            "--threads", "1", "--loss-disp", "0.5", "--loss-reblur", "2", "--reblur-warmup", "1"]
    assert main(args + ["--steps", "2"]) == 0
    ckpt = load_checkpoint(out)
    assert not [k for k in torch.load(out, weights_only=True)["state_dict"] if "RBF" in k or "reblur" in k.lower()]
    assert "0.5 * L_disp" in ckpt.meta["loss"] and "2 * L_reblur" in ckpt.meta["loss"]
    assert "the first 1 steps train the reblurring network only" in ckpt.meta["loss"]
    state = torch.load(tmp_path / "m.pth.state.pt", weights_only=True)
    assert any(k.startswith("RBF.") for k in state["reblur"])
    before = {k: v.clone() for k, v in state["reblur"].items()}
    assert main(args + ["--steps", "3", "--resume"]) == 0
    after = torch.load(tmp_path / "m.pth.state.pt", weights_only=True)["reblur"]
    assert any(not torch.equal(before[k], after[k]) for k in before)  # resumed and trained on
    capsys.readouterr()
    assert main(args[:-4] + ["--loss-reblur", "0", "--steps", "4", "--resume"]) == 1
    assert "the state was saved with a reblurring network (loss_reblur)" in capsys.readouterr().err


def test_dual_model_trains_on_the_views(tmp_path):
    out = tmp_path / "d.pth"
    assert main(["-o", str(out), "--ch", "4", "--n-iters", "2", "--patch", "32", "--batch", "1", "--val-count", "1",
                 "--threads", "1", "--dual", "--loss-reblur", "0", "--steps", "2"]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.config.dual and ckpt.meta["data"]["dual_pixel_views"] is True
    assert ckpt.model.kconv1_1[0].weight.shape[1] == 6


def test_training_is_one_python_call_with_a_typed_request(tmp_path):
    """ifan_trt.training.train.run(TrainRequest) is what `ifan train` calls: no argparse, a typed
    result that agrees with the checkpoint's record, errors naming parameters."""
    from ifan_trt.errors import IfanError
    from ifan_trt.training.train import TrainRequest, run

    request = TrainRequest(tmp_path / "m.pth", ch=4, n_iters=2, patch=32, batch=1, val_count=1, threads=1,
                           loss_reblur=0, steps=2, seed=3)
    result = run(request)
    meta = load_checkpoint(result.checkpoint).meta
    assert (result.steps, result.state) == (meta["steps"], tmp_path / "m.pth.state.pt") and result.steps == 2
    assert result.validation == meta["metrics"]["validation"]
    assert meta["command"].startswith(f"ifan train --output {tmp_path / 'm.pth'} --ch 4 --n-iters 2 --patch 32 ")
    with pytest.raises(IfanError, match=r"^patch 30: must be a multiple of 8$"):
        run(TrainRequest(tmp_path / "n.pth", patch=30))
    with pytest.raises(IfanError, match=r"^loss 'l3': expected one of l2, "):
        run(TrainRequest(tmp_path / "n.pth", loss="l3"))


def test_small_blur_scenes_are_nearly_sharp():
    """--small-blur-prob 1: every scene's largest CoC radius is in [0, 2] px (the default draws
    [0.5, --max-radius]); prob 0 leaves every image of a seed as it was."""
    import numpy as np

    from ifan_trt.training.synthetic import make_crops

    radii = [make_crops(np.random.default_rng([9, k]), 64, 64, [(0, 0, 64, 64)], max_radius=10.0,
                        small_blur_prob=1.0)[0].params["max_radius_px"] for k in range(12)]
    assert max(radii) <= 2.0 + 1e-6 and min(radii) >= 0.0
    plain = [make_crops(np.random.default_rng([9, k]), 64, 64, [(0, 0, 64, 64)], max_radius=10.0)[0]
             .params["max_radius_px"] for k in range(12)]
    assert max(plain) > 2.0
    off = make_crops(np.random.default_rng([9, 0]), 64, 64, [(0, 0, 64, 64)], small_blur_prob=0.0)[0]
    default = make_crops(np.random.default_rng([9, 0]), 64, 64, [(0, 0, 64, 64)])[0]
    assert np.array_equal(off.source, default.source)


def test_low_contrast_scenes_are_the_scene_drawn_towards_its_mean():
    """--low-contrast-prob 1: the sharp target is the same scene's target with its sRGB values drawn
    towards their mean by one factor in [0.2, 0.6] (exact where layers do not overlap partially)."""
    from ifan_trt.training.synthetic import TRAIN_PHOTOS, make_crops

    def target(p):
        return make_crops(np.random.default_rng([5, 2]), 96, 96, [(0, 0, 96, 96)], TRAIN_PHOTOS, 4.0, noise=0.0,
                          low_contrast_prob=p)[0].target

    full, flat = target(0.0), target(1.0)
    a, b = np.polyfit(full.ravel(), flat.ravel(), 1)
    assert 0.2 <= a <= 0.6
    residual = flat.ravel() - (a * full.ravel() + b)
    assert np.percentile(np.abs(residual), 95) < 0.01


def test_own_depth_of_field_input_is_the_target_blurred_again_evenly():
    """--dof-prob 1: the target is itself defocused (largest CoC 1-6 px) and the input is that
    target blurred once more by the drawn radius, the same aperture everywhere, in the drawn
    domain (sRGB or linear light); checked away from the window's edges."""
    import cv2

    from ifan_trt.training.synthetic import TRAIN_PHOTOS, aperture_kernel, make_crops, to_linear, to_srgb

    checked = 0
    for k in range(12):
        s = make_crops(np.random.default_rng([7, k]), 128, 128, [(0, 0, 128, 128)], TRAIN_PHOTOS, 6.0, noise=0.0,
                       dof_prob=1.0)[0]
        p = s.params
        if p["blades"] not in (0, -1):  # polygons depend on a rotation the record does not keep
            continue
        assert 1.0 <= p["own_dof_max_radius_px"] <= 6.0
        base = s.target if p["srgb_blur"] else to_linear(s.target)
        kern = aperture_kernel(round(p["max_radius_px"] / 0.5) * 0.5, p["blades"])
        want = cv2.filter2D(base, -1, kern, borderType=cv2.BORDER_REFLECT)
        want = want if p["srgb_blur"] else to_srgb(want)
        np.testing.assert_allclose(s.source[16:-16, 16:-16], want[16:-16, 16:-16], atol=2e-4)
        checked += 1
    assert checked >= 3
