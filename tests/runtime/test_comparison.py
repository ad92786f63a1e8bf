"""`ifan deblur --compare FILE`: input | output side by side, exactly as written, with a caption
strip naming both halves and what ran (model, backend, precision)."""

import cv2
import numpy as np

from ifan_trt.cli import main
from ifan_trt.imageio import Image
from ifan_trt.runtime.images import batch


def _image(h=40, w=56, seed=0):
    rgb = np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)
    return Image(np.round(rgb * 255) / 255, np.dtype(np.uint8), False, None)


def test_the_caption_names_input_and_output_under_each_half():
    before, after = _image(40, 400), _image(40, 400, seed=1)
    short = batch.comparison(before, after, "a").rgb
    long = batch.comparison(before, after, "default (default.onnx) on onnxruntime-cpu fp32").rgb
    h, w = 40, 400
    assert short.shape[0] > h and short.shape[1] == 2 * w + 8
    np.testing.assert_array_equal(short[:h, :w], before.rgb)  # the pictures themselves are untouched
    np.testing.assert_array_equal(short[:h, w + 8:], after.rgb)
    strip_s, strip_l = short[h:], long[h:]
    assert (strip_s[:, :w] > 0.5).any() and (strip_s[:, w + 8:] > 0.5).any()  # text under both halves
    np.testing.assert_array_equal(strip_s[:, :w], strip_l[:, :w])  # "input" on the left either way
    assert (strip_l[:, w + 8:] > 0.5).sum() > (strip_s[:, w + 8:] > 0.5).sum()  # the label is drawn on the right


def test_deblur_compare_is_labelled_with_what_ran(tmp_path, capsys, monkeypatch):
    captions = []
    draw = batch.comparison
    monkeypatch.setattr(batch, "comparison", lambda b, a, label: captions.append(label) or draw(b, a, label))
    rgb = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / "in.png"), rgb)
    assert main(["deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                 "--compare", str(tmp_path / "cmp.png")]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert captions == [summary.removeprefix("ifan deblur: ")] and "onnxruntime" in captions[0] and "fp32" in captions[0]
    picture = cv2.imread(str(tmp_path / "cmp.png"))
    out = cv2.imread(str(tmp_path / "out.png"))
    assert picture.shape[0] > 48 and picture.shape[1] == 2 * 64 + 8
    np.testing.assert_array_equal(picture[:48, :64], rgb)
    np.testing.assert_array_equal(picture[:48, 72:], out)
