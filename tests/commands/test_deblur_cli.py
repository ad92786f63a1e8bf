"""`ifan deblur` end to end on the torch backend: outputs, folders, and bad input handling."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.helpers.models import random_model  # noqa: E402
from ifan_trt.checkpoint import save_checkpoint  # noqa: E402
from ifan_trt.cli import main  # noqa: E402
from ifan_trt.model import IFANConfig  # noqa: E402

rng = np.random.default_rng(1)


def _img(path, h=21, w=30, channels=3, dtype=np.uint8):
    top = 255 if dtype == np.uint8 else 65535
    a = rng.integers(0, top + 1, size=(h, w, channels) if channels > 1 else (h, w)).astype(dtype)
    assert cv2.imwrite(str(path), a)
    return a


def test_single_file_matches_the_model(tmp_path, small_checkpoint):
    a = _img(tmp_path / "in.png", 21, 30)
    assert main(["deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                 "--checkpoint", str(small_checkpoint)]) == 0
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == a.shape and out.dtype == np.uint8

    from ifan_trt.checkpoint import load_checkpoint

    model = load_checkpoint(small_checkpoint).model
    rgb = a[:, :, ::-1].astype(np.float32) / 255
    padded = np.pad(rgb, ((0, 3), (0, 2), (0, 0)), mode="edge")  # 21x30 -> 24x32
    with torch.no_grad():
        y = model(torch.from_numpy(padded.transpose(2, 0, 1)[None].copy()))[0].numpy().transpose(1, 2, 0)
    expected = np.round(y[:21, :30, ::-1] * 255).astype(np.uint8)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1  # one code value
    assert np.abs(out.astype(int) - a.astype(int)).mean() > 1  # the model did change the image


def test_folder_recursive_mirrors_the_tree(tmp_path, small_checkpoint):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _img(tmp_path / "in" / "a.png")
    _img(tmp_path / "in" / "sub" / "b.jpg")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert main(["deblur", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-r",
                 "--checkpoint", str(small_checkpoint)]) == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == \
        ["a.png", "sub/b.jpg"]


def test_bad_file_in_folder_is_skipped_and_exit_is_nonzero(tmp_path, small_checkpoint, capsys):
    (tmp_path / "in").mkdir()
    _img(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code = main(["deblur", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--checkpoint", str(small_checkpoint)])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png: not a readable image" in err and "1 of 2 inputs failed" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]  # nothing half-written


def test_grayscale_16bit_and_1x1(tmp_path, small_checkpoint):
    _img(tmp_path / "g.png", 1, 1, channels=1, dtype=np.uint16)
    assert main(["deblur", str(tmp_path / "g.png"), "-o", str(tmp_path / "o.png"),
                 "--checkpoint", str(small_checkpoint)]) == 0
    out = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (1, 1) and out.dtype == np.uint16


def test_official_crop_option(tmp_path, small_checkpoint):
    _img(tmp_path / "in.png", 21, 30)
    assert main(["deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--crop-official",
                 "--checkpoint", str(small_checkpoint)]) == 0
    assert cv2.imread(str(tmp_path / "out.png")).shape == (16, 24, 3)


def test_dual_model_with_views(tmp_path):
    ckpt = tmp_path / "dual.pth"
    save_checkpoint(random_model(config=IFANConfig(ch=8, n_iters=2, dual=True)), ckpt)
    for name in ("c", "l", "r"):
        _img(tmp_path / f"{name}.png", 16, 24)
    args = ["deblur", str(tmp_path / "c.png"), "-o", str(tmp_path / "o.png"), "--checkpoint", str(ckpt)]
    assert main(args + ["--left", str(tmp_path / "l.png"), "--right", str(tmp_path / "r.png")]) == 0
    assert cv2.imread(str(tmp_path / "o.png")).shape == (16, 24, 3)


@pytest.mark.parametrize("setup,args,message", [
    (lambda p: None, ["missing.png", "-o", "o.png"], "missing.png: no such file or folder"),
    (lambda p: _img(p / "in.png"), ["in.png", "-o", "in.png", "--overwrite"],
     "in.png: is an input; choose another output"),
    (lambda p: (_img(p / "in.png"), _img(p / "o.png")), ["in.png", "-o", "o.png"],
     "o.png: exists; pass --overwrite to replace it"),
    (lambda p: None, ["*.tif", "-o", "out"], r"\*.tif: the pattern matches no file"),
    (lambda p: (p / "empty").mkdir(), ["empty", "-o", "out"], "empty: no images"),
    (lambda p: _img(p / "in.png"), ["in.png", "-o", "o.gif"], "o.gif: unsupported output format"),
    (lambda p: (_img(p / "a.png"), _img(p / "b.png"), (p / "f.png").write_text("x")),
     ["a.png", "b.png", "-o", "f.png"], "f.png: exists and is not a folder"),
])
def test_bad_invocations_are_one_line_errors(tmp_path, small_checkpoint, monkeypatch, capsys, setup, args, message):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    assert main(["deblur", *args, "--checkpoint", str(small_checkpoint)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("ifan deblur: error: ")
    import re

    assert re.search(message, err), err


def test_dual_without_views_is_explained(tmp_path, capsys):
    ckpt = tmp_path / "dual.pth"
    save_checkpoint(random_model(config=IFANConfig(ch=8, n_iters=2, dual=True)), ckpt)
    _img(tmp_path / "c.png", 16, 24)
    assert main(["deblur", str(tmp_path / "c.png"), "-o", str(tmp_path / "o.png"), "--checkpoint", str(ckpt)]) == 1
    assert "needs the dual-pixel views: pass --left and --right" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_command_line_process_has_no_traceback(tmp_path, small_checkpoint):
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff junk")
    proc = subprocess.run([sys.executable, "-m", "ifan_trt.cli", "deblur", str(tmp_path / "junk.jpg"),
                           "-o", str(tmp_path / "o.png"), "--checkpoint", str(small_checkpoint)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ifan deblur: error: {tmp_path / 'junk.jpg'}: not a readable image (unknown format or corrupt data)"
    assert not (tmp_path / "o.png").exists()


def test_compare_writes_input_and_output_side_by_side(tmp_path, small_checkpoint):
    a = _img(tmp_path / "in.png", 21, 30)
    assert main(["deblur", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                 "--compare", str(tmp_path / "cmp.png"), "--checkpoint", str(small_checkpoint)]) == 0
    cmp = cv2.imread(str(tmp_path / "cmp.png"))
    out = cv2.imread(str(tmp_path / "out.png"))
    assert cmp.shape[0] > 21 and cmp.shape[1:] == (30 + 8 + 30, 3)  # a caption strip below the pictures
    np.testing.assert_array_equal(cmp[:21, :30], a)
    np.testing.assert_array_equal(cmp[:21, 38:], out)
