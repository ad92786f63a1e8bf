"""One image-folder lister for every command: plain folders, source/target sets (RealDOF, what
`ifan synth` writes), DPDD; the same images whichever command asks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ifan_trt import datasets
from ifan_trt.calib import images as calib_images
from ifan_trt.runtime.images.batch import collect_jobs
from ifan_trt.errors import IfanError


def _write(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("layout,source", [("plain", "."), ("source/target", "source"), ("DPDD", "test_c/source")])
def test_every_layout_gives_its_blurry_images(tmp_path, layout, source):
    _write(tmp_path / source, ["b.png", "a.jpg"])
    if layout != "plain":
        _write(tmp_path / source.replace("source", "target"), ["a.png", "b.png"])
    expected = [tmp_path / source / "a.jpg", tmp_path / source / "b.png"]
    assert datasets.layout_of(tmp_path).name == layout
    assert [p.resolve() for p in datasets.find_images(tmp_path)] == [p.resolve() for p in expected]
    assert [p.resolve() for p in calib_images.find_images(tmp_path, count=1)] == [expected[0].resolve()]
    jobs = collect_jobs([str(tmp_path)], str(tmp_path / "out"), recursive=False)
    assert [j.source.resolve() for j in jobs] == [p.resolve() for p in expected]
    if layout == "plain":
        with pytest.raises(IfanError, match="no ground truth"):
            datasets.find_pairs(tmp_path)
    else:
        name, pairs = datasets.find_pairs(tmp_path)
        assert name == layout and [p.name for p in pairs] == ["a", "b"]


def test_synth_folder_is_accepted(tmp_path):
    pytest.importorskip("skimage")
    from ifan_trt.cli import main

    assert main(["synth", "-o", str(tmp_path / "set"), "--count", "2", "--seed", "3"]) == 0
    assert len(calib_images.find_images(tmp_path / "set")) == 2
    assert len(datasets.find_pairs(tmp_path / "set")[1]) == 2


def test_empty_folder_error_names_the_layouts(tmp_path):
    (tmp_path / "source").mkdir()
    with pytest.raises(IfanError, match=r"source/target layout.*as `ifan synth` writes"):
        datasets.find_images(tmp_path)


def test_one_listing_rule_for_deblur_and_calibration(tmp_path):
    """Hidden files, temps of unfinished writes, sub-folders with an image name and other
    extensions are left out; a FIFO with an image name is listed (so reading it reports it)."""
    import os

    _write(tmp_path, ["a.png", ".hidden.png", ".ifan-tmp-1234.png"])
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    os.mkfifo(tmp_path / "pipe.png")
    expected = [tmp_path / "a.png", tmp_path / "pipe.png"]
    assert datasets.images_in(tmp_path) == expected
    assert [job.source for job in collect_jobs([str(tmp_path)], str(tmp_path / "out"), False)] == expected
    _write(tmp_path / "sub", ["c.png"])
    assert datasets.images_in(tmp_path, recursive=True) == expected + [tmp_path / "sub" / "c.png"]
    assert [job.source for job in collect_jobs([str(tmp_path)], str(tmp_path / "out"), True)] == \
        expected + [tmp_path / "sub" / "c.png"]
