"""`ifan eval` on tiny sets: layouts, the per-image CSV, the table, and user errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("torch")

from ifan_trt.cli import main
from ifan_trt.training.evaluate import find_pairs
from ifan_trt.imageio import read_image
from ifan_trt.metrics import psnr, ssim
from ifan_trt.training.synthetic import write_dataset


@pytest.fixture
def tiny_set(tmp_path):
    return write_dataset(tmp_path / "set", 2, (32, 40), seed=9, photos=(), progress=False)


def test_eval_writes_csv_and_table(tiny_set, small_checkpoint, tmp_path, capsys):
    out_csv, table = tmp_path / "m.csv", tmp_path / "t.md"
    code = main(["eval", "--data", str(tiny_set), "--checkpoint", str(small_checkpoint),
                 "--csv", str(out_csv), "--table", str(table), "--save-dir", str(tmp_path / "out")])
    assert code == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["image"] for r in rows] == ["00000", "00001"]
    # the input row is the metric of the files themselves
    src = read_image(tiny_set / "source" / "00000.png").rgb
    tgt = read_image(tiny_set / "target" / "00000.png").rgb
    assert float(rows[0]["input_psnr"]) == pytest.approx(psnr(src, tgt), abs=1e-5)
    assert float(rows[0]["input_ssim"]) == pytest.approx(ssim(src, tgt), abs=1e-5)
    out = read_image(tmp_path / "out" / "00000.png").rgb
    assert out.shape == (32, 40, 3)
    # the output row: the saved 8-bit image scores within quantisation of the float result
    assert float(rows[0]["model_psnr"]) == pytest.approx(psnr(out, tgt), abs=0.05)
    text = capsys.readouterr().out
    assert "| Input (blurry) |" in text and "small.pth (torch)" in text and "2 images" in text
    assert table.read_text() == text


def test_dpdd_layout_is_found(tmp_path):
    write_dataset(tmp_path / "dpdd", 1, (32, 32), seed=1, photos=(), dual=True, progress=False)
    layout, pairs = find_pairs(tmp_path / "dpdd", dual=True)
    assert layout == "DPDD" and pairs[0].left.parent.parent.name == "test_l"
    layout, pairs = find_pairs(tmp_path / "dpdd")
    assert pairs[0].right is None


def test_missing_target_is_a_one_line_error(tiny_set, small_checkpoint, capsys):
    (tiny_set / "target" / "00001.png").unlink()
    assert main(["eval", "--data", str(tiny_set), "--checkpoint", str(small_checkpoint)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no target for 1 source image(s), e.g. 00001" in err and "\n" not in err


def test_not_a_dataset(tmp_path, small_checkpoint, capsys):
    assert main(["eval", "--data", str(tmp_path), "--checkpoint", str(small_checkpoint)]) == 1
    assert "neither test_c/source (DPDD) nor source/" in capsys.readouterr().err


def test_dual_model_needs_dpdd_views(tiny_set):
    from ifan_trt.errors import IfanError

    with pytest.raises(IfanError, match="needs the DPDD layout"):
        find_pairs(tiny_set, dual=True)


def test_onnx_scores_like_the_checkpoint(tiny_set, small_checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    onnx_path = tmp_path / "small.onnx"
    assert main(["export", "--checkpoint", str(small_checkpoint), "--iac", "onnx", "-o", str(onnx_path)]) == 0
    scores = {}
    for flag, model in (("--checkpoint", small_checkpoint), ("--onnx", onnx_path)):
        out_csv = tmp_path / f"{flag[2:]}.csv"
        assert main(["eval", "--data", str(tiny_set), flag, str(model), "--csv", str(out_csv)]) == 0
        scores[flag] = [float(r["model_psnr"]) for r in csv.DictReader(out_csv.open())]
    # FP32 ONNX Runtime against PyTorch: the same network, differences ~1e-6 in the pixels
    assert scores["--onnx"] == pytest.approx(scores["--checkpoint"], abs=1e-3)


def test_engine_without_gpu_is_a_clear_error(tiny_set, tmp_path, capsys):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not an engine")
    code = main(["eval", "--data", str(tiny_set), "--engine", str(engine)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("ifan eval: error: ") and err.count("\n") == 1
