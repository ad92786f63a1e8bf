"""`ifan check MODEL --against REFERENCE`: the reference's kind picks the check (a checkpoint: the
export against PyTorch; an FP32 graph: the model scored on images), the options of the other
check are refused, and the command prints what `Model.check` returns."""

from __future__ import annotations

import json
import math

import pytest

import ifan_trt
from ifan_trt.cli import main
from ifan_trt.errors import IfanError

pytest.importorskip("onnxruntime")


def test_a_precision_graph_against_the_fp32_graph(tmp_path, capsys):
    from ifan_trt.weights import default_onnx_path

    int8 = default_onnx_path("int8-cpu")
    result = ifan_trt.Model(int8).check(against="default", limit=2, size=(32, 48))
    assert result.kind == "precision" and len(result.report.scores) == 2
    psnrs = [s.psnr for s in result.report.scores]
    # the bundled CPU INT8 graph is within 30-80 dB of its FP32 graph on the samples (measured
    # 45+ dB at full size); identical outputs would be inf
    assert all(30 < p < 80 for p in psnrs), psnrs
    assert result.passed == (min(psnrs) >= 45.0)
    report = tmp_path / "c.json"
    code = main(["check", str(int8), "--against", "default", "--limit", "2", "--size", "32x48", "--json", str(report)])
    assert code == (0 if result.passed else 1)
    data = json.loads(report.read_text())
    assert data["check"] == "precision" and [row["psnr"] for row in data["images"]] == psnrs
    assert f"worst PSNR {min(psnrs):.2f} dB" in capsys.readouterr().out


def test_an_export_against_its_checkpoint():
    pytest.importorskip("torch")
    result = ifan_trt.Model("default").check(size=(16, 24))  # the bundled checkpoint: the graph came from it
    assert result.kind == "export" and result.against is not None
    assert result.report.max_abs_error <= 1e-4 and result.passed
    assert math.isfinite(result.report.psnr_db) and result.to_dict()["check"] == "export"


def test_options_of_the_other_check_are_refused(capsys):
    with pytest.raises(IfanError, match=r"^images, limit: for a check against an FP32 graph, not a checkpoint$"):
        ifan_trt.Model("default").check(images="pics", limit=2)
    with pytest.raises(IfanError, match=r"^tolerance: for a check against a checkpoint, not an FP32 graph$"):
        ifan_trt.Model("default").check(against="default", tolerance=0.1)
    assert main(["check", "default", "--against", "default", "--tol", "0.1"]) == 1
    assert capsys.readouterr().err == "ifan check: error: --tol: for a check against a checkpoint (--against .pth)\n"
    assert main(["check", "default", "--against", "model.engine"]) == 1
    assert "against model.engine: expected a checkpoint (.pth) or an FP32 ONNX graph" in capsys.readouterr().err
