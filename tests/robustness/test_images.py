"""Hostile image and video inputs: special files, lying headers, broken data, and partial results
that must be said. A single bad input is one line and exit 1; in a folder it is skipped (one line)
and the rest is processed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.robustness import hostile as h
from tests.robustness.hostile import check_invariants, error_line, read_back

pytest.importorskip("torch")
pytestmark = pytest.mark.timeout(120)


def _garbage(name: str, data: bytes):
    return lambda sb: sb.path(name).write_bytes(data)


def _truncated_png(sb):
    h.image(sb.path("full.png"), 64, 64)
    h.truncated(sb.path("bad.png"), sb.root / "full.png", 0.3)
    os.unlink(sb.root / "full.png")


def _jpeg_head(sb):
    h.image(sb.path("full.jpg"), 64, 64)
    h.truncated(sb.path("bad.jpg"), sb.root / "full.jpg", 0.05)
    os.unlink(sb.root / "full.jpg")


# name -> (setup(sandbox) making the input, input name, what the line says)
BAD_INPUTS = {
    "fifo": (lambda sb: h.fifo(sb.path("x.png")), "x.png", "is a FIFO"),
    "dev_zero": (lambda sb: os.symlink("/dev/zero", sb.path("x.png")), "x.png", "is a device"),
    "dev_null": (lambda sb: os.symlink("/dev/null", sb.path("x.png")), "x.png", "is a device"),
    "broken_link": (lambda sb: os.symlink("nowhere.png", sb.path("x.png")), "x.png", "no such file"),
    "huge_png_header": (lambda sb: h.lying_png(sb.path("x.png")), "x.png", "--max-decode-pixels"),
    "wide_png_header": (lambda sb: h.lying_png(sb.path("x.png"), 2**31 - 1, 1), "x.png", "decode budget"),
    "huge_bmp_header": (lambda sb: h.lying_bmp(sb.path("x.bmp")), "x.bmp", "--max-decode-pixels"),
    "zero_png_header": (lambda sb: h.lying_png(sb.path("x.png"), 0, 0), "x.png", "x.png"),
    "empty": (_garbage("x.png", b""), "x.png", "empty file"),
    "random_png": (_garbage("x.png", bytes(range(256)) * 4), "x.png", "not a readable image"),
    "text_jpg": (_garbage("x.jpg", b"hello, not an image\n" * 20), "x.jpg", "not a readable image"),
    "png_magic_only": (_garbage("x.png", b"\x89PNG\r\n\x1a\n"), "x.png", "not a readable image"),
    "tiff_magic_junk": (_garbage("x.tif", b"II*\x00" + b"\xff" * 60), "x.tif", "x.tif"),
    "webp_magic_junk": (_garbage("x.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20), "x.webp", "x.webp"),
    "truncated_png": (_truncated_png, "bad.png", "bad.png"),
    "jpeg_head_only": (_jpeg_head, "bad.jpg", "bad.jpg"),
    "video_fifo": (lambda sb: h.fifo(sb.path("v.avi")), "v.avi", "is a FIFO"),
    "video_garbage": (_garbage("v.mp4", b"\x00" * 300), "v.mp4", "v.mp4"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_single_input_is_one_line(sandbox, name):
    setup, source, says = BAD_INPUTS[name]
    setup(sandbox)
    out = "out.avi" if source.endswith((".avi", ".mp4")) else "out.png"
    result = sandbox.run("deblur", source, "-o", out, "--checkpoint", sandbox.ck)
    line = error_line(result, "deblur", source, says)
    assert line.count(source) >= 1
    check_invariants(result, sandbox.root)


@pytest.mark.parametrize("name", ["fifo", "dev_zero", "huge_png_header", "random_png", "empty", "truncated_png"])
def test_bad_file_in_a_folder_is_skipped_and_the_rest_written(sandbox, name):
    setup, source, says = BAD_INPUTS[name]
    h.image(sandbox.path("in/a.png"))
    setup(sandbox)
    os.replace(sandbox.root / source, sandbox.path(f"in/{source}")) if not (sandbox.root / source).is_symlink() \
        else os.symlink(os.readlink(sandbox.root / source), sandbox.path(f"in/{source}"))
    if (sandbox.root / source).is_symlink():
        os.unlink(sandbox.root / source)
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck)
    assert result.code == 1
    skipped = [line for line in result.err_lines if "skipped" in line]
    assert len(skipped) == 1 and f"in/{source}" in skipped[0] and says in skipped[0], result.err_lines
    assert result.err_lines[-1] == "ifan deblur: 1 of 2 inputs failed"
    assert len(result.err_lines) == 2
    read_back(sandbox.root / "out/a.png")
    check_invariants(result, sandbox.root, {"out/a.png"})


def test_decode_budget_names_the_option_and_can_be_raised(sandbox):
    h.image(sandbox.path("in.png"), 16, 16)
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.ck, "--max-decode-pixels", "100")
    error_line(result, "deblur", "in.png", "16x16", "--max-decode-pixels 256")
    check_invariants(result, sandbox.root)
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.ck, "--max-decode-pixels", "256")
    assert result.code == 0, result.err
    check_invariants(result, sandbox.root, {"out.png"})


def test_stale_temps_are_neither_inputs_nor_outputs(sandbox):
    h.image(sandbox.path("in/a.png"))
    h.image(sandbox.path("in/.ifan-tmp-0badc0de.png"))  # left by a killed run
    sandbox.path("out/.ifan-tmp-deadbeef.png").write_bytes(b"partial")
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck)
    assert result.code == 0 and result.out.strip() == "wrote out/a.png", (result.out, result.err)
    check_invariants(result, sandbox.root, {"out/a.png"})


def test_glob_matching_a_fifo_reports_it(sandbox):
    h.image(sandbox.path("a.png"))
    h.fifo(sandbox.path("b.png"))
    result = sandbox.run("deblur", "*.png", "-o", "out", "--checkpoint", sandbox.ck)
    assert result.code == 1 and any("b.png: is a FIFO" in line for line in result.err_lines), result.err
    check_invariants(result, sandbox.root, {"out/a.png"})


def test_dual_view_that_is_a_fifo_is_named(sandbox):
    h.image(sandbox.path("in.png"))
    h.image(sandbox.path("r.png"))
    h.fifo(sandbox.path("l.png"))
    result = sandbox.run("deblur", "in.png", "-o", "out.png", "--checkpoint", sandbox.dual, "--left", "l.png",
                         "--right", "r.png")
    error_line(result, "deblur", "--left", "l.png", "FIFO")
    check_invariants(result, sandbox.root)


# partial results: said in one warning line, the output still right


def _run_ok(sandbox, source, out="out.png"):
    result = sandbox.run("deblur", source, "-o", out, "--checkpoint", sandbox.ck)
    assert result.code == 0, result.err
    check_invariants(result, sandbox.root, {out})
    return result


@pytest.mark.parametrize("name,save,says", [
    ("pages.tif", {"mode": "RGB", "frames": 3}, "3 pages; only the first"),
    ("anim.webp", {"mode": "RGB", "frames": 2, "lossless": True}, "2 frames; only the first"),
    ("cmyk.jpg", {"mode": "CMYK"}, "CMYK JPEG, converted to RGB"),
])
def test_what_is_not_kept_is_said(sandbox, name, save, says):
    h.pil_image(sandbox.path(name), **save)
    result = _run_ok(sandbox, name)
    warnings = [line for line in result.err_lines if "warning" in line]
    assert len(warnings) == 1 and says in warnings[0] and name in warnings[0], result.err_lines
    assert warnings[0].startswith(f"ifan deblur: warning: {name}: "), warnings  # worded by the command
    a = read_back(sandbox.root / "out.png")
    assert a.shape == (16, 24, 3)


def test_gray_alpha_png_comes_back_gray_alpha(sandbox):
    from PIL import Image

    h.pil_image(sandbox.path("la.png"), mode="LA")
    _run_ok(sandbox, "la.png")
    with Image.open(sandbox.root / "out.png") as im:
        assert im.mode == "LA" and im.size == (24, 16)
    with Image.open(sandbox.root / "la.png") as src, Image.open(sandbox.root / "out.png") as out:
        assert np.array_equal(np.asarray(src)[..., 1], np.asarray(out)[..., 1])  # alpha passes through


@pytest.mark.parametrize("name", ["o6.tif", "o6.jpg", "o6.png", "o6.webp"])
def test_orientation_6_is_applied_once(sandbox, name):
    """Stored 24 wide x 16 high with orientation 6 (rotate 90 clockwise): upright is 16 x 24."""
    h.pil_image(sandbox.path(name), exif_orientation=6, **({"quality": 95} if name.endswith("jpg") else {}))
    _run_ok(sandbox, name)
    assert read_back(sandbox.root / "out.png").shape[:2] == (24, 16)


def test_float_tiff_that_pil_cannot_open_is_sized_from_its_header(sandbox):
    import cv2

    a = np.random.default_rng(0).random((16, 24, 3)).astype(np.float32)
    assert cv2.imwrite(str(sandbox.path("f.tif")), a)
    _run_ok(sandbox, "f.tif", "out.tif")
    assert read_back(sandbox.root / "out.tif").dtype == np.float32


def test_damaged_video_says_frames_written_and_writes_nothing(sandbox):
    h.damaged_video(sandbox.path("v.mp4"), 12)
    result = sandbox.run("deblur", "v.mp4", "-o", "out.mp4", "--checkpoint", sandbox.ck)
    line = error_line(result, "deblur", "v.mp4", "of 12 frames", "nothing written")
    assert "[mpeg4" not in result.err  # FFmpeg's own complaints are silenced
    check_invariants(result, sandbox.root)
    assert "only 12 of" not in line


def test_whole_video_is_written(sandbox):
    import cv2

    h.video(sandbox.path("v.avi"), 5)
    result = sandbox.run("deblur", "v.avi", "-o", "out.avi", "--checkpoint", sandbox.ck)
    assert result.code == 0, result.err
    cap = cv2.VideoCapture(str(sandbox.root / "out.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    check_invariants(result, sandbox.root, {"out.avi"})


def test_a_file_name_with_a_newline_is_still_one_line(sandbox):
    h.image(sandbox.path("in/a.png"))
    sandbox.path("in/bad\nname.png").write_bytes(b"junk")
    result = sandbox.run("deblur", "in", "-o", "out", "--checkpoint", sandbox.ck)
    assert result.code == 1 and result.err_lines[0] == (
        "ifan deblur: skipped in/bad\\nname.png: not a readable image (unknown format or corrupt data)")
    assert len(result.err_lines) == 2
    result = sandbox.run("deblur", "in/bad\nname.png", "-o", "o.png", "--checkpoint", sandbox.ck)
    error_line(result, "deblur", "in/bad\\nname.png")


def _bad_crc_png(path):
    import struct

    data = h.image(path).read_bytes()
    text = struct.pack(">I", 4) + b"tEXt" + b"a\0bc" + b"\0\0\0\0"  # an ancillary chunk with a wrong CRC
    path.write_bytes(data[:33] + text + data[33:])
    return path


def test_decoder_noise_only_with_verbose(sandbox):
    """libpng warns about the bad CRC of an ancillary chunk; OpenCV still decodes the image."""
    _bad_crc_png(sandbox.path("crc.png"))
    result = sandbox.run("deblur", "crc.png", "-o", "out.png", "--checkpoint", sandbox.ck)
    assert result.code == 0 and result.err_lines == [], result.err  # only the line saying what ran
    read_back(sandbox.root / "out.png")
    result = sandbox.run("deblur", "crc.png", "-o", "out2.png", "--checkpoint", sandbox.ck, "--verbose")
    assert result.code == 0 and "libpng warning: tEXt: CRC error" in result.err
