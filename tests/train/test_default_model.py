"""The bundled default model: present, small, documented by its record, and it deblurs images
that do not come from our generator (a Gaussian and a plain disc blur of photos it never saw)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")

from ifan_trt.weights import default_checkpoint_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _deblur(model, rgb: np.ndarray) -> np.ndarray:
    import torch

    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, -h % 8), (0, -w % 8), (0, 0)), mode="edge")
    with torch.inference_mode():
        out = model(torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)[None])))
    return out[0].numpy().transpose(1, 2, 0)[:h, :w]


def _disc_blur(rgb: np.ndarray, radius: int) -> np.ndarray:
    kernel = np.zeros((2 * radius + 1,) * 2, np.float32)
    cv2.circle(kernel, (radius, radius), radius, 1.0, -1)
    return cv2.filter2D(rgb, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def default_model():
    import torch

    from ifan_trt.checkpoint import load_checkpoint

    torch.set_num_threads(2)
    return load_checkpoint(default_checkpoint_path())


def test_weights_are_small_and_carry_their_record(default_model):
    assert default_checkpoint_path().stat().st_size <= 20 * 1024 * 1024
    c = default_model.config
    assert (c.ch, c.n_iters, c.iac_mode, c.dual, c.in_bit) == (16, 8, "official", False, 8)
    meta = default_model.meta
    for key in ("command", "seed", "data", "steps", "train_minutes", "metrics", "why_this_size"):
        assert key in meta, key
    assert meta["final"] is True and meta["steps"] > 1000


def _photos():
    from ifan_trt.imageio import read_image

    yield "coffee", read_image(os.path.join(ROOT, "samples", "sharp.png")).rgb
    try:  # a public-domain photo matplotlib ships; not in our generator's sources
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            data = np.frombuffer(fh.read(), np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        yield "grace_hopper", np.ascontiguousarray(bgr[..., ::-1], np.float32)[::2, ::2] / 255.0
    except (ImportError, OSError):
        pass


@pytest.mark.parametrize("blur", ["gaussian1.5", "gaussian2.5", "disc3", "disc5"])
def test_improves_blur_not_made_by_our_generator(default_model, blur):
    """The bar leaves room for BLAS noise; measured at release on the full photos: +0.26..+2.10 dB
    (the record in the checkpoint's meta)."""
    from ifan_trt.metrics import psnr

    gains = {}
    for name, sharp in _photos():
        sharp = np.ascontiguousarray(sharp[:256, :256])  # keep the test fast
        if blur.startswith("gaussian"):
            blurred = cv2.GaussianBlur(sharp, (0, 0), float(blur[8:]), borderType=cv2.BORDER_REFLECT)
        else:
            blurred = _disc_blur(sharp, int(blur[4:]))
        blurred = np.round(blurred * 255) / 255  # as read from an 8-bit file
        out = _deblur(default_model.model, blurred.astype(np.float32))
        gains[name] = psnr(out, sharp) - psnr(blurred, sharp)
    assert min(gains.values()) > 0.0 and np.mean(list(gains.values())) > 0.2, gains


def test_bundled_sample_gets_sharper(default_model):
    from ifan_trt.imageio import read_image
    from ifan_trt.metrics import psnr, ssim

    blurred = read_image(os.path.join(ROOT, "samples", "defocused.png")).rgb
    sharp = read_image(os.path.join(ROOT, "samples", "sharp.png")).rgb
    out = _deblur(default_model.model, blurred)
    assert psnr(out, sharp) > psnr(blurred, sharp) + 0.3  # measured at release: see docs/training.md
    assert ssim(out, sharp) > ssim(blurred, sharp)


def test_held_out_synthetic_images_gain(default_model, tmp_path):
    """The quality table of docs/training.md in small: the first 8 images of the held-out set (`ifan synth
    --count 30 --size 384x512 --seed 1000`). Measured at release on these 8: +0.83 dB (SSIM +0.032)."""
    pytest.importorskip("skimage")  # the set's photo textures
    from ifan_trt.training.evaluate import evaluate_folder
    from ifan_trt.training.synthetic import write_dataset

    folder = write_dataset(tmp_path / "held", 8, (384, 512), 1000, progress=False)
    table = evaluate_folder(str(folder), checkpoint=str(default_checkpoint_path()), csv_path=None, progress=False)
    gain = table["output"]["psnr"] - table["input"]["psnr"]
    assert gain > 0.6, table
    assert table["output"]["ssim"] > table["input"]["ssim"] + 0.02


def test_held_out_photos_pass_sharp_and_gain_at_radius_3_and_5():
    """The default model's goals on the photos of bench.default_model_quality (the bundled sample's
    and scikit-image's, centre crops of 512 px): sharp photos pass at 40 dB or better and the mean
    gain at disc radius 3 and 5 is at least +1.5 dB. The third goal (no blurred photo worse than its
    input by more than 0.1 dB) is not met yet; this holds the bundled model to what it reached
    (2 of 48 cases, worst -0.82 dB): docs/training.md gives the numbers."""
    pytest.importorskip("skimage")
    from bench.default_model_quality import _deblurrer, evaluate_model, held_out_photos, summarise

    s = summarise(evaluate_model(_deblurrer(None, 2), held_out_photos(512)))
    assert s["sharp_min_db"] >= 40.0 and s["mean_gain_r3_db"] >= 1.5, s
    assert s["worse_than_input_by_0.1"] <= 2 and s["worst_gain_db"] > -0.9, s
