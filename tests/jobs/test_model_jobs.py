"""ifan_trt.Model's deblur, profile and evaluate: the jobs the commands run, with results equal to
the commands' on the small random model, and nothing printed."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import ifan_trt  # noqa: E402
from ifan_trt.cli import main  # noqa: E402
from ifan_trt.errors import IfanError  # noqa: E402


@pytest.fixture
def pairs(tmp_path):
    """A source/target test set of two images (and a third, junk, source for deblur runs)."""
    data = tmp_path / "set"
    for i in range(2):
        rng = np.random.default_rng(i)
        for part in ("source", "target"):
            (data / part).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(data / part / f"{i}.png"), rng.integers(0, 255, (24, 32, 3), np.uint8))
    return data


def test_deblur_writes_what_the_command_writes(models, pairs, tmp_path, capsys):
    onnx = models("onnx")
    result = ifan_trt.Model(onnx).deblur(pairs / "source", tmp_path / "api")
    assert capsys.readouterr() == ("", "")
    assert result.status == 0 and result.total == 2 and result.ran.endswith("onnxruntime-cpu fp32")
    assert sorted(p.name for p in result.written) == ["0.png", "1.png"]
    assert main(["deblur", str(pairs / "source"), "-o", str(tmp_path / "cli"), "--onnx", str(onnx)]) == 0
    for name in ("0.png", "1.png"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def test_evaluate_scores_as_the_command(models, pairs, tmp_path, capsys):
    onnx = models("onnx")
    got = ifan_trt.Model(onnx).evaluate(pairs, table=tmp_path / "table.md")
    assert capsys.readouterr() == ("", "")
    assert got.written == (tmp_path / "table.md",) and (tmp_path / "table.md").read_text() == got.table
    assert main(["eval", "--data", str(pairs), "--onnx", str(onnx), "--json", str(tmp_path / "e.json")]) == 0
    want = json.loads((tmp_path / "e.json").read_text())
    assert got.summary["output"]["psnr"] == pytest.approx(want["output"]["psnr"], abs=1e-9)
    assert got.summary["input"]["psnr"] == pytest.approx(want["input"]["psnr"], abs=1e-9)


def test_profile_times_each_shape(models, capsys):
    onnx = models("onnx")
    report = ifan_trt.Model(onnx).profile(shape="1x3x32x32", warmup=0, iterations=3, layers=False)
    assert capsys.readouterr() == ("", "")
    (result,) = report.results
    assert result.label == onnx.name and result.shape == (1, 3, 32, 32) and len(result.e2e_ms) == 3
    assert report.skipped == {} and report.written == ()
    assert onnx.name in report.table()
    with pytest.raises(IfanError,
                       match=r"^iterations and duration: give one$"):
        ifan_trt.Model(onnx).profile(iterations=3, duration=1.0)
